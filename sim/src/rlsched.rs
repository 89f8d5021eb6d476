//! RLScheduler compatibility mode: a small simulator that follows, rule for
//! rule, the evaluation protocol of RLScheduler (Zhang et al., SC'20,
//! `DIR-LAB/deep-batch-scheduler`), so that our figures can be set beside
//! its published table honestly.
//!
//! This module owns RLScheduler's own loading rules ([`load`]), its test
//! windows ([`run_window`], [`TABLE_STARTS`]), its scheduling loop (with and
//! without its simplified backfilling), its heuristic keys ([`Key`]) and its
//! metrics. It must not be used for anything that claims to behave like
//! Slurm: the Slurm-faithful simulator is [`crate::engine`]. The rules are
//! those of `shared/notes/rlscheduler-protocol.md`; `docs/rlscheduler.md`
//! lists how they differ from Slurm. No code was copied from RLScheduler.
//!
//! # The loop, in short
//! Time is an integer (seconds). The queue is a `Vec` whose order persists
//! between decisions, because RLScheduler sorts its queue *in place* and
//! stably, and ties are broken by that order:
//! 1. the [`Picker`] chooses the head (the built-in keys sort the queue
//!    stably by key and return index 0); the head is committed;
//! 2. while it does not fit, one event is processed at a time: the next
//!    arrival when its submit time is ≤ the earliest actual end among the
//!    running jobs (an arrival wins a tie), else the release of that one
//!    running job. With backfilling, before each event the queue is sorted
//!    stably by submit time and every job that fits and has
//!    `now + request < shadow` starts, where the shadow time is computed once
//!    from the running jobs' *estimated* ends;
//! 3. the head starts; if the queue is empty, events are processed until one
//!    job arrives, and the next decision happens at once.

use crate::trace::TraceError;
use crate::trace::swf::{self, Line};
use policy::{JobObs, Policy, QueueContext};
use std::path::Path;

/// Jobs per test window.
pub const WINDOW_LEN: usize = 1024;

/// Start indices of the ten windows behind every cell of RLScheduler's
/// README table (the same on every trace).
pub const TABLE_STARTS: [usize; 10] = [1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085];

/// One job under RLScheduler's loading rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompatJob {
    /// Position in [`CompatTrace::jobs`] (after the loading rules).
    pub index: usize,
    /// SWF job number (field 1).
    pub id: u64,
    /// Absolute submit time as in the file (field 2; not rebased).
    pub submit: i64,
    /// Run time (field 4; −1 became 10).
    pub run: i64,
    /// Requested time (field 9; when −1, field 4 as read, so it may be −1).
    pub request: i64,
    /// Processors: max(field 5, field 8).
    pub procs: i64,
}

/// A trace loaded under RLScheduler's rules.
#[derive(Debug, Clone, PartialEq)]
pub struct CompatTrace {
    /// File name, for messages.
    pub file: String,
    /// Jobs, sorted stably by job id.
    pub jobs: Vec<CompatJob>,
    /// The `MaxNodes` header value.
    pub max_nodes: u64,
    /// The `MaxProcs` header value, or `MaxNodes` when absent or 0.
    pub max_procs: u64,
    /// Jobs dropped because their run time was 0.
    pub dropped_run_zero: usize,
}

impl CompatTrace {
    /// Processors per node (`MaxProcs / MaxNodes`; 1 for all our traces).
    pub fn procs_per_node(&self) -> f64 {
        self.max_procs as f64 / self.max_nodes as f64
    }

    /// Nodes a job occupies: ⌈procs / procs per node⌉.
    pub fn nodes_of(&self, job: &CompatJob) -> i64 {
        (job.procs as f64 / self.procs_per_node()).ceil() as i64
    }
}

/// Errors of the compatibility simulator (loading errors are
/// [`TraceError`]s).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RlschedError {
    /// The window does not lie inside the trace.
    #[error("{file}: window of {len} jobs at index {start} does not fit in {jobs} jobs")]
    WindowOutOfRange {
        /// Trace file.
        file: String,
        /// Start index.
        start: usize,
        /// Window length.
        len: usize,
        /// Jobs in the trace.
        jobs: usize,
    },
    /// A job can never run on the machine (RLScheduler would stop on an
    /// assertion).
    #[error("{file}: job {id} needs {nodes} nodes, the machine has {max_nodes}")]
    Unrunnable {
        /// Trace file.
        file: String,
        /// Job id.
        id: u64,
        /// Nodes it needs (negative when its processor count is).
        nodes: i64,
        /// Nodes of the machine.
        max_nodes: u64,
    },
    /// A [`Picker`] returned an index outside the queue.
    #[error("picker chose index {index} in a queue of {len} jobs")]
    BadPick {
        /// The index returned.
        index: usize,
        /// Queue length.
        len: usize,
    },
}

/// What a [`Picker`] may look at besides the queue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PickContext {
    /// The clock (the trace's absolute seconds).
    pub now: i64,
    /// Idle nodes.
    pub free_nodes: i64,
    /// Nodes of the machine.
    pub total_nodes: u64,
    /// Processors per node.
    pub procs_per_node: f64,
    /// Running jobs.
    pub running: usize,
}

/// The pending queue as a [`Picker`] sees it: readable as a slice
/// (through `Deref`), and reorderable only by stable sorts, so a picker can
/// never add, drop or alter a job.
pub struct Queue<'q> {
    jobs: &'q mut [CompatJob],
}

impl Queue<'_> {
    /// Sorts the queue stably by `key`, as Python's `list.sort(key=...)`.
    pub fn sort_by_key<K: Ord>(&mut self, key: impl FnMut(&CompatJob) -> K) {
        self.jobs.sort_by_key(key);
    }

    /// Sorts the queue stably with a comparator.
    pub fn sort_by(&mut self, cmp: impl FnMut(&CompatJob, &CompatJob) -> std::cmp::Ordering) {
        self.jobs.sort_by(cmp);
    }
}

impl std::ops::Deref for Queue<'_> {
    type Target = [CompatJob];
    fn deref(&self) -> &[CompatJob] {
        self.jobs
    }
}

/// Chooses the next head of the queue.
///
/// `queue` is in the simulator's current order. A picker may sort it (the
/// built-in [`Key`]s sort it stably, as RLScheduler does; the order persists
/// and breaks later ties) and returns the index of its choice in the
/// possibly reordered queue. Any
/// `FnMut(&PickContext, &mut Queue<'_>) -> usize` is a picker.
pub trait Picker {
    /// The index of the job to commit to.
    fn pick(&mut self, ctx: &PickContext, queue: &mut Queue<'_>) -> usize;
}

impl<F: FnMut(&PickContext, &mut Queue<'_>) -> usize> Picker for F {
    fn pick(&mut self, ctx: &PickContext, queue: &mut Queue<'_>) -> usize {
        self(ctx, queue)
    }
}

/// RLScheduler's heuristic keys; the job with the smallest key goes first.
/// s = submit, r = request, n = procs, w = now − s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// s.
    Fcfs,
    /// (r, s).
    Sjf,
    /// log10(r if r > 0 else 0.1)·n + 870·log10(s if s > 0 else 0.1).
    F1,
    /// WFP3 as RLScheduler implements it: −((−1 − s)/r)³·n, i.e. the unset
    /// start time (−1) stands where the clock was meant, giving ((s+1)/r)³·n.
    Wfp3Compat,
    /// UNICEP as RLScheduler implements it:
    /// −((−1 − s) + 10⁻¹⁵)/(log2(n + 10⁻¹⁵)·r), which puts 1-processor jobs
    /// last.
    UnicepCompat,
    /// Textbook WFP3: −(w/r)³·n, with r taken as at least 1.
    Wfp3,
    /// Textbook UNICEP: −w/(log2(n)·r), with r taken as at least 1 and n as
    /// at least 2 (log2(1) = 0 would make the key undefined).
    Unicep,
}

impl Key {
    /// All keys, in table order.
    pub const ALL: [Key; 7] = [
        Key::Fcfs,
        Key::Wfp3Compat,
        Key::UnicepCompat,
        Key::Sjf,
        Key::F1,
        Key::Wfp3,
        Key::Unicep,
    ];

    /// Short stable name (`fcfs`, `sjf`, `f1`, `wfp3-compat`, …).
    pub fn name(self) -> &'static str {
        match self {
            Key::Fcfs => "fcfs",
            Key::Sjf => "sjf",
            Key::F1 => "f1",
            Key::Wfp3Compat => "wfp3-compat",
            Key::UnicepCompat => "unicep-compat",
            Key::Wfp3 => "wfp3",
            Key::Unicep => "unicep",
        }
    }

    /// The key as one number, for the keys that are one number (all but
    /// [`Key::Sjf`], which is a pair).
    pub fn value(self, now: i64, j: &CompatJob) -> f64 {
        let (s, r, n) = (j.submit as f64, j.request as f64, j.procs as f64);
        match self {
            Key::Fcfs => s,
            Key::Sjf => r,
            Key::F1 => {
                let lr = if j.request > 0 { r } else { 0.1 }.log10();
                let ls = if j.submit > 0 { s } else { 0.1 }.log10();
                lr * n + 870.0 * ls
            }
            Key::Wfp3Compat => {
                let w = (-1 - j.submit) as f64;
                -(w / r).powf(3.0) * n
            }
            Key::UnicepCompat => {
                let w = (-1 - j.submit) as f64;
                -(w + 1e-15) / ((n + 1e-15).log2() * r)
            }
            Key::Wfp3 => {
                let w = (now - j.submit) as f64;
                -(w / r.max(1.0)).powf(3.0) * n
            }
            Key::Unicep => {
                let w = (now - j.submit) as f64;
                -w / (n.max(2.0).log2() * r.max(1.0))
            }
        }
    }
}

impl Picker for Key {
    fn pick(&mut self, ctx: &PickContext, queue: &mut Queue<'_>) -> usize {
        let key = *self;
        match key {
            Key::Fcfs => queue.sort_by_key(|j| j.submit),
            Key::Sjf => queue.sort_by_key(|j| (j.request, j.submit)),
            _ => {
                let now = ctx.now;
                // Python compares floats with `<`: NaN never occurs here
                // (r = 0 would have crashed RLScheduler), so Equal is safe.
                queue.sort_by(|a, b| {
                    key.value(now, a)
                        .partial_cmp(&key.value(now, b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            }
        }
        0
    }
}

/// Adapts a [`policy::Policy`] to a [`Picker`]: the policy scores the queue
/// at every decision and the highest score wins (the first one on ties).
///
/// The observation is what the compatibility mode knows: submit, wait,
/// request (as `time_limit`, 0 when negative), processors (as `cpus`; nodes
/// 0) and whether the job fits now. The policy's [`Policy::rescore`] is
/// ignored: the policy scores the queue afresh at every decision.
pub struct PolicyPicker<'p> {
    policy: &'p mut dyn Policy,
    obs: Vec<JobObs>,
    scores: Vec<f64>,
}

impl<'p> PolicyPicker<'p> {
    /// Wraps `policy`.
    pub fn new(policy: &'p mut dyn Policy) -> Self {
        PolicyPicker {
            policy,
            obs: Vec::new(),
            scores: Vec::new(),
        }
    }
}

impl Picker for PolicyPicker<'_> {
    fn pick(&mut self, ctx: &PickContext, queue: &mut Queue<'_>) -> usize {
        self.obs.clear();
        self.obs.extend(queue.iter().map(|j| job_obs(ctx, j)));
        self.scores.clear();
        self.scores.resize(queue.len(), f64::NEG_INFINITY);
        let qctx = queue_context(ctx, queue.len());
        self.policy.score(&qctx, &self.obs, &mut self.scores);
        let mut best = 0;
        for (i, &s) in self.scores.iter().enumerate() {
            if s > self.scores[best] {
                best = i;
            }
        }
        best
    }
}

/// What a [`policy::Policy`] sees of a queued job in the compatibility
/// mode: submit, wait, request (as `time_limit`, 0 when negative),
/// processors (as `cpus`; nodes 0) and whether the job fits now; the rest
/// is left at its default.
pub fn job_obs(ctx: &PickContext, j: &CompatJob) -> JobObs {
    JobObs {
        id: j.id,
        submit: j.submit.max(0) as u64,
        wait: (ctx.now - j.submit).max(0) as u64,
        time_limit: j.request.max(0) as u64,
        cpus: j.procs.clamp(0, u32::MAX as i64) as u32,
        fits_now: (j.procs as f64 / ctx.procs_per_node).ceil() as i64 <= ctx.free_nodes,
        ..JobObs::default()
    }
}

/// The [`QueueContext`] of a decision with `queue_len` pending jobs.
pub fn queue_context(ctx: &PickContext, queue_len: usize) -> QueueContext {
    let ppn = ctx.procs_per_node;
    QueueContext {
        now: ctx.now.max(0) as u64,
        free_cpus: (ctx.free_nodes.max(0) as f64 * ppn) as u64,
        total_cpus: (ctx.total_nodes as f64 * ppn) as u64,
        queue_len: queue_len as u32,
        running: ctx.running as u32,
        ..QueueContext::default()
    }
}

/// The outcome of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowResult {
    /// Mean bounded slowdown over the window's jobs:
    /// max(1, (wait + run)/max(run, 10)).
    pub mean_bsld: f64,
    /// RLScheduler's utilization: Σ run·procs / ((T_end − first submit)·MaxProcs),
    /// T_end being the start time of the last job started.
    pub utilization: f64,
    /// Start time of every window job, by position in the window.
    pub starts: Vec<i64>,
    /// The clock when the last job started (T_end).
    pub end: i64,
}

/// Loads an SWF file (`.swf` or `.swf.gz`) under RLScheduler's rules:
/// every non-`;` line is a job; procs = max(field 5, field 8); request =
/// field 9, or field 4 *as read* when field 9 is −1; a negative run time
/// becomes 10; jobs with run time 0 are dropped; jobs are sorted stably by
/// id; `MaxNodes` gives the nodes and `MaxProcs` (or `MaxNodes` when absent)
/// the processors.
///
/// Only fields 1, 2, 4, 5, 8 and 9 are read; they must be integers, and a
/// record needs at least 18 fields (RLScheduler ignores extra ones).
pub fn load(path: &Path) -> Result<CompatTrace, TraceError> {
    let data = swf::load_bytes(path)?;
    let file = swf::file_label(path);
    let perr = |line, field: String, message: String| crate::trace::ParseError {
        file: file.clone(),
        line,
        field,
        message,
    };
    let mut jobs = Vec::new();
    let (mut max_nodes, mut max_procs, mut dropped_run_zero) = (0u64, 0u64, 0usize);
    swf::for_each_line(&data, |line, l| {
        match l {
            Line::Header(text) => {
                for (key, slot) in [("MaxNodes:", &mut max_nodes), ("MaxProcs:", &mut max_procs)] {
                    if let Some(v) = text.strip_prefix(key) {
                        *slot = v.trim().parse().map_err(|_| {
                            perr(
                                line,
                                key.trim_end_matches(':').into(),
                                format!("expected an integer, found {:?}", v.trim()),
                            )
                        })?;
                    }
                }
            }
            Line::BadUtf8 => return Err(perr(line, "record".into(), "not valid UTF-8".into())),
            Line::Record(fields) => {
                if fields.len() < 18 {
                    return Err(perr(
                        line,
                        "record".into(),
                        format!(
                            "expected 18 whitespace-separated fields, found {}",
                            fields.len()
                        ),
                    ));
                }
                let int = |i: usize| {
                    fields[i].parse::<i64>().map_err(|_| {
                        perr(
                            line,
                            swf::field_label(i),
                            format!("expected an integer, found {:?}", fields[i]),
                        )
                    })
                };
                let id = int(0)?;
                let id = u64::try_from(id).map_err(|_| {
                    perr(
                        line,
                        swf::field_label(0),
                        format!("expected a non-negative job number, found {id}"),
                    )
                })?;
                let (submit, raw_run, alloc, req_procs, req_time) =
                    (int(1)?, int(3)?, int(4)?, int(7)?, int(8)?);
                let request = if req_time == -1 { raw_run } else { req_time };
                let run = if raw_run < 0 { 10 } else { raw_run };
                if run == 0 {
                    dropped_run_zero += 1;
                } else {
                    jobs.push(CompatJob {
                        index: 0,
                        id,
                        submit,
                        run,
                        request,
                        procs: alloc.max(req_procs),
                    });
                }
            }
        }
        Ok(())
    })?;
    if max_nodes == 0 {
        return Err(perr(
            0,
            "MaxNodes".into(),
            "no `; MaxNodes:` header line; RLScheduler needs it".into(),
        )
        .into());
    }
    if max_procs == 0 {
        max_procs = max_nodes;
    }
    jobs.sort_by_key(|j| j.id);
    for (i, j) in jobs.iter_mut().enumerate() {
        j.index = i;
    }
    Ok(CompatTrace {
        file,
        jobs,
        max_nodes,
        max_procs,
        dropped_run_zero,
    })
}

/// A running job.
#[derive(Debug, Clone, Copy)]
struct Running {
    /// Actual end.
    end: i64,
    /// Estimated end (start + request).
    est_end: i64,
    /// Nodes held.
    nodes: i64,
}

/// The state of one window's simulation. Only the methods below change it.
/// It owns a copy of its window, so a stepping [`Episode`] can outlive any
/// borrow of the trace.
#[derive(Debug, Clone)]
struct Sim {
    window: Vec<CompatJob>,
    max_nodes: u64,
    max_procs: u64,
    procs_per_node: f64,
    first: usize,
    /// Nodes each window job needs, by window position.
    need: Vec<i64>,
    next: usize,
    clock: i64,
    free: i64,
    queue: Vec<CompatJob>,
    running: Vec<Running>,
    starts: Vec<i64>,
    /// Window positions in the order they started.
    started: Vec<usize>,
}

impl Sim {
    fn pos(&self, j: &CompatJob) -> usize {
        j.index - self.first
    }

    fn fits(&self, j: &CompatJob) -> bool {
        self.need[self.pos(j)] <= self.free
    }

    fn start(&mut self, j: CompatJob) {
        let p = self.pos(&j);
        let nodes = self.need[p];
        self.free -= nodes;
        self.running.push(Running {
            end: self.clock + j.run,
            est_end: self.clock + j.request,
            nodes,
        });
        self.starts[p] = self.clock;
        self.started.push(p);
    }

    fn release_first(&mut self) {
        let r = self.running.remove(0);
        self.clock = self.clock.max(r.end);
        self.free += r.nodes;
    }

    fn arrive(&mut self) {
        let j = self.window[self.next];
        self.clock = self.clock.max(j.submit);
        self.queue.push(j);
        self.next += 1;
    }

    /// One event: the next arrival if it comes no later than the earliest
    /// actual end, else that release. Needs a running job.
    fn advance(&mut self) {
        debug_assert!(
            !self.running.is_empty(),
            "a head that does not fit implies running jobs"
        );
        self.running.sort_by_key(|r| r.end);
        let release = self.running[0].end;
        if self.next < self.window.len() && self.window[self.next].submit <= release {
            self.arrive();
        } else {
            self.release_first();
        }
    }

    /// Shadow time of `head`: walk the running jobs by estimated end until
    /// enough nodes would be free.
    fn shadow(&mut self, head: &CompatJob) -> i64 {
        let need = self.need[self.pos(head)];
        self.running.sort_by_key(|r| r.est_end);
        let mut free = self.free;
        let mut shadow = self.clock;
        for r in &self.running {
            free += r.nodes;
            shadow = r.est_end;
            if free >= need {
                break;
            }
        }
        shadow
    }

    /// Starts, in submit order, every queued job that fits and ends (by its
    /// request) strictly before `shadow`.
    fn backfill_pass(&mut self, shadow: i64) {
        self.queue.sort_by_key(|j| j.submit);
        let mut k = 0;
        while k < self.queue.len() {
            let j = self.queue[k];
            if self.clock + j.request < shadow && self.fits(&j) {
                self.start(j);
                self.queue.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// After a start: false when the window is done; otherwise makes sure
    /// the queue holds a job (processing events until one arrives).
    fn ensure_queue(&mut self) -> bool {
        if !self.queue.is_empty() {
            return true;
        }
        if self.next >= self.window.len() {
            return false;
        }
        loop {
            let release = if self.running.is_empty() {
                i64::MAX
            } else {
                self.running.sort_by_key(|r| r.end);
                self.running[0].end
            };
            if self.window[self.next].submit <= release {
                self.arrive();
                return true;
            }
            self.release_first();
        }
    }

    fn ctx(&self) -> PickContext {
        PickContext {
            now: self.clock,
            free_nodes: self.free,
            total_nodes: self.max_nodes,
            procs_per_node: self.procs_per_node,
            running: self.running.len(),
        }
    }
}

/// Schedules the window `trace.jobs[start..start + len]` with a built-in key.
pub fn run_window(
    trace: &CompatTrace,
    start: usize,
    len: usize,
    key: Key,
    backfill: bool,
) -> Result<WindowResult, RlschedError> {
    let mut key = key;
    run_window_with(trace, start, len, &mut key, backfill)
}

/// Schedules the window `trace.jobs[start..start + len]`, asking `picker`
/// for every head.
pub fn run_window_with(
    trace: &CompatTrace,
    start: usize,
    len: usize,
    picker: &mut dyn Picker,
    backfill: bool,
) -> Result<WindowResult, RlschedError> {
    let mut ep = Episode::new(trace, start, len, backfill)?;
    while !ep.is_done() {
        let ctx = ep.context();
        let h = picker.pick(&ctx, &mut ep.queue_mut());
        ep.commit(h)?;
    }
    Ok(ep.result())
}

/// One window of the compatibility simulator, stepped one decision at a
/// time: the form an RL environment needs. [`run_window_with`] is this loop
/// with a [`Picker`].
///
/// Between two [`Episode::commit`]s the episode waits at a decision point:
/// the queue is not empty and the clock is the decision's time. `commit(i)`
/// commits to `queue()[i]` as the head, processes events (and, with
/// backfilling, backfills) until the head fits, starts it, and processes
/// events until the next decision point or the end of the window.
#[derive(Debug, Clone)]
pub struct Episode {
    sim: Sim,
    backfill: bool,
    done: bool,
    decisions: usize,
}

impl Episode {
    /// Starts the window `trace.jobs[start..start + len]`: an empty machine,
    /// the clock at the first job's submit time, that job queued.
    pub fn new(
        trace: &CompatTrace,
        start: usize,
        len: usize,
        backfill: bool,
    ) -> Result<Episode, RlschedError> {
        if len == 0 || start.checked_add(len).is_none_or(|e| e > trace.jobs.len()) {
            return Err(RlschedError::WindowOutOfRange {
                file: trace.file.clone(),
                start,
                len,
                jobs: trace.jobs.len(),
            });
        }
        let window = trace.jobs[start..start + len].to_vec();
        let need: Vec<i64> = window.iter().map(|j| trace.nodes_of(j)).collect();
        if let Some((j, &n)) = window
            .iter()
            .zip(&need)
            .find(|&(_, &n)| n < 0 || n > trace.max_nodes as i64)
        {
            return Err(RlschedError::Unrunnable {
                file: trace.file.clone(),
                id: j.id,
                nodes: n,
                max_nodes: trace.max_nodes,
            });
        }
        let first = window[0];
        Ok(Episode {
            sim: Sim {
                window,
                max_nodes: trace.max_nodes,
                max_procs: trace.max_procs,
                procs_per_node: trace.procs_per_node(),
                first: start,
                need,
                next: 1,
                clock: first.submit,
                free: trace.max_nodes as i64,
                queue: vec![first],
                running: Vec::new(),
                starts: vec![-1; len],
                started: Vec::with_capacity(len),
            },
            backfill,
            done: false,
            decisions: 0,
        })
    }

    /// Whether every job of the window has started.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// What a picker may look at besides the queue.
    pub fn context(&self) -> PickContext {
        self.sim.ctx()
    }

    /// The pending jobs, in the simulator's current order (empty when done).
    pub fn queue(&self) -> &[CompatJob] {
        &self.sim.queue
    }

    /// The pending jobs, reorderable by stable sorts only.
    pub fn queue_mut(&mut self) -> Queue<'_> {
        Queue {
            jobs: &mut self.sim.queue,
        }
    }

    /// Whether `job` (a queued job) fits on the idle nodes now.
    pub fn fits_now(&self, job: &CompatJob) -> bool {
        self.sim.fits(job)
    }

    /// Decisions committed so far.
    pub fn decisions(&self) -> usize {
        self.decisions
    }

    /// Jobs started so far.
    pub fn started(&self) -> usize {
        self.sim.started.len()
    }

    /// Commits to `queue()[index]` and runs to the next decision point.
    /// Returns whether the window is done. An index outside the queue, or a
    /// commit after the end, is a [`RlschedError::BadPick`] and changes
    /// nothing.
    pub fn commit(&mut self, index: usize) -> Result<bool, RlschedError> {
        let sim = &mut self.sim;
        if self.done || index >= sim.queue.len() {
            return Err(RlschedError::BadPick {
                index,
                len: sim.queue.len(),
            });
        }
        let head = sim.queue[index];
        if !sim.fits(&head) {
            if self.backfill {
                let shadow = sim.shadow(&head);
                while !sim.fits(&head) {
                    sim.backfill_pass(shadow);
                    sim.advance();
                }
            } else {
                while !sim.fits(&head) {
                    sim.advance();
                }
            }
        }
        sim.start(head);
        let at = sim
            .queue
            .iter()
            .position(|j| j.index == head.index)
            .expect("the head stays queued until it starts");
        sim.queue.remove(at);
        self.decisions += 1;
        self.done = !sim.ensure_queue();
        Ok(self.done)
    }

    /// Bounded slowdown of one started job (by window position), as
    /// [`WindowResult::mean_bsld`] averages it; `None` if it has not started.
    pub fn bsld_of(&self, pos: usize) -> Option<f64> {
        let s = *self.sim.starts.get(pos)?;
        (s >= 0).then(|| {
            let j = &self.sim.window[pos];
            f64::max(1.0, ((s - j.submit) + j.run) as f64 / j.run.max(10) as f64)
        })
    }

    /// The window's metrics. Meaningful once [`Episode::is_done`]; before
    /// that, jobs not yet started count with bounded slowdown 0 and no
    /// utilization.
    pub fn result(&self) -> WindowResult {
        summarize(
            &self.sim.window,
            self.sim.max_procs,
            self.sim.starts.clone(),
            &self.sim.started,
            self.sim.clock,
        )
    }
}

/// RLScheduler's metrics, summed in start order as it does.
fn summarize(
    window: &[CompatJob],
    max_procs: u64,
    starts: Vec<i64>,
    started: &[usize],
    end: i64,
) -> WindowResult {
    let n = window.len() as f64;
    let span = ((end - window[0].submit) * max_procs as i64) as f64;
    let (mut bsld, mut util) = (0.0, 0.0);
    for &p in started {
        let j = &window[p];
        let wait = starts[p] - j.submit;
        bsld += f64::max(1.0, (wait + j.run) as f64 / j.run.max(10) as f64) / n;
        util += (j.run * j.procs) as f64 / span;
    }
    WindowResult {
        mean_bsld: bsld,
        utilization: util,
        starts,
        end,
    }
}

/// One cell of RLScheduler's table: the mean over [`TABLE_STARTS`] of the
/// windows' mean bounded slowdown (and of their utilization).
pub fn table_cell(
    trace: &CompatTrace,
    key: Key,
    backfill: bool,
) -> Result<(f64, f64), RlschedError> {
    let (mut bsld, mut util) = (0.0, 0.0);
    for &s in &TABLE_STARTS {
        let r = run_window(trace, s, WINDOW_LEN, key, backfill)?;
        bsld += r.mean_bsld;
        util += r.utilization;
    }
    let k = TABLE_STARTS.len() as f64;
    Ok((bsld / k, util / k))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A trace from (id, submit, run, request, procs) tuples on `nodes` nodes.
    fn trace(nodes: u64, jobs: &[(u64, i64, i64, i64, i64)]) -> CompatTrace {
        CompatTrace {
            file: "test".into(),
            jobs: jobs
                .iter()
                .enumerate()
                .map(|(index, &(id, submit, run, request, procs))| CompatJob {
                    index,
                    id,
                    submit,
                    run,
                    request,
                    procs,
                })
                .collect(),
            max_nodes: nodes,
            max_procs: nodes,
            dropped_run_zero: 0,
        }
    }

    fn starts(t: &CompatTrace, key: Key, backfill: bool) -> Vec<i64> {
        run_window(t, 0, t.jobs.len(), key, backfill)
            .unwrap()
            .starts
    }

    #[test]
    fn loader_applies_rlscheduler_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.swf");
        let text = "\
; MaxNodes: 8
 3  30 -1  -1  2 -1 -1  4   -1 -1 1 -1 -1 -1 0 -1 -1 -1
 1  10 -1  20  1 -1 -1 -1  100 -1 1 -1 -1 -1 0 -1 -1 -1
 2  20 -1   0  1 -1 -1 -1  100 -1 1 -1 -1 -1 0 -1 -1 -1
 4  40 -1  -1  1 -1 -1 -1  300 -1 1 -1 -1 -1 0 -1 -1 -1
 5  50 -1  70  6 -1 -1  2   -1 -1 1 -1 -1 -1 0 -1 -1 -1 extra
";
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let t = load(&path).unwrap();
        assert_eq!(
            (t.max_nodes, t.max_procs),
            (8, 8),
            "MaxProcs defaults to MaxNodes"
        );
        assert_eq!(t.dropped_run_zero, 1);
        let got: Vec<_> = t
            .jobs
            .iter()
            .map(|j| (j.index, j.id, j.submit, j.run, j.request, j.procs))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 1, 10, 20, 100, 1),
                // run -1 -> 10, but request takes run *before* the fix-up: -1.
                (1, 3, 30, 10, -1, 4),
                (2, 4, 40, 10, 300, 1),
                // procs = max(5, 8); request -1 -> run time.
                (3, 5, 50, 70, 70, 6),
            ]
        );
    }

    #[test]
    fn loader_errors_name_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.swf");
        std::fs::write(
            &path,
            "; MaxNodes: 8\n1 10 -1 x 1 -1 -1 -1 1 -1 1 -1 -1 -1 0 -1 -1 -1\n",
        )
        .unwrap();
        let TraceError::Parse(e) = load(&path).unwrap_err() else {
            panic!("expected a parse error")
        };
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_str()),
            ("bad.swf", 2, "4 (run time)")
        );
        std::fs::write(&path, "1 10 -1 5 1 -1 -1 -1 1 -1 1 -1 -1 -1 0 -1 -1 -1\n").unwrap();
        let TraceError::Parse(e) = load(&path).unwrap_err() else {
            panic!("expected a parse error")
        };
        assert_eq!(e.field, "MaxNodes");
    }

    #[test]
    fn loader_on_real_traces() {
        let cases = [
            ("lublin_256.swf", 10_000, 256),
            ("lublin_256_new2.swf", 10_000, 256),
            ("SDSC-SP2-1998-4.2-cln.swf.gz", 59_715 - 10, 128),
            ("HPC2N-2002-2.2-cln.swf.gz", 202_871, 240),
        ];
        for (name, jobs, procs) in cases {
            let t = load(&crate::testdata::trace(name)).unwrap();
            assert_eq!(
                (t.jobs.len(), t.max_procs, t.max_nodes),
                (jobs, procs, procs),
                "{name}"
            );
            assert!(t.jobs.windows(2).all(|w| w[0].id <= w[1].id), "{name}");
        }
        let t = load(&crate::testdata::trace("SDSC-SP2-1998-4.2-cln.swf.gz")).unwrap();
        assert_eq!(t.dropped_run_zero, 10);
        assert_eq!(t.jobs.iter().filter(|j| j.request == -1).count(), 31);
        // "   19   580157  20861     -1   -1 ... 38   6900 ...": run -1 -> 10, procs 38.
        let j = t.jobs.iter().find(|j| j.id == 19).unwrap();
        assert_eq!(
            (j.submit, j.run, j.request, j.procs),
            (580_157, 10, 6_900, 38)
        );
    }

    /// Machine of 4 nodes. A fills 3 nodes until 10; B (2 nodes) waits as
    /// the committed head; C (1 node, runs 3) arrives at 2.
    fn abc(c_request: i64) -> CompatTrace {
        trace(
            4,
            &[(1, 0, 10, 10, 3), (2, 1, 5, 5, 2), (3, 2, 3, c_request, 1)],
        )
    }

    #[test]
    fn without_backfilling_the_head_blocks_the_queue() {
        assert_eq!(starts(&abc(7), Key::Fcfs, false), vec![0, 10, 10]);
    }

    #[test]
    fn backfilling_starts_jobs_that_end_strictly_before_the_shadow() {
        // Shadow of B = A's estimated end, 10. C: 2 + 7 = 9 < 10: backfilled.
        let r = run_window(&abc(7), 0, 3, Key::Fcfs, true).unwrap();
        assert_eq!(r.starts, vec![0, 10, 2]);
        // bsld: A 1, B (9 + 5)/10 = 1.4, C max(1, 3/10) = 1.
        assert!((r.mean_bsld - 3.4 / 3.0).abs() < 1e-12);
        // T_end is the last start (10), not the makespan (15):
        // (10·3 + 5·2 + 3·1) / (10 · 4).
        assert_eq!(r.end, 10);
        assert!((r.utilization - 43.0 / 40.0).abs() < 1e-12);
        // C: 2 + 8 = 10 is not < 10: not backfilled.
        assert_eq!(starts(&abc(8), Key::Fcfs, true), vec![0, 10, 10]);
    }

    #[test]
    fn shadow_is_not_recomputed_when_a_running_job_ends_early() {
        // 2 nodes. A (1 node) estimates 500 but ends at 10; E (1 node) runs
        // to 400. B needs both nodes: by estimated end, E (400) frees one,
        // A (500) the second, so B's shadow is 500, computed once at 1.
        // At 20 C (1 node, request 450) arrives: 20 + 450 < 500, so it is
        // backfilled on the stale shadow (a shadow recomputed after A ended
        // would be E's 400, and C would wait).
        let t = trace(
            2,
            &[
                (1, 0, 10, 500, 1),  // A
                (2, 0, 400, 400, 1), // E
                (3, 1, 50, 50, 2),   // B
                (4, 20, 5, 450, 1),  // C
            ],
        );
        assert_eq!(starts(&t, Key::Fcfs, true), vec![0, 0, 400, 20]);
        assert_eq!(starts(&t, Key::Fcfs, false), vec![0, 0, 400, 450]);
    }

    #[test]
    fn committed_head_is_not_replaced_by_a_shorter_arrival() {
        let t = trace(2, &[(1, 0, 10, 10, 2), (2, 1, 50, 50, 2), (3, 5, 1, 1, 2)]);
        // SJF would prefer C at 10, but B was committed at 1.
        assert_eq!(starts(&t, Key::Sjf, false), vec![0, 10, 60]);
    }

    #[test]
    fn same_second_arrivals_are_not_batched() {
        // B and C arrive at 10; B alone is queued when the decision happens.
        let t = trace(
            1,
            &[(1, 0, 10, 10, 1), (2, 10, 100, 100, 1), (3, 10, 1, 1, 1)],
        );
        assert_eq!(starts(&t, Key::Sjf, false), vec![0, 10, 110]);
    }

    #[test]
    fn key_values() {
        let j = CompatJob {
            index: 0,
            id: 1,
            submit: 1000,
            run: 5,
            request: 100,
            procs: 4,
        };
        assert!((Key::F1.value(0, &j) - (2.0 * 4.0 + 870.0 * 3.0)).abs() < 1e-9);
        // As implemented: ((s + 1)/r)^3 n = (1001/100)^3 * 4.
        assert!((Key::Wfp3Compat.value(5000, &j) - 10.01f64.powi(3) * 4.0).abs() < 1e-9);
        // As implemented: (s + 1)/(log2 n * r) = 1001/(2 * 100).
        assert!((Key::UnicepCompat.value(5000, &j) - 5.005).abs() < 1e-9);
        let one = CompatJob { procs: 1, ..j };
        assert!(
            Key::UnicepCompat.value(0, &one) > 1e15,
            "1-processor jobs go last"
        );
        // Textbook: w = 4000.
        assert!((Key::Wfp3.value(5000, &j) + 40f64.powi(3) * 4.0).abs() < 1e-6);
        assert!((Key::Unicep.value(5000, &j) + 4000.0 / 200.0).abs() < 1e-9);
        let zero = CompatJob {
            submit: 0,
            request: 0,
            ..j
        };
        assert!((Key::F1.value(0, &zero) - (-4.0 - 870.0)).abs() < 1e-9);
    }

    #[test]
    fn sjf_breaks_ties_by_submit_then_queue_order() {
        let mk = |index, id, submit| CompatJob {
            index,
            id,
            submit,
            run: 1,
            request: 10,
            procs: 1,
        };
        let mut v = vec![mk(0, 7, 5), mk(1, 3, 2), mk(2, 9, 2)];
        let ctx = PickContext {
            now: 0,
            free_nodes: 1,
            total_nodes: 1,
            procs_per_node: 1.0,
            running: 0,
        };
        assert_eq!(Key::Sjf.pick(&ctx, &mut Queue { jobs: &mut v }), 0);
        assert_eq!(v.iter().map(|j| j.id).collect::<Vec<_>>(), vec![3, 9, 7]);
    }

    #[test]
    fn window_errors() {
        let t = abc(7);
        assert!(matches!(
            run_window(&t, 1, 3, Key::Fcfs, false),
            Err(RlschedError::WindowOutOfRange { .. })
        ));
        let big = trace(2, &[(1, 0, 10, 10, 3)]);
        assert!(matches!(
            run_window(&big, 0, 1, Key::Fcfs, false),
            Err(RlschedError::Unrunnable {
                id: 1,
                nodes: 3,
                ..
            })
        ));
        let mut bad = |_: &PickContext, q: &mut Queue<'_>| q.len();
        assert!(matches!(
            run_window_with(&t, 0, 3, &mut bad, false),
            Err(RlschedError::BadPick { index: 1, len: 1 })
        ));
    }

    /// FCFS written as a `policy::Policy`: the oldest job scores highest.
    struct OldestFirst;
    impl Policy for OldestFirst {
        fn name(&self) -> &str {
            "oldest-first"
        }
        fn score(&mut self, _: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
            for (o, j) in out.iter_mut().zip(jobs) {
                *o = -(j.submit as f64);
            }
        }
    }

    #[test]
    fn policy_picker_reproduces_the_fcfs_key_on_a_real_window() {
        let t = load(&crate::testdata::trace("lublin_256.swf")).unwrap();
        for backfill in [false, true] {
            let want = run_window(&t, TABLE_STARTS[0], 256, Key::Fcfs, backfill).unwrap();
            let mut p = OldestFirst;
            let mut picker = PolicyPicker::new(&mut p);
            let got = run_window_with(&t, TABLE_STARTS[0], 256, &mut picker, backfill).unwrap();
            assert_eq!(got, want, "backfill={backfill}");
        }
    }

    #[test]
    fn closure_picker_sees_the_clock_and_the_queue() {
        // Always the newest job: on a 1-node machine, B and C queue behind A,
        // and C (newer) goes before B.
        let t = trace(1, &[(1, 0, 10, 10, 1), (2, 1, 5, 5, 1), (3, 2, 5, 5, 1)]);
        let mut seen = Vec::new();
        let mut newest = |ctx: &PickContext, q: &mut Queue<'_>| {
            seen.push((ctx.now, q.len()));
            q.iter()
                .enumerate()
                .max_by_key(|(_, j)| j.submit)
                .map_or(0, |(i, _)| i)
        };
        let r = run_window_with(&t, 0, 3, &mut newest, false).unwrap();
        // B is committed at 1 (C has not arrived yet); then C.
        assert_eq!(r.starts, vec![0, 10, 15]);
        assert_eq!(seen, vec![(0, 1), (1, 1), (10, 1)]);
    }
}
