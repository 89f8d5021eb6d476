//! Synthetic deep-learning GPU workloads and the cluster they run on.
//!
//! [`generate`] draws a trace of training jobs whose shape follows
//! published studies of production DL clusters: Philly (Jeon et al.,
//! USENIX ATC'19), Helios (Hu et al., SC'21) and Alibaba PAI (Weng et al.,
//! NSDI'22), plus the HPC literature on user run-time estimates (Tsafrir,
//! Etsion and Feitelson, IEEE TPDS 2007). Every knob lives in
//! [`SynthConfig`]; `docs/synth.md` documents each default and its source.
//!
//! The generator is deterministic: one ChaCha RNG seeded from
//! [`SynthConfig::seed`] drives every draw, in a fixed order, so the same
//! configuration always yields the same trace. This module must not do I/O
//! beyond reading a configuration file, and must not know the simulator.

use crate::cluster::{Cluster, Node, Partition, PriorityConfig, SchedConfig};
use crate::trace::{Job, JobState, Names, Trace, TraceMeta};
use rand::Rng;
use rand::SeedableRng;
use rand::distributions::{Distribution, WeightedIndex};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Exp, LogNormal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Errors from configuring the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A configuration file that does not parse.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// A configuration value outside its valid range.
    #[error("synth config `{field}`: {message}")]
    Invalid {
        /// The offending field, as the TOML file spells it.
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Everything the generator needs. Every field has a default (see
/// `docs/synth.md` for the source of each); a TOML file may set any subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthConfig {
    /// Number of jobs to generate.
    pub jobs: usize,
    /// Seed of the one RNG.
    pub seed: u64,
    /// Unix time the trace starts (default 2024-01-01 00:00 UTC, a Monday).
    pub start: u64,
    /// Hours added to UTC to get the users' local time, which drives the
    /// day/night and weekday/weekend cycle.
    pub utc_offset_hours: i32,
    /// Offered load: GPU-seconds of work submitted per GPU-second of
    /// capacity, averaged over the trace. Scales the arrival rate.
    pub load: f64,
    /// The cluster the jobs are generated for.
    pub cluster: ClusterShape,
    /// Users and their habits.
    pub users: UserConfig,
    /// GPUs per job in the `gpu` partition, as `[gpus, weight]` pairs.
    pub gpu_mix: Vec<(u32, f64)>,
    /// CPUs and memory per GPU.
    pub resources: ResourceConfig,
    /// Actual run times.
    pub runtime: RuntimeConfig,
    /// How users choose time limits.
    pub limits: LimitConfig,
    /// Jobs that fail or time out.
    pub outcomes: OutcomeConfig,
    /// The arrival process.
    pub arrivals: ArrivalConfig,
    /// Interactive / debug jobs in the `debug` partition.
    pub debug: DebugConfig,
}

/// Shape of the generated cluster: identical GPU nodes, a `gpu` partition
/// over all of them and a `debug` partition over the last few.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterShape {
    /// Cluster name.
    pub name: String,
    /// Number of nodes.
    pub nodes: u32,
    /// GPUs per node.
    pub gpus_per_node: u32,
    /// CPUs per node.
    pub cpus_per_node: u32,
    /// Memory per node in MB.
    pub mem_mb_per_node: u64,
    /// GPU type.
    pub gpu_type: String,
    /// `MaxTime` of the `gpu` partition, seconds.
    pub gpu_max_time: u64,
    /// `DefaultTime` of the `gpu` partition, seconds.
    pub gpu_default_time: u64,
    /// Nodes in the `debug` partition (the last ones; they are also in `gpu`).
    pub debug_nodes: u32,
    /// `MaxTime` of the `debug` partition, seconds.
    pub debug_max_time: u64,
}

/// The user population.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserConfig {
    /// Number of users.
    pub count: u32,
    /// Number of accounts (users are spread over them round-robin).
    pub accounts: u32,
    /// Zipf exponent of user activity: user k (1-based, by rank) submits in
    /// proportion to `1 / k^zipf`, so a few heavy users dominate.
    pub zipf: f64,
    /// Share of users who always request the partition's maximum time.
    pub max_requesters: f64,
    /// Share of users who are interactive / debug users (`debug` partition).
    pub debug_users: f64,
    /// Spread (log-normal sigma) of a per-user multiplier on run times.
    pub runtime_sigma: f64,
}

/// Per-GPU CPU and memory requests, as `[value, weight]` pairs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceConfig {
    /// CPUs per GPU.
    pub cpus_per_gpu: Vec<(u32, f64)>,
    /// Memory per GPU, MB.
    pub mem_mb_per_gpu: Vec<(u64, f64)>,
}

/// Run times of jobs that complete (failures and timeouts are derived).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeConfig {
    /// Median run time of a 1-GPU job, seconds.
    pub median_s: f64,
    /// Log-normal sigma (heaviness of the tail).
    pub sigma: f64,
    /// Larger jobs run longer: the median scales with `gpus ^ gpu_exponent`
    /// (a negative exponent makes larger jobs shorter, e.g. for drift tests).
    pub gpu_exponent: f64,
    /// Shortest run time, seconds.
    pub min_s: u64,
}

/// How users turn their expected run time into a time limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitConfig {
    /// The round values users pick from, seconds, ascending. A user takes
    /// the smallest one at least `factor * run time` (capped at the
    /// partition maximum).
    pub round_values: Vec<u64>,
    /// Median of the log-normal over-estimate factor (clamped to >= 1).
    pub factor_median: f64,
    /// Sigma of the over-estimate factor.
    pub factor_sigma: f64,
}

/// Jobs that do not complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutcomeConfig {
    /// Share of jobs that fail (exit non-zero), usually early.
    pub fail_fraction: f64,
    /// Median time to failure, seconds (log-normal).
    pub fail_median_s: f64,
    /// Sigma of the time to failure.
    pub fail_sigma: f64,
    /// Share of jobs that run into their time limit (TIMEOUT).
    pub timeout_fraction: f64,
}

/// The non-homogeneous Poisson arrival process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArrivalConfig {
    /// Relative arrival rate for each local hour 0..23 (any positive scale;
    /// it is normalized).
    pub hourly: Vec<f64>,
    /// Rate on Saturday and Sunday relative to a weekday.
    pub weekend_factor: f64,
}

/// Interactive / debug jobs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugConfig {
    /// GPUs per debug job, as `[gpus, weight]` pairs.
    pub gpu_mix: Vec<(u32, f64)>,
    /// Median run time of a debug job, seconds.
    pub median_s: f64,
    /// Log-normal sigma of debug run times.
    pub sigma: f64,
    /// Round time limits debug users pick from, seconds.
    pub round_values: Vec<u64>,
}

const HOUR: u64 = 3600;
const DAY: u64 = 24 * HOUR;

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            jobs: 5000,
            seed: 1,
            start: 1_704_067_200, // 2024-01-01T00:00:00Z, a Monday
            utc_offset_hours: 0,
            load: 0.85,
            cluster: ClusterShape::default(),
            users: UserConfig::default(),
            // Philly / Helios / PAI: single-GPU jobs dominate by count.
            gpu_mix: vec![
                (1, 0.70),
                (2, 0.10),
                (4, 0.08),
                (8, 0.07),
                (16, 0.03),
                (32, 0.02),
            ],
            resources: ResourceConfig::default(),
            runtime: RuntimeConfig::default(),
            limits: LimitConfig::default(),
            outcomes: OutcomeConfig::default(),
            arrivals: ArrivalConfig::default(),
            debug: DebugConfig::default(),
        }
    }
}

impl Default for ClusterShape {
    fn default() -> Self {
        // A DGX-A100-like node: 8 GPUs, 64 schedulable cores, 512 GB.
        ClusterShape {
            name: "synth-a100".into(),
            nodes: 16,
            gpus_per_node: 8,
            cpus_per_node: 64,
            mem_mb_per_node: 512_000,
            gpu_type: "a100".into(),
            gpu_max_time: 7 * DAY,
            gpu_default_time: HOUR,
            debug_nodes: 2,
            debug_max_time: 2 * HOUR,
        }
    }
}

impl Default for UserConfig {
    fn default() -> Self {
        UserConfig {
            count: 48,
            accounts: 8,
            zipf: 1.0,
            max_requesters: 0.2,
            debug_users: 0.15,
            runtime_sigma: 0.5,
        }
    }
}

impl Default for ResourceConfig {
    fn default() -> Self {
        ResourceConfig {
            cpus_per_gpu: vec![(2, 0.2), (4, 0.3), (8, 0.5)],
            mem_mb_per_gpu: vec![(16_000, 0.3), (32_000, 0.4), (64_000, 0.3)],
        }
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            median_s: 1800.0,
            sigma: 1.8,
            gpu_exponent: 0.3,
            min_s: 30,
        }
    }
}

impl Default for LimitConfig {
    fn default() -> Self {
        LimitConfig {
            round_values: vec![
                15 * 60,
                30 * 60,
                HOUR,
                2 * HOUR,
                4 * HOUR,
                8 * HOUR,
                12 * HOUR,
                DAY,
                2 * DAY,
                3 * DAY,
                7 * DAY,
            ],
            factor_median: 1.5,
            factor_sigma: 0.6,
        }
    }
}

impl Default for OutcomeConfig {
    fn default() -> Self {
        OutcomeConfig {
            fail_fraction: 0.20,
            fail_median_s: 300.0,
            fail_sigma: 1.2,
            timeout_fraction: 0.08,
        }
    }
}

impl Default for ArrivalConfig {
    fn default() -> Self {
        ArrivalConfig {
            hourly: vec![
                0.45, 0.35, 0.30, 0.25, 0.25, 0.30, 0.45, 0.70, 1.00, 1.30, 1.50, 1.55, //
                1.40, 1.50, 1.60, 1.60, 1.50, 1.35, 1.20, 1.05, 0.95, 0.85, 0.70, 0.55,
            ],
            weekend_factor: 0.5,
        }
    }
}

impl Default for DebugConfig {
    fn default() -> Self {
        DebugConfig {
            gpu_mix: vec![(1, 0.85), (2, 0.15)],
            median_s: 300.0,
            sigma: 1.0,
            round_values: vec![10 * 60, 15 * 60, 30 * 60, HOUR, 2 * HOUR],
        }
    }
}

fn invalid(field: &str, message: impl Into<String>) -> SynthError {
    SynthError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

fn check_weights<T: Copy + PartialOrd + std::fmt::Debug>(
    field: &str,
    w: &[(T, f64)],
) -> Result<(), SynthError> {
    if w.is_empty() {
        return Err(invalid(field, "empty (expected [value, weight] pairs)"));
    }
    if w.iter().any(|(_, x)| !x.is_finite() || *x < 0.0) || w.iter().all(|(_, x)| *x == 0.0) {
        return Err(invalid(field, "weights must be finite, >= 0 and not all 0"));
    }
    Ok(())
}

fn check_fraction(field: &str, x: f64) -> Result<(), SynthError> {
    if !(0.0..=1.0).contains(&x) {
        return Err(invalid(field, format!("{x} is not a fraction in [0, 1]")));
    }
    Ok(())
}

fn check_positive(field: &str, x: f64) -> Result<(), SynthError> {
    if !(x.is_finite() && x > 0.0) {
        return Err(invalid(field, format!("{x} must be a positive number")));
    }
    Ok(())
}

impl SynthConfig {
    /// Parses a TOML configuration; `file` names it in errors. Absent keys
    /// keep their defaults; unknown keys are errors.
    pub fn from_toml(text: &str, file: &str) -> Result<SynthConfig, SynthError> {
        let cfg: SynthConfig = toml::from_str(text).map_err(|e| SynthError::Parse {
            file: file.into(),
            line: e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
                .unwrap_or(0),
            message: e.message().to_string(),
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a TOML configuration file.
    pub fn read(path: &Path) -> Result<SynthConfig, SynthError> {
        let text = std::fs::read_to_string(path).map_err(|source| SynthError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_toml(&text, &path.display().to_string())
    }

    /// Renders the configuration as TOML (what `--print-config` shows).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }

    /// Checks every value, naming the field that is out of range. Also
    /// checks that every job the mixes can produce fits on the cluster.
    pub fn validate(&self) -> Result<(), SynthError> {
        let c = &self.cluster;
        if self.jobs == 0 {
            return Err(invalid("jobs", "must be at least 1"));
        }
        check_positive("load", self.load)?;
        for (f, v) in [
            ("cluster.nodes", c.nodes),
            ("cluster.gpus_per_node", c.gpus_per_node),
            ("cluster.cpus_per_node", c.cpus_per_node),
        ] {
            if v == 0 {
                return Err(invalid(f, "must be at least 1"));
            }
        }
        if c.mem_mb_per_node == 0 {
            return Err(invalid("cluster.mem_mb_per_node", "must be at least 1"));
        }
        if c.debug_nodes > c.nodes {
            return Err(invalid(
                "cluster.debug_nodes",
                format!("{} exceeds cluster.nodes {}", c.debug_nodes, c.nodes),
            ));
        }
        if c.gpu_max_time < HOUR || c.debug_max_time < 60 {
            return Err(invalid(
                "cluster.gpu_max_time",
                "gpu_max_time must be >= 1 h and debug_max_time >= 1 min",
            ));
        }
        if c.gpu_default_time == 0 || c.gpu_default_time > c.gpu_max_time {
            return Err(invalid(
                "cluster.gpu_default_time",
                "must be in 1..=gpu_max_time",
            ));
        }
        let u = &self.users;
        if u.count == 0 || u.accounts == 0 {
            return Err(invalid(
                "users.count",
                "users.count and users.accounts must be at least 1",
            ));
        }
        if !(u.zipf.is_finite() && u.zipf >= 0.0) {
            return Err(invalid("users.zipf", "must be >= 0"));
        }
        check_fraction("users.max_requesters", u.max_requesters)?;
        check_fraction("users.debug_users", u.debug_users)?;
        if u.max_requesters + u.debug_users > 1.0 {
            return Err(invalid(
                "users.debug_users",
                "users.max_requesters + users.debug_users exceeds 1",
            ));
        }
        if u.debug_users > 0.0 && c.debug_nodes == 0 {
            return Err(invalid(
                "users.debug_users",
                "debug users need cluster.debug_nodes >= 1",
            ));
        }
        if !(u.runtime_sigma.is_finite() && u.runtime_sigma >= 0.0) {
            return Err(invalid("users.runtime_sigma", "must be >= 0"));
        }
        // GPU mixes: every size must fit on its partition.
        check_weights("gpu_mix", &self.gpu_mix)?;
        for &(g, _) in &self.gpu_mix {
            let fits = g >= 1
                && (g <= c.gpus_per_node
                    || (g % c.gpus_per_node == 0 && g / c.gpus_per_node <= c.nodes));
            if !fits {
                return Err(invalid(
                    "gpu_mix",
                    format!(
                        "{g} GPUs does not fit: sizes up to {} use one node; larger sizes must be whole nodes (multiples of {}) and at most {} GPUs",
                        c.gpus_per_node,
                        c.gpus_per_node,
                        c.gpus_per_node * c.nodes
                    ),
                ));
            }
        }
        check_weights("debug.gpu_mix", &self.debug.gpu_mix)?;
        for &(g, _) in &self.debug.gpu_mix {
            if g == 0 || g > c.gpus_per_node {
                return Err(invalid(
                    "debug.gpu_mix",
                    format!(
                        "{g} GPUs: debug jobs must fit on one node (1..={})",
                        c.gpus_per_node
                    ),
                ));
            }
        }
        check_weights("resources.cpus_per_gpu", &self.resources.cpus_per_gpu)?;
        check_weights("resources.mem_mb_per_gpu", &self.resources.mem_mb_per_gpu)?;
        let cpu_share = c.cpus_per_node / c.gpus_per_node;
        if let Some(&(x, _)) = self
            .resources
            .cpus_per_gpu
            .iter()
            .find(|(x, _)| *x == 0 || *x > cpu_share)
        {
            return Err(invalid(
                "resources.cpus_per_gpu",
                format!("{x} is outside 1..={cpu_share} (cpus_per_node / gpus_per_node)"),
            ));
        }
        let mem_share = c.mem_mb_per_node / c.gpus_per_node as u64;
        if let Some(&(x, _)) = self
            .resources
            .mem_mb_per_gpu
            .iter()
            .find(|(x, _)| *x == 0 || *x > mem_share)
        {
            return Err(invalid(
                "resources.mem_mb_per_gpu",
                format!("{x} is outside 1..={mem_share} (mem_mb_per_node / gpus_per_node)"),
            ));
        }
        let r = &self.runtime;
        check_positive("runtime.median_s", r.median_s)?;
        check_positive("runtime.sigma", r.sigma)?;
        if !(r.gpu_exponent.is_finite() && (-4.0..=4.0).contains(&r.gpu_exponent)) {
            return Err(invalid("runtime.gpu_exponent", "must be in [-4, 4]"));
        }
        if r.min_s == 0 || r.min_s >= c.debug_max_time.min(c.gpu_max_time) {
            return Err(invalid(
                "runtime.min_s",
                "must be >= 1 and below every partition's max time",
            ));
        }
        for (f, v) in [
            ("limits.round_values", &self.limits.round_values),
            ("debug.round_values", &self.debug.round_values),
        ] {
            if v.is_empty() || v.windows(2).any(|w| w[0] >= w[1]) || v[0] == 0 {
                return Err(invalid(f, "must be positive and strictly ascending"));
            }
        }
        check_positive("limits.factor_median", self.limits.factor_median)?;
        if !(self.limits.factor_sigma.is_finite() && self.limits.factor_sigma >= 0.0) {
            return Err(invalid("limits.factor_sigma", "must be >= 0"));
        }
        let o = &self.outcomes;
        check_fraction("outcomes.fail_fraction", o.fail_fraction)?;
        check_fraction("outcomes.timeout_fraction", o.timeout_fraction)?;
        if o.fail_fraction + o.timeout_fraction > 1.0 {
            return Err(invalid(
                "outcomes.timeout_fraction",
                "fail_fraction + timeout_fraction exceeds 1",
            ));
        }
        check_positive("outcomes.fail_median_s", o.fail_median_s)?;
        check_positive("outcomes.fail_sigma", o.fail_sigma)?;
        let a = &self.arrivals;
        if a.hourly.len() != 24 || a.hourly.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(invalid(
                "arrivals.hourly",
                "expected 24 positive numbers (local hours 0..23)",
            ));
        }
        check_positive("arrivals.weekend_factor", a.weekend_factor)?;
        check_positive("debug.median_s", self.debug.median_s)?;
        check_positive("debug.sigma", self.debug.sigma)?;
        Ok(())
    }
}

/// The cluster described by `shape`: nodes `gpu01`.., a default `gpu`
/// partition over all nodes, and a `debug` partition over the last
/// `debug_nodes` nodes. Priority: multifactor with the simulator's
/// defaults; scheduler: backfill with Slurm's defaults.
pub fn cluster(shape: &ClusterShape) -> Cluster {
    let width = shape.nodes.to_string().len().max(2);
    let nodes: Vec<Node> = (1..=shape.nodes)
        .map(|i| Node {
            name: format!("gpu{i:0width$}"),
            cpus: shape.cpus_per_node,
            mem_mb: shape.mem_mb_per_node,
            gpus: shape.gpus_per_node,
            gpu_type: shape.gpu_type.clone(),
            features: if shape.gpu_type.is_empty() {
                Vec::new()
            } else {
                vec![shape.gpu_type.clone()]
            },
        })
        .collect();
    let mut partitions = vec![Partition {
        name: "gpu".into(),
        nodes: (0..shape.nodes).collect(),
        priority_tier: 1,
        priority_job_factor: 1,
        max_time: Some(shape.gpu_max_time),
        default_time: Some(shape.gpu_default_time),
        default: true,
        exclusive: false,
    }];
    if shape.debug_nodes > 0 {
        partitions.push(Partition {
            name: "debug".into(),
            nodes: (shape.nodes - shape.debug_nodes..shape.nodes).collect(),
            priority_tier: 1,
            priority_job_factor: 1,
            max_time: Some(shape.debug_max_time),
            default_time: Some(shape.debug_max_time.min(30 * 60)),
            default: false,
            exclusive: false,
        });
    }
    Cluster {
        name: shape.name.clone(),
        nodes,
        partitions,
        // A typical ML site: fairshare dominates, age breaks ties within
        // a user's share, a small job-size term (Slurm's own defaults
        // weigh age only, which makes multifactor plain FCFS).
        priority: PriorityConfig {
            weight_age: 1000,
            weight_fairshare: 10_000,
            weight_job_size: 1000,
            ..PriorityConfig::default()
        },
        sched: SchedConfig::default(),
    }
}

/// How a user picks time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Habit {
    /// Rounds an over-estimate up to a common value.
    Rounder,
    /// Always asks for the partition maximum.
    MaxRequester,
    /// Interactive / debug user: short 1–2 GPU jobs in `debug`.
    Debugger,
}

struct User {
    habit: Habit,
    /// Multiplier on the run-time median.
    runtime_scale: f64,
}

/// A job before it has an arrival time.
struct Draft {
    user: u32,
    debug: bool,
    gpus: u32,
    cpus_per_gpu: u32,
    mem_mb_per_gpu: u64,
    time_limit: u64,
    run_time: u64,
    state: JobState,
}

fn weighted<T: Copy>(w: &[(T, f64)]) -> (Vec<T>, WeightedIndex<f64>) {
    let values = w.iter().map(|p| p.0).collect();
    // validate() guarantees at least one positive finite weight.
    let index = WeightedIndex::new(w.iter().map(|p| p.1)).expect("weights validated");
    (values, index)
}

/// The smallest round value >= `want`, capped at `max`.
fn round_up(values: &[u64], want: f64, max: u64) -> u64 {
    values
        .iter()
        .copied()
        .find(|&v| v as f64 >= want)
        .unwrap_or(max)
        .min(max)
}

fn lognormal(median: f64, sigma: f64) -> LogNormal<f64> {
    LogNormal::new(median.ln(), sigma).expect("median and sigma validated")
}

/// Generates a trace and its cluster. Same configuration, same output.
pub fn generate(cfg: &SynthConfig) -> Result<(Trace, Cluster), SynthError> {
    cfg.validate()?;
    let cl = cluster(&cfg.cluster);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let shape = &cfg.cluster;

    // --- Users: activity by Zipf rank, a habit and a run-time scale each.
    let n_users = cfg.users.count as usize;
    let n_debug = (cfg.users.debug_users * n_users as f64).round() as usize;
    let n_max = (cfg.users.max_requesters * n_users as f64).round() as usize;
    let mut habits: Vec<Habit> = (0..n_users)
        .map(|i| match i {
            i if i < n_debug => Habit::Debugger,
            i if i < n_debug + n_max => Habit::MaxRequester,
            _ => Habit::Rounder,
        })
        .collect();
    // Shuffle habits over ranks (Fisher–Yates) so heavy users can have any habit.
    for i in (1..habits.len()).rev() {
        let j = rng.gen_range(0..=i);
        habits.swap(i, j);
    }
    let scale = lognormal(1.0, cfg.users.runtime_sigma.max(1e-9));
    let users: Vec<User> = habits
        .into_iter()
        .map(|habit| User {
            habit,
            runtime_scale: scale.sample(&mut rng),
        })
        .collect();
    let activity = WeightedIndex::new((1..=n_users).map(|k| 1.0 / (k as f64).powf(cfg.users.zipf)))
        .expect("positive weights");

    // --- Jobs, without arrival times.
    let (gpu_sizes, gpu_pick) = weighted(&cfg.gpu_mix);
    let (dbg_sizes, dbg_pick) = weighted(&cfg.debug.gpu_mix);
    let (cpu_vals, cpu_pick) = weighted(&cfg.resources.cpus_per_gpu);
    let (mem_vals, mem_pick) = weighted(&cfg.resources.mem_mb_per_gpu);
    let factor = lognormal(cfg.limits.factor_median, cfg.limits.factor_sigma.max(1e-9));
    let fail_time = lognormal(cfg.outcomes.fail_median_s, cfg.outcomes.fail_sigma);
    let o = &cfg.outcomes;
    let mut drafts = Vec::with_capacity(cfg.jobs);
    for _ in 0..cfg.jobs {
        let uid = activity.sample(&mut rng);
        let user = &users[uid];
        let debug = user.habit == Habit::Debugger;
        let (gpus, median, sigma, max_time, rounds) = if debug {
            (
                dbg_sizes[dbg_pick.sample(&mut rng)],
                cfg.debug.median_s,
                cfg.debug.sigma,
                shape.debug_max_time,
                &cfg.debug.round_values,
            )
        } else {
            let g = gpu_sizes[gpu_pick.sample(&mut rng)];
            let m = cfg.runtime.median_s * (g as f64).powf(cfg.runtime.gpu_exponent);
            (
                g,
                m,
                cfg.runtime.sigma,
                shape.gpu_max_time,
                &cfg.limits.round_values,
            )
        };
        // The run time the job would need to finish.
        let natural = lognormal(median * user.runtime_scale, sigma).sample(&mut rng);
        let natural = (natural.round() as u64).clamp(cfg.runtime.min_s, max_time - 1);
        // The user's limit: the partition maximum, or a round value above an over-estimate.
        let f = factor.sample(&mut rng).max(1.0);
        let time_limit = match user.habit {
            Habit::MaxRequester => max_time,
            _ => round_up(rounds, natural as f64 * f, max_time),
        }
        .max(natural + 1);
        let u: f64 = rng.r#gen();
        let (state, run_time) = if u < o.fail_fraction {
            let t = (fail_time.sample(&mut rng).round() as u64).max(1);
            (JobState::Failed, t.min(natural))
        } else if u < o.fail_fraction + o.timeout_fraction {
            (JobState::Timeout, time_limit)
        } else {
            (JobState::Completed, natural)
        };
        drafts.push(Draft {
            user: uid as u32,
            debug,
            gpus,
            cpus_per_gpu: cpu_vals[cpu_pick.sample(&mut rng)],
            mem_mb_per_gpu: mem_vals[mem_pick.sample(&mut rng)],
            time_limit,
            run_time,
            state,
        });
    }

    // --- Arrivals: a non-homogeneous Poisson process (thinning) whose mean
    // rate makes the offered GPU demand equal `load` x capacity.
    let demand: f64 = drafts
        .iter()
        .map(|d| d.gpus as f64 * d.run_time as f64)
        .sum::<f64>()
        / cfg.jobs as f64;
    let capacity = (shape.nodes * shape.gpus_per_node) as f64;
    let mean_rate = cfg.load * capacity / demand; // jobs per second, averaged over a week
    let profile = WeekProfile::new(&cfg.arrivals);
    let peak = mean_rate * profile.max_factor();
    let gap = Exp::new(peak).expect("positive rate");
    // Seconds to add to a Unix time to count from a local Monday 00:00
    // (the Unix epoch fell on a Thursday; 1970-01-05 was a Monday).
    let offset = cfg.utc_offset_hours as i64 * 3600 - 4 * DAY as i64;
    let mut t = cfg.start as f64;
    let mut submits = Vec::with_capacity(cfg.jobs);
    while submits.len() < cfg.jobs {
        t += gap.sample(&mut rng);
        let local = (t as i64 + offset).rem_euclid(7 * DAY as i64) as u64;
        let accept: f64 = rng.r#gen();
        if accept * peak <= mean_rate * profile.factor(local) {
            submits.push(t.floor() as u64);
        }
    }

    // --- Assemble the trace.
    let mut names = Names::default();
    let partition_gpu = names.partitions.intern("gpu");
    let partition_debug = names.partitions.intern("debug");
    let qos = names.qos.intern("normal");
    let width = cfg.users.count.to_string().len().max(3);
    let mut jobs = Vec::with_capacity(cfg.jobs);
    for (i, (d, submit)) in drafts.into_iter().zip(submits).enumerate() {
        let account = format!("lab{:02}", d.user % cfg.users.accounts + 1);
        let nodes = d.gpus.div_ceil(shape.gpus_per_node).max(1);
        let (exit_code, exit_signal) = match d.state {
            JobState::Failed => (1, 0),
            JobState::Timeout => (0, 15),
            _ => (0, 0),
        };
        jobs.push(Job {
            id: i as u64 + 1,
            user: names.users.intern(&format!("u{:0width$}", d.user + 1)),
            group: names.groups.intern(&account),
            account: names.accounts.intern(&account),
            partition: if d.debug {
                partition_debug
            } else {
                partition_gpu
            },
            qos,
            submit,
            eligible: submit,
            nodes,
            cpus: d.gpus * d.cpus_per_gpu,
            mem_mb: d.gpus as u64 * d.mem_mb_per_gpu,
            gpus: d.gpus,
            time_limit: Some(d.time_limit),
            run_time: d.run_time,
            state: d.state,
            exit_code,
            exit_signal,
            ..Job::default()
        });
    }
    let mut trace = Trace {
        meta: TraceMeta {
            source: "synth".into(),
            origin: Some(format!(
                "slurm-rl synth --seed {} -n {} --load {}",
                cfg.seed, cfg.jobs, cfg.load
            )),
            cluster: Some(cl.name.clone()),
            header: BTreeMap::new(),
        },
        names,
        jobs,
    };
    trace.sort();
    Ok((trace, cl))
}

/// The weekly arrival-rate profile, normalized to mean 1 over a week.
struct WeekProfile {
    hourly: [f64; 24],
    weekend: f64,
}

impl WeekProfile {
    fn new(a: &ArrivalConfig) -> Self {
        let mut hourly = [0.0; 24];
        hourly.copy_from_slice(&a.hourly[..24]);
        let day_sum: f64 = hourly.iter().sum();
        // Mean over a week: (5 weekdays + 2 weekend days) of the hourly profile.
        let mean = day_sum * (5.0 + 2.0 * a.weekend_factor) / (7.0 * 24.0);
        hourly.iter_mut().for_each(|h| *h /= mean);
        WeekProfile {
            hourly,
            weekend: a.weekend_factor,
        }
    }
    /// Relative rate at `local` seconds into a week that starts on Monday 00:00.
    fn factor(&self, local: u64) -> f64 {
        let day = local / DAY;
        let hour = (local % DAY / HOUR) as usize;
        self.hourly[hour] * if day >= 5 { self.weekend } else { 1.0 }
    }
    fn max_factor(&self) -> f64 {
        self.hourly.iter().cloned().fold(0.0, f64::max) * self.weekend.max(1.0)
    }
}

/// What a generated (or any) trace looks like, for the `synth` summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of jobs.
    pub jobs: usize,
    /// Last submit minus first submit, seconds.
    pub span_s: u64,
    /// Jobs by GPU count.
    pub gpu_mix: BTreeMap<u32, usize>,
    /// Jobs by final state (`COMPLETED`, …).
    pub states: BTreeMap<String, usize>,
    /// Jobs by partition.
    pub partitions: BTreeMap<String, usize>,
    /// Submitted GPU-seconds of actual run time per GPU-second of capacity
    /// over the span (CPU-based when the cluster has no GPUs).
    pub offered_load: f64,
    /// Median actual run time, seconds.
    pub median_run_s: u64,
    /// 99th percentile of actual run time, seconds.
    pub p99_run_s: u64,
    /// Median of time limit / run time over jobs with both.
    pub median_limit_over_run: f64,
}

/// Summarizes `trace` against `cluster`.
pub fn summarize(trace: &Trace, cluster: &Cluster) -> Summary {
    let jobs = &trace.jobs;
    let first = jobs.iter().map(|j| j.submit).min().unwrap_or(0);
    let last = jobs.iter().map(|j| j.submit).max().unwrap_or(0);
    let span_s = last - first;
    let mut gpu_mix = BTreeMap::new();
    let mut states = BTreeMap::new();
    let mut partitions = BTreeMap::new();
    for j in jobs {
        *gpu_mix.entry(j.gpus).or_insert(0) += 1;
        let state = serde_json::to_value(j.state)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        *states.entry(state).or_insert(0) += 1;
        *partitions
            .entry(trace.names.partitions.name(j.partition).to_string())
            .or_insert(0) += 1;
    }
    let (work, capacity) = if cluster.total_gpus() > 0 {
        (
            jobs.iter()
                .map(|j| j.gpus as f64 * j.run_time as f64)
                .sum::<f64>(),
            cluster.total_gpus() as f64,
        )
    } else {
        (
            jobs.iter()
                .map(|j| j.cpus as f64 * j.run_time as f64)
                .sum::<f64>(),
            cluster.total_cpus() as f64,
        )
    };
    let offered_load = if span_s > 0 && capacity > 0.0 {
        work / (capacity * span_s as f64)
    } else {
        0.0
    };
    let mut runs: Vec<u64> = jobs.iter().map(|j| j.run_time).collect();
    runs.sort_unstable();
    let pct = |v: &[u64], p: f64| {
        if v.is_empty() {
            0
        } else {
            v[((v.len() - 1) as f64 * p).round() as usize]
        }
    };
    let mut ratios: Vec<f64> = jobs
        .iter()
        .filter_map(|j| {
            j.time_limit
                .filter(|_| j.run_time > 0)
                .map(|l| l as f64 / j.run_time as f64)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    Summary {
        jobs: jobs.len(),
        span_s,
        gpu_mix,
        states,
        partitions,
        offered_load,
        median_run_s: pct(&runs, 0.5),
        p99_run_s: pct(&runs, 0.99),
        median_limit_over_run: ratios.get(ratios.len() / 2).copied().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(jobs: usize, seed: u64) -> SynthConfig {
        SynthConfig {
            jobs,
            seed,
            ..SynthConfig::default()
        }
    }

    #[test]
    fn same_seed_same_trace_other_seed_other_trace() {
        let (a, ca) = generate(&cfg(2000, 7)).unwrap();
        let (b, cb) = generate(&cfg(2000, 7)).unwrap();
        assert_eq!(a, b);
        assert_eq!(ca, cb);
        let (c, _) = generate(&cfg(2000, 8)).unwrap();
        assert_ne!(a.jobs, c.jobs);
    }

    #[test]
    fn gpu_mix_matches_config_on_20k_jobs() {
        let mut c = cfg(20_000, 3);
        c.users.debug_users = 0.0; // the debug mix is separate; test the main one
        let (t, _) = generate(&c).unwrap();
        let total: f64 = c.gpu_mix.iter().map(|p| p.1).sum();
        for &(g, w) in &c.gpu_mix {
            let got = t.jobs.iter().filter(|j| j.gpus == g).count() as f64 / t.jobs.len() as f64;
            let want = w / total;
            // 4 binomial standard deviations, at least 0.5 points.
            let tol = (4.0 * (want * (1.0 - want) / t.jobs.len() as f64).sqrt()).max(0.005);
            assert!((got - want).abs() < tol, "{g} GPUs: {got:.4} vs {want:.4}");
        }
        let single = t.jobs.iter().filter(|j| j.gpus == 1).count() as f64 / t.jobs.len() as f64;
        assert!(single > 0.6, "single-GPU jobs must dominate, got {single}");
    }

    #[test]
    fn limits_cover_run_times_except_timeouts() {
        let c = cfg(20_000, 5);
        let (t, _) = generate(&c).unwrap();
        let mut at_limit = 0;
        for j in &t.jobs {
            let limit = j.time_limit.expect("every synthetic job has a limit");
            assert!(j.run_time <= limit, "job {} runs past its limit", j.id);
            if j.state == JobState::Timeout {
                assert_eq!(j.run_time, limit, "a TIMEOUT job runs exactly its limit");
            } else {
                assert!(
                    j.run_time < limit,
                    "job {} ({:?}) ends before its limit",
                    j.id,
                    j.state
                );
            }
            if j.run_time == limit {
                at_limit += 1;
            }
        }
        let share = at_limit as f64 / t.jobs.len() as f64;
        assert!(
            (share - c.outcomes.timeout_fraction).abs() < 0.01,
            "timeout share {share}"
        );
        let s = summarize(&t, &cluster(&c.cluster));
        assert!(
            s.median_limit_over_run > 1.5,
            "users over-estimate: {}",
            s.median_limit_over_run
        );
        let failed = s.states.get("FAILED").copied().unwrap_or(0) as f64 / s.jobs as f64;
        assert!(
            (failed - c.outcomes.fail_fraction).abs() < 0.015,
            "failed share {failed}"
        );
    }

    #[test]
    fn arrivals_follow_day_and_week() {
        let c = cfg(20_000, 11);
        let (t, _) = generate(&c).unwrap();
        let mut by_hour = [0usize; 24];
        let (mut weekday, mut weekend) = (0usize, 0usize);
        for j in &t.jobs {
            let local = j.submit - c.start; // start is a Monday 00:00, offset 0
            by_hour[(local % DAY / HOUR) as usize] += 1;
            if (local % (7 * DAY)) / DAY >= 5 {
                weekend += 1;
            } else {
                weekday += 1;
            }
        }
        let day: usize = by_hour[10..17].iter().sum();
        let night: usize = by_hour[0..7].iter().sum();
        assert!(
            day as f64 > 2.5 * night as f64,
            "day {day} vs night {night}: {by_hour:?}"
        );
        // Per day, weekends get about half the arrivals of weekdays.
        let ratio = (weekend as f64 / 2.0) / (weekday as f64 / 5.0);
        assert!(
            (0.35..0.7).contains(&ratio),
            "weekend/weekday per-day ratio {ratio}"
        );
    }

    #[test]
    fn utc_offset_shifts_the_day() {
        // Users 12 hours east of UTC: their afternoon is the UTC night.
        let c = SynthConfig {
            utc_offset_hours: 12,
            ..cfg(10_000, 12)
        };
        let (t, _) = generate(&c).unwrap();
        let mut utc_hour = [0usize; 24];
        for j in &t.jobs {
            utc_hour[(j.submit % DAY / HOUR) as usize] += 1;
        }
        let utc_night: usize = utc_hour[0..7].iter().sum(); // local 12:00-19:00
        let utc_day: usize = utc_hour[12..19].iter().sum(); // local 00:00-07:00
        assert!(utc_night as f64 > 2.5 * utc_day as f64, "{utc_hour:?}");
    }

    #[test]
    fn offered_load_matches_target() {
        for load in [0.5, 0.85] {
            let c = SynthConfig {
                load,
                ..cfg(20_000, 2)
            };
            let (t, cl) = generate(&c).unwrap();
            let s = summarize(&t, &cl);
            assert!(
                (s.offered_load - load).abs() < 0.05 * load,
                "target {load}, got {}",
                s.offered_load
            );
        }
    }

    #[test]
    fn every_job_fits_the_cluster() {
        let c = cfg(20_000, 9);
        let (t, cl) = generate(&c).unwrap();
        assert_eq!(t.jobs.len(), 20_000);
        assert!(
            t.jobs
                .windows(2)
                .all(|w| (w[0].submit, w[0].id) <= (w[1].submit, w[1].id))
        );
        let mut debug_jobs = 0;
        for j in &t.jobs {
            let pname = t.names.partitions.name(j.partition);
            let p = &cl.partitions[cl.partition(pname).expect("known partition")];
            if pname == "debug" {
                debug_jobs += 1;
            }
            assert!(
                j.nodes as usize <= p.nodes.len(),
                "job {} needs {} nodes",
                j.id,
                j.nodes
            );
            assert!(j.time_limit.unwrap() <= p.max_time.unwrap());
            let n = &cl.nodes[p.nodes[0] as usize];
            assert_eq!(j.gpus % j.nodes, 0);
            assert!(
                j.gpus / j.nodes <= n.gpus,
                "job {}: {} GPUs on {} nodes",
                j.id,
                j.gpus,
                j.nodes
            );
            assert!(
                j.cpus.div_ceil(j.nodes) <= n.cpus,
                "job {} cpus {}",
                j.id,
                j.cpus
            );
            assert!(
                j.mem_mb.div_ceil(j.nodes as u64) <= n.mem_mb,
                "job {} mem {}",
                j.id,
                j.mem_mb
            );
            assert!(j.gpus >= 1 && j.cpus >= j.gpus);
        }
        assert!(debug_jobs > 0, "debug users submit to the debug partition");
    }

    #[test]
    fn heavy_users_dominate() {
        let (t, _) = generate(&cfg(20_000, 4)).unwrap();
        let mut per_user: BTreeMap<u32, usize> = BTreeMap::new();
        for j in &t.jobs {
            *per_user.entry(j.user).or_insert(0) += 1;
        }
        let mut counts: Vec<usize> = per_user.into_values().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top = counts.iter().take(counts.len().div_ceil(10)).sum::<usize>() as f64
            / t.jobs.len() as f64;
        assert!(top > 0.35, "top 10% of users submit {top:.2} of jobs");
    }

    #[test]
    fn config_file_round_trip_and_errors() {
        let c = SynthConfig {
            load: 0.7,
            gpu_mix: vec![(1, 0.5), (8, 0.5)],
            ..SynthConfig::default()
        };
        let back = SynthConfig::from_toml(&c.to_toml(), "x.toml").unwrap();
        assert_eq!(back, c);
        let partial =
            SynthConfig::from_toml("load = 0.6\n[cluster]\nnodes = 4\n", "p.toml").unwrap();
        assert_eq!(
            (partial.load, partial.cluster.nodes, partial.jobs),
            (0.6, 4, 5000)
        );
        match SynthConfig::from_toml("load = 0.6\n[cluster]\nnodez = 4\n", "p.toml") {
            Err(SynthError::Parse { line, message, .. }) => {
                assert_eq!(line, 3);
                assert!(message.contains("nodez"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match SynthConfig::from_toml("gpu_mix = [[1, 0.5], [12, 0.5]]\n", "p.toml") {
            Err(SynthError::Invalid { field, .. }) => assert_eq!(field, "gpu_mix"),
            other => panic!("{other:?}"),
        }
        match SynthConfig::from_toml("[outcomes]\nfail_fraction = 1.5\n", "p.toml") {
            Err(SynthError::Invalid { field, .. }) => assert_eq!(field, "outcomes.fail_fraction"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn generated_cluster_is_valid_and_round_trips() {
        let cl = cluster(&ClusterShape::default());
        assert_eq!(cl.nodes.len(), 16);
        assert_eq!(cl.total_gpus(), 128);
        assert_eq!(cl.nodes[0].name, "gpu01");
        assert_eq!(cl.default_partition(), cl.partition("gpu"));
        let debug = &cl.partitions[cl.partition("debug").unwrap()];
        assert_eq!(debug.nodes, [14, 15]);
        assert_eq!(debug.max_time, Some(2 * HOUR));
        let text = crate::cluster::file::to_toml(&cl).unwrap();
        assert_eq!(
            crate::cluster::file::parse(&text, "synth.toml").unwrap(),
            cl
        );
    }
}
