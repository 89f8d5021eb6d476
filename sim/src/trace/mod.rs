//! Workload traces: the one job record every reader produces, and the
//! normalized JSON Lines trace format.
//!
//! Readers (`sacct`, `swf`) turn foreign formats into a [`Trace`]; the
//! `jsonl` module reads and writes the normalized format. Strings that
//! repeat across jobs (users, partitions, …) are interned in [`Names`] so a
//! job record stays small; this module must not grow per-job heap data.

pub mod jsonl;
pub mod sacct;
pub mod sacct_write;
pub mod swf;

use serde::{Deserialize, Serialize};

/// Index into one of the [`Names`] tables. `0` is always the empty name.
pub type NameId = u32;

/// The final state of a job, as accounting reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Ran to completion with exit code 0.
    #[default]
    Completed,
    /// Ran and exited non-zero.
    Failed,
    /// Cancelled (while running, or while pending when `start` is `None`).
    Cancelled,
    /// Killed at its time limit.
    Timeout,
    /// Killed because a node failed.
    NodeFail,
    /// Killed by the OOM handler.
    OutOfMemory,
    /// Preempted.
    Preempted,
    /// Requeued (the record of an earlier attempt).
    Requeued,
    /// Still pending when the trace was taken.
    Pending,
    /// Still running when the trace was taken.
    Running,
    /// Anything else (`BOOT_FAIL`, `DEADLINE`, `REVOKED`, `SUSPENDED`, …).
    Other,
}

/// One job, as every reader produces it.
///
/// Times are Unix seconds (UTC); durations are seconds. Resources are job
/// totals (not per node): `mem_mb` is the job's whole memory, `gpus` all its
/// GPUs across its nodes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Job {
    /// Numeric job id, unique in the trace (for arrays, Slurm's raw id).
    pub id: u64,
    /// Array parent id and task index, when the job is an array task.
    pub array: Option<(u64, u32)>,
    /// Het-job leader id and component offset, when part of a het job.
    pub het: Option<(u64, u32)>,
    /// User name (interned).
    pub user: NameId,
    /// Unix group (interned).
    pub group: NameId,
    /// Account (interned).
    pub account: NameId,
    /// Partition (interned).
    pub partition: NameId,
    /// QOS (interned).
    pub qos: NameId,
    /// Submit time.
    pub submit: u64,
    /// Time the job became eligible (>= submit).
    pub eligible: u64,
    /// Original start time, when the job started in the traced system.
    pub start: Option<u64>,
    /// Original end time, when known (for a job cancelled while pending,
    /// the time it left the queue).
    pub end: Option<u64>,
    /// Requested nodes.
    pub nodes: u32,
    /// Requested CPUs.
    pub cpus: u32,
    /// Requested memory in MB (job total); 0 = not known.
    pub mem_mb: u64,
    /// Requested GPUs (job total).
    pub gpus: u32,
    /// Requested GPU type (interned in `Names::gpu_types`), 0 = any.
    pub gpu_type: NameId,
    /// Time limit (the user's estimate) in seconds; `None` = unlimited or
    /// the partition's limit.
    pub time_limit: Option<u64>,
    /// Actual run time in seconds (0 for jobs that never started).
    pub run_time: u64,
    /// Final state.
    pub state: JobState,
    /// Exit code (`ExitCode` before the colon).
    pub exit_code: i32,
    /// Signal that ended the job (`ExitCode` after the colon).
    pub exit_signal: i32,
    /// The original Slurm priority, when known.
    pub priority: Option<u64>,
}

impl Job {
    /// True for a job that was cancelled before it ever started.
    pub fn cancelled_pending(&self) -> bool {
        self.state == JobState::Cancelled && self.start.is_none()
    }
}

/// Interned strings shared by all jobs of a trace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Names {
    /// Users.
    pub users: Interner,
    /// Groups.
    pub groups: Interner,
    /// Accounts.
    pub accounts: Interner,
    /// Partitions.
    pub partitions: Interner,
    /// QOS names.
    pub qos: Interner,
    /// GPU types (`a100`, …).
    pub gpu_types: Interner,
}

/// A string table: id 0 is the empty string, ids are dense and stable.
#[derive(Debug, Clone, PartialEq)]
pub struct Interner {
    names: Vec<String>,
    index: std::collections::BTreeMap<String, NameId>,
}

impl Default for Interner {
    fn default() -> Self {
        Self::new()
    }
}

impl Interner {
    /// A table holding only the empty name (id 0).
    pub fn new() -> Self {
        let mut index = std::collections::BTreeMap::new();
        index.insert(String::new(), 0);
        Interner {
            names: vec![String::new()],
            index,
        }
    }
    /// The id of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> NameId {
        if let Some(&id) = self.index.get(name) {
            return id;
        }
        let id = self.names.len() as NameId;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), id);
        id
    }
    /// The id of `name`, if present.
    pub fn get(&self, name: &str) -> Option<NameId> {
        self.index.get(name).copied()
    }
    /// The name behind `id` (empty for unknown ids).
    pub fn name(&self, id: NameId) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
    /// Number of names, the empty one included.
    pub fn len(&self) -> usize {
        self.names.len()
    }
    /// Always false: the empty name is always present.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Where a trace came from, carried in the normalized file's header.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TraceMeta {
    /// `sacct`, `swf`, `synth` or `jsonl`.
    pub source: String,
    /// Original file name or command, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Cluster name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// SWF header values (MaxNodes, MaxProcs, …), when read from SWF.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub header: std::collections::BTreeMap<String, String>,
}

/// A workload: jobs sorted by (submit, id), plus the interned names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Trace {
    /// Provenance.
    pub meta: TraceMeta,
    /// Interned strings.
    pub names: Names,
    /// Jobs, sorted by (submit, id).
    pub jobs: Vec<Job>,
}

impl Trace {
    /// Sorts jobs by (submit, id), the order every consumer expects.
    pub fn sort(&mut self) {
        self.jobs.sort_by_key(|j| (j.submit, j.id));
    }

    /// Replays the same jobs `factor` times as fast: every submit time's
    /// distance from the first submit is divided by `factor` (rounded down to
    /// a whole second), so `factor` 1.25 offers 25% more load and 0.8 20%
    /// less. What each job asks for and how long it runs are unchanged, and
    /// so are its own delays: eligible, start and end move with its submit
    /// (a job that waited 1 h for its begin time, or was cancelled after
    /// 10 min pending, still does). Jobs whose submits fall into the same
    /// second are re-sorted by id.
    pub fn compress_arrivals(&mut self, factor: f64) -> Result<(), LoadFactorError> {
        if !(factor.is_finite() && factor > 0.0) {
            return Err(LoadFactorError(factor));
        }
        let Some(t0) = self.jobs.iter().map(|j| j.submit).min() else {
            return Ok(());
        };
        for j in &mut self.jobs {
            let submit = t0 + ((j.submit - t0) as f64 / factor) as u64;
            let delta = j.submit - submit;
            j.submit = submit;
            j.eligible = j.eligible.saturating_sub(delta).max(submit);
            j.start = j.start.map(|t| t.saturating_sub(delta).max(submit));
            j.end = j.end.map(|t| t.saturating_sub(delta).max(submit));
        }
        self.sort();
        Ok(())
    }
}

/// A load factor that is not a finite number above 0.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[error(
    "load factor {0}: expected a finite number above 0 (1 = the trace as recorded, 1.25 = 25% more load)"
)]
pub struct LoadFactorError(pub f64);

/// A parse error that names the file, the line and the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: field `{field}`: {message}")]
pub struct ParseError {
    /// File name (or `-` for standard input).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// Field name as the format calls it.
    pub field: String,
    /// What was found and what was expected.
    pub message: String,
}

/// Errors from reading or writing traces.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// Malformed input.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// How strictly readers treat bad lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strictness {
    /// The first bad line is an error.
    #[default]
    Strict,
    /// Bad lines are skipped and counted in [`ReadReport`].
    Lenient,
}

/// What a reader did besides producing jobs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReadReport {
    /// Data lines read.
    pub lines: usize,
    /// Bad lines skipped under [`Strictness::Lenient`], with their errors.
    pub skipped: Vec<ParseError>,
    /// Jobs dropped on purpose (by cleaning rules or options), by reason.
    pub dropped: std::collections::BTreeMap<String, usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, submit: u64) -> Job {
        Job {
            id,
            submit,
            eligible: submit,
            run_time: 100,
            ..Default::default()
        }
    }

    #[test]
    fn compress_arrivals_divides_gaps_from_the_first_submit_and_keeps_each_jobs_delays() {
        let mut begin = job(1, 1_000_100);
        begin.eligible = 1_003_700; // waited 1 h for its begin time
        begin.start = Some(1_004_000);
        begin.end = Some(1_004_100);
        let mut cancelled = job(2, 1_000_300);
        cancelled.state = JobState::Cancelled;
        cancelled.end = Some(1_000_900); // left the queue after 10 min
        let mut t = Trace {
            jobs: vec![job(0, 1_000_000), begin, cancelled],
            ..Default::default()
        };
        t.compress_arrivals(2.0).unwrap();
        let submits: Vec<u64> = t.jobs.iter().map(|j| j.submit).collect();
        assert_eq!(submits, [1_000_000, 1_000_050, 1_000_150]);
        assert_eq!(t.jobs[1].eligible, 1_000_050 + 3600);
        assert_eq!(t.jobs[1].start, Some(1_000_050 + 3900));
        assert_eq!(t.jobs[1].end, Some(1_000_050 + 4000));
        assert_eq!(t.jobs[2].end, Some(1_000_150 + 600));
        assert!(t.jobs[2].cancelled_pending());
        assert!(t.jobs.iter().all(|j| j.run_time == 100));
    }

    #[test]
    fn compress_arrivals_resorts_jobs_that_land_in_the_same_second() {
        // 10 and 11 both become 5 (rounded down); id 3 then sorts before id 7.
        let mut t = Trace {
            jobs: vec![job(9, 0), job(7, 10), job(3, 11)],
            ..Default::default()
        };
        t.compress_arrivals(2.0).unwrap();
        let order: Vec<(u64, u64)> = t.jobs.iter().map(|j| (j.submit, j.id)).collect();
        assert_eq!(order, [(0, 9), (5, 3), (5, 7)]);
    }

    #[test]
    fn compress_arrivals_with_factor_one_changes_nothing_and_refuses_bad_factors() {
        let jobs = vec![job(0, 50), job(1, 77), job(2, 1_000)];
        let mut t = Trace {
            jobs: jobs.clone(),
            ..Default::default()
        };
        t.compress_arrivals(1.0).unwrap();
        assert_eq!(t.jobs, jobs);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = t.compress_arrivals(bad).unwrap_err();
            assert!(
                e.to_string().contains("expected a finite number above 0"),
                "{e}"
            );
        }
        assert_eq!(t.jobs, jobs, "a refused factor leaves the trace as it was");
        let mut empty = Trace::default();
        empty.compress_arrivals(3.0).unwrap();
    }
}
