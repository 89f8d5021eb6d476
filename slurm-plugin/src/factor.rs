//! From a model score to a Slurm site factor: the rank-preserving mapping
//! and the max-wait starvation guard.
//!
//! Slurm 22.05's priority/multifactor adds `site_factor - NICE_OFFSET` to a
//! job's priority and clamps the sum into `[1, 2^32 - 1]`. This module
//! keeps the plugin's contribution `site_factor - NICE_OFFSET` inside
//! `[0, 2^31 - 1]`, so it never drags a priority down to the clamp at 1 and,
//! with multifactor weights summing below 2^31, never pushes it past the
//! top:
//!
//! * scores map into `[0, MAPPED_MAX]` by `CENTER + scale * asinh(score)`,
//!   rounded and clamped. `asinh` is strictly increasing, linear near 0 and
//!   logarithmic far out, so with the default scale every finite f32 maps
//!   without saturating and scores that differ by more than about 3e-7
//!   relative get different factors (f32 itself resolves 1.2e-7);
//! * jobs that waited at least `max_wait` get `GUARD_BASE + (wait - max_wait)`
//!   instead, which is above every mapped value and grows with the wait, so
//!   from then on a job's factor only rises, and starved jobs run oldest
//!   first.
//!
//! This module is pure arithmetic: no Slurm, no logging, no panics.

/// Slurm's `NICE_OFFSET` (`slurm.h`): a site factor equal to it adds 0.
pub const NICE_OFFSET: u32 = 0x8000_0000;
/// Largest contribution a mapped score can have.
pub const MAPPED_MAX: u32 = 1 << 30;
/// Contribution of a score of 0.
pub const CENTER: u32 = MAPPED_MAX / 2;
/// Contribution of a job that has just reached `max_wait`.
pub const GUARD_BASE: u32 = MAPPED_MAX + 1;
/// Largest contribution of all (`NICE_OFFSET + GUARD_MAX = u32::MAX`).
pub const GUARD_MAX: u32 = 0x7fff_ffff;
/// `asinh(f32::MAX)`, the largest `|asinh(score)|` of a finite f32 score.
pub const ASINH_F32_MAX: f64 = 88.722_839_052_068_35 + std::f64::consts::LN_2;
/// The default `scale`: the largest that maps every finite f32 score
/// without clamping (`CENTER / asinh(f32::MAX)`, about 6.0e6).
pub const DEFAULT_SCALE: f64 = CENTER as f64 / ASINH_F32_MAX;

/// The contribution (`site_factor - NICE_OFFSET`) of a model score, in
/// `[0, MAPPED_MAX]`. Non-decreasing in `score`; NaN maps to 0, the lowest.
pub fn map_score(score: f32, scale: f64) -> u32 {
    if score.is_nan() {
        return 0;
    }
    let v = CENTER as f64 + scale * (score as f64).asinh();
    // `clamp` on a finite range; a NaN (not possible for finite scale) goes low.
    let v = if v.is_nan() {
        0.0
    } else {
        v.round().clamp(0.0, MAPPED_MAX as f64)
    };
    v as u32
}

/// The guard's contribution for a job that waited `wait` seconds, or
/// `None` if it has not reached `max_wait` (or the guard is off).
pub fn guard_floor(wait: u64, max_wait: Option<u64>) -> Option<u32> {
    let max_wait = max_wait?;
    let over = wait.checked_sub(max_wait)?;
    let span = (GUARD_MAX - GUARD_BASE) as u64;
    Some(GUARD_BASE + over.min(span) as u32)
}

/// The site factor for a job with model score `score` that has waited
/// `wait` seconds: `NICE_OFFSET + max(map_score, guard_floor)`.
pub fn site_factor(score: f32, wait: u64, scale: f64, max_wait: Option<u64>) -> u32 {
    let mapped = map_score(score, scale);
    let c = guard_floor(wait, max_wait).map_or(mapped, |g| g.max(mapped));
    NICE_OFFSET + c
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f32 values spread over the whole finite range, both signs, sorted.
    fn spread() -> Vec<f32> {
        let mut v = vec![
            0.0f32,
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            -f32::MIN_POSITIVE,
        ];
        let mut x = 1e-30f64;
        while x < 3e38 {
            for m in [1.0, 1.000001, 1.5, 3.7] {
                v.push((x * m) as f32);
                v.push(-(x * m) as f32);
            }
            x *= 1.7;
        }
        v.retain(|f| f.is_finite());
        v.sort_by(f32::total_cmp);
        v
    }

    #[test]
    fn asinh_constant_is_asinh_of_f32_max() {
        let want = (f32::MAX as f64).asinh();
        assert!(
            (ASINH_F32_MAX - want).abs() < 1e-9,
            "{ASINH_F32_MAX} vs {want}"
        );
        assert_eq!(map_score(f32::MAX, DEFAULT_SCALE), MAPPED_MAX);
        assert_eq!(map_score(f32::MIN, DEFAULT_SCALE), 0);
        assert_eq!(map_score(0.0, DEFAULT_SCALE), CENTER);
    }

    #[test]
    fn mapping_is_rank_preserving_over_all_of_f32() {
        for scale in [DEFAULT_SCALE, 1000.0, 1e9] {
            let v = spread();
            let m: Vec<u32> = v.iter().map(|&s| map_score(s, scale)).collect();
            for (w, s) in m.windows(2).zip(v.windows(2)) {
                assert!(
                    w[0] <= w[1],
                    "scale {scale}: {} -> {} but {} -> {}",
                    s[0],
                    w[0],
                    s[1],
                    w[1]
                );
            }
            assert!(m.iter().all(|&c| c <= MAPPED_MAX));
        }
    }

    #[test]
    fn default_scale_resolves_relative_differences_of_a_millionth() {
        let v = spread();
        let mut checked = 0;
        for w in v.windows(2) {
            let (a, b) = (w[0] as f64, w[1] as f64);
            let rel = (b - a) / a.abs().max(b.abs()).max(1.0);
            if rel >= 1e-6 {
                checked += 1;
                assert!(
                    map_score(w[0], DEFAULT_SCALE) < map_score(w[1], DEFAULT_SCALE),
                    "{a} and {b} tie"
                );
            }
        }
        assert!(checked > 500, "only {checked} pairs checked");
        // Near zero: steps of 1e-6 in absolute terms.
        for i in -1000..1000 {
            let a = i as f32 * 1e-6;
            let b = (i + 1) as f32 * 1e-6;
            assert!(
                map_score(a, DEFAULT_SCALE) < map_score(b, DEFAULT_SCALE),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn nan_is_lowest_and_factor_stays_in_range() {
        assert_eq!(map_score(f32::NAN, DEFAULT_SCALE), 0);
        assert_eq!(site_factor(f32::NAN, 0, DEFAULT_SCALE, None), NICE_OFFSET);
        assert_eq!(site_factor(f32::MAX, u64::MAX, 1e30, Some(1)), u32::MAX);
    }

    #[test]
    fn guard_is_above_every_mapped_value_and_rises_with_wait() {
        let mw = Some(3600);
        assert_eq!(guard_floor(3599, mw), None);
        assert_eq!(guard_floor(1_000_000, None), None);
        assert_eq!(guard_floor(3600, mw), Some(GUARD_BASE));
        const { assert!(GUARD_BASE > MAPPED_MAX) };
        let mut last = 0;
        for wait in (3600..3600 + 100_000).step_by(997) {
            // The best possible score, just under the guard.
            let f = site_factor(f32::MAX, wait, DEFAULT_SCALE, mw);
            let g = site_factor(f32::MIN, wait, DEFAULT_SCALE, mw);
            assert_eq!(f, g, "past max_wait the score no longer matters");
            assert!(f > last, "factor must rise with wait");
            assert!(f > NICE_OFFSET + MAPPED_MAX);
            last = f;
        }
        // A job below the guard never outranks one above it.
        assert!(
            site_factor(f32::MAX, 3599, DEFAULT_SCALE, mw)
                < site_factor(f32::MIN, 3600, DEFAULT_SCALE, mw)
        );
        // Saturates at u32::MAX instead of wrapping.
        assert_eq!(guard_floor(u64::MAX, Some(1)), Some(GUARD_MAX));
    }
}
