//! The event loop, the simulator's state and the main scheduler.
//!
//! This module owns the [`Sim`] struct (cluster state, pending queue,
//! running jobs, the event queue) and every event handler. Cluster state is
//! changed only by the handlers and by `start_job`/`finish_job`, which the
//! schedulers call. The policy is asked only when scores are due. The
//! backfill planner (`backfill.rs`) is a further `impl Sim` block. Nothing
//! here may iterate a `HashMap` or read the wall clock.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Write as _;

use policy::{JobObs, Policy, QueueContext, Rescore, ScoreDeps};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::priority::{AgeOnly, Multifactor, Usage};
use super::select::{self, Alloc, MEM_UNLIMITED, NodeCap, Req, Res, Scratch};
use super::{
    Backfill, CancelledPending, JobOutcome, OutcomeKind, SimConfig, SimError, SimResult, SimStats,
};
use crate::cluster::Cluster;
use crate::trace::{Job, Names};

/// "No such time" (unlimited time limit, no cancel time).
pub(super) const NEVER: u64 = u64::MAX;

/// An event in the heap, keyed by `(time, sequence number)` packed into
/// one integer (time in the high half), ordered so that the max-heap pops
/// the smallest key first.
#[derive(Debug, Clone, Copy)]
struct Queued {
    key: u128,
    ev: Event,
}

impl Queued {
    fn new(t: u64, seq: u64, ev: Event) -> Self {
        Queued {
            key: (t as u128) << 64 | seq as u128,
            ev,
        }
    }
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// The tick kinds, one slot each in `Sim::tick_keys`.
const TICKS: [Event; 4] = [
    Event::PriorityTick,
    Event::SchedTick,
    Event::BackfillTick,
    Event::DelayedSched,
];

/// One simulation event. Matched exhaustively by [`Sim::handle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Event {
    /// A job becomes eligible and enters the queue (job index).
    Arrive(u32),
    /// A running job finishes its run time.
    End(u32),
    /// A running job reaches its time limit and is killed.
    Kill(u32),
    /// A job cancelled while pending leaves the queue, if still pending.
    CancelPending(u32),
    /// `PriorityCalcPeriod` tick: rescore every pending job.
    PriorityTick,
    /// `sched_interval` tick: a full main-scheduler pass.
    SchedTick,
    /// `bf_interval` tick: a backfill cycle.
    BackfillTick,
    /// slurmctld's background loop: the main-scheduler pass that a
    /// submission asked for, `batch_sched_delay` after the last one.
    DelayedSched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Future,
    Pending,
    Running,
    Done,
}

/// Per-job constants (computed once) and runtime state.
#[derive(Debug, Clone, Copy)]
pub(super) struct JobC {
    pub req: Req,
    pub part: u16,
    pub state: State,
    pub timeout: bool,
    pub user: u32,
    /// Queue entry time: `max(submit, eligible)`.
    pub entry: u64,
    /// Effective time limit ([`NEVER`] = unlimited).
    pub limit: u64,
    /// How long the job runs once started (`min(run_time, limit)`).
    pub dur: u64,
    /// When a job cancelled while pending leaves the queue ([`NEVER`] = not cancelled).
    pub cancel_at: u64,
    pub qos_factor: f64,
    /// Start time, while running.
    pub start: u64,
    /// Usage accounted up to this time, while running.
    pub accrued: u64,
    /// Allocation slot, while running.
    pub slot: u32,
    /// A CPU-only request on a shared partition of 1-CPU nodes: the
    /// backfill planner's 1-CPU paths apply (`Plan::unit`).
    pub unit: bool,
}

/// A partition, as the scheduler needs it.
#[derive(Debug, Clone)]
pub(super) struct PartC {
    pub nodes: Vec<u32>,
    pub member: Vec<bool>,
    pub tier: u32,
    pub exclusive: bool,
    pub factor: f64,
}

/// What the queue is sorted by.
#[derive(Debug, Clone, Copy)]
struct Key {
    tier: u32,
    score: f64,
    /// The job's priority/multifactor value when it was scored: it breaks
    /// ties in the score, as slurmctld adds a site factor to multifactor.
    mf: f64,
    submit: u64,
    id: u64,
}

/// The simulator.
pub(crate) struct Sim<'a> {
    pub(super) jobs: &'a [Job],
    pub(super) cluster: &'a Cluster,
    policy: &'a mut dyn Policy,
    rescore: Rescore,
    deps: ScoreDeps,
    pub(super) jc: Vec<JobC>,
    pub(super) cap: Vec<NodeCap>,
    pub(super) free: Vec<Res>,
    pub(super) parts: Vec<PartC>,
    node_parts: Vec<Vec<u16>>,
    /// The partitions of every node, when all nodes are in the same ones
    /// (a starting or ending job's CPUs and GPUs are then added to them
    /// once, in total, instead of node by node).
    same_parts: Option<Vec<u16>>,
    pub(super) part_free_cpus: Vec<u64>,
    pub(super) part_free_gpus: Vec<u64>,
    total_free_cpus: u64,
    total_free_gpus: u64,
    total_cpus: u64,
    total_gpus: u64,

    pub(super) now: u64,
    seq: u64,
    heap: BinaryHeap<Queued>,
    /// The keys of the pending ticks, one slot per kind (see
    /// [`TICKS`]; `u128::MAX` = none), kept beside the heap: each kind
    /// has at most one pending (its `*_pending` flag), and the ticks are
    /// most of the events, so a few comparisons replace a heap push and
    /// pop. The queue's next event is the one with the smallest key
    /// among the heap's top and the slots: the order that the heap alone
    /// gave. (A tick whose slot is taken would go to the heap.)
    tick_keys: [u128; 4],
    /// The smallest of `tick_keys` and its slot.
    tick_min: (u128, usize),
    /// Jobs in arrival order (entry time, then input order).
    arrivals: Vec<u32>,
    next_arrival: usize,
    /// Pending jobs, highest priority first.
    pub(super) pending: Vec<u32>,
    /// Sort key per job (tier, score, multifactor, submit, id), kept together so that
    /// ordering touches one cache line per job.
    keys: Vec<Key>,
    /// Running jobs by expected end (start + limit), then job index.
    pub(super) running: Vec<(u64, u32)>,
    pub(super) slots: Vec<Vec<Alloc>>,
    free_slots: Vec<u32>,
    /// Real events (ends, kills, cancels) still in the heap.
    real_events: usize,

    usage: Usage,
    mf: Multifactor,
    /// `mf` as a function of the wait alone, when it is one (fixed for the
    /// run, like the configuration it comes from).
    age_only: Option<AgeOnly>,
    /// `age_only` when the policy's score is the multifactor value
    /// ([`ScoreDeps::Multifactor`]) or fixed at submission
    /// ([`ScoreDeps::Submission`]): then the keys' `mf` (and, for the
    /// former, `score`) is not stored but derived ([`Sim::key`]). Every
    /// pending job was scored at the last rescore (`age_at`) or, arriving
    /// later, at its entry with a wait of 0; either way its priority is
    /// `age.priority(age_at.saturating_sub(entry))`. A score fixed at
    /// submission stays as stored.
    lazy_age: Option<AgeOnly>,
    /// With `lazy_age`: the time of the last [`Sim::rescore_all`].
    age_at: u64,
    /// With `lazy_age`: every neighbouring pair `(a, b)` of `pending`
    /// passes [`Sim::entry_before`] (a higher tier, or the same tier, for a
    /// score fixed at submission a higher score, or else an equal one, an
    /// entry no later and a lower `(submit, id, index)`). The priority
    /// falls as the entry time rises, so such a queue is in priority
    /// order whatever the time of the rescore: a rescore need not look
    /// at it. Removals keep the property; an arrival checks its two new
    /// pairs; a sort recomputes it.
    entry_order: bool,
    /// Whether anything reads the usage: the fairshare factor has weight
    /// 0 with `age_only`, and a policy that declares its [`ScoreDeps`]
    /// does not read the factor, so then running jobs' usage need not be
    /// accrued at each priority recalculation.
    usage_read: bool,
    #[expect(
        dead_code,
        reason = "the one seeded RNG of the simulation; no current decision is random"
    )]
    rng: ChaCha8Rng,

    // Dirty flags and tick bookkeeping.
    changed_main: bool,
    pub(super) bf_dirty: bool,
    triggered: bool,
    prio_due: bool,
    sched_due: bool,
    bf_due: bool,
    prio_tick_pending: bool,
    sched_tick_pending: bool,
    bf_tick_pending: bool,
    /// Time of the last fairshare recalculation (priority tick).
    last_recalc: u64,
    /// A submission is waiting for the background loop's main pass
    /// (slurmctld's `job_sched_cnt` > 0).
    arrival_sched: bool,
    delayed_pending: bool,
    delayed_due: bool,
    /// Time of the last delayed (submission-driven) main pass.
    last_delayed_pass: u64,

    last_sched_pass: u64,
    last_bf_cycle: u64,
    pub(super) backfill: bool,

    pub(super) outcomes: Vec<JobOutcome>,
    record: bool,
    events: Vec<String>,
    pub(super) stats: SimStats,

    // Scratch.
    obs: Vec<JobObs>,
    obs_jobs: Vec<u32>,
    out: Vec<f64>,
    pub(super) alloc_buf: Vec<Alloc>,
    pub(super) scratch: Scratch,
    blocked: Vec<bool>,
    pub(super) bf: super::backfill::Plan,
}

pub(super) fn round_up(t: u64, res: u64) -> u64 {
    if t == NEVER {
        NEVER
    } else {
        t.div_ceil(res).saturating_mul(res)
    }
}

/// The first multiple of `interval` at or after `t` (strictly after when `strict`).
fn next_grid(t: u64, interval: u64, strict: bool) -> u64 {
    let g = round_up(t, interval);
    if strict && g == t { t + interval } else { g }
}

impl<'a> Sim<'a> {
    pub(crate) fn new(
        jobs: &'a [Job],
        names: &Names,
        cluster: &'a Cluster,
        policy: &'a mut dyn Policy,
        cfg: &SimConfig,
    ) -> Result<Self, SimError> {
        if cluster.nodes.is_empty() {
            return Err(SimError::Cluster("the cluster has no nodes".into()));
        }
        if cluster.partitions.is_empty() {
            return Err(SimError::Cluster("the cluster has no partitions".into()));
        }
        if cluster.partitions.len() > u16::MAX as usize {
            return Err(SimError::Cluster("more than 65535 partitions".into()));
        }
        // GPU types: 1-based ids over the node types, in first-seen order.
        let mut gtypes: Vec<&str> = Vec::new();
        let mut cap = Vec::with_capacity(cluster.nodes.len());
        for n in &cluster.nodes {
            let gtype = if n.gpu_type.is_empty() {
                0
            } else if let Some(i) = gtypes.iter().position(|g| *g == n.gpu_type) {
                i as u32 + 1
            } else {
                gtypes.push(&n.gpu_type);
                gtypes.len() as u32
            };
            cap.push(NodeCap {
                res: Res {
                    cpus: n.cpus,
                    gpus: n.gpus,
                    mem: if n.mem_mb == 0 {
                        MEM_UNLIMITED
                    } else {
                        n.mem_mb
                    },
                },
                gtype,
            });
        }
        let max_job_factor = cluster
            .partitions
            .iter()
            .map(|p| p.priority_job_factor)
            .max()
            .unwrap_or(0);
        let mut parts = Vec::with_capacity(cluster.partitions.len());
        let mut node_parts = vec![Vec::new(); cluster.nodes.len()];
        for (pi, p) in cluster.partitions.iter().enumerate() {
            let mut member = vec![false; cluster.nodes.len()];
            for &n in &p.nodes {
                if n as usize >= cluster.nodes.len() {
                    return Err(SimError::Cluster(format!(
                        "partition {} names node index {n}, but the cluster has {} nodes",
                        p.name,
                        cluster.nodes.len()
                    )));
                }
                if !member[n as usize] {
                    member[n as usize] = true;
                    node_parts[n as usize].push(pi as u16);
                }
            }
            let mut nodes = p.nodes.clone();
            nodes.sort_unstable();
            nodes.dedup();
            parts.push(PartC {
                nodes,
                member,
                tier: p.priority_tier,
                exclusive: p.exclusive,
                factor: if max_job_factor == 0 {
                    0.0
                } else {
                    p.priority_job_factor as f64 / max_job_factor as f64
                },
            });
        }
        let free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        let part_free_cpus: Vec<u64> = parts
            .iter()
            .map(|p| {
                p.nodes
                    .iter()
                    .map(|&n| cap[n as usize].res.cpus as u64)
                    .sum()
            })
            .collect();
        let part_free_gpus: Vec<u64> = parts
            .iter()
            .map(|p| {
                p.nodes
                    .iter()
                    .map(|&n| cap[n as usize].res.gpus as u64)
                    .sum()
            })
            .collect();
        let total_cpus = cluster.total_cpus();
        let total_gpus = cluster.total_gpus();
        let max_qos = cluster
            .priority
            .qos_priority
            .values()
            .copied()
            .max()
            .unwrap_or(0);
        let default_part = cluster.default_partition().unwrap_or(0);

        let n_slots = names
            .users
            .len()
            .max(jobs.iter().map(|j| j.user as usize + 1).max().unwrap_or(1));
        let mut seen = vec![false; n_slots];
        jobs.iter().for_each(|j| seen[j.user as usize] = true);
        let n_users = seen.iter().filter(|&&b| b).count();
        let origin = jobs.iter().map(|j| j.submit).min().unwrap_or(0);
        let mf = Multifactor {
            cfg: cluster.priority.clone(),
            total_cpus: total_cpus as f64,
        };
        let deps = policy.score_deps();
        let age_only = mf.age_only();
        let same_parts = node_parts
            .split_first()
            .filter(|(a, rest)| rest.iter().all(|b| b == *a))
            .map(|(a, _)| a.clone());
        let mut sim = Sim {
            jobs,
            cluster,
            rescore: policy.rescore(),
            deps,
            policy,
            jc: Vec::with_capacity(jobs.len()),
            cap,
            free,
            parts,
            node_parts,
            same_parts,
            part_free_cpus,
            part_free_gpus,
            total_free_cpus: total_cpus,
            total_free_gpus: total_gpus,
            total_cpus,
            total_gpus,
            now: 0,
            seq: 0,
            heap: BinaryHeap::new(),
            tick_keys: [u128::MAX; 4],
            tick_min: (u128::MAX, 0),
            arrivals: Vec::new(),
            next_arrival: 0,
            pending: Vec::new(),
            keys: jobs
                .iter()
                .map(|j| Key {
                    tier: 0,
                    score: 0.0,
                    mf: 0.0,
                    submit: j.submit,
                    id: j.id,
                })
                .collect(),
            running: Vec::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            real_events: 0,
            usage: Usage::new(n_slots, n_users, cluster.priority.decay_half_life, origin),
            age_only,
            lazy_age: age_only
                .filter(|_| matches!(deps, ScoreDeps::Multifactor | ScoreDeps::Submission)),
            age_at: 0,
            entry_order: true,
            usage_read: age_only.is_none() || deps == ScoreDeps::Any,
            mf,
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            changed_main: false,
            bf_dirty: false,
            triggered: false,
            prio_due: false,
            sched_due: false,
            bf_due: false,
            prio_tick_pending: false,
            sched_tick_pending: false,
            bf_tick_pending: false,
            last_recalc: 0,
            arrival_sched: false,
            delayed_pending: false,
            delayed_due: false,
            last_delayed_pass: NEVER,
            last_sched_pass: NEVER,
            last_bf_cycle: NEVER,
            backfill: cfg.backfill == Backfill::Slurm && cluster.sched.backfill,
            outcomes: Vec::with_capacity(jobs.len()),
            record: cfg.record_events,
            events: Vec::new(),
            stats: SimStats::default(),
            obs: Vec::new(),
            obs_jobs: Vec::new(),
            out: Vec::new(),
            alloc_buf: Vec::new(),
            scratch: Scratch::default(),
            blocked: Vec::new(),
            bf: Default::default(),
        };
        sim.blocked = vec![false; sim.parts.len()];
        if sim.rescore == Rescore::SubmitAndPeriod && cluster.priority.calc_period > 0 {
            // Fairshare factors change only at priority recalculations, as
            // in slurmctld.
            sim.usage.use_snapshots();
        }
        let members: Vec<&[bool]> = sim.parts.iter().map(|p| &p.member[..]).collect();
        // Partitions of 1-CPU nodes without GPUs: a node is free or not.
        let unit: Vec<bool> = sim
            .parts
            .iter()
            .map(|p| {
                p.nodes.iter().all(|&n| {
                    let r = sim.cap[n as usize].res;
                    r.cpus == 1 && r.gpus == 0
                })
            })
            .collect();
        sim.bf = super::backfill::Plan::new(sim.cap.len(), &members, unit);
        for (n, c) in sim.cap.iter().enumerate() {
            sim.bf.set_free(n as u32, c.res.cpus > 0);
        }

        // Per-job constants; rejected jobs get their outcome now.
        for (i, j) in jobs.iter().enumerate() {
            if i > u32::MAX as usize - 1 {
                return Err(SimError::Job {
                    id: j.id,
                    message: "more than 2^32 jobs".into(),
                });
            }
            let entry = j.submit.max(j.eligible);
            let pname = names.partitions.name(j.partition);
            let part = if pname.is_empty() {
                Some(default_part)
            } else {
                cluster.partition(pname)
            };
            let gtype = if j.gpu_type == 0 || j.gpus == 0 {
                Some(0)
            } else {
                let name = names.gpu_types.name(j.gpu_type);
                gtypes.iter().position(|g| *g == name).map(|p| p as u32 + 1)
            };
            let cancelled = j.cancelled_pending();
            let mut c = JobC {
                req: Req {
                    cpus: j.cpus.max(j.nodes).max(1),
                    gpus: j.gpus,
                    mem: j.mem_mb,
                    nodes: j.nodes,
                    gtype: gtype.unwrap_or(0),
                },
                part: part.unwrap_or(0) as u16,
                state: State::Future,
                timeout: false,
                user: j.user,
                entry,
                limit: NEVER,
                dur: 0,
                cancel_at: NEVER,
                qos_factor: 0.0,
                start: 0,
                accrued: 0,
                slot: u32::MAX,
                unit: false,
            };
            let reject = |sim: &mut Sim, c: JobC, why: &str| {
                sim.jc.push(JobC {
                    state: State::Done,
                    ..c
                });
                sim.outcomes.push(JobOutcome {
                    start: None,
                    end: j.submit,
                    kind: OutcomeKind::Rejected,
                    backfilled: false,
                });
                if sim.record {
                    sim.events
                        .push(format!("t={} reject job={} reason={why}", j.submit, j.id));
                }
            };
            let Some(pi) = part else {
                reject(&mut sim, c, "unknown-partition");
                continue;
            };
            if gtype.is_none() {
                reject(&mut sim, c, "unknown-gpu-type");
                continue;
            }
            if cancelled && cfg.cancelled_pending == CancelledPending::Drop {
                reject(&mut sim, c, "cancelled-pending-dropped");
                continue;
            }
            let p = &cluster.partitions[pi];
            let mut limit = j
                .time_limit
                .or(p.default_time)
                .or(p.max_time)
                .unwrap_or(NEVER);
            if let Some(m) = p.max_time {
                limit = limit.min(m);
            }
            c.limit = limit.max(1);
            let run = if cancelled {
                j.run_time.max(1)
            } else {
                j.run_time
            };
            c.dur = run.min(c.limit);
            c.unit = sim.bf.unit(pi) && !sim.parts[pi].exclusive && c.req.cpu_only();
            // Slurm kills a job at its limit, so accounting records a
            // killed job with run time == limit and state TIMEOUT.
            c.timeout =
                run > c.limit || (run == c.limit && j.state == crate::trace::JobState::Timeout);
            if cancelled {
                c.cancel_at = j.end.unwrap_or(entry).max(entry);
            }
            let qname = cluster_qos_name(names, j);
            c.qos_factor = if max_qos == 0 {
                0.0
            } else {
                cluster
                    .priority
                    .qos_priority
                    .get(qname)
                    .copied()
                    .unwrap_or(0) as f64
                    / max_qos as f64
            };
            // Can it ever fit its partition (everything idle)? A CPU-only
            // request for any node count on a shared partition fits when
            // the partition has the CPUs (select's own rule).
            let part_c = &sim.parts[pi];
            let cpus_only = !part_c.exclusive && c.req.cpu_only();
            let fits = if cpus_only {
                sim.part_free_cpus[pi] >= c.req.cpus as u64
            } else {
                select::select(
                    &c.req,
                    &part_c.nodes,
                    &sim.cap,
                    &sim.free,
                    part_c.exclusive,
                    &|_| true,
                    &mut sim.scratch,
                    None,
                )
            };
            if !fits {
                reject(&mut sim, c, "too-large");
                continue;
            }
            sim.keys[i].tier = sim.parts[pi].tier;
            sim.jc.push(c);
            sim.outcomes.push(JobOutcome {
                start: None,
                end: 0,
                kind: OutcomeKind::Completed,
                backfilled: false,
            });
            sim.arrivals.push(i as u32);
        }
        let jc = &sim.jc;
        sim.arrivals.sort_by_key(|&i| (jc[i as usize].entry, i));
        Ok(sim)
    }

    /// Runs the simulation to the end.
    pub(crate) fn run(mut self) -> Result<SimResult, SimError> {
        loop {
            let ta = self
                .arrivals
                .get(self.next_arrival)
                .map(|&j| self.jc[j as usize].entry);
            let th = self.next_key().map(|(k, _)| (k >> 64) as u64);
            let t = match (ta, th) {
                (None, None) => break,
                (Some(a), None) => a,
                (None, Some(h)) => h,
                (Some(a), Some(h)) => a.min(h),
            };
            debug_assert!(t >= self.now);
            self.now = t;
            // Every event of this second, arrivals first (smallest sequence numbers).
            loop {
                if let Some(&j) = self.arrivals.get(self.next_arrival)
                    && self.jc[j as usize].entry == t
                {
                    self.next_arrival += 1;
                    self.handle(Event::Arrive(j));
                    continue;
                }
                if let Some((k, slot)) = self.next_key()
                    && (k >> 64) as u64 == t
                {
                    let ev = match slot {
                        Some(i) => self.take_tick(i),
                        None => self.heap.pop().expect("peeked").ev,
                    };
                    self.handle(ev);
                    continue;
                }
                break;
            }
            self.end_of_second();
            if self.pending.is_empty() || !self.running.is_empty() || self.real_events > 0 {
                continue;
            }
            if self.next_arrival == self.arrivals.len() && !self.changed_main && !self.bf_dirty {
                return Err(SimError::Cluster(format!(
                    "deadlock at t={}: {} jobs pending, none running and none can start",
                    self.now,
                    self.pending.len()
                )));
            }
        }
        Ok(SimResult {
            outcomes: self.outcomes,
            events: self.events,
            stats: self.stats,
        })
    }

    fn push(&mut self, t: u64, ev: Event) {
        self.seq += 1;
        let q = Queued::new(t, self.seq, ev);
        if let Some(i) = TICKS.iter().position(|&x| x == ev)
            && self.tick_keys[i] == u128::MAX
        {
            self.tick_keys[i] = q.key;
            if q.key < self.tick_min.0 {
                self.tick_min = (q.key, i);
            }
        } else {
            self.heap.push(q);
        }
    }

    /// Takes the tick in slot `i` out of the queue.
    fn take_tick(&mut self, i: usize) -> Event {
        self.tick_keys[i] = u128::MAX;
        // The smallest key, in pairs (keys other than `u128::MAX` differ
        // in their sequence numbers; with none, slot 0).
        let k = &self.tick_keys;
        let a = if k[1] < k[0] { (k[1], 1) } else { (k[0], 0) };
        let b = if k[3] < k[2] { (k[3], 3) } else { (k[2], 2) };
        self.tick_min = if b.0 < a.0 { b } else { a };
        TICKS[i]
    }

    /// The key of the queue's next event, and its tick slot (`None` = the
    /// heap's top).
    #[inline]
    fn next_key(&self) -> Option<(u128, Option<usize>)> {
        let mut best = (self.tick_min.0, Some(self.tick_min.1));
        if let Some(q) = self.heap.peek()
            && q.key < best.0
        {
            best = (q.key, None);
        }
        (best.0 != u128::MAX).then_some(best)
    }

    fn log(&mut self, f: impl FnOnce(&mut String)) {
        if self.record {
            let mut s = String::new();
            let _ = write!(s, "t={} ", self.now);
            f(&mut s);
            self.events.push(s);
        }
    }

    /// The event handlers: the only place where events change state.
    fn handle(&mut self, ev: Event) {
        self.stats.events += 1;
        match ev {
            Event::Arrive(j) => self.arrive(j),
            Event::End(j) | Event::Kill(j) => {
                self.real_events -= 1;
                self.finish_job(j);
            }
            Event::CancelPending(j) => {
                self.real_events -= 1;
                let c = &mut self.jc[j as usize];
                if c.state == State::Pending {
                    c.state = State::Done;
                    self.outcomes[j as usize] = JobOutcome {
                        start: None,
                        end: self.now,
                        kind: OutcomeKind::Cancelled,
                        backfilled: false,
                    };
                    let pos = self
                        .pending
                        .iter()
                        .position(|&x| x == j)
                        .expect("pending job is queued");
                    self.pending.remove(pos);
                    let id = self.jobs[j as usize].id;
                    self.log(|s| {
                        let _ = write!(s, "cancel job={id}");
                    });
                    self.mark_change();
                }
            }
            Event::PriorityTick => {
                self.prio_tick_pending = false;
                self.prio_due = true;
            }
            Event::SchedTick => {
                self.sched_tick_pending = false;
                self.sched_due = true;
            }
            Event::BackfillTick => {
                self.bf_tick_pending = false;
                self.bf_due = true;
            }
            Event::DelayedSched => {
                self.delayed_pending = false;
                if self.arrival_sched {
                    self.delayed_due = true;
                }
            }
        }
    }

    fn arrive(&mut self, j: u32) {
        let id = self.jobs[j as usize].id;
        self.log(|s| {
            let _ = write!(s, "submit job={id}");
        });
        let c = &mut self.jc[j as usize];
        c.state = State::Pending;
        let cancel_at = c.cancel_at;
        if cancel_at != NEVER {
            self.real_events += 1;
            self.push(cancel_at, Event::CancelPending(j));
        }
        // slurmctld recalculates every PriorityCalcPeriod even with an empty
        // queue; the simulator skips those ticks, so catch up on arrival.
        let period = self.cluster.priority.calc_period;
        if self.rescore == Rescore::SubmitAndPeriod
            && period > 0
            && self.now / period > self.last_recalc / period
            && !self.prio_tick_pending
        {
            self.recalc_fairshare();
        }
        // Score at submit, then insert in priority order. A score that is
        // the derived priority (`lazy_age` with the multifactor score) is
        // never read as stored: the policy is not asked for it (debug
        // builds ask and compare), and the key stores the derived value,
        // which is what it would return.
        let derived = self.lazy_age.is_some() && self.deps == ScoreDeps::Multifactor;
        if !derived || cfg!(debug_assertions) {
            self.obs_jobs.clear();
            self.obs_jobs.push(j);
            self.score_obs_jobs(false);
            #[cfg(debug_assertions)]
            if self.lazy_age.is_some() {
                // The key stored at submission is the derived one.
                let (k, d) = (self.keys[j as usize], self.key(j));
                debug_assert_eq!(
                    (k.score.to_bits(), k.mf.to_bits()),
                    (d.score.to_bits(), d.mf.to_bits())
                );
            }
        }
        if derived {
            let d = self.key(j);
            let k = &mut self.keys[j as usize];
            (k.score, k.mf) = (d.score, d.mf);
        }
        // The queue is in priority order; a new job mostly goes last (its
        // wait is the shortest), which one comparison with the last job
        // shows (then every job is before it).
        let pos = match self.pending.last() {
            Some(&l) if self.cmp_jobs(l, j) == Ordering::Less => self.pending.len(),
            _ => {
                let n = self.pending.len().saturating_sub(1);
                self.pending[..n].partition_point(|&x| self.cmp_jobs(x, j) == Ordering::Less)
            }
        };
        debug_assert_eq!(
            pos,
            self.pending
                .partition_point(|&x| self.cmp_jobs(x, j) == Ordering::Less)
        );
        self.pending.insert(pos, j);
        if self.lazy_age.is_some() && self.entry_order {
            let p = &self.pending;
            self.entry_order = (pos == 0 || self.entry_before(p[pos - 1], j))
                && p.get(pos + 1).is_none_or(|&b| self.entry_before(j, b));
        }
        self.mark_arrival();
        if self.rescore == Rescore::SubmitAndPeriod
            && !self.prio_tick_pending
            && self.cluster.priority.calc_period > 0
        {
            self.prio_tick_pending = true;
            let t = next_grid(self.now, self.cluster.priority.calc_period, true);
            self.push(t, Event::PriorityTick);
        }
    }

    /// Something changed that may let a job start: an arrival, an end, a
    /// cancel or a new priority order.
    fn mark_change(&mut self) {
        self.changed_main = true;
        self.triggered = true;
        let interval = self.cluster.sched.sched_interval.max(1);
        if !self.sched_tick_pending {
            self.sched_tick_pending = true;
            let t = next_grid(self.now, interval, self.last_sched_pass == self.now);
            self.push(t, Event::SchedTick);
        }
        self.mark_bf_dirty();
    }

    /// A submission: like [`Self::mark_change`], but the main scheduler
    /// is not run at once. slurmctld's submit RPC only asks for a pass
    /// (`queue_job_scheduler`); its background loop runs it when
    /// `batch_sched_delay` has passed since its last pass, periodic or
    /// delayed (the periodic pass, every `sched_interval`, also serves it).
    fn mark_arrival(&mut self) {
        self.changed_main = true;
        let si = self.cluster.sched.sched_interval.max(1);
        if !self.sched_tick_pending {
            self.sched_tick_pending = true;
            let t = next_grid(self.now, si, self.last_sched_pass == self.now);
            self.push(t, Event::SchedTick);
        }
        self.mark_bf_dirty();
        self.arrival_sched = true;
        if !self.delayed_pending {
            let periodic = self.now / si * si;
            let last = if self.last_delayed_pass == NEVER {
                periodic
            } else {
                periodic.max(self.last_delayed_pass)
            };
            let t = last
                .saturating_add(self.cluster.sched.batch_sched_delay)
                .max(self.now);
            if next_grid(self.now, si, self.last_sched_pass == self.now) > t {
                self.delayed_pending = true;
                self.push(t, Event::DelayedSched);
            }
        }
    }

    pub(super) fn mark_bf_dirty(&mut self) {
        self.bf_dirty = true;
        if self.backfill && !self.bf_tick_pending {
            self.bf_tick_pending = true;
            let interval = self.cluster.sched.bf_interval.max(1);
            let t = next_grid(self.now, interval, self.last_bf_cycle == self.now);
            self.push(t, Event::BackfillTick);
        }
    }

    /// The passes due at the end of a second: priorities, main scheduler, backfill.
    fn end_of_second(&mut self) {
        if self.prio_due {
            self.prio_due = false;
            self.recalc_fairshare();
            if !self.pending.is_empty() {
                self.rescore_all();
                if !self.prio_tick_pending {
                    self.prio_tick_pending = true;
                    let t = self.now + self.cluster.priority.calc_period;
                    self.push(t, Event::PriorityTick);
                }
            }
        }
        if self.sched_due {
            self.sched_due = false;
            self.triggered = false;
            self.arrival_sched = false;
            self.delayed_due = false;
            self.last_sched_pass = self.now;
            if self.changed_main {
                self.main_pass(true);
            }
        } else if self.triggered || self.delayed_due {
            if self.delayed_due {
                self.delayed_due = false;
                self.arrival_sched = false;
                self.last_delayed_pass = self.now;
            }
            self.triggered = false;
            self.main_pass(false);
        }
        if self.bf_due {
            self.bf_due = false;
            self.last_bf_cycle = self.now;
            if self.bf_dirty && self.backfill {
                self.bf_dirty = false;
                if self.rescore == Rescore::EveryPass {
                    self.rescore_all();
                }
                self.backfill_cycle();
            }
        }
    }

    /// Priority order: partition tier desc, score desc, multifactor desc,
    /// submit asc, id asc.
    pub(super) fn cmp_jobs(&self, a: u32, b: u32) -> Ordering {
        if self.lazy_age.is_some() {
            return cmp_keys((&self.key(a), a), (&self.key(b), b));
        }
        cmp_keys((&self.keys[a as usize], a), (&self.keys[b as usize], b))
    }

    /// Job `j`'s sort key, with the derived priority under `lazy_age`.
    fn key(&self, j: u32) -> Key {
        let mut k = self.keys[j as usize];
        if let Some(age) = self.lazy_age {
            let p = age.priority(self.age_at.saturating_sub(self.jc[j as usize].entry));
            if self.deps == ScoreDeps::Multifactor {
                k.score = p;
            }
            k.mf = p;
        }
        k
    }

    /// Whether job `a` may come just before `b` in a queue in entry order
    /// (see `Sim::entry_order`).
    fn entry_before(&self, a: u32, b: u32) -> bool {
        let (ka, kb) = (&self.keys[a as usize], &self.keys[b as usize]);
        // A score fixed at submission orders the pair before the priority
        // does; a derived one (the priority itself) is left to the entry.
        let score = if self.deps == ScoreDeps::Submission {
            kb.score.total_cmp(&ka.score)
        } else {
            Ordering::Equal
        };
        ka.tier > kb.tier
            || (ka.tier == kb.tier
                && (score == Ordering::Less
                    || (score == Ordering::Equal
                        && self.jc[a as usize].entry <= self.jc[b as usize].entry
                        && (ka.submit, ka.id, a) < (kb.submit, kb.id, b))))
    }

    /// A priority recalculation's fairshare step: running jobs' usage up to
    /// now, then the snapshot that factors come from until the next one.
    fn recalc_fairshare(&mut self) {
        if self.usage_read {
            self.accrue_usage();
            self.usage.recalc();
        }
        self.last_recalc = self.now;
    }

    /// Accounts running jobs' CPU-seconds up to now.
    fn accrue_usage(&mut self) {
        let now = self.now;
        let mut at = self.usage.at(now);
        for &(_, j) in &self.running {
            let c = &mut self.jc[j as usize];
            if now > c.accrued {
                at.add(c.user, c.req.cpus as f64 * (now - c.accrued) as f64);
                c.accrued = now;
            }
        }
    }

    fn context(&self) -> QueueContext {
        QueueContext {
            now: self.now,
            free_cpus: self.total_free_cpus,
            total_cpus: self.total_cpus,
            free_gpus: self.total_free_gpus,
            total_gpus: self.total_gpus,
            queue_len: self.pending.len() as u32,
            running: self.running.len() as u32,
        }
    }

    /// Scores the jobs in `obs_jobs` and stores their scores.
    fn score_obs_jobs(&mut self, accrue: bool) {
        if accrue {
            self.accrue_usage();
        }
        let ctx = self.context();
        self.obs.clear();
        for k in 0..self.obs_jobs.len() {
            let j = self.obs_jobs[k];
            let o = self.observe(j);
            self.obs.push(o);
        }
        self.out.clear();
        self.out.resize(self.obs.len(), 0.0);
        self.policy.score(&ctx, &self.obs, &mut self.out);
        for (k, &j) in self.obs_jobs.iter().enumerate() {
            let s = self.out[k];
            let key = &mut self.keys[j as usize];
            key.score = if s.is_nan() { f64::NEG_INFINITY } else { s };
            key.mf = self.obs[k].multifactor;
        }
    }

    fn observe(&mut self, j: u32) -> JobObs {
        let c = &self.jc[j as usize];
        // CPU-only requests for any node count on a shared partition fit
        // exactly when the aggregate does (as in `fits_now`).
        let fits_now = if c.req.cpu_only() && !self.parts[c.part as usize].exclusive {
            self.agg_fits(j)
        } else {
            self.fits_now(j)
        };
        let c = &self.jc[j as usize];
        let job = &self.jobs[j as usize];
        let wait = self.now.saturating_sub(c.entry);
        let fairshare = self.usage.factor(c.user);
        let part = &self.parts[c.part as usize];
        let (tier, pf) = (part.tier, part.factor);
        JobObs {
            id: job.id,
            submit: job.submit,
            wait,
            time_limit: c.limit,
            nodes: c.req.nodes,
            cpus: c.req.cpus,
            mem_mb: c.req.mem,
            gpus: c.req.gpus,
            fits_now,
            partition_tier: tier,
            qos: c.qos_factor,
            fairshare,
            multifactor: self.mf.priority(
                wait,
                c.req.cpus,
                pf,
                c.qos_factor,
                fairshare,
                job.submit,
            ),
        }
    }

    /// Rescores every pending job and restores the priority order.
    fn rescore_all(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let sorted = if self.lazy_age.is_some() {
            self.age_at = self.now;
            let sorted = || {
                self.pending
                    .windows(2)
                    .all(|w| self.cmp_jobs(w[0], w[1]) == Ordering::Less)
            };
            debug_assert!(!self.entry_order || sorted());
            self.entry_order || sorted()
        } else if self.deps == ScoreDeps::Any {
            self.obs_jobs.clear();
            self.obs_jobs.extend_from_slice(&self.pending);
            self.score_obs_jobs(true);
            self.pending
                .windows(2)
                .all(|w| self.cmp_jobs(w[0], w[1]) == Ordering::Less)
        } else {
            self.rescore_without_policy()
        };
        if !sorted {
            let mut p = std::mem::take(&mut self.pending);
            p.sort_unstable_by(|&a, &b| self.cmp_jobs(a, b));
            self.pending = p;
            if self.lazy_age.is_some() {
                let p = &self.pending;
                self.entry_order = p.windows(2).all(|w| self.entry_before(w[0], w[1]));
            }
            self.mark_change();
            self.triggered = false;
        }
    }

    /// [`Sim::rescore_all`]'s scoring for a policy whose scores need no
    /// observation ([`ScoreDeps`]): the multifactor value of every pending
    /// job is computed as [`Sim::observe`] does, and becomes the score too
    /// under [`ScoreDeps::Multifactor`]; under [`ScoreDeps::Submission`]
    /// the score from submission stands. The policy is not called, which
    /// leaves every key exactly as calling it would. Returns whether the
    /// queue is still in priority order.
    fn rescore_without_policy(&mut self) -> bool {
        if self.usage_read {
            self.accrue_usage();
        }
        let now = self.now;
        let as_score = self.deps == ScoreDeps::Multifactor;
        if let Some(age) = self.age_only {
            return self.rescore_age_only(age, as_score);
        }
        // With a zero fairshare weight (or priority/basic) the factor only
        // ever meets a zero weight, where any value in [0, 1] gives the
        // same priority (see `Multifactor::priority`): it is not looked up.
        let fairshare = self.mf.cfg.multifactor && self.mf.cfg.weight_fairshare != 0;
        let mut sorted = true;
        let mut prev: Option<(Key, u32)> = None;
        for &j in &self.pending {
            let c = &self.jc[j as usize];
            let part = &self.parts[c.part as usize];
            let wait = now.saturating_sub(c.entry);
            let mf = self.mf.priority(
                wait,
                c.req.cpus,
                part.factor,
                c.qos_factor,
                if fairshare {
                    self.usage.factor(c.user)
                } else {
                    1.0
                },
                self.keys[j as usize].submit,
            );
            let key = &mut self.keys[j as usize];
            key.mf = mf;
            if as_score {
                key.score = if mf.is_nan() { f64::NEG_INFINITY } else { mf };
            }
            let key = (*key, j);
            if let Some(p) = prev {
                sorted &= cmp_keys((&p.0, p.1), (&key.0, key.1)) == Ordering::Less;
            }
            prev = Some(key);
        }
        sorted
    }

    /// [`Sim::rescore_without_policy`]'s loop when the priority depends on
    /// the wait alone ([`AgeOnly`]): the same keys from the same priority
    /// bits (never NaN, so the score is the priority itself), with the
    /// formula's constants converted once instead of per job.
    fn rescore_age_only(&mut self, age: AgeOnly, as_score: bool) -> bool {
        let now = self.now;
        let mut sorted = true;
        let mut prev: Option<u32> = None;
        for &j in &self.pending {
            let c = &self.jc[j as usize];
            let wait = now.saturating_sub(c.entry);
            let mf = age.priority(wait);
            // The general formula, as the loop above would compute it (the
            // fairshare factor meets a zero weight).
            debug_assert_eq!(
                mf.to_bits(),
                self.mf
                    .priority(
                        wait,
                        c.req.cpus,
                        self.parts[c.part as usize].factor,
                        c.qos_factor,
                        1.0,
                        self.keys[j as usize].submit,
                    )
                    .to_bits()
            );
            let key = &mut self.keys[j as usize];
            key.mf = mf;
            if as_score {
                key.score = mf;
            }
            if let Some(p) = prev {
                let (kp, kj) = (&self.keys[p as usize], &self.keys[j as usize]);
                sorted &= cmp_keys((kp, p), (kj, j)) == Ordering::Less;
            }
            prev = Some(j);
        }
        sorted
    }

    /// Aggregate check: enough free CPUs and GPUs in the job's partition.
    #[inline]
    pub(super) fn agg_fits(&self, j: u32) -> bool {
        let c = &self.jc[j as usize];
        self.part_free_cpus[c.part as usize] >= c.req.cpus as u64
            && self.part_free_gpus[c.part as usize] >= c.req.gpus as u64
    }

    /// Whether job `j` could start now on the idle resources.
    pub(super) fn fits_now(&mut self, j: u32) -> bool {
        if !self.agg_fits(j) {
            return false;
        }
        let c = &self.jc[j as usize];
        let part = &self.parts[c.part as usize];
        if !part.exclusive && c.req.cpu_only() {
            return true; // CPUs only, any node count: the aggregate is exact.
        }
        select::select(
            &c.req,
            &part.nodes,
            &self.cap,
            &self.free,
            part.exclusive,
            &|_| true,
            &mut self.scratch,
            None,
        )
    }

    /// One main-scheduler pass; `full` = periodic (whole queue), else
    /// event-triggered (`default_queue_depth` jobs).
    fn main_pass(&mut self, full: bool) {
        if self.pending.is_empty() {
            self.changed_main = false;
            return;
        }
        self.stats.main_passes += 1;
        if self.rescore == Rescore::EveryPass {
            self.rescore_all();
        }
        let depth = if full {
            usize::MAX
        } else {
            self.cluster.sched.default_queue_depth.max(1) as usize
        };
        self.blocked.iter_mut().for_each(|b| *b = false);
        let mut n_blocked = 0;
        let mut examined = 0;
        let mut started = false;
        let mut covered = true;
        for i in 0..self.pending.len() {
            if self.total_free_cpus == 0 || n_blocked == self.parts.len() {
                break;
            }
            if examined >= depth {
                covered = false;
                break;
            }
            let j = self.pending[i];
            let p = self.jc[j as usize].part as usize;
            if self.blocked[p] {
                continue;
            }
            examined += 1;
            if self.fits_now(j) {
                let c = self.jc[j as usize];
                let part = &self.parts[p];
                if self.bf.unit(p) && c.req.cpu_only() {
                    // 1-CPU nodes, CPUs only: select() takes the lowest
                    // free nodes, one CPU each (all candidates are equal).
                    self.bf.lowest_free(p, c.req.cpus, &mut self.alloc_buf);
                    debug_assert_eq!(self.alloc_buf.len(), c.req.cpus as usize);
                    self.start_job(j, false);
                    started = true;
                    continue;
                }
                let ok = select::select(
                    &c.req,
                    &part.nodes,
                    &self.cap,
                    &self.free,
                    part.exclusive,
                    &|_| true,
                    &mut self.scratch,
                    Some(&mut self.alloc_buf),
                );
                debug_assert!(ok);
                self.start_job(j, false);
                started = true;
            } else {
                self.blocked[p] = true;
                n_blocked += 1;
            }
        }
        if started {
            let jc = &self.jc;
            self.pending
                .retain(|&j| jc[j as usize].state == State::Pending);
        }
        if full || covered {
            self.changed_main = false;
        }
    }

    /// Starts job `j` on the allocation in `alloc_buf`.
    pub(super) fn start_job(&mut self, j: u32, backfilled: bool) {
        let slot = match self.free_slots.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Vec::new());
                (self.slots.len() - 1) as u32
            }
        };
        let mut buf = std::mem::take(&mut self.slots[slot as usize]);
        buf.clear();
        buf.extend_from_slice(&self.alloc_buf);
        self.move_allocs::<true>(&buf);
        self.bf.set_slot_bits(slot, &buf);
        self.slots[slot as usize] = buf;
        let now = self.now;
        let c = &mut self.jc[j as usize];
        c.state = State::Running;
        c.start = now;
        c.accrued = now;
        c.slot = slot;
        let (dur, limit, timeout) = (c.dur, c.limit, c.timeout);
        let exp_end = now.saturating_add(limit);
        let pos = self.running.partition_point(|&x| x < (exp_end, j));
        self.running.insert(pos, (exp_end, j));
        self.outcomes[j as usize].start = Some(now);
        self.outcomes[j as usize].backfilled = backfilled;
        self.real_events += 1;
        if timeout {
            self.push(now + limit, Event::Kill(j));
        } else {
            self.push(now + dur, Event::End(j));
        }
        if self.record {
            let id = self.jobs[j as usize].id;
            let nodes = &self.cluster.nodes;
            let allocs = &self.slots[slot as usize];
            let mut s = format!("t={now} start job={id} nodes=");
            for (k, a) in allocs.iter().enumerate() {
                if k > 0 {
                    s.push(',');
                }
                s.push_str(&nodes[a.node as usize].name);
            }
            let _ = write!(s, " backfill={}", backfilled as u8);
            self.events.push(s);
        }
        self.mark_bf_dirty();
    }

    /// Takes the resources of `allocs` from the free ones when `TAKE` (a
    /// job starts), else gives them back (a job ends). The fields are
    /// borrowed apart, so that the loop keeps them in registers (a store
    /// through `&mut self` could change any of them).
    fn move_allocs<const TAKE: bool>(&mut self, allocs: &[Alloc]) {
        let Sim {
            free,
            bf,
            node_parts,
            same_parts,
            part_free_cpus,
            part_free_gpus,
            ..
        } = self;
        let (mut cpus, mut gpus) = (0u64, 0u64);
        for a in allocs {
            let f = &mut free[a.node as usize];
            shift::<TAKE, _>(&mut f.cpus, a.cpus);
            shift::<TAKE, _>(&mut f.gpus, a.gpus);
            if f.mem != MEM_UNLIMITED {
                shift::<TAKE, _>(&mut f.mem, a.mem);
            }
            // The planner's free-node set follows the free CPUs.
            bf.set_free(a.node, f.cpus > 0);
            if same_parts.is_none() {
                for &p in &node_parts[a.node as usize] {
                    shift::<TAKE, _>(&mut part_free_cpus[p as usize], a.cpus as u64);
                    shift::<TAKE, _>(&mut part_free_gpus[p as usize], a.gpus as u64);
                }
            }
            cpus += a.cpus as u64;
            gpus += a.gpus as u64;
        }
        if let Some(ps) = same_parts {
            for &p in ps.iter() {
                shift::<TAKE, _>(&mut part_free_cpus[p as usize], cpus);
                shift::<TAKE, _>(&mut part_free_gpus[p as usize], gpus);
            }
        }
        shift::<TAKE, _>(&mut self.total_free_cpus, cpus);
        shift::<TAKE, _>(&mut self.total_free_gpus, gpus);
    }

    /// A running job ends (completion or time-limit kill).
    fn finish_job(&mut self, j: u32) {
        let now = self.now;
        let c = self.jc[j as usize];
        debug_assert_eq!(c.state, State::Running);
        let buf = std::mem::take(&mut self.slots[c.slot as usize]);
        self.move_allocs::<false>(&buf);
        self.slots[c.slot as usize] = buf;
        self.free_slots.push(c.slot);
        self.bf.forget();
        let exp_end = c.start.saturating_add(c.limit);
        let pos = self
            .running
            .binary_search(&(exp_end, j))
            .expect("running job is listed");
        self.running.remove(pos);
        self.usage.add(
            c.user,
            c.req.cpus as f64 * now.saturating_sub(c.accrued) as f64,
            now,
        );
        let cj = &mut self.jc[j as usize];
        cj.state = State::Done;
        cj.slot = u32::MAX;
        let kind = if c.timeout {
            OutcomeKind::Timeout
        } else {
            OutcomeKind::Completed
        };
        let o = &mut self.outcomes[j as usize];
        o.end = now;
        o.kind = kind;
        let id = self.jobs[j as usize].id;
        self.log(|s| {
            let st = if kind == OutcomeKind::Timeout {
                "TIMEOUT"
            } else {
                "COMPLETED"
            };
            let _ = write!(s, "end job={id} state={st}");
        });
        self.mark_change();
    }
}

/// `*x -= d` when `TAKE`, else `*x += d`.
#[inline(always)]
fn shift<const TAKE: bool, T: std::ops::AddAssign + std::ops::SubAssign>(x: &mut T, d: T) {
    if TAKE {
        *x -= d;
    } else {
        *x += d;
    }
}

/// [`Sim::cmp_jobs`] on the keys of jobs `a.1` and `b.1`.
fn cmp_keys(a: (&Key, u32), b: (&Key, u32)) -> Ordering {
    let ((ka, a), (kb, b)) = (a, b);
    // Equal bits are equal under `total_cmp`: the common case of equal
    // priorities skips to the submit time.
    if ka.tier == kb.tier
        && ka.score.to_bits() == kb.score.to_bits()
        && ka.mf.to_bits() == kb.mf.to_bits()
    {
        return ka
            .submit
            .cmp(&kb.submit)
            .then_with(|| ka.id.cmp(&kb.id))
            .then_with(|| a.cmp(&b));
    }
    kb.tier
        .cmp(&ka.tier)
        .then_with(|| kb.score.total_cmp(&ka.score))
        .then_with(|| kb.mf.total_cmp(&ka.mf))
        .then_with(|| ka.submit.cmp(&kb.submit))
        .then_with(|| ka.id.cmp(&kb.id))
        .then_with(|| a.cmp(&b))
}

fn cluster_qos_name<'n>(names: &'n Names, j: &Job) -> &'n str {
    names.qos.name(j.qos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_on_multiples_of_their_interval() {
        assert_eq!(next_grid(0, 30, false), 0);
        assert_eq!(next_grid(0, 30, true), 30);
        assert_eq!(next_grid(1, 30, false), 30);
        assert_eq!(next_grid(30, 30, false), 30);
        assert_eq!(next_grid(31, 30, true), 60);
        assert_eq!(round_up(NEVER, 60), NEVER);
        assert_eq!(round_up(61, 60), 120);
    }

    #[test]
    fn same_time_events_come_out_fifo() {
        // The heap orders by (time, sequence): later pushes at the same
        // time come out later, whatever the event kind.
        let mut heap = BinaryHeap::new();
        let evs = [
            (5, Event::BackfillTick),
            (5, Event::End(9)),
            (3, Event::SchedTick),
            (5, Event::Arrive(1)),
        ];
        for (seq, &(t, ev)) in evs.iter().enumerate() {
            heap.push(Queued::new(t, seq as u64, ev));
        }
        let order: Vec<Event> = std::iter::from_fn(|| heap.pop().map(|q| q.ev)).collect();
        assert_eq!(
            order,
            vec![
                Event::SchedTick,
                Event::BackfillTick,
                Event::End(9),
                Event::Arrive(1)
            ]
        );
    }
}
