//! priority/multifactor as the simulator models it: the age, job size,
//! partition, QOS and fairshare factors and their weighted sum, plus the
//! decayed per-user usage that feeds fairshare.
//!
//! This module owns the arithmetic only. It does not decide when priorities
//! are recomputed (the engine does, per [`policy::Rescore`]) and never
//! touches the pending queue or cluster state.

use crate::cluster::PriorityConfig;

/// Decayed CPU-second usage per user, for the fairshare factor.
///
/// Usage is stored scaled by `2^((t - origin)/half_life)` so that decaying
/// every user is free: the fairshare factor only needs the ratio of a
/// user's usage to the total, which the common scale does not change.
///
/// In *snapshot* mode (the engine's choice when priorities are recomputed
/// every `PriorityCalcPeriod`), factors come from the usage as it was at
/// the last [`Usage::recalc`], as Slurm's decay thread recomputes the
/// fairshare factor only then: usage added in between (a job that ended)
/// does not change the priority of a job submitted before the next
/// recalculation.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    scaled: Vec<f64>,
    /// Fairshare factors computed since the last change, per user
    /// (`NaN` = not computed).
    cache: Vec<f64>,
    /// Users with a cached factor, to clear the cache cheaply.
    cached: Vec<u32>,
    total: f64,
    origin: u64,
    half_life: u64,
    /// Users that share the cluster (equal shares).
    n_users: usize,
    /// Snapshot mode: factors from `snap`/`snap_total`.
    snapshots: bool,
    snap: Vec<f64>,
    snap_total: f64,
}

impl Usage {
    /// `slots` user ids (dense), of which `n_users` submit jobs.
    pub(crate) fn new(slots: usize, n_users: usize, half_life: u64, origin: u64) -> Self {
        Usage {
            scaled: vec![0.0; slots.max(1)],
            cache: vec![f64::NAN; slots.max(1)],
            cached: Vec::new(),
            total: 0.0,
            origin,
            half_life,
            n_users: n_users.max(1),
            snapshots: false,
            snap: vec![0.0; slots.max(1)],
            snap_total: 0.0,
        }
    }

    /// Turns snapshot mode on: factors are those of the last
    /// [`Usage::recalc`] (all 1 before the first).
    pub(crate) fn use_snapshots(&mut self) {
        self.snapshots = true;
        self.snap.iter_mut().for_each(|u| *u = 0.0);
        self.snap_total = 0.0;
        self.clear_cache();
    }

    /// Takes the snapshot that factors are computed from (snapshot mode):
    /// a priority recalculation.
    pub(crate) fn recalc(&mut self) {
        self.snap.copy_from_slice(&self.scaled);
        self.snap_total = self.total;
        self.clear_cache();
    }

    fn clear_cache(&mut self) {
        for &u in &self.cached {
            self.cache[u as usize] = f64::NAN;
        }
        self.cached.clear();
    }

    fn scale_at(&mut self, t: u64) -> f64 {
        if self.half_life == 0 {
            return 1.0;
        }
        let mut e = (t.saturating_sub(self.origin)) as f64 / self.half_life as f64;
        if e > 512.0 {
            // Renormalise so the scale stays finite.
            let f = (-e).exp2();
            for u in &mut self.scaled {
                *u *= f;
            }
            self.total *= f;
            self.origin = t;
            e = 0.0;
        }
        e.exp2()
    }

    /// Adds `cpu_seconds` of use by `user`, accounted at time `t`.
    pub(crate) fn add(&mut self, user: u32, cpu_seconds: f64, t: u64) {
        self.at(t).add(user, cpu_seconds);
    }

    /// Adds use by several users, all accounted at time `t`: the same
    /// sums as one [`Usage::add`] per user, with the decay scale computed
    /// once.
    pub(crate) fn at(&mut self, t: u64) -> UsageAt<'_> {
        UsageAt {
            usage: self,
            t,
            scale: None,
        }
    }

    /// The classic fairshare factor `2^(-U/S)`, with `U` the user's share of
    /// all (decayed) usage and `S = 1/users` (equal shares).
    #[inline]
    pub(crate) fn factor(&mut self, user: u32) -> f64 {
        let c = self.cache[user as usize];
        if c.is_nan() {
            self.compute_factor(user)
        } else {
            c
        }
    }

    /// [`Usage::factor`] when it is not cached: computes and caches it.
    /// The cache is cleared whenever the usage it reads changes.
    ///
    /// The factor lies in [0, 1] (never NaN): usage is finite, as a scale
    /// is at most `2^512` (see `scale_at`) and an amount at most
    /// `2^32 * 2^64` CPU-seconds, so no sum of fewer than `2^416` of
    /// their products overflows; with `total > 0`, `u` is at least 0 (or
    /// +inf) and `2^(-u * users)` lies in [0, 1].
    fn compute_factor(&mut self, user: u32) -> f64 {
        let (scaled, total) = if self.snapshots {
            (&self.snap, self.snap_total)
        } else {
            (&self.scaled, self.total)
        };
        let f = if total <= 0.0 {
            1.0
        } else {
            let u = scaled[user as usize] / total;
            (-(u * self.n_users as f64)).exp2()
        };
        debug_assert!((0.0..=1.0).contains(&f), "fairshare factor {f}");
        self.cache[user as usize] = f;
        self.cached.push(user);
        f
    }
}

/// Usage being added at one time; see [`Usage::at`].
pub(crate) struct UsageAt<'a> {
    usage: &'a mut Usage,
    t: u64,
    /// The decay scale at `t`, once computed (on the first positive
    /// amount, where [`Usage::add`] would compute it).
    scale: Option<f64>,
}

impl UsageAt<'_> {
    /// Adds `cpu_seconds` of use by `user`.
    pub(crate) fn add(&mut self, user: u32, cpu_seconds: f64) {
        if cpu_seconds <= 0.0 {
            return;
        }
        let u = &mut *self.usage;
        let s = *self.scale.get_or_insert_with(|| u.scale_at(self.t));
        if !u.snapshots {
            u.clear_cache();
        }
        u.scaled[user as usize] += cpu_seconds * s;
        u.total += cpu_seconds * s;
    }
}

/// Per-cluster constants of the multifactor formula.
#[derive(Debug, Clone)]
pub(crate) struct Multifactor {
    pub cfg: PriorityConfig,
    pub total_cpus: f64,
}

impl Multifactor {
    /// The priority Slurm would give a job, truncated to an integer as
    /// Slurm stores it. `wait` is seconds since the job became eligible.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn priority(
        &self,
        wait: u64,
        cpus: u32,
        partition_factor: f64,
        qos_factor: f64,
        fairshare: f64,
        submit: u64,
    ) -> f64 {
        let c = &self.cfg;
        if !c.multifactor {
            // priority/basic: first come, first served.
            return -(submit as f64);
        }
        // The weighted sum `age + fairshare + size + partition + qos`
        // (left to right), less its terms of zero weight: every factor is
        // finite (ages, sizes, partition and QOS factors lie in [0, 1], and
        // so do fairshare factors, see `Usage::compute_factor`), so such a
        // term is +0.0 or -0.0. Adding either to a sum other than -0.0
        // leaves it unchanged, and the sum never is -0.0: it begins at +0.0
        // plus the age term (at least +0.0), and a rounded sum is -0.0 only
        // when both addends are.
        let mut p = 0.0;
        if c.weight_age != 0 {
            let age = if c.max_age == 0 {
                1.0
            } else {
                to_f64(wait.min(c.max_age)) / to_f64(c.max_age)
            };
            p += c.weight_age as f64 * age;
        }
        if c.weight_fairshare != 0 {
            p += c.weight_fairshare as f64 * fairshare;
        }
        if c.weight_job_size != 0 {
            let frac = (cpus as f64 / self.total_cpus.max(1.0)).min(1.0);
            let size = if c.favor_small { 1.0 - frac } else { frac };
            p += c.weight_job_size as f64 * size;
        }
        if c.weight_partition != 0 {
            p += c.weight_partition as f64 * partition_factor;
        }
        if c.weight_qos != 0 {
            p += c.weight_qos as f64 * qos_factor;
        }
        floor(p)
    }
}

impl Multifactor {
    /// The priority as a function of the wait alone, when it is one:
    /// priority/multifactor with a non-zero age weight, a non-zero
    /// `max_age` of at most `i64::MAX`, and zero weights for every other
    /// factor; see [`AgeOnly`].
    pub(crate) fn age_only(&self) -> Option<AgeOnly> {
        let c = &self.cfg;
        let only_age = c.multifactor
            && c.weight_age != 0
            && c.weight_fairshare == 0
            && c.weight_job_size == 0
            && c.weight_partition == 0
            && c.weight_qos == 0;
        (only_age && c.max_age != 0 && c.max_age <= i64::MAX as u64).then(|| AgeOnly {
            weight: c.weight_age as f64,
            max_age: c.max_age,
            max_age_f: to_f64(c.max_age),
        })
    }
}

/// [`Multifactor::priority`] when only the age term has a weight, with
/// its constants converted once, for the periodic rescore of the whole
/// queue. The same operations on the same values, so the same bits:
/// `priority` adds the age term `weight * age` to `+0.0`, which leaves it
/// unchanged (the term is `+0.0` or positive), skips the other terms (zero
/// weights) and floors the sum. `wait.min(max_age)` is at most `i64::MAX`,
/// where the conversion through `i64` is exact (as in `to_f64`).
/// `age_only_priority_is_the_multifactor_priority` compares the two.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AgeOnly {
    weight: f64,
    max_age: u64,
    max_age_f: f64,
}

impl AgeOnly {
    /// The priority of a job that has waited `wait` seconds.
    ///
    /// The floor is a truncation through `i64`, with no tests: the age is
    /// `+0.0` or positive and at most 1 (`wait.min(max_age) <= max_age`,
    /// and rounding keeps order), so the product is `+0.0` or positive and
    /// at most `weight < 2^32`. On such values truncation is the floor, the
    /// integer converts back exactly, and `+0.0` gives `+0.0`: the bits of
    /// `floor`.
    #[inline]
    pub(crate) fn priority(&self, wait: u64) -> f64 {
        let age = wait.min(self.max_age) as i64 as f64 / self.max_age_f;
        (self.weight * age) as i64 as f64
    }
}

/// `x as f64`: the same value, converted through `i64` where it fits,
/// which baseline x86-64 does in one instruction (a `u64` takes several).
#[inline]
fn to_f64(x: u64) -> f64 {
    if x <= i64::MAX as u64 {
        x as i64 as f64
    } else {
        x as f64
    }
}

/// `x.floor()`, bit for bit. Baseline x86-64 has no rounding instruction,
/// so `f64::floor` is a library call; this truncates through `i64`
/// instead where that is exact (`0 < |x| < 2^52`; zeros, large values,
/// infinities and NaN go to `f64::floor`).
#[inline]
fn floor(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 && x != 0.0 {
        let t = x as i64 as f64;
        if t > x { t - 1.0 } else { t }
    } else {
        x.floor()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fairshare_halves_per_share_of_usage() {
        let mut u = Usage::new(2, 2, 0, 0);
        assert_eq!(u.factor(0), 1.0);
        u.add(0, 100.0, 10);
        // User 0 has all the usage: U = 1, S = 1/2 -> 2^-2.
        assert!((u.factor(0) - 0.25).abs() < 1e-12);
        assert_eq!(u.factor(1), 1.0);
        u.add(1, 100.0, 10);
        assert!((u.factor(0) - 0.5).abs() < 1e-12);
    }

    /// Found by the sim-to-real fidelity replay (docs/fidelity.md): a job
    /// that ended lowered the fairshare factor of the next submission at
    /// once in the simulator, but only at the next PriorityCalcPeriod in
    /// slurmctld, which reordered jobs submitted in between.
    #[test]
    fn snapshot_factors_change_only_at_recalc() {
        let mut u = Usage::new(2, 2, 0, 0);
        u.use_snapshots();
        u.add(0, 100.0, 10);
        assert_eq!(u.factor(0), 1.0, "no recalculation yet");
        u.recalc();
        assert!((u.factor(0) - 0.25).abs() < 1e-12);
        u.add(1, 100.0, 20);
        assert!((u.factor(0) - 0.25).abs() < 1e-12, "until the next recalc");
        assert_eq!(u.factor(1), 1.0);
        u.recalc();
        assert!((u.factor(0) - 0.5).abs() < 1e-12);
        assert!((u.factor(1) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn usage_decays_with_half_life() {
        let mut u = Usage::new(2, 2, 100, 0);
        u.add(0, 100.0, 0);
        // One half-life later the same amount counts double: user 1 has 2/3.
        u.add(1, 100.0, 100);
        let expect0 = (-(1.0 / 3.0) * 2.0f64).exp2();
        assert!((u.factor(0) - expect0).abs() < 1e-12);
        // 600 half-lives later (the scale renormalises), fresh usage by
        // user 1 outweighs everything before: user 0 is back to about 1.
        u.add(1, 100.0, 100 * 600);
        assert!(u.factor(0) > 0.99);
        assert!(u.factor(1) < 0.26);
    }

    #[test]
    fn inline_floor_and_conversion_are_exact() {
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            1.5,
            -1.5,
            999.999_999_999_9,
            -2.0,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
            4_503_599_627_370_495.5,
            -4_503_599_627_370_495.5,
            4_503_599_627_370_496.0,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ];
        // Spread over many magnitudes, both signs.
        let mut v: f64 = 1.234_567e-3;
        while v < 1e17 {
            xs.extend([v, -v, v.floor(), -v.floor(), v + 0.5, -(v + 0.5)]);
            v *= 1.37;
        }
        for x in xs {
            assert_eq!(floor(x).to_bits(), x.floor().to_bits(), "{x:e}");
        }
        assert!(floor(f64::NAN).is_nan());
        for x in [
            0,
            1,
            604_800,
            (1 << 53) + 1,
            i64::MAX as u64,
            1 << 63,
            u64::MAX,
        ] {
            assert_eq!(to_f64(x).to_bits(), (x as f64).to_bits(), "{x}");
        }
    }

    /// `Multifactor::priority` skips the terms of zero weight; the full
    /// sum, as it was written before, must give the same bits.
    #[test]
    fn skipped_zero_weight_terms_give_the_full_sum() {
        let full = |mf: &Multifactor, wait: u64, cpus: u32, pf: f64, qf: f64, fs: f64| {
            let c = &mf.cfg;
            let age = if c.max_age == 0 {
                1.0
            } else {
                to_f64(wait.min(c.max_age)) / to_f64(c.max_age)
            };
            let frac = (cpus as f64 / mf.total_cpus.max(1.0)).min(1.0);
            let size = if c.favor_small { 1.0 - frac } else { frac };
            let p = c.weight_age as f64 * age
                + c.weight_fairshare as f64 * fs
                + c.weight_job_size as f64 * size
                + c.weight_partition as f64 * pf
                + c.weight_qos as f64 * qf;
            p.floor()
        };
        let weights = [0u32, 1, 7, 1000, 65_535, u32::MAX];
        let factors = [0.0, 1e-300, 0.1, 1.0 / 3.0, 0.5, 0.999_999_999, 1.0];
        let mut checked = 0;
        for (k, &wa) in weights.iter().enumerate() {
            for &wf in &weights {
                for &ws in &weights {
                    let cfg = PriorityConfig {
                        weight_age: wa,
                        weight_fairshare: wf,
                        weight_job_size: ws,
                        weight_partition: weights[(k + 2) % weights.len()],
                        weight_qos: weights[(k + 4) % weights.len()],
                        max_age: [0, 1000, 604_800][k % 3],
                        favor_small: k % 2 == 0,
                        ..PriorityConfig::default()
                    };
                    let mf = Multifactor {
                        cfg,
                        total_cpus: 128.0,
                    };
                    for (i, &fs) in factors.iter().enumerate() {
                        let pf = factors[(i + 3) % factors.len()];
                        let qf = factors[(i + 5) % factors.len()];
                        for wait in [0, 1, 999, 1000, 604_799, 10_000_000] {
                            for cpus in [0, 1, 64, 1000] {
                                let got = mf.priority(wait, cpus, pf, qf, fs, 0);
                                let want = full(&mf, wait, cpus, pf, qf, fs);
                                assert_eq!(
                                    got.to_bits(),
                                    want.to_bits(),
                                    "{:?} wait={wait} cpus={cpus} fs={fs} pf={pf} qf={qf}",
                                    mf.cfg
                                );
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 30_000);
    }

    #[test]
    fn age_only_priority_is_the_multifactor_priority() {
        let mut checked = 0;
        for weight_age in [1u32, 7, 1000, 65_535, u32::MAX] {
            for max_age in [1u64, 300, 1000, 604_800, 1 << 40, i64::MAX as u64] {
                let mf = Multifactor {
                    cfg: PriorityConfig {
                        weight_age,
                        max_age,
                        ..PriorityConfig::default()
                    },
                    total_cpus: 128.0,
                };
                let age = mf.age_only().expect("only the age weight is set");
                let mut waits = vec![0, 1, max_age - 1, max_age, max_age + 1, u64::MAX];
                // Around every step of the priority near the start, and
                // spread over the rest.
                let step = (max_age / weight_age as u64).max(1);
                for k in 0..300u64 {
                    let w = k.saturating_mul(step);
                    waits.extend([w.saturating_sub(1), w, w.saturating_add(1)]);
                    waits.push(max_age / 300 * k + k);
                }
                for wait in waits {
                    let want = mf.priority(wait, 64, 0.5, 0.5, 0.5, 7);
                    assert_eq!(
                        age.priority(wait).to_bits(),
                        want.to_bits(),
                        "weight {weight_age} max_age {max_age} wait {wait}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 30_000);
        // Any other weight, no age weight, or priority/basic: not age-only.
        let with = |cfg: PriorityConfig| Multifactor {
            cfg,
            total_cpus: 1.0,
        };
        let base = PriorityConfig::default();
        for cfg in [
            PriorityConfig {
                weight_fairshare: 1,
                ..base.clone()
            },
            PriorityConfig {
                weight_job_size: 1,
                ..base.clone()
            },
            PriorityConfig {
                weight_partition: 1,
                ..base.clone()
            },
            PriorityConfig {
                weight_qos: 1,
                ..base.clone()
            },
            PriorityConfig {
                weight_age: 0,
                ..base.clone()
            },
            PriorityConfig {
                max_age: 0,
                ..base.clone()
            },
            PriorityConfig {
                max_age: u64::MAX,
                ..base.clone()
            },
            PriorityConfig {
                multifactor: false,
                ..base.clone()
            },
        ] {
            assert!(with(cfg).age_only().is_none());
        }
        assert!(with(base).age_only().is_some());
    }

    #[test]
    fn age_and_size_weights() {
        let mf = Multifactor {
            cfg: PriorityConfig {
                weight_age: 1000,
                weight_job_size: 100,
                max_age: 1000,
                ..PriorityConfig::default()
            },
            total_cpus: 10.0,
        };
        assert_eq!(mf.priority(500, 5, 0.0, 0.0, 1.0, 0), 550.0);
        assert_eq!(mf.priority(5000, 10, 0.0, 0.0, 1.0, 0), 1100.0);
    }
}
