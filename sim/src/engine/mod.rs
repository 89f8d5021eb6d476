//! The discrete-event simulator: it replays a workload on a cluster model
//! and schedules it the way Slurm does (priority/multifactor scores from a
//! [`Policy`], the main scheduler and sched/backfill, cons_tres-style node
//! selection).
//!
//! This module owns the public API (configuration, outcomes, errors and
//! [`simulate`]). The event loop and the cluster state live in `sim`, the
//! backfill planner in `backfill`, node selection in `select` and the
//! multifactor arithmetic in `priority`. Nothing here reads files or knows
//! about traces' foreign formats.
//!
//! Ordering rule: time is an integer (`u64` seconds); the event queue is
//! ordered by `(time, sequence number)`, so events at the same time come
//! out first in, first out. Arrivals are scheduled when the simulation is
//! set up, so they carry the smallest sequence numbers and come out before
//! any other event of the same second. After all events of one second have
//! been handled, the scheduling passes due at that second run (priority
//! recalculation, then the main scheduler, then backfill). The full
//! semantics, and where they differ from Slurm, are in `docs/simulator.md`.

mod backfill;
mod priority;
mod select;
mod sim;

use crate::cluster::Cluster;
use crate::trace::{Job, Names};
use policy::Policy;

/// Which backfill scheduler runs beside the main scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backfill {
    /// Main scheduler only (`sched/builtin`).
    None,
    /// `sched/backfill` as configured in the cluster's [`crate::cluster::SchedConfig`].
    #[default]
    Slurm,
}

/// What happens to jobs that were cancelled while still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CancelledPending {
    /// They arrive, wait, and leave the queue at their recorded end time
    /// (if they have not started by then, which the simulator may do).
    #[default]
    Keep,
    /// They are not simulated at all.
    Drop,
}

/// Simulation options.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimConfig {
    /// Backfill mode.
    pub backfill: Backfill,
    /// Treatment of jobs cancelled while pending.
    pub cancelled_pending: CancelledPending,
    /// Keep a textual event log in [`SimResult::events`].
    pub record_events: bool,
    /// Seed of the simulation's one RNG.
    pub seed: u64,
}

/// How a simulated job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    /// Ran its actual run time.
    Completed,
    /// Killed at its time limit.
    Timeout,
    /// Left the queue without starting (cancelled while pending).
    Cancelled,
    /// Can never run on this cluster (too large, unknown partition).
    Rejected,
}

/// The simulated fate of one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobOutcome {
    /// Start time, `None` if the job never started.
    pub start: Option<u64>,
    /// End time (or the time it left the queue).
    pub end: u64,
    /// How it ended.
    pub kind: OutcomeKind,
    /// Started by the backfill scheduler rather than the main scheduler.
    pub backfilled: bool,
}

/// Counters of scheduler work, for benchmarks and debugging.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SimStats {
    /// Events processed.
    pub events: u64,
    /// Main-scheduler passes.
    pub main_passes: u64,
    /// Backfill cycles run.
    pub bf_cycles: u64,
    /// Backfill searches for a job's planned start (its sweep, the
    /// will-run test, and any resumed sweeps) answered from earlier
    /// cycles' searches (nothing had started or ended since) instead of
    /// searching again.
    pub bf_reused: u64,
    /// Backfill searches made (each one sweep and will-run test, or more
    /// when the sweep resumes).
    pub bf_sweeps: u64,
    /// Backfill searches begun past now, or skipped, because an earlier
    /// job of the same cycle bounds the job's earliest fit (see
    /// docs/simulator.md, "Shortcuts that do not change results").
    pub bf_bounded: u64,
}

/// Result of one simulation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimResult {
    /// One outcome per input job, in input order.
    pub outcomes: Vec<JobOutcome>,
    /// The event log (one line per event), when requested.
    pub events: Vec<String>,
    /// Work counters.
    pub stats: SimStats,
}

/// Errors that stop a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The cluster cannot be simulated.
    #[error("invalid cluster: {0}")]
    Cluster(String),
    /// The input jobs are not usable.
    #[error("invalid job {id}: {message}")]
    Job {
        /// The job id.
        id: u64,
        /// What is wrong.
        message: String,
    },
}

/// Simulates `jobs` (sorted by submit time) on `cluster` under `policy`.
///
/// Returns one [`JobOutcome`] per input job, in input order. Fails when the
/// cluster has no nodes or partitions, or a partition names a node that
/// does not exist.
pub fn simulate(
    jobs: &[Job],
    names: &Names,
    cluster: &Cluster,
    policy: &mut dyn Policy,
    cfg: &SimConfig,
) -> Result<SimResult, SimError> {
    sim::Sim::new(jobs, names, cluster, policy, cfg)?.run()
}
