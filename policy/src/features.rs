//! The learned policy's input features: the versioned feature list, the
//! function that computes raw features from a [`JobObs`] and its
//! [`QueueContext`], and the per-feature normalization that a model file
//! carries.
//!
//! This module is the single definition of the features: the simulator, the
//! trainer and the slurmctld plugin all call [`features`], so a model sees the
//! same numbers in training and in production. It must not allocate in
//! [`features`] or [`Normalizer::apply`], must never panic on any input
//! (NaN, infinities, zero totals, huge counts), and must never change the
//! meaning or order of a feature without bumping [`FEATURES_VERSION`].
//! The list is documented in `docs/model-format.md`.

use serde::{Deserialize, Serialize};

use crate::{JobObs, QueueContext};

/// Version of the feature list. Bump it whenever a feature is added,
/// removed, reordered or its definition changes; a model file trained on
/// another version is refused.
pub const FEATURES_VERSION: u32 = 1;

/// Number of features per job.
pub const N_FEATURES: usize = 20;

/// Stable feature names, in the order [`features`] writes them.
///
/// `ln1p(x)` is `ln(1 + x)`; fractions are of the cluster totals in
/// [`QueueContext`] and are 0 when the total is 0.
pub const FEATURE_NAMES: [&str; N_FEATURES] = [
    // Time.
    "log_wait",       // ln1p(wait seconds)
    "log_time_limit", // ln1p(time limit seconds)
    "log_wait_ratio", // ln1p(wait / max(time limit, 1))
    // Size.
    "log_cpus",           // ln1p(cpus)
    "cpu_frac",           // cpus / total_cpus, clamped to [0, 1]
    "log_mem_mb",         // ln1p(mem MB)
    "log_mem_per_cpu_mb", // ln1p(mem MB / max(cpus, 1))
    "log_gpus",           // ln1p(gpus)
    "gpu_frac",           // gpus / total_gpus, clamped to [0, 1]
    "log_nodes",          // ln1p(nodes)
    "log_cpu_seconds",    // ln1p(cpus * time limit seconds)
    // Slurm's view of the job.
    "fits_now",         // 1 if the job could start now, else 0
    "partition_tier",   // PriorityTier of the partition
    "qos",              // normalized QOS priority, clamped to [0, 1]
    "fairshare",        // fairshare factor, clamped to [0, 1]
    "multifactor_slog", // sign(p) * ln1p(|p|) of the multifactor priority
    // Queue and cluster context (equal for every job at a decision point).
    "free_cpu_frac", // free_cpus / total_cpus, clamped to [0, 1]
    "free_gpu_frac", // free_gpus / total_gpus, clamped to [0, 1]
    "log_queue_len", // ln1p(pending jobs)
    "log_running",   // ln1p(running jobs)
];

/// `ln(1 + x)` for a non-negative quantity. Written as `ln(1 + x)` rather
/// than `ln_1p`, which is several times slower; the f64 rounding of `1 + x`
/// is far below the f32 precision the result is stored in.
fn ln1p(x: f64) -> f64 {
    (1.0 + x.max(0.0)).ln()
}

/// `num / den` clamped to [0, 1]; 0 when `den` is 0.
fn frac(num: f64, den: f64) -> f64 {
    if den > 0.0 {
        (num / den).clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// `x` clamped to [0, 1], with NaN mapped to 0.
fn unit(x: f64) -> f64 {
    if x.is_nan() { 0.0 } else { x.clamp(0.0, 1.0) }
}

/// Signed log: `sign(x) * ln(1 + |x|)`, with NaN mapped to 0 and infinities
/// to the signed log of `f64::MAX`.
fn slog(x: f64) -> f64 {
    if x.is_nan() {
        return 0.0;
    }
    let m = x.abs().min(f64::MAX).ln_1p();
    if x < 0.0 { -m } else { m }
}

/// Computes the raw (unnormalized) features of one job, in
/// [`FEATURE_NAMES`] order. Every value is finite.
pub fn features_array(job: &JobObs, ctx: &QueueContext) -> [f32; N_FEATURES] {
    let wait = job.wait as f64;
    let limit = job.time_limit as f64;
    let cpus = job.cpus as f64;
    let mem = job.mem_mb as f64;
    let gpus = job.gpus as f64;
    let total_cpus = ctx.total_cpus as f64;
    let total_gpus = ctx.total_gpus as f64;
    let raw: [f64; N_FEATURES] = [
        ln1p(wait),
        ln1p(limit),
        ln1p(wait / limit.max(1.0)),
        ln1p(cpus),
        frac(cpus, total_cpus),
        ln1p(mem),
        ln1p(mem / cpus.max(1.0)),
        ln1p(gpus),
        frac(gpus, total_gpus),
        ln1p(job.nodes as f64),
        ln1p(cpus * limit),
        if job.fits_now { 1.0 } else { 0.0 },
        job.partition_tier as f64,
        unit(job.qos),
        unit(job.fairshare),
        slog(job.multifactor),
        frac(ctx.free_cpus as f64, total_cpus),
        frac(ctx.free_gpus as f64, total_gpus),
        ln1p(ctx.queue_len as f64),
        ln1p(ctx.running as f64),
    ];
    raw.map(|v| v as f32)
}

/// Writes the raw (unnormalized) features of one job into `out`, in
/// [`FEATURE_NAMES`] order.
///
/// `out` should be [`N_FEATURES`] long. A shorter `out` receives the first
/// `out.len()` features and a longer one is zero-filled past
/// [`N_FEATURES`]; this function never panics.
pub fn features(job: &JobObs, ctx: &QueueContext, out: &mut [f32]) {
    let f = features_array(job, ctx);
    let n = out.len().min(N_FEATURES);
    out[..n].copy_from_slice(&f[..n]);
    for v in out.iter_mut().skip(N_FEATURES) {
        *v = 0.0;
    }
}

/// Appends the raw features of every job to `out`, row-major
/// (`jobs.len() × N_FEATURES`), after clearing it. Reuses `out`'s capacity,
/// so a caller that keeps the buffer allocates only when the queue grows.
pub fn features_matrix(jobs: &[JobObs], ctx: &QueueContext, out: &mut Vec<f32>) {
    out.clear();
    out.reserve(jobs.len() * N_FEATURES);
    for j in jobs {
        out.extend_from_slice(&features_array(j, ctx));
    }
}

/// Errors from fitting or validating feature normalization.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeatureError {
    /// [`Normalizer::fit`] was given no rows.
    #[error("cannot fit a normalizer on zero rows")]
    NoData,
    /// A row's length differs from the first row's.
    #[error("row {row} has {found} features, expected {expected}")]
    RowLength {
        /// Index of the offending row.
        row: usize,
        /// Length of the first row.
        expected: usize,
        /// Length of this row.
        found: usize,
    },
    /// A value is NaN or infinite.
    #[error("row {row}, feature {column}: value is not finite")]
    NonFinite {
        /// Index of the offending row.
        row: usize,
        /// Index of the offending feature.
        column: usize,
    },
    /// The normalizer's constants are inconsistent or invalid.
    #[error("invalid normalizer: {0}")]
    Invalid(String),
}

/// Default bound on normalized values; see [`Normalizer::clip`].
pub const DEFAULT_CLIP: f32 = 10.0;

fn default_clip() -> f32 {
    DEFAULT_CLIP
}

/// Per-feature standardization: `z = clamp((x - mean) / std, -clip, clip)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Normalizer {
    /// Per-feature mean.
    pub mean: Vec<f32>,
    /// Per-feature standard deviation (strictly positive).
    pub std: Vec<f32>,
    /// Normalized values are clamped to `[-clip, clip]`, so that an input far
    /// outside the training data cannot drive the network to extremes.
    #[serde(default = "default_clip")]
    pub clip: f32,
}

/// Standard deviations below this are treated as constant features and
/// replaced by 1 when fitting.
pub const MIN_STD: f32 = 1e-6;

impl Normalizer {
    /// The identity transform on `d` features (mean 0, std 1), still
    /// clamped to [`DEFAULT_CLIP`].
    pub fn identity(d: usize) -> Self {
        Normalizer {
            mean: vec![0.0; d],
            std: vec![1.0; d],
            clip: DEFAULT_CLIP,
        }
    }

    /// Fits mean and (population) standard deviation per feature on raw
    /// feature rows, accumulating in f64. A feature whose standard deviation
    /// is below [`MIN_STD`] gets std 1 (it is then only centered).
    pub fn fit(rows: &[Vec<f32>]) -> Result<Self, FeatureError> {
        let first = rows.first().ok_or(FeatureError::NoData)?;
        let d = first.len();
        let mut sum = vec![0.0f64; d];
        for (r, row) in rows.iter().enumerate() {
            if row.len() != d {
                return Err(FeatureError::RowLength {
                    row: r,
                    expected: d,
                    found: row.len(),
                });
            }
            for (c, (&v, s)) in row.iter().zip(sum.iter_mut()).enumerate() {
                if !v.is_finite() {
                    return Err(FeatureError::NonFinite { row: r, column: c });
                }
                *s += v as f64;
            }
        }
        let n = rows.len() as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let mut sq = vec![0.0f64; d];
        for row in rows {
            for ((&v, m), q) in row.iter().zip(&mean).zip(sq.iter_mut()) {
                let e = v as f64 - m;
                *q += e * e;
            }
        }
        let std = sq
            .iter()
            .map(|q| {
                let s = (q / n).sqrt() as f32;
                if s.is_finite() && s >= MIN_STD {
                    s
                } else {
                    1.0
                }
            })
            .collect();
        Ok(Normalizer {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
            clip: DEFAULT_CLIP,
        })
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Whether this normalizer has no features.
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// Checks that the constants are usable: equal lengths, finite means,
    /// finite strictly positive standard deviations and a positive clip.
    pub fn validate(&self) -> Result<(), FeatureError> {
        if self.mean.len() != self.std.len() {
            return Err(FeatureError::Invalid(format!(
                "{} means but {} standard deviations",
                self.mean.len(),
                self.std.len()
            )));
        }
        if let Some(i) = self.mean.iter().position(|m| !m.is_finite()) {
            return Err(FeatureError::Invalid(format!("mean[{i}] is not finite")));
        }
        if let Some(i) = self.std.iter().position(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(FeatureError::Invalid(format!(
                "std[{i}] = {} is not a finite positive number",
                self.std[i]
            )));
        }
        if !(self.clip.is_finite() && self.clip > 0.0) {
            return Err(FeatureError::Invalid(format!(
                "clip = {} is not a finite positive number",
                self.clip
            )));
        }
        Ok(())
    }

    /// Normalizes `x` in place. Entries beyond [`Normalizer::len`] are left
    /// as they are; this never panics. NaN inputs become 0.
    pub fn apply(&self, x: &mut [f32]) {
        for ((v, &m), &s) in x.iter_mut().zip(&self.mean).zip(&self.std) {
            let z = (*v - m) / s;
            // `clamp` propagates NaN; map it to the mean.
            *v = if z.is_nan() {
                0.0
            } else {
                z.clamp(-self.clip, self.clip)
            };
        }
    }
}

/// The feature list a model was trained on and its normalization
/// constants, stored in the model file's `features` metadata as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureSpec {
    /// [`FEATURES_VERSION`] of the build that wrote the model.
    pub version: u32,
    /// Feature names, in input order.
    pub names: Vec<String>,
    /// Normalization constants, one per name.
    pub normalizer: Normalizer,
}

impl FeatureSpec {
    /// The spec of this build's features with the given normalization.
    pub fn current(normalizer: Normalizer) -> Self {
        FeatureSpec {
            version: FEATURES_VERSION,
            names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            normalizer,
        }
    }

    /// This build's features with the identity normalization.
    pub fn current_identity() -> Self {
        Self::current(Normalizer::identity(N_FEATURES))
    }

    /// Number of features.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether the spec has no features.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Checks internal consistency: one normalization constant per name,
    /// and valid constants.
    pub fn validate(&self) -> Result<(), FeatureError> {
        self.normalizer.validate()?;
        if self.normalizer.len() != self.names.len() {
            return Err(FeatureError::Invalid(format!(
                "{} feature names but {} normalization constants",
                self.names.len(),
                self.normalizer.len()
            )));
        }
        Ok(())
    }

    /// Describes how this spec differs from this build's features, or
    /// `None` when it matches (same version, same names in the same order).
    pub fn mismatch_with_current(&self) -> Option<String> {
        if self.version != FEATURES_VERSION {
            return Some(format!(
                "feature list version {} but this build computes version {}",
                self.version, FEATURES_VERSION
            ));
        }
        if self.names.len() != N_FEATURES {
            return Some(format!(
                "{} features but this build computes {}",
                self.names.len(),
                N_FEATURES
            ));
        }
        for (i, (found, want)) in self.names.iter().zip(FEATURE_NAMES).enumerate() {
            if found != want {
                return Some(format!(
                    "feature {i} is `{found}` but this build computes `{want}`"
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx(name: &str) -> usize {
        FEATURE_NAMES.iter().position(|n| *n == name).unwrap()
    }

    fn job() -> JobObs {
        JobObs {
            id: 7,
            submit: 1_000_000,
            wait: 3599,
            time_limit: 7199,
            nodes: 2,
            cpus: 64,
            mem_mb: 128_000,
            gpus: 4,
            fits_now: true,
            partition_tier: 3,
            qos: 0.5,
            fairshare: 0.25,
            multifactor: -1000.0,
        }
    }

    fn ctx() -> QueueContext {
        QueueContext {
            now: 1_003_599,
            free_cpus: 128,
            total_cpus: 512,
            free_gpus: 2,
            total_gpus: 16,
            queue_len: 99,
            running: 9,
        }
    }

    #[test]
    fn names_are_unique_and_counted() {
        let mut n: Vec<_> = FEATURE_NAMES.to_vec();
        n.sort_unstable();
        n.dedup();
        assert_eq!(n.len(), N_FEATURES);
    }

    #[test]
    fn features_of_a_hand_made_job() {
        let f = features_array(&job(), &ctx());
        let close = |name: &str, want: f64| {
            let got = f[idx(name)] as f64;
            assert!(
                (got - want).abs() < 1e-5 * want.abs().max(1.0),
                "{name}: {got} != {want}"
            );
        };
        close("log_wait", 3600f64.ln());
        close("log_time_limit", 7200f64.ln());
        close("log_wait_ratio", (1.0 + 3599.0 / 7199.0f64).ln());
        close("log_cpus", 65f64.ln());
        close("cpu_frac", 0.125);
        close("log_mem_mb", 128_001f64.ln());
        close("log_mem_per_cpu_mb", 2001f64.ln());
        close("log_gpus", 5f64.ln());
        close("gpu_frac", 0.25);
        close("log_nodes", 3f64.ln());
        close("log_cpu_seconds", (1.0 + 64.0 * 7199.0f64).ln());
        close("fits_now", 1.0);
        close("partition_tier", 3.0);
        close("qos", 0.5);
        close("fairshare", 0.25);
        close("multifactor_slog", -(1001f64.ln()));
        close("free_cpu_frac", 0.25);
        close("free_gpu_frac", 0.125);
        close("log_queue_len", 100f64.ln());
        close("log_running", 10f64.ln());
    }

    #[test]
    fn features_are_finite_on_degenerate_input() {
        let j = JobObs {
            wait: u64::MAX,
            time_limit: 0,
            cpus: u32::MAX,
            mem_mb: u64::MAX,
            qos: f64::NAN,
            fairshare: f64::INFINITY,
            multifactor: f64::NEG_INFINITY,
            ..JobObs::default()
        };
        let c = QueueContext {
            free_cpus: 10,
            total_cpus: 0,
            ..QueueContext::default()
        };
        let f = features_array(&j, &c);
        assert!(f.iter().all(|v| v.is_finite()), "{f:?}");
        assert_eq!(f[idx("cpu_frac")], 0.0);
        assert_eq!(f[idx("free_cpu_frac")], 0.0);
        assert_eq!(f[idx("qos")], 0.0);
        assert_eq!(f[idx("fairshare")], 1.0);
        assert!(f[idx("multifactor_slog")] < -700.0);
    }

    #[test]
    fn features_slice_writes_prefix_and_zero_fills() {
        let full = features_array(&job(), &ctx());
        let mut short = [9.0f32; 3];
        features(&job(), &ctx(), &mut short);
        assert_eq!(short, full[..3]);
        let mut long = [9.0f32; N_FEATURES + 2];
        features(&job(), &ctx(), &mut long);
        assert_eq!(long[..N_FEATURES], full);
        assert_eq!(long[N_FEATURES..], [0.0, 0.0]);
    }

    #[test]
    fn matrix_rows_are_the_per_job_features() {
        let jobs = [job(), JobObs { cpus: 1, ..job() }];
        let mut m = vec![1.0; 3];
        features_matrix(&jobs, &ctx(), &mut m);
        assert_eq!(m.len(), 2 * N_FEATURES);
        assert_eq!(m[..N_FEATURES], features_array(&jobs[0], &ctx()));
        assert_eq!(m[N_FEATURES..], features_array(&jobs[1], &ctx()));
    }

    #[test]
    fn normalizer_fit_mean_std_and_constant_column() {
        let rows = vec![vec![1.0, 5.0], vec![3.0, 5.0], vec![5.0, 5.0]];
        let n = Normalizer::fit(&rows).unwrap();
        assert_eq!(n.mean, vec![3.0, 5.0]);
        let want_std = (8.0f32 / 3.0).sqrt();
        assert!((n.std[0] - want_std).abs() < 1e-6);
        assert_eq!(n.std[1], 1.0, "constant feature keeps std 1");
        n.validate().unwrap();
        let mut x = [5.0, 6.0];
        n.apply(&mut x);
        assert!((x[0] - 2.0 / want_std).abs() < 1e-6);
        assert_eq!(x[1], 1.0);
        let mut far = [1e9, f32::NAN];
        n.apply(&mut far);
        assert_eq!(far, [DEFAULT_CLIP, 0.0]);
    }

    #[test]
    fn normalizer_fit_errors() {
        assert_eq!(Normalizer::fit(&[]), Err(FeatureError::NoData));
        assert_eq!(
            Normalizer::fit(&[vec![1.0], vec![1.0, 2.0]]),
            Err(FeatureError::RowLength {
                row: 1,
                expected: 1,
                found: 2
            })
        );
        assert_eq!(
            Normalizer::fit(&[vec![1.0, f32::NAN]]),
            Err(FeatureError::NonFinite { row: 0, column: 1 })
        );
        let bad = Normalizer {
            mean: vec![0.0],
            std: vec![0.0],
            clip: 1.0,
        };
        assert!(matches!(bad.validate(), Err(FeatureError::Invalid(_))));
    }

    #[test]
    fn spec_json_round_trip_and_mismatch() {
        let rows: Vec<Vec<f32>> = (0..10)
            .map(|i| {
                features_array(
                    &JobObs {
                        wait: i * 60,
                        ..job()
                    },
                    &ctx(),
                )
                .to_vec()
            })
            .collect();
        let spec = FeatureSpec::current(Normalizer::fit(&rows).unwrap());
        spec.validate().unwrap();
        assert_eq!(spec.mismatch_with_current(), None);
        let json = serde_json::to_string(&spec).unwrap();
        let back: FeatureSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec, "f32 constants survive JSON exactly");
        let mut renamed = spec.clone();
        renamed.names.swap(0, 1);
        assert!(
            renamed
                .mismatch_with_current()
                .unwrap()
                .contains("feature 0")
        );
        let mut old = spec;
        old.version += 1;
        assert!(old.mismatch_with_current().unwrap().contains("version"));
    }
}
