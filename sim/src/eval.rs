//! The evaluation protocol: cut a trace into sequences of K jobs, run every
//! policy on the same sequences (each from an empty cluster), and summarise
//! each metric per policy as a mean with a Student-t confidence interval,
//! plus paired differences against a reference policy.
//!
//! Policies arrive through factories ([`PolicySpec`]), so baselines and the
//! learned model are treated alike. This module owns the protocol and the
//! statistics; it must not print, plot or touch files (the CLI does that),
//! and it must not know about any particular policy beyond
//! [`crate::baselines::by_name`] in [`PolicySpec::baseline`].
//!
//! The protocol is written down for readers in `docs/evaluation.md`.

use crate::cluster::Cluster;
use crate::engine::{self, SimConfig, SimError};
use crate::metrics::{self, Better, METRICS, MetricDef, Metrics};
use crate::trace::Trace;
use policy::Policy;
use rand::{Rng, SeedableRng};
use serde::Serialize;

/// Confidence level of every interval this module reports.
pub const CONFIDENCE: f64 = 0.95;

/// How to choose where sequences start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Starts {
    /// `count` start indices drawn independently and uniformly from
    /// `0..=len−K` (with replacement) by a `ChaCha8Rng` seeded with
    /// `seed_from_u64(seed)`, kept in the order drawn. The first `m`
    /// starts of a draw of `n > m` equal a draw of `m`.
    Random {
        /// Number of sequences.
        count: usize,
        /// RNG seed.
        seed: u64,
    },
    /// These start indices (into the trace's jobs, sorted by submit), in
    /// this order; for comparing job for job with other simulators.
    Explicit(Vec<usize>),
}

/// Errors of the evaluation protocol.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The sequence specification does not fit the trace.
    #[error("sequences: {0}")]
    Sequences(String),
    /// A policy list problem (empty, duplicate, unknown reference).
    #[error("policies: {0}")]
    Policies(String),
    /// The simulator failed on one run.
    #[error("policy `{policy}`, sequence {sequence} (jobs {start}..{end}): {source}")]
    Sim {
        /// The policy.
        policy: String,
        /// Sequence number (0-based).
        sequence: usize,
        /// First job index.
        start: usize,
        /// One past the last job index.
        end: usize,
        /// What the simulator said.
        source: SimError,
    },
}

/// The start indices of the sequences of `k` jobs in a trace of `len` jobs.
///
/// Errors when `k` is 0 or larger than `len`, when a random draw asks for 0
/// sequences, or when an explicit start leaves fewer than `k` jobs.
pub fn sequence_starts(len: usize, k: usize, starts: &Starts) -> Result<Vec<usize>, EvalError> {
    if k == 0 {
        return Err(EvalError::Sequences(
            "jobs per sequence must be at least 1".into(),
        ));
    }
    if k > len {
        return Err(EvalError::Sequences(format!(
            "jobs per sequence ({k}) exceeds the trace's {len} jobs"
        )));
    }
    match starts {
        Starts::Random { count, seed } => {
            if *count == 0 {
                return Err(EvalError::Sequences(
                    "the number of sequences must be at least 1".into(),
                ));
            }
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(*seed);
            Ok((0..*count).map(|_| rng.gen_range(0..=len - k)).collect())
        }
        Starts::Explicit(v) => {
            if v.is_empty() {
                return Err(EvalError::Sequences(
                    "the list of start indices is empty".into(),
                ));
            }
            if let Some(&bad) = v.iter().find(|&&s| s > len - k) {
                return Err(EvalError::Sequences(format!(
                    "start index {bad} leaves fewer than {k} jobs (the trace has {len}; the largest valid start is {})",
                    len - k
                )));
            }
            Ok(v.clone())
        }
    }
}

/// A named way to build a fresh policy for each run.
pub struct PolicySpec<'a> {
    /// The name used in reports (unique within one evaluation).
    pub name: String,
    /// Builds a fresh policy; called once per (policy, sequence) run.
    pub make: Box<dyn Fn() -> Box<dyn Policy> + 'a>,
}

impl std::fmt::Debug for PolicySpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicySpec")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<'a> PolicySpec<'a> {
    /// A spec from a name and a factory.
    pub fn new(name: impl Into<String>, make: impl Fn() -> Box<dyn Policy> + 'a) -> Self {
        PolicySpec {
            name: name.into(),
            make: Box::new(make),
        }
    }

    /// The baseline called `name` ([`crate::baselines::by_name`]), or `None`
    /// when there is no such baseline.
    pub fn baseline(name: &str) -> Option<PolicySpec<'static>> {
        crate::baselines::by_name(name)?;
        let owned = name.to_owned();
        Some(PolicySpec::new(name, move || {
            crate::baselines::by_name(&owned).expect("by_name returned this baseline a moment ago")
        }))
    }
}

/// What the evaluation runs on.
#[derive(Debug, Clone, Copy)]
pub struct EvalInput<'a> {
    /// The trace (jobs sorted by submit).
    pub trace: &'a Trace,
    /// The cluster.
    pub cluster: &'a Cluster,
    /// Simulator options; sequence `s` runs with seed `sim.seed + s`
    /// (wrapping), the same for every policy.
    pub sim: &'a SimConfig,
    /// Jobs per sequence (K).
    pub jobs_per_sequence: usize,
    /// Start indices, from [`sequence_starts`].
    pub starts: &'a [usize],
}

/// One finished run, reported to the progress hook.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Runs finished so far, this one included.
    pub done: usize,
    /// Runs in all (policies × sequences).
    pub total: usize,
    /// The policy just run.
    pub policy: &'a str,
    /// The sequence just run (0-based).
    pub sequence: usize,
}

/// Mean and confidence interval of one metric over the sequences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Metric name ([`crate::metrics::MetricDef::name`]).
    pub metric: String,
    /// Number of sequences.
    pub n: usize,
    /// Sample mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator); `None` for n < 2.
    pub sd: Option<f64>,
    /// Half width of the 95% Student-t interval; `None` for n < 2.
    pub ci95: Option<f64>,
}

/// The verdict of a paired comparison against the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The 95% interval of the difference lies entirely on the good side of 0.
    Better,
    /// The interval lies entirely on the bad side of 0.
    Worse,
    /// The interval contains 0 (or n < 2): no significant difference.
    NotSignificant,
    /// The metric has no good direction (a count).
    NotApplicable,
}

/// Paired difference `policy − reference` of one metric over the same sequences.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairedDiff {
    /// Metric name.
    pub metric: String,
    /// Mean of the per-sequence differences.
    pub mean: f64,
    /// Half width of the 95% Student-t interval; `None` for n < 2.
    pub ci95: Option<f64>,
    /// Reading of the interval given the metric's good direction.
    pub verdict: Verdict,
}

/// Everything measured for one policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    /// The policy's name.
    pub policy: String,
    /// One summary per numeric metric, in [`METRICS`] order.
    pub summary: Vec<Summary>,
    /// Paired differences against the reference, in [`METRICS`] order
    /// (empty for the reference itself or when there is none).
    pub vs_reference: Vec<PairedDiff>,
    /// The metrics of each sequence, in sequence order.
    pub sequences: Vec<Metrics>,
}

impl PolicyReport {
    /// The summary of `metric`.
    pub fn summary_of(&self, metric: &str) -> Option<&Summary> {
        self.summary.iter().find(|s| s.metric == metric)
    }
    /// The paired difference of `metric` against the reference.
    pub fn diff_of(&self, metric: &str) -> Option<&PairedDiff> {
        self.vs_reference.iter().find(|s| s.metric == metric)
    }
}

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Jobs per sequence (K).
    pub jobs_per_sequence: usize,
    /// Start index of each sequence.
    pub starts: Vec<usize>,
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    /// The reference policy of the paired comparisons.
    pub reference: Option<String>,
    /// One report per policy, in the order given.
    pub policies: Vec<PolicyReport>,
}

impl Report {
    /// The report of `policy`.
    pub fn policy(&self, policy: &str) -> Option<&PolicyReport> {
        self.policies.iter().find(|p| p.policy == policy)
    }
}

/// Runs every policy on every sequence and summarises.
///
/// `reference`, when given, must name one of `policies`. `progress` is
/// called after each run. Runs go policy by policy, sequence by sequence,
/// on one thread, so results are deterministic.
pub fn evaluate(
    input: &EvalInput<'_>,
    policies: &[PolicySpec<'_>],
    reference: Option<&str>,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<Report, EvalError> {
    check_policies(policies, reference)?;
    let len = input.trace.jobs.len();
    let k = input.jobs_per_sequence;
    // Re-validate explicit starts handed in directly.
    sequence_starts(len, k, &Starts::Explicit(input.starts.to_vec()))?;
    let total = policies.len() * input.starts.len();
    let (cpus, gpus) = (input.cluster.total_cpus(), input.cluster.total_gpus());
    let mut per_policy = Vec::with_capacity(policies.len());
    let mut done = 0;
    for spec in policies {
        let mut seqs = Vec::with_capacity(input.starts.len());
        for (s, &start) in input.starts.iter().enumerate() {
            let jobs = &input.trace.jobs[start..start + k];
            let cfg = SimConfig {
                seed: input.sim.seed.wrapping_add(s as u64),
                ..input.sim.clone()
            };
            let mut policy = (spec.make)();
            let sim_err = |source| EvalError::Sim {
                policy: spec.name.clone(),
                sequence: s,
                start,
                end: start + k,
                source,
            };
            let res = engine::simulate(
                jobs,
                &input.trace.names,
                input.cluster,
                policy.as_mut(),
                &cfg,
            )
            .map_err(sim_err)?;
            if res.outcomes.len() != jobs.len() {
                return Err(sim_err(SimError::Cluster(format!(
                    "simulator returned {} outcomes for {} jobs",
                    res.outcomes.len(),
                    jobs.len()
                ))));
            }
            seqs.push(metrics::compute(jobs, &res.outcomes, cpus, gpus));
            done += 1;
            progress(Progress {
                done,
                total,
                policy: &spec.name,
                sequence: s,
            });
        }
        per_policy.push((spec.name.clone(), seqs));
    }
    Ok(summarise(k, input.starts.to_vec(), reference, per_policy))
}

fn check_policies(policies: &[PolicySpec<'_>], reference: Option<&str>) -> Result<(), EvalError> {
    if policies.is_empty() {
        return Err(EvalError::Policies("no policy to evaluate".into()));
    }
    for (i, p) in policies.iter().enumerate() {
        if policies[..i].iter().any(|q| q.name == p.name) {
            return Err(EvalError::Policies(format!("`{}` is listed twice", p.name)));
        }
    }
    if let Some(r) = reference
        && !policies.iter().any(|p| p.name == r)
    {
        return Err(EvalError::Policies(format!(
            "reference policy `{r}` is not among the evaluated policies"
        )));
    }
    Ok(())
}

/// Builds a [`Report`] from per-sequence metrics (`(policy, metrics per
/// sequence)`, every policy on the same sequences in the same order).
///
/// # Panics
/// When the policies have different numbers of sequences, or `reference`
/// names none of them.
pub fn summarise(
    jobs_per_sequence: usize,
    starts: Vec<usize>,
    reference: Option<&str>,
    per_policy: Vec<(String, Vec<Metrics>)>,
) -> Report {
    let n = starts.len();
    assert!(
        per_policy.iter().all(|(_, m)| m.len() == n),
        "every policy runs every sequence"
    );
    let ref_metrics: Option<Vec<Metrics>> = reference.map(|r| {
        per_policy
            .iter()
            .find(|(name, _)| name == r)
            .map(|(_, m)| m.clone())
            .expect("reference is one of the policies")
    });
    let policies = per_policy
        .into_iter()
        .map(|(name, seqs)| {
            let summary = METRICS
                .iter()
                .map(|d| {
                    let xs: Vec<f64> = seqs.iter().map(d.get).collect();
                    let st = mean_ci(&xs, CONFIDENCE);
                    Summary {
                        metric: d.name.to_owned(),
                        n: xs.len(),
                        mean: st.mean,
                        sd: st.sd,
                        ci95: st.half_width,
                    }
                })
                .collect();
            let vs_reference = match (&ref_metrics, reference) {
                (Some(refm), Some(r)) if r != name => METRICS
                    .iter()
                    .map(|d| {
                        let st = mean_ci(&paired_differences(&seqs, refm, d), CONFIDENCE);
                        PairedDiff {
                            metric: d.name.to_owned(),
                            mean: st.mean,
                            ci95: st.half_width,
                            verdict: verdict(d.better, st.mean, st.half_width),
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            };
            PolicyReport {
                policy: name,
                summary,
                vs_reference,
                sequences: seqs,
            }
        })
        .collect();
    Report {
        jobs_per_sequence,
        starts,
        confidence: CONFIDENCE,
        reference: reference.map(str::to_owned),
        policies,
    }
}

/// `d` of `policy − reference`, sequence by sequence (the two run on the
/// same sequences, in the same order).
pub fn paired_differences(policy: &[Metrics], reference: &[Metrics], d: &MetricDef) -> Vec<f64> {
    policy
        .iter()
        .zip(reference)
        .map(|(a, b)| (d.get)(a) - (d.get)(b))
        .collect()
}

/// Reads a paired interval `mean ± half` of `policy − reference`.
pub fn verdict(better: Better, mean: f64, half: Option<f64>) -> Verdict {
    let Some(h) = half else {
        return match better {
            Better::Neither => Verdict::NotApplicable,
            _ => Verdict::NotSignificant,
        };
    };
    let (lo, hi) = (mean - h, mean + h);
    match better {
        Better::Neither => Verdict::NotApplicable,
        Better::Lower if lo > 0.0 => Verdict::Worse,
        Better::Lower if hi < 0.0 => Verdict::Better,
        Better::Higher if hi < 0.0 => Verdict::Worse,
        Better::Higher if lo > 0.0 => Verdict::Better,
        _ => Verdict::NotSignificant,
    }
}

/// Sample statistics of a set of values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanCi {
    /// Sample mean (0 for no values).
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for n < 2.
    pub sd: Option<f64>,
    /// Half width t(1 − (1 − level)/2, n − 1) · sd / √n; `None` for n < 2.
    pub half_width: Option<f64>,
}

/// Mean and Student-t confidence interval at `level` (e.g. 0.95).
pub fn mean_ci(xs: &[f64], level: f64) -> MeanCi {
    let n = xs.len();
    if n == 0 {
        return MeanCi {
            mean: 0.0,
            sd: None,
            half_width: None,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return MeanCi {
            mean,
            sd: None,
            half_width: None,
        };
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let t = student_t_quantile(1.0 - (1.0 - level) / 2.0, (n - 1) as u64);
    MeanCi {
        mean,
        sd: Some(sd),
        half_width: Some(t * sd / (n as f64).sqrt()),
    }
}

/// P(|T| ≤ t) for Student's t with `df` degrees of freedom, by the exact
/// finite series of Abramowitz & Stegun 26.7.3–26.7.4 (θ = atan(t/√df)).
fn t_two_sided_mass(t: f64, df: u64) -> f64 {
    let theta = (t / (df as f64).sqrt()).atan();
    let (s, c) = theta.sin_cos();
    let c2 = c * c;
    if df.is_multiple_of(2) {
        // sinθ · [1 + (1/2)c² + (1·3)/(2·4)c⁴ + … up to c^(df−2)]
        let mut term = 1.0;
        let mut sum = 1.0;
        for k in 1..df / 2 {
            term *= c2 * (2 * k - 1) as f64 / (2 * k) as f64;
            sum += term;
        }
        s * sum
    } else if df == 1 {
        2.0 * theta / std::f64::consts::PI
    } else {
        // (2/π) · [θ + sinθ · (c + (2/3)c³ + (2·4)/(3·5)c⁵ + … up to c^(df−2))]
        let mut term = c;
        let mut sum = c;
        for k in 1..(df - 1) / 2 {
            term *= c2 * (2 * k) as f64 / (2 * k + 1) as f64;
            sum += term;
        }
        2.0 / std::f64::consts::PI * (theta + s * sum)
    }
}

/// The `p` quantile (0.5 < p < 1) of Student's t distribution with `df ≥ 1`
/// degrees of freedom, e.g. `student_t_quantile(0.975, 9) ≈ 2.262`.
///
/// Exact up to floating point: the CDF is evaluated by a finite series and
/// inverted by bisection, for every `df` (no normal approximation).
///
/// # Panics
/// When `p` is outside (0.5, 1) or `df` is 0.
pub fn student_t_quantile(p: f64, df: u64) -> f64 {
    assert!(p > 0.5 && p < 1.0, "quantile {p} outside (0.5, 1)");
    assert!(df >= 1, "degrees of freedom must be at least 1");
    let target = 2.0 * p - 1.0;
    let mut hi = 1.0;
    while t_two_sided_mass(hi, df) < target {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_two_sided_mass(mid, df) < target {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-12 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{JobObs, QueueContext};

    #[test]
    fn t_quantiles_match_tables() {
        // Two-sided 95% critical values from any t table.
        for (df, want) in [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (4, 2.776),
            (5, 2.571),
            (9, 2.262),
            (10, 2.228),
            (19, 2.093),
            (29, 2.045),
            (30, 2.042),
            (60, 2.000),
            (100, 1.984),
            (120, 1.980),
        ] {
            let got = student_t_quantile(0.975, df);
            assert!(
                (got - want).abs() < 5e-4,
                "t(0.975, {df}) = {got}, table says {want}"
            );
        }
        // Other levels: t(0.995, 10) = 3.169, t(0.95, 20) = 1.725.
        assert!((student_t_quantile(0.995, 10) - 3.169).abs() < 5e-4);
        assert!((student_t_quantile(0.95, 20) - 1.725).abs() < 5e-4);
        // Large df tends to the normal quantile 1.95996.
        assert!((student_t_quantile(0.975, 1_000_000) - 1.959966).abs() < 1e-4);
        // df = 1 is the Cauchy distribution: quantile tan(π(p − 1/2)).
        let p: f64 = 0.9;
        assert!((student_t_quantile(p, 1) - (std::f64::consts::PI * (p - 0.5)).tan()).abs() < 1e-9);
    }

    #[test]
    fn mean_ci_hand_example() {
        // {1, 2, 3, 4, 5}: mean 3, variance 10/4 = 2.5, sd 1.5811,
        // half width t(0.975, 4) · sd/√5 = 2.7764 · 0.70711 = 1.9632.
        let st = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(st.mean, 3.0);
        assert!((st.sd.unwrap() - 2.5f64.sqrt()).abs() < 1e-12);
        assert!((st.half_width.unwrap() - 1.9632).abs() < 1e-3, "{:?}", st);
        // n = 1: a mean but no interval; n = 0: nothing.
        let one = mean_ci(&[4.0], 0.95);
        assert_eq!((one.mean, one.half_width), (4.0, None));
        assert_eq!(mean_ci(&[], 0.95).sd, None);
        // Constant values: a zero-width interval.
        assert_eq!(mean_ci(&[2.0, 2.0, 2.0], 0.95).half_width, Some(0.0));
    }

    #[test]
    fn random_starts_are_seeded_prefix_stable_and_in_range() {
        let a = sequence_starts(100, 10, &Starts::Random { count: 50, seed: 7 }).unwrap();
        let b = sequence_starts(100, 10, &Starts::Random { count: 50, seed: 7 }).unwrap();
        let c = sequence_starts(100, 10, &Starts::Random { count: 50, seed: 8 }).unwrap();
        let short = sequence_starts(100, 10, &Starts::Random { count: 5, seed: 7 }).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(&a[..5], &short[..]);
        assert!(a.iter().all(|&s| s <= 90));
        // 50 uniform draws from 91 values reach both halves of the range.
        assert!(a.iter().any(|&s| s < 45) && a.iter().any(|&s| s > 45));
        // K = len leaves exactly one possible start.
        let all = sequence_starts(10, 10, &Starts::Random { count: 3, seed: 1 }).unwrap();
        assert_eq!(all, vec![0, 0, 0]);
    }

    #[test]
    fn bad_sequence_specs_are_errors() {
        let e = |r: Result<Vec<usize>, EvalError>| r.unwrap_err().to_string();
        assert!(
            e(sequence_starts(
                10,
                0,
                &Starts::Random { count: 1, seed: 0 }
            ))
            .contains("at least 1")
        );
        assert!(
            e(sequence_starts(
                10,
                11,
                &Starts::Random { count: 1, seed: 0 }
            ))
            .contains("exceeds")
        );
        assert!(
            e(sequence_starts(
                10,
                5,
                &Starts::Random { count: 0, seed: 0 }
            ))
            .contains("sequences")
        );
        let msg = e(sequence_starts(10, 5, &Starts::Explicit(vec![0, 6])));
        assert!(
            msg.contains("start index 6") && msg.contains("largest valid start is 5"),
            "{msg}"
        );
        assert_eq!(
            sequence_starts(10, 5, &Starts::Explicit(vec![5, 0, 5])).unwrap(),
            vec![5, 0, 5]
        );
    }

    fn m(bsld: f64, util: f64, jobs: usize) -> Metrics {
        Metrics {
            bsld_mean: bsld,
            cpu_util: util,
            jobs,
            ..Metrics::default()
        }
    }

    #[test]
    fn summarise_means_cis_and_paired_verdicts() {
        // Reference bsld 10, 20, 30, 40; "worse" is reference + {1, 2, 1, 2}; "mixed" is
        // reference + {−5, 5, −5, 5}. The paired test sees that "worse" is worse although the
        // unpaired intervals overlap almost completely.
        let refs = vec![
            m(10.0, 0.5, 8),
            m(20.0, 0.5, 8),
            m(30.0, 0.5, 8),
            m(40.0, 0.5, 8),
        ];
        let worse = vec![
            m(11.0, 0.4, 8),
            m(22.0, 0.4, 8),
            m(31.0, 0.4, 8),
            m(42.0, 0.4, 8),
        ];
        let mixed = vec![
            m(5.0, 0.6, 8),
            m(25.0, 0.5, 8),
            m(25.0, 0.6, 8),
            m(45.0, 0.5, 8),
        ];
        let r = summarise(
            8,
            vec![0, 1, 2, 3],
            Some("ref"),
            vec![
                ("ref".into(), refs),
                ("worse".into(), worse),
                ("mixed".into(), mixed),
            ],
        );
        let reference = r.policy("ref").unwrap();
        assert!(reference.vs_reference.is_empty());
        let s = reference.summary_of("bsld_mean").unwrap();
        // mean 25; sd = sqrt((225+25+25+225)/3) = sqrt(500/3) = 12.910; half = 3.1824·12.910/2.
        assert_eq!((s.n, s.mean), (4, 25.0));
        assert!((s.sd.unwrap() - (500.0f64 / 3.0).sqrt()).abs() < 1e-9);
        assert!((s.ci95.unwrap() - 3.18245 * (500.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-3);

        let w = r.policy("worse").unwrap();
        let d = w.diff_of("bsld_mean").unwrap();
        // diffs {1, 2, 1, 2}: mean 1.5, sd = sqrt(1/3) = 0.5774, half = 3.1824·0.5774/2 = 0.9187:
        // [0.58, 2.42] lies above 0 and lower is better → worse.
        assert!((d.mean - 1.5).abs() < 1e-12);
        assert!((d.ci95.unwrap() - 0.9187).abs() < 1e-3);
        assert_eq!(d.verdict, Verdict::Worse);
        // Utilization 0.4 vs 0.5 every time: constant −0.1, zero width, higher is better → worse.
        assert_eq!(w.diff_of("cpu_util").unwrap().verdict, Verdict::Worse);
        // Job counts have no good direction.
        assert_eq!(w.diff_of("jobs").unwrap().verdict, Verdict::NotApplicable);

        let x = r.policy("mixed").unwrap();
        // diffs {−5, 5, −5, 5}: mean 0 → not significant. Utilization diffs {.1, 0, .1, 0}:
        // mean .05, sd .0577, half .0919 → interval contains 0.
        assert_eq!(
            x.diff_of("bsld_mean").unwrap().verdict,
            Verdict::NotSignificant
        );
        assert_eq!(
            x.diff_of("cpu_util").unwrap().verdict,
            Verdict::NotSignificant
        );
        // Per-sequence metrics are kept in order.
        assert_eq!(x.sequences[0].bsld_mean, 5.0);
        // The JSON form has the fields the docs promise.
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["policies"][1]["vs_reference"][0]["verdict"], "worse");
        assert_eq!(j["policies"][0]["summary"][0]["metric"], "bsld_mean");
        assert_eq!(j["confidence"], 0.95);
    }

    #[test]
    fn verdict_directions() {
        assert_eq!(verdict(Better::Lower, -3.0, Some(1.0)), Verdict::Better);
        assert_eq!(verdict(Better::Higher, -3.0, Some(1.0)), Verdict::Worse);
        assert_eq!(verdict(Better::Higher, 3.0, Some(1.0)), Verdict::Better);
        assert_eq!(
            verdict(Better::Lower, 0.5, Some(1.0)),
            Verdict::NotSignificant
        );
        assert_eq!(verdict(Better::Lower, 5.0, None), Verdict::NotSignificant);
        assert_eq!(
            verdict(Better::Neither, 5.0, Some(0.1)),
            Verdict::NotApplicable
        );
    }

    struct Fifo;
    impl Policy for Fifo {
        fn name(&self) -> &str {
            "fifo"
        }
        fn score(&mut self, _: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
            for (o, j) in out.iter_mut().zip(jobs) {
                *o = -(j.submit as f64);
            }
        }
    }

    fn tiny_trace(n: u64) -> Trace {
        let jobs = (0..n)
            .map(|i| crate::trace::Job {
                id: i + 1,
                submit: 100 * i,
                eligible: 100 * i,
                nodes: 1,
                cpus: 1,
                time_limit: Some(60),
                run_time: 50,
                ..Default::default()
            })
            .collect();
        Trace {
            jobs,
            ..Trace::default()
        }
    }

    fn one_node_cluster() -> Cluster {
        Cluster {
            name: "tiny".into(),
            nodes: vec![crate::cluster::Node {
                name: "n1".into(),
                cpus: 4,
                mem_mb: 1000,
                gpus: 0,
                gpu_type: String::new(),
                features: vec![],
            }],
            partitions: vec![crate::cluster::Partition {
                name: "p".into(),
                nodes: vec![0],
                priority_tier: 1,
                priority_job_factor: 1,
                max_time: None,
                default_time: None,
                default: true,
                exclusive: false,
            }],
            priority: Default::default(),
            sched: Default::default(),
        }
    }

    #[test]
    fn policy_list_errors_come_before_any_run() {
        let trace = tiny_trace(5);
        let cluster = one_node_cluster();
        let sim = SimConfig::default();
        let input = EvalInput {
            trace: &trace,
            cluster: &cluster,
            sim: &sim,
            jobs_per_sequence: 2,
            starts: &[0],
        };
        let mut calls = 0;
        let mut hook = |_: Progress<'_>| calls += 1;
        let f = || PolicySpec::new("fifo", || Box::new(Fifo) as Box<dyn Policy>);
        let e = evaluate(&input, &[], None, &mut hook).unwrap_err();
        assert!(matches!(e, EvalError::Policies(_)));
        let e = evaluate(&input, &[f(), f()], None, &mut hook).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = evaluate(&input, &[f()], Some("slurm"), &mut hook).unwrap_err();
        assert!(e.to_string().contains("reference policy `slurm`"), "{e}");
        let bad = EvalInput {
            starts: &[4],
            ..input
        };
        let e = evaluate(&bad, &[f()], None, &mut hook).unwrap_err();
        assert!(matches!(e, EvalError::Sequences(_)), "{e}");
        assert_eq!(calls, 0);
    }

    /// Runs the real engine: every job of the tiny trace fits alone on the
    /// idle node, so no job waits and every bsld is (0 + 50)/50 = 1.
    #[test]
    fn evaluate_runs_engine_on_every_sequence() {
        let trace = tiny_trace(20);
        let cluster = one_node_cluster();
        let sim = SimConfig::default();
        let starts = sequence_starts(20, 5, &Starts::Random { count: 3, seed: 1 }).unwrap();
        let input = EvalInput {
            trace: &trace,
            cluster: &cluster,
            sim: &sim,
            jobs_per_sequence: 5,
            starts: &starts,
        };
        let specs = [
            PolicySpec::new("fifo", || Box::new(Fifo) as Box<dyn Policy>),
            PolicySpec::new("fifo2", || Box::new(Fifo) as Box<dyn Policy>),
        ];
        let mut seen = Vec::new();
        let r = evaluate(&input, &specs, Some("fifo"), &mut |p| {
            seen.push((p.done, p.total, p.policy.to_owned(), p.sequence))
        })
        .unwrap();
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[5], (6, 6, "fifo2".to_owned(), 2));
        for p in &r.policies {
            assert_eq!(p.sequences.len(), 3);
            for m in &p.sequences {
                assert_eq!((m.jobs, m.started, m.completed), (5, 5, 5));
                assert_eq!(m.wait_max, 0.0);
                assert!((m.bsld_mean - 1.0).abs() < 1e-12);
            }
        }
        // Identical policies: every paired difference is exactly 0.
        let d = r.policy("fifo2").unwrap().diff_of("bsld_mean").unwrap();
        assert_eq!(
            (d.mean, d.ci95, d.verdict),
            (0.0, Some(0.0), Verdict::NotSignificant)
        );
    }

    /// All baselines build through `PolicySpec::baseline`.
    #[test]
    fn every_baseline_has_a_spec() {
        for name in crate::baselines::NAMES {
            let spec = PolicySpec::baseline(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!((spec.make)().name(), *name);
        }
        assert!(PolicySpec::baseline("no-such-policy").is_none());
    }
    /// The protocol end to end on a development trace: the SWF reader, the
    /// SWF-derived cluster, the engine and two baselines.
    #[test]
    fn lublin_two_baselines_on_three_sequences() {
        let path = crate::testdata::trace("lublin_256.swf");
        let (trace, _) = crate::trace::swf::read(&path, &Default::default()).unwrap();
        let cluster = Cluster::from_swf_header(&trace.meta.header).unwrap();
        let sim = SimConfig::default();
        let starts = sequence_starts(
            trace.jobs.len(),
            256,
            &Starts::Random { count: 3, seed: 42 },
        )
        .unwrap();
        let input = EvalInput {
            trace: &trace,
            cluster: &cluster,
            sim: &sim,
            jobs_per_sequence: 256,
            starts: &starts,
        };
        let specs: Vec<_> = ["slurm", "fcfs"]
            .iter()
            .map(|n| PolicySpec::baseline(n).unwrap())
            .collect();
        let r = evaluate(&input, &specs, Some("slurm"), &mut |_| {}).unwrap();
        for p in &r.policies {
            for m in &p.sequences {
                assert_eq!(m.jobs, 256);
                assert_eq!(m.started + m.rejected + m.cancelled, 256, "{}", p.policy);
                assert!(m.bsld_mean >= 1.0);
                assert!(
                    m.cpu_util > 0.0 && m.cpu_util <= 1.0 + 1e-9,
                    "{}",
                    m.cpu_util
                );
                assert!(
                    m.wait_p99 <= m.wait_max
                        && m.wait_median <= m.wait_p95
                        && m.wait_p95 <= m.wait_p99
                );
            }
            assert!(p.summary_of("bsld_mean").unwrap().ci95.is_some());
        }
        assert_eq!(r.policy("fcfs").unwrap().vs_reference.len(), METRICS.len());
    }
}
