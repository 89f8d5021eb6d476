//! The slurm-rl decision contract, shared by the simulator, the trainer and
//! the Slurm plugin.
//!
//! This crate owns what a policy sees at a decision point ([`JobObs`],
//! [`QueueContext`]) and the [`Policy`] interface through which the
//! simulator asks for a decision. Baselines (in `sim`) and the learned policy
//! implement the same trait. This crate must stay free of `unsafe`, of tch
//! and of anything that would stop it from being linked into slurmctld.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod explain;
pub mod features;
pub mod io;
pub mod learned;
pub mod model;
pub mod nn;

pub use learned::LearnedPolicy;
pub use model::{Model, ModelError};

/// What a policy sees about one pending job at a decision point.
///
/// Times are whole seconds. Every field can be computed both by the
/// simulator and, inside slurmctld, from a `job_record_t`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct JobObs {
    /// Job id, for tie-breaking and explanation only; policies must not
    /// learn from it.
    pub id: u64,
    /// Absolute submit time (Unix seconds).
    pub submit: u64,
    /// Seconds the job has been eligible and waiting so far.
    pub wait: u64,
    /// The user's time limit (estimate) in seconds, after partition
    /// defaults were applied.
    pub time_limit: u64,
    /// Requested nodes.
    pub nodes: u32,
    /// Requested CPUs in total.
    pub cpus: u32,
    /// Requested memory in total, in MB.
    pub mem_mb: u64,
    /// Requested GPUs in total.
    pub gpus: u32,
    /// Whether the job could start right now on the idle resources.
    pub fits_now: bool,
    /// PriorityTier of the job's partition.
    pub partition_tier: u32,
    /// Normalized QOS priority in [0, 1].
    pub qos: f64,
    /// The user's fairshare factor in [0, 1] (1 = under-served).
    pub fairshare: f64,
    /// The priority Slurm's priority/multifactor plugin would give this job
    /// without any site factor.
    pub multifactor: f64,
}

/// Cluster and queue context at a decision point.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct QueueContext {
    /// Simulation clock (Unix seconds).
    pub now: u64,
    /// Idle CPUs now.
    pub free_cpus: u64,
    /// All CPUs in the cluster.
    pub total_cpus: u64,
    /// Idle GPUs now.
    pub free_gpus: u64,
    /// All GPUs in the cluster.
    pub total_gpus: u64,
    /// Number of pending jobs.
    pub queue_len: u32,
    /// Number of running jobs.
    pub running: u32,
}

/// When a policy's scores must be recomputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rescore {
    /// As Slurm does: a job is scored at submit, and every pending job is
    /// rescored every `PriorityCalcPeriod`. This is how the plugin runs.
    SubmitAndPeriod,
    /// Before every scheduling pass (for clock-dependent heuristics).
    EveryPass,
}

/// What a policy's scores depend on. A simulator may use it to skip work
/// that cannot change a score; the scores themselves must be exactly
/// those [`Policy::score`] would write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoreDeps {
    /// Anything in the observation or the context: every rescoring calls
    /// [`Policy::score`].
    #[default]
    Any,
    /// A job's score is its [`JobObs::multifactor`], unchanged.
    Multifactor,
    /// A job's score depends only on what is fixed at submission (`id`,
    /// `submit`, `time_limit`, the request, `partition_tier`, `qos`), so it
    /// never changes after the first scoring.
    Submission,
}

/// A scheduling policy, asked only at decision points.
///
/// The policy scores pending jobs; the simulator then schedules them the
/// way Slurm does (main scheduler and backfill) in descending score order.
pub trait Policy {
    /// Short stable name, as used on the command line and in reports.
    fn name(&self) -> &str;
    /// When the simulator must call [`Policy::score`] again.
    fn rescore(&self) -> Rescore {
        Rescore::SubmitAndPeriod
    }
    /// What the scores depend on; [`ScoreDeps::Any`] unless overridden.
    fn score_deps(&self) -> ScoreDeps {
        ScoreDeps::Any
    }
    /// Writes one score per job into `out` (same length as `jobs`).
    /// Higher scores are scheduled first.
    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]);
}
