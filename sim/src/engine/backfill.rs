//! The backfill planner, modelled on Slurm's `sched/backfill`.
//!
//! One cycle walks pending jobs in priority order. For each it finds the
//! earliest time it could start, given the *expected* ends (start + time
//! limit) of running jobs and the reservations made earlier in the same
//! cycle. A job that can start now without touching any reservation starts
//! (backfilled); otherwise it reserves the whole nodes it would use over
//! `[start, start + limit)`, as Slurm's node-space map does. This module
//! owns only the per-cycle plan; it changes cluster state solely through
//! `Sim::start_job`.

use super::select;
use super::sim::{JobC, NEVER, Sim, State, round_up};

/// Calls `$f::<N>` with `N` the length `$len` of a node bitset when it is
/// 1 to 4 words, else `$f::<0>` (any length). Bitsets are a few words
/// long: a loop of known length compiles to straight-line code, where an
/// open loop is vectorised with checks that cost more than the work. The
/// 1-CPU planner (`unit_sweep`, `will_run_unit`, `unit_fits_now`) is
/// itself generic in `N`, so that its bitset helpers (`*_n::<N>`) inline
/// with their length known.
macro_rules! by_words {
    ($len:expr, $($f:ident).+($($arg:expr),*)) => {
        match $len {
            1 => $($f).+::<1>($($arg),*),
            2 => $($f).+::<2>($($arg),*),
            3 => $($f).+::<3>($($arg),*),
            4 => $($f).+::<4>($($arg),*),
            _ => $($f).+::<0>($($arg),*),
        }
    };
}

/// Reservations of the current cycle.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Per node: reserved intervals `[s, e)`.
    res: Vec<Vec<(u64, u64)>>,
    /// Nodes with at least one reservation (to clear them cheaply).
    touched: Vec<u32>,
    /// Free resources at the sweep time.
    ff: Vec<select::Res>,
    /// Nodes with a free CPU now (ascending), while `free_now_ok`: made
    /// from `free_bits` when a check that walks nodes needs it.
    free_now: Vec<u32>,
    free_now_ok: bool,
    /// The plans made in this cycle, one per job shape (the first
    /// `SHAPES`).
    shapes: Vec<Shape>,
    /// This cycle's reservations as `(start, end)`, one per job; its
    /// nodes are the bitset `rbits[k * words..]`.
    rlist: Vec<(u64, u64)>,
    /// The nodes of the reservation being recorded (bitset).
    found_bits: Vec<u64>,
    /// Scratch node list for `sync`.
    tmp: Vec<u32>,
    /// `rlist` indices sorted by start (each with its end), and by end
    /// (each with its start), for the 1-CPU sweep.
    by_start: Vec<(u64, u32, u64)>,
    by_end: Vec<(u64, u32, u64)>,
    /// Prefix unions over `by_start`: entry `i` (`words` words) holds the
    /// nodes of the first `i` reservations by start. The first
    /// `start_or_ok` entries are valid; an insertion into `by_start`
    /// invalidates those after it, and [`Plan::begun_n`] recomputes them.
    start_or: Vec<u64>,
    start_or_ok: usize,
    /// Per node, within one fast sweep: how many reservations block it
    /// (zero outside sweeps).
    cnt: Vec<u32>,
    /// Bitset over nodes: free CPUs now. Always up to date: the engine
    /// reports every change ([`Plan::set_free`]).
    free_bits: Vec<u64>,
    /// Per partition: bitset of its member nodes.
    member_bits: Vec<Vec<u64>>,
    /// Bitset over nodes, within one fast sweep: member nodes with free
    /// CPUs at the sweep time and no blocking reservation.
    usable: Vec<u64>,
    /// Allocation candidates of a fast sweep.
    cand: Vec<(u64, u32)>,
    /// Words of a node bitset.
    words: usize,
    /// Per partition: all its nodes have 1 CPU and no GPU.
    unit: Vec<bool>,
    /// Per allocation slot: bitset of its nodes (`words` words each).
    slot_bits: Vec<u64>,
    /// Per `rlist` entry: bitset of its nodes.
    rbits: Vec<u64>,
    /// Within one unit sweep: the nodes blocked by a
    /// reservation.
    blocked: Vec<u64>,
    /// `Some((t, t + limit))` when `blocked` holds the nodes of the
    /// reservations active during that window: left by a 1-CPU sweep that
    /// found `t`, for the will-run test that follows it.
    swept: Option<(u64, u64)>,
    /// The release profile of this cycle's running jobs: distinct expected
    /// ends (rounded), ascending, and the free nodes after each (state 0
    /// is now, state `k` follows the first `k` ends; `words` words each).
    /// Valid while `prof_valid`: built by the first unit sweep of a cycle,
    /// dropped when a job starts.
    prof_t: Vec<u64>,
    prof_bits: Vec<u64>,
    prof_valid: bool,
    /// Free CPUs of partition `prof_cnt_part` in each state of the release
    /// profile, counted by the first unit sweep on that partition.
    prof_cnt: Vec<u64>,
    prof_cnt_part: usize,
    /// The first state with enough CPUs found by the last 1-CPU sweep,
    /// tried first by the next one (consecutive jobs often ask for as
    /// many CPUs).
    prof_lo_hint: usize,
    /// How many `rlist` entries `res` holds.
    synced: usize,
    /// Unit-partition jobs (partition, CPUs, limit) found unable to start
    /// now in this cycle, none larger and longer than another.
    nofit: Vec<(u16, u32, u64)>,
    /// Where the last sweep stopped without a start: the first candidate
    /// time beyond the horizon, or [`NEVER`] when there was none.
    beyond: u64,
    /// The sweeps made since the last start or end of a job, in the order
    /// of the walk that made them (see [`Sim::earliest_start`]); the nodes
    /// of entry `k`'s start are `log_bits[k * words..]`.
    log: Vec<Swept>,
    log_bits: Vec<u64>,
    /// A job started or ended since the log, the free nodes and the
    /// release profile were made: they are out of date.
    stale: bool,
    /// Reuse the log (off only in tests, to compare with the full path).
    pub(crate) memo: bool,
    /// Begin searches at bounds from earlier jobs' earliest fits (off only
    /// in tests, to show that the bounds do not change the plan).
    pub(crate) bounds: bool,
    /// The running jobs when the log was begun (debug builds check that
    /// every start and end set `stale`).
    #[cfg(debug_assertions)]
    log_running: Vec<(u64, u32)>,
}

/// One plan of [`Plan::log`] ([`Sim::earliest_start`]): job `job`'s
/// planned start searching from `t_min`, `found` (`None` = none up to the
/// horizon of its cycle, and the search stopped at `beyond`), and its
/// first sweep's answer `first`.
#[derive(Debug, Clone, Copy)]
struct Swept {
    job: u32,
    t_min: u64,
    found: Option<u64>,
    first: Option<u64>,
    beyond: u64,
}

/// How many job shapes a cycle keeps plans for.
const SHAPES: usize = 64;

/// The earliest fit found in a cycle for a job of this shape (request,
/// partition, limit).
#[derive(Debug, Clone, Copy)]
struct Shape {
    req: select::Req,
    part: u16,
    limit: u64,
    /// `req.cpus` when the request is CPU-only, else `u64::MAX` (it bounds
    /// no other shape).
    cpu_only_cpus: u64,
    /// The job's earliest fit: the first candidate time (an expected end
    /// of a running job or an end of a reservation) at which its request
    /// fits the nodes free then and open over its window (`None` = none
    /// within the window). Its search began at a lower bound of that time
    /// (0, or a bound from this list), so this is its earliest fit over
    /// the whole window, whatever bounds were used. A later job of this
    /// cycle of the same shape, or (on a partition of 1-CPU nodes) a
    /// CPU-only one with at least as many CPUs and as long a limit, fits
    /// no earlier: free resources have only shrunk and reservations only
    /// grown since, and wherever it fits, this job fit at the candidate
    /// time at or before (or now, which it did not).
    first: Option<u64>,
}

impl Plan {
    pub(crate) fn new(nodes: usize, members: &[&[bool]], unit: Vec<bool>) -> Self {
        let words = nodes.div_ceil(64);
        let member_bits = members
            .iter()
            .map(|m| {
                let mut b = vec![0u64; words];
                for (n, _) in m.iter().enumerate().filter(|&(_, &x)| x) {
                    b[n / 64] |= 1 << (n % 64);
                }
                b
            })
            .collect();
        Plan {
            rlist: Vec::new(),
            found_bits: vec![0; words],
            tmp: Vec::new(),
            by_start: Vec::new(),
            by_end: Vec::new(),
            start_or: vec![0; words],
            start_or_ok: 1,
            cnt: vec![0; nodes],
            free_bits: vec![0; words],
            member_bits,
            usable: vec![0; words],
            cand: Vec::new(),
            words,
            unit,
            slot_bits: Vec::new(),
            rbits: Vec::new(),
            prof_t: Vec::new(),
            prof_bits: Vec::new(),
            prof_valid: false,
            prof_cnt: Vec::new(),
            prof_cnt_part: usize::MAX,
            prof_lo_hint: 0,
            synced: 0,
            nofit: Vec::new(),
            beyond: NEVER,
            log: Vec::new(),
            log_bits: Vec::new(),
            stale: true,
            memo: true,
            bounds: true,
            #[cfg(debug_assertions)]
            log_running: Vec::new(),
            blocked: vec![0; words],
            swept: None,
            res: vec![Vec::new(); nodes],
            touched: Vec::new(),
            ff: Vec::new(),
            free_now: Vec::new(),
            free_now_ok: false,
            shapes: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &n in &self.touched {
            self.res[n as usize].clear();
        }
        self.touched.clear();
        self.shapes.clear();
        self.nofit.clear();
        self.rlist.clear();
        self.by_start.clear();
        self.by_end.clear();
        self.start_or_ok = 1;
        self.rbits.clear();
        self.swept = None;
        self.synced = 0;
    }

    /// A job started or ended: the log, the free nodes and the release
    /// profile no longer describe the cluster.
    pub(crate) fn forget(&mut self) {
        self.stale = true;
        self.free_now_ok = false;
    }

    /// Node `n` has a free CPU (`free`) or none.
    pub(crate) fn set_free(&mut self, n: u32, free: bool) {
        let (w, b) = (n as usize / 64, 1u64 << (n % 64));
        if free {
            self.free_bits[w] |= b;
        } else {
            self.free_bits[w] &= !b;
        }
    }

    /// Whether partition `p` has only 1-CPU nodes without GPUs.
    pub(crate) fn unit(&self, p: usize) -> bool {
        self.unit[p]
    }

    /// Fills `out` with the lowest `need` nodes of partition `p` that
    /// have a free CPU (fewer if there are not that many), one CPU each:
    /// select's allocation for a CPU-only job on a partition of 1-CPU
    /// nodes (`Plan::unit`), whose sorted node list it walks in the same
    /// order, reading the free-node bitset instead of every node.
    pub(crate) fn lowest_free(&self, p: usize, need: u32, out: &mut Vec<select::Alloc>) {
        out.clear();
        let free = self.free_bits.iter().zip(&self.member_bits[p]);
        push_lowest_units(free.map(|(&f, &m)| f & m), need.into(), out);
    }

    /// Records the nodes of allocation slot `slot` (a job starts on them,
    /// which also makes the plan [`Plan::forget`] what it knew).
    pub(crate) fn set_slot_bits(&mut self, slot: u32, allocs: &[select::Alloc]) {
        self.forget();
        let w = self.words;
        let off = slot as usize * w;
        if self.slot_bits.len() < off + w {
            self.slot_bits.resize(off + w, 0);
        }
        set_node_bits(&mut self.slot_bits[off..off + w], allocs);
    }

    /// Records one job's reservation of the nodes in `found_bits` (not
    /// empty) over `[t, t + len)` in the sorted ends and the lists that
    /// fast sweeps walk; `sync` later copies it to the per-node intervals.
    fn record_bits(&mut self, t: u64, len: u64) {
        let e = t.saturating_add(len);
        let k = self.rlist.len() as u32;
        self.rlist.push((t, e));
        extend_words(&mut self.rbits, &self.found_bits);
        // Entries are ordered by (time, index), and `k` is the highest
        // index yet: the new one goes after every entry of its time.
        let i = insert_point(&self.by_start, t);
        self.by_start.insert(i, (t, k, e));
        self.start_or_ok = self.start_or_ok.min(i + 1);
        let i = insert_point(&self.by_end, e);
        self.by_end.insert(i, (e, k, t));
    }

    /// The nodes of the first `i` reservations by start (a prefix of
    /// `by_start`), as a bitset.
    /// (On bitsets of `words::<N>(self.words)` words, see `by_words`.)
    #[inline(always)]
    fn begun_n<const N: usize>(&mut self, i: usize) -> &[u64] {
        let w = words::<N>(self.words);
        let (so, ok) = (&mut self.start_or, &mut self.start_or_ok);
        begun_n::<N>(so, ok, &self.by_start, &self.rbits, w, i)
    }

    /// Whether node `n` is free of reservations over `[t, t + len)`.
    /// A node's intervals are sorted and disjoint (adjacent ones merged).
    fn open(&self, n: u32, t: u64, len: u64) -> bool {
        let v = &self.res[n as usize];
        if v.is_empty() {
            return true;
        }
        let e = t.saturating_add(len);
        let i = v.partition_point(|&(_, re)| re <= t);
        v.get(i).is_none_or(|&(rs, _)| rs >= e)
    }

    /// Whether no reservation of this cycle holds any of the nodes in
    /// `found_bits` during `[t, t + len)` (from the reservation list;
    /// `res` may be stale).
    fn clear_of_reservations(&self, t: u64, len: u64) -> bool {
        let w = self.words;
        let e = t.saturating_add(len);
        self.rlist.iter().enumerate().all(|(k, &(rs, re))| {
            rs >= e
                || re <= t
                || self.rbits[k * w..(k + 1) * w]
                    .iter()
                    .zip(&self.found_bits)
                    .all(|(&r, &f)| r & f == 0)
        })
    }

    /// Brings the per-node intervals (`res`, which `open` reads) up to
    /// date with `rlist`; unit sweeps and checks never need them.
    fn sync(&mut self) {
        let w = self.words;
        let mut nodes = std::mem::take(&mut self.tmp);
        for k in self.synced..self.rlist.len() {
            let (t, e) = self.rlist[k];
            nodes.clear();
            nodes.extend(bit_iter(&self.rbits[k * w..(k + 1) * w]));
            for &n in &nodes {
                self.reserve(n, t, e);
            }
        }
        self.tmp = nodes;
        self.synced = self.rlist.len();
    }

    /// Reserves node `n` over `[t, e)` (which `open` allowed).
    fn reserve(&mut self, n: u32, t: u64, e: u64) {
        let v = &mut self.res[n as usize];
        if v.is_empty() {
            self.touched.push(n);
        }
        let i = v.partition_point(|&(rs, _)| rs < t);
        let merge_prev = i > 0 && v[i - 1].1 == t;
        let merge_next = i < v.len() && v[i].0 == e;
        match (merge_prev, merge_next) {
            (true, true) => {
                v[i - 1].1 = v[i].1;
                v.remove(i);
            }
            (true, false) => v[i - 1].1 = e,
            (false, true) => v[i].0 = t,
            (false, false) => v.insert(i, (t, e)),
        }
    }
}

impl Sim<'_> {
    /// Whether job `j` can start now on nodes that no reservation of this
    /// cycle claims during `[now, now + limit)`; fills `alloc_buf` when
    /// `take` is set.
    #[inline(always)]
    fn fits_open_now(&mut self, j: u32, take: bool) -> bool {
        // Most jobs that cannot start fail the aggregate check: that much
        // is inlined at the callers. The 1-CPU path is a function of its
        // own, which saves less state on entry than the general one.
        // A 1-CPU job that an earlier one rules out (see
        // [`Sim::unit_open_now`]) is rejected here, before the call: most
        // that reach this far are, and the call's entry and exit cost more
        // than the test.
        self.agg_fits(j)
            && if self.jc[j as usize].unit {
                !self.known_nofit(j) && self.unit_open_now(j, take)
            } else {
                self.fits_open_now_agg(j, take)
            }
    }

    /// Whether 1-CPU job `j` has as many CPUs and as long a limit as one
    /// that could not start earlier in this cycle (`Plan::nofit`), so that
    /// it cannot either: free nodes only shrink and reservations only grow
    /// within a cycle, and a longer limit meets more of them. (The
    /// partition is tested last, as it matches on a one-partition
    /// cluster.)
    #[inline(always)]
    fn known_nofit(&self, j: u32) -> bool {
        nofit_covers(&self.bf.nofit, &self.jc[j as usize])
    }

    /// [`Sim::fits_open_now`] for a job that fits its partition's idle
    /// CPUs and GPUs, on a partition of 1-CPU nodes (`JobC::unit`), that
    /// no earlier job rules out ([`Sim::known_nofit`]).
    fn unit_open_now(&mut self, j: u32, take: bool) -> bool {
        let c = &self.jc[j as usize];
        let (p, need, limit) = (c.part, c.req.cpus, c.limit);
        debug_assert!(!self.known_nofit(j));
        let ok = self.unit_fits_now(j, take);
        if !ok {
            let nofit = &mut self.bf.nofit;
            nofit.retain(|&(fp, fc, fl)| !(need <= fc && limit <= fl && fp == p));
            if nofit.len() < 8 {
                nofit.push((p, need, limit));
            }
        }
        ok
    }

    /// [`Sim::fits_open_now`] for a job that fits its partition's idle
    /// CPUs and GPUs, on any other partition.
    fn fits_open_now_agg(&mut self, j: u32, take: bool) -> bool {
        let c = &self.jc[j as usize];
        let part = &self.parts[c.part as usize];
        let now = self.now;
        let fast = !part.exclusive && c.req.cpu_only();
        self.bf.sync();
        if fast && !self.bf.free_now_ok {
            let plan = &mut self.bf;
            plan.free_now.clear();
            plan.free_now.extend(bit_iter(&plan.free_bits));
            plan.free_now_ok = true;
        }
        let plan = &self.bf;
        if fast {
            // CPUs only, any node count: add up the open free CPUs.
            let mut sum = 0u64;
            for &n in &plan.free_now {
                if part.member[n as usize] && plan.open(n, now, c.limit) {
                    sum += self.free[n as usize].cpus as u64;
                    if sum >= c.req.cpus as u64 {
                        break;
                    }
                }
            }
            if sum < c.req.cpus as u64 {
                return false;
            }
            if !take {
                return true;
            }
        }
        select::select(
            &c.req,
            &part.nodes,
            &self.cap,
            &self.free,
            part.exclusive,
            &|n| plan.open(n, now, c.limit),
            &mut self.scratch,
            if take {
                Some(&mut self.alloc_buf)
            } else {
                None
            },
        )
    }

    /// [`Sim::fits_open_now`] for a CPU-only job on a partition of 1-CPU
    /// nodes without GPUs: the open free nodes are the free ones less
    /// those of every reservation that starts before `now + limit` (all of
    /// this cycle's reservations end after `now`); the allocation is the
    /// lowest of them, as `select` picks among equal nodes.
    fn unit_fits_now(&mut self, j: u32, take: bool) -> bool {
        by_words!(self.bf.words, self.unit_fits_now_n(j, take))
    }

    /// [`Sim::unit_fits_now`] on bitsets of `words::<N>` words.
    fn unit_fits_now_n<const N: usize>(&mut self, j: u32, take: bool) -> bool {
        let c = &self.jc[j as usize];
        let p = c.part as usize;
        let need = c.req.cpus as u64;
        let plan = &mut self.bf;
        let wend = self.now.saturating_add(c.limit);
        let i = plan.by_start.partition_point(|&(s, _, _)| s < wend);
        if i == 0 && !take {
            // No reservation starts within the job's window: the open free
            // nodes are the partition's free nodes (1 CPU each), which the
            // caller found enough (`agg_fits`).
            debug_assert!(self.part_free_cpus[p] >= need);
            return true;
        }
        plan.begun_n::<N>(i);
        let w = words::<N>(plan.words);
        let blocked = &plan.start_or[i * w..(i + 1) * w];
        let mb = &plan.member_bits[p];
        let usable = || {
            plan.free_bits
                .iter()
                .zip(mb)
                .zip(blocked)
                .map(|((&f, &m), &b)| f & m & !b)
        };
        let open = count_and_not_n::<N>(&plan.free_bits, mb, blocked);
        if open < need {
            return false;
        }
        if take {
            self.alloc_buf.clear();
            push_lowest_units(usable(), need, &mut self.alloc_buf);
        }
        true
    }

    /// The last index in `lo..=hi` of a job that can start now, if any.
    /// Reservations only grow and free resources only shrink during a
    /// cycle, so a job that cannot start now never can later in the cycle.
    fn last_starter(&mut self, lo: usize, hi: usize) -> Option<usize> {
        // The tests of `fits_open_now` that read no plan state beyond the
        // no-fit list (`Sim::agg_fits`, `Sim::known_nofit`), which most
        // jobs fail, run in a loop of their own on fields borrowed once.
        let mut end = hi.saturating_add(1);
        loop {
            let (jc, cpus, gpus) = (&self.jc, &self.part_free_cpus, &self.part_free_gpus);
            let nofit = &self.bf.nofit;
            let k = lo
                + self.pending.get(lo..end)?.iter().rposition(|&j| {
                    let c = &jc[j as usize];
                    let p = c.part as usize;
                    cpus[p] >= c.req.cpus as u64
                        && gpus[p] >= c.req.gpus as u64
                        && !(c.unit && nofit_covers(nofit, c))
                })?;
            let j = self.pending[k];
            let open = if self.jc[j as usize].unit {
                self.unit_open_now(j, false)
            } else {
                self.fits_open_now_agg(j, false)
            };
            if open {
                return Some(k);
            }
            end = k;
        }
    }

    /// The earliest start of job `j` at or after `t_min` within the
    /// horizon, sweeping the expected ends of running jobs and the ends of
    /// reservations; fills `alloc_buf` when found.
    fn sweep(&mut self, j: u32, t_min: u64, horizon: u64, resolution: u64) -> Option<u64> {
        let c = &self.jc[j as usize];
        let p = c.part as usize;
        let limit = c.limit;
        let part = &self.parts[p];
        self.bf.sync();
        let mut ff = std::mem::take(&mut self.bf.ff);
        ff.clear();
        ff.extend_from_slice(&self.free);
        let (mut agg_c, mut agg_g) = (self.part_free_cpus[p], self.part_free_gpus[p]);
        let (mut ri, mut ei) = (0usize, 0usize);
        let mut found = None;
        // Whether the detailed check could give a new answer: it can
        // only turn true when a node that is open gets more free
        // resources, or a reservation ends (open nodes only close as
        // the window slides later).
        let mut dirty = true;
        loop {
            let tr = self
                .running
                .get(ri)
                .map(|&(e, _)| round_up(e, resolution))
                .unwrap_or(NEVER);
            let te = self.bf.by_end.get(ei).map_or(NEVER, |&(e, _, _)| e);
            let t = tr.min(te);
            if t == NEVER || t > horizon {
                self.bf.beyond = t;
                break;
            }
            while let Some(&(e, r)) = self.running.get(ri) {
                if round_up(e, resolution) > t {
                    break;
                }
                ri += 1;
                let slot = self.jc[r as usize].slot;
                for a in &self.slots[slot as usize] {
                    let f = &mut ff[a.node as usize];
                    f.cpus += a.cpus;
                    f.gpus += a.gpus;
                    if f.mem != select::MEM_UNLIMITED {
                        f.mem += a.mem;
                    }
                    if part.member[a.node as usize] {
                        agg_c += a.cpus as u64;
                        agg_g += a.gpus as u64;
                        if !dirty && self.bf.open(a.node, t, limit) {
                            dirty = true;
                        }
                    }
                }
            }
            while self.bf.by_end.get(ei).is_some_and(|&(e, _, _)| e <= t) {
                ei += 1;
                dirty = true;
            }
            if t < t_min || !dirty || agg_c < c.req.cpus as u64 || agg_g < c.req.gpus as u64 {
                continue;
            }
            dirty = false;
            let plan = &self.bf;
            if select::select(
                &c.req,
                &part.nodes,
                &self.cap,
                &ff,
                part.exclusive,
                &|n| plan.open(n, t, limit),
                &mut self.scratch,
                Some(&mut self.alloc_buf),
            ) {
                found = Some(t);
                break;
            }
        }
        self.bf.ff = ff;
        found
    }

    /// [`Sim::sweep`] for a job that asks only for CPUs on any number of
    /// nodes of a shared partition. It keeps the open free CPUs at the
    /// sweep time as a running sum: a reservation `[s, e)` blocks its
    /// nodes for every start `t` with `s < t + limit` and `t < e`, so with
    /// `t` increasing each reservation starts blocking once (in order of
    /// `s`) and stops once (in order of `e`). Nodes are never scanned per
    /// candidate time; the allocation walks a bitset of the usable nodes.
    /// Same answer and allocation as `sweep` (select's rules for such a
    /// job: the best single node, else most free CPUs first).
    fn fast_sweep(&mut self, j: u32, t_min: u64, horizon: u64, resolution: u64) -> Option<u64> {
        let c = &self.jc[j as usize];
        let p = c.part as usize;
        let limit = c.limit;
        let need = c.req.cpus as u64;
        let member = &self.parts[p].member;
        let plan = &mut self.bf;
        let w = plan.words;
        let mut ff = std::mem::take(&mut plan.ff);
        ff.clear();
        ff.extend_from_slice(&self.free);
        let mb = &plan.member_bits[p];
        for (k, w) in plan.usable.iter_mut().enumerate() {
            *w = plan.free_bits[k] & mb[k];
        }
        let mut sum = self.part_free_cpus[p];
        let (mut ri, mut ei, mut bi, mut xi) = (0usize, 0usize, 0usize, 0usize);
        let mut found = None;
        loop {
            let tr = self
                .running
                .get(ri)
                .map(|&(e, _)| round_up(e, resolution))
                .unwrap_or(NEVER);
            let te = plan.by_end.get(ei).map_or(NEVER, |&(e, _, _)| e);
            let t = tr.min(te);
            if t == NEVER || t > horizon {
                plan.beyond = t;
                break;
            }
            while let Some(&(e, r)) = self.running.get(ri) {
                if round_up(e, resolution) > t {
                    break;
                }
                ri += 1;
                let slot = self.jc[r as usize].slot;
                for a in &self.slots[slot as usize] {
                    let n = a.node as usize;
                    let f = &mut ff[n];
                    f.cpus += a.cpus;
                    f.gpus += a.gpus;
                    if f.mem != select::MEM_UNLIMITED {
                        f.mem += a.mem;
                    }
                    if member[n] && plan.cnt[n] == 0 {
                        sum += a.cpus as u64;
                        if f.cpus > 0 {
                            plan.usable[n / 64] |= 1 << (n % 64);
                        }
                    }
                }
            }
            while plan.by_end.get(ei).is_some_and(|&(e, _, _)| e <= t) {
                ei += 1;
            }
            let wend = t.saturating_add(limit);
            while let Some(&(s, k, _)) = plan.by_start.get(bi) {
                if s >= wend {
                    break;
                }
                bi += 1;
                let off = k as usize * w;
                for n in bit_iter(&plan.rbits[off..off + w]) {
                    let n = n as usize;
                    if plan.cnt[n] == 0 && member[n] {
                        sum -= ff[n].cpus as u64;
                        plan.usable[n / 64] &= !(1 << (n % 64));
                    }
                    plan.cnt[n] += 1;
                }
            }
            while let Some(&(e, k, _)) = plan.by_end.get(xi) {
                if e > t {
                    break;
                }
                xi += 1;
                let off = k as usize * w;
                for n in bit_iter(&plan.rbits[off..off + w]) {
                    let n = n as usize;
                    plan.cnt[n] -= 1;
                    if plan.cnt[n] == 0 && member[n] {
                        sum += ff[n].cpus as u64;
                        if ff[n].cpus > 0 {
                            plan.usable[n / 64] |= 1 << (n % 64);
                        }
                    }
                }
            }
            if t >= t_min && sum >= need {
                found = Some(t);
                break;
            }
        }
        if found.is_some() {
            alloc_fast(
                &c.req,
                &plan.usable,
                &ff,
                &mut plan.cand,
                &mut self.alloc_buf,
            );
        }
        for &(_, k, _) in &plan.by_start[..bi] {
            let off = k as usize * w;
            for n in bit_iter(&plan.rbits[off..off + w]) {
                plan.cnt[n as usize] = 0;
            }
        }
        plan.ff = ff;
        found
    }

    /// Builds the release profile (`Plan::prof_t`, `Plan::prof_bits`).
    fn build_profile(&mut self, resolution: u64) {
        by_words!(self.bf.words, self.build_profile_n(resolution))
    }

    /// [`Sim::build_profile`] on bitsets of `words::<N>` words.
    fn build_profile_n<const N: usize>(&mut self, resolution: u64) {
        let plan = &mut self.bf;
        let w = words::<N>(plan.words);
        plan.prof_t.clear();
        plan.prof_bits.clear();
        plan.prof_bits.extend_from_slice(&plan.free_bits);
        for &(e, r) in &self.running {
            let t = round_up(e, resolution);
            if plan.prof_t.last() != Some(&t) {
                plan.prof_t.push(t);
                let last = plan.prof_bits.len() - w;
                plan.prof_bits.extend_from_within(last..);
            }
            let base = plan.prof_bits.len() - w;
            let off = self.jc[r as usize].slot as usize * w;
            or_into_n::<N>(&mut plan.prof_bits[base..], &plan.slot_bits[off..off + w]);
        }
        plan.prof_valid = true;
        plan.prof_cnt_part = usize::MAX;
    }

    /// [`Sim::fast_sweep`] on a partition of 1-CPU nodes without GPUs,
    /// where a node is either free or not. The free nodes at each expected
    /// end come from the cycle's release profile, and the reserved nodes
    /// are a bitset, so a candidate time costs a few word operations and
    /// the open free CPUs are a popcount. The sweep starts at the first
    /// end after which the partition has enough free CPUs at all (found
    /// by bisection; no earlier time can pass the check). It picks no
    /// nodes: [`Sim::plan_start`] always follows a start with
    /// [`Sim::will_run_unit`], which picks them afresh.
    fn unit_sweep(&mut self, j: u32, t_min: u64, horizon: u64, resolution: u64) -> Option<u64> {
        if !self.bf.prof_valid {
            self.build_profile(resolution);
        }
        by_words!(self.bf.words, self.unit_sweep_n(j, t_min, horizon))
    }

    /// [`Sim::unit_sweep`] on bitsets of `words::<N>` words, with the
    /// release profile built.
    fn unit_sweep_n<const N: usize>(&mut self, j: u32, t_min: u64, horizon: u64) -> Option<u64> {
        let c = &self.jc[j as usize];
        let p = c.part as usize;
        let limit = c.limit;
        let need = c.req.cpus as u64;
        let plan = &mut self.bf;
        let w = words::<N>(plan.words);
        if plan.prof_cnt_part != p {
            let mb = &plan.member_bits[p][..w];
            plan.prof_cnt.clear();
            plan.prof_cnt.extend(
                plan.prof_bits
                    .chunks_exact(w)
                    .map(|b| count_and_n::<N>(b, mb)),
            );
            plan.prof_cnt_part = p;
        }
        // The plan's lists as local slices (and `blocked` taken out), so
        // that the loop keeps them in registers.
        plan.swept = None;
        // Of known length, the blocked nodes are an array on the stack,
        // copied to the plan only for a start found.
        let mut blocked_a = [0u64; 4];
        let mut blocked_v = Vec::new();
        let blocked = if N == 0 {
            blocked_v = std::mem::take(&mut plan.blocked);
            blocked_v.fill(0);
            &mut blocked_v[..w]
        } else {
            &mut blocked_a[..w]
        };
        let Plan {
            prof_t,
            prof_bits,
            prof_cnt,
            by_start,
            by_end,
            rbits,
            start_or,
            start_or_ok,
            member_bits,
            beyond,
            prof_lo_hint,
            ..
        } = plan;
        let (prof_t, prof_bits, by_start, by_end) =
            (&prof_t[..], &prof_bits[..], &by_start[..], &by_end[..]);
        let rbits = &rbits[..];
        let mb = &member_bits[p][..w];
        // The first state with enough free CPUs in the partition (they only
        // grow from state to state).
        // The last sweep's state is taken when it is that boundary: too few
        // CPUs just before it (or no state before it) and enough at it (or
        // no state left), exact as the counts only grow.
        let h = *prof_lo_hint;
        let lo = if h <= prof_t.len() + 1
            && (h == 0 || prof_cnt[h - 1] < need)
            && prof_cnt.get(h).is_none_or(|&c| c >= need)
        {
            h
        } else {
            prof_cnt.partition_point(|&c| c < need)
        };
        *prof_lo_hint = lo;
        if lo == prof_t.len() + 1 {
            *beyond = NEVER;
            if N == 0 {
                self.bf.blocked = blocked_v;
            }
            return None;
        }
        // The sweep begins at `t_lo`, in state `ri` (the number of ends
        // before it); the ends are distinct and ascending.
        let (t_lo, mut ri) = if lo > 0 && t_min <= prof_t[lo - 1] {
            (prof_t[lo - 1], lo - 1)
        } else {
            // The ends before `lo - 1` are too early, and so is that one
            // (if any); often the next one is the first late enough.
            let ri = match prof_t.get(lo) {
                Some(&x) if x < t_min => lo + 1 + prof_t[lo + 1..].partition_point(|&x| x < t_min),
                _ => lo,
            };
            (t_min, ri)
        };
        // The reservations that end before `t_lo` have ended at every
        // candidate time: `xi` starts after them.
        // (Often none has: the first end is tested before the bisection.)
        let mut xi = match by_end.first() {
            Some(&(e, _, _)) if e < t_lo => by_end.partition_point(|&(e, _, _)| e < t_lo),
            _ => 0,
        };
        // The next profile end (`tr`), reservation end (`te`) and
        // reservation start (`ts`), or `NEVER`, kept beside their indices.
        let next_end = |ri: usize| prof_t.get(ri).copied().unwrap_or(NEVER);
        let next_e = |xi: usize| by_end.get(xi).map_or(NEVER, |&(e, _, _)| e);
        let next_s = |bi: usize| by_start.get(bi).map_or(NEVER, |&(s, _, _)| s);
        let (mut tr, mut te) = (next_end(ri), next_e(xi));
        // `t > last` is `t == NEVER || t > horizon` (candidates are at most
        // `NEVER`).
        let last = horizon.min(NEVER - 1);
        // The candidate times: the profile ends and reservation ends from
        // `t_lo` on, ascending. Both are at least `t_lo`, itself at least
        // `t_min`.
        let mut t = tr.min(te);
        let mut found = None;
        if t > last {
            *beyond = t;
            if N == 0 {
                self.bf.blocked = blocked_v;
            }
            return None;
        }
        // The reservations begun by the first window's end; windows only
        // move later, so later ones are found by stepping on.
        // (In about half the sweeps every reservation has begun by then:
        // the last start is tested before the bisection.)
        let wend = t.saturating_add(limit);
        let mut bi = match by_start.last() {
            Some(&(s, _, _)) if s >= wend => by_start.partition_point(|&(s, _, _)| s < wend),
            _ => by_start.len(),
        };
        let mut ts = next_s(bi);
        // `blocked` holds the nodes of `by_start[..in_blocked]` less those
        // ended by the last rebuild, at `by_end[..rebuilt]`.
        let (mut in_blocked, mut rebuilt) = (0usize, 0usize);
        loop {
            debug_assert!(t >= t_min && t == tr.min(te));
            // The profile ends are distinct: `t` passes one at most.
            if tr == t {
                ri += 1;
                tr = next_end(ri);
            }
            // The blocked nodes: reservations begun (`by_start[..bi]`) and
            // not ended (`by_end[..xi]`). A reservation ends after it
            // begins, so one that has ended was begun at the same candidate
            // time or earlier.
            let wend = t.saturating_add(limit);
            while ts < wend {
                bi += 1;
                ts = next_s(bi);
            }
            // The reservations that end at `t` (none ends before it).
            while te == t {
                xi += 1;
                te = next_e(xi);
            }
            if xi == 0 {
                if bi != in_blocked {
                    let b = begun_n::<N>(start_or, start_or_ok, by_start, rbits, w, bi);
                    blocked.copy_from_slice(b);
                }
            } else if xi != rebuilt {
                // Either the begun ones that have not ended, or the ones
                // not ended (`by_end[xi..]`) that have begun: the same set,
                // from the shorter list.
                if bi <= by_end.len() - xi {
                    union_where::<N>(blocked, &by_start[..bi], rbits, |e| e > t);
                } else {
                    union_where::<N>(blocked, &by_end[xi..], rbits, |s| s < wend);
                }
                rebuilt = xi;
            } else {
                for &(_, k, _) in &by_start[in_blocked..bi] {
                    or_into_n::<N>(blocked, &rbits[k as usize * w..][..w]);
                }
            }
            in_blocked = bi;
            // (No node is open at about two candidate times in five: those
            // fail without a count.)
            if any_and_not_n::<N>(&prof_bits[ri * w..(ri + 1) * w], mb, blocked)
                && count_and_not_n::<N>(&prof_bits[ri * w..(ri + 1) * w], mb, blocked) >= need
            {
                found = Some(t);
                break;
            }
            t = tr.min(te);
            if t > last {
                *beyond = t;
                break;
            }
        }
        if N == 0 {
            self.bf.blocked = blocked_v;
        }
        if let Some(t) = found {
            if N > 0 {
                self.bf.blocked[..w].copy_from_slice(&blocked_a[..w]);
            }
            self.bf.swept = Some((t, t.saturating_add(limit)));
        }
        found
    }

    /// The start planned for job `j`, searching from `t_min` within the
    /// horizon, with the nodes it would reserve left in `found_bits`; and
    /// the first sweep's answer, the job's earliest fit at or after
    /// `t_min` (see [`Shape::first`]).
    ///
    /// The plan: the sweep finds the first time `t` the job fits,
    /// [`Sim::will_run_start`] moves it to the start cons_tres's will-run
    /// test reports (and picks the nodes); if those nodes are reserved at
    /// that later time, the sweep resumes from there.
    ///
    /// The answer comes from the log when it can. While no job starts or
    /// ends, the free nodes, the running jobs and so every candidate time
    /// of a sweep and every will-run answer stay the same; only the
    /// horizon (`now + bf_window`) moves, and only later. So a plan made
    /// in an earlier cycle for the same job from the same `t_min`, on the
    /// same reservations, is made again: a start found then lay within
    /// the old horizon and is found again; "none" stands while the time
    /// it stopped at (the next candidate time of the sweep that found
    /// nothing, or the will-run start past the horizon) is still beyond
    /// the horizon. The reservations are the same when every plan before
    /// this one in the cycle matched the log entry at its place (`*q`
    /// counts them); the first plan that does not (another job, another
    /// `t_min`, another answer) cuts the log there and continues it. A
    /// start in this cycle ends the log's use.
    fn earliest_start(
        &mut self,
        j: u32,
        t_min: u64,
        horizon: u64,
        resolution: u64,
        q: &mut usize,
    ) -> (Option<u64>, Option<u64>) {
        let w = self.bf.words;
        let use_log = self.bf.memo && !self.bf.stale;
        if use_log
            && let Some(&e) = self.bf.log.get(*q)
            && e.job == j
            && e.t_min == t_min
            && (e.found.is_some() || e.beyond > horizon)
        {
            let k = *q;
            *q += 1;
            self.stats.bf_reused += 1;
            if e.found.is_some() {
                let plan = &mut self.bf;
                copy_words(&mut plan.found_bits, &plan.log_bits[k * w..(k + 1) * w]);
            }
            return (e.found, e.first);
        }
        self.stats.bf_sweeps += 1;
        let (found, first) = self.plan_start(j, t_min, horizon, resolution);
        if use_log {
            let plan = &mut self.bf;
            plan.log.truncate(*q);
            plan.log_bits.truncate(*q * w);
            plan.log.push(Swept {
                job: j,
                t_min,
                found,
                first,
                beyond: plan.beyond,
            });
            extend_words(&mut plan.log_bits, &plan.found_bits);
            *q += 1;
        }
        (found, first)
    }

    /// [`Sim::earliest_start`] without the log: the sweeps and will-run
    /// tests themselves. When there is no start, `Plan::beyond` is left
    /// at the time the search stopped beyond the horizon.
    fn plan_start(
        &mut self,
        j: u32,
        t_min: u64,
        horizon: u64,
        resolution: u64,
    ) -> (Option<u64>, Option<u64>) {
        let c = &self.jc[j as usize];
        let p = c.part as usize;
        let limit = c.limit;
        let unit = c.unit;
        let fast = unit || (!self.parts[p].exclusive && c.req.cpu_only());
        let mut from = t_min;
        let mut first = None;
        let mut resumed = false;
        let found = loop {
            let t = if unit {
                self.unit_sweep(j, from, horizon, resolution)
            } else if fast {
                self.fast_sweep(j, from, horizon, resolution)
            } else {
                self.sweep(j, from, horizon, resolution)
            };
            if !resumed {
                first = t;
            }
            let Some(t) = t else { break None };
            let g = self.will_run_start(j, t, resolution);
            if g > horizon {
                self.bf.beyond = g;
                break None;
            }
            if !unit {
                // The nodes, as the bitset that the plan records
                // (`will_run_unit` leaves them there itself).
                set_node_bits(&mut self.bf.found_bits, &self.alloc_buf);
            }
            if g == t || self.bf.clear_of_reservations(g, limit) {
                break Some(g);
            }
            from = g;
            resumed = true;
        };
        (found, first)
    }

    /// The start Slurm's backfill plans for job `j`, which the sweep found
    /// first fits at `t`. select/cons_tres's will-run test
    /// (`_will_run_test`), which backfill asks for a blocked job's start
    /// on the nodes free of reservations over its window, does not try
    /// the job after each running job's expected end: it removes the
    /// running jobs on those nodes in groups and reports the end of the
    /// last job removed. The first group is every job ending by `E + 30`
    /// s, where `E` is the first end rounded up to the next multiple of 30
    /// s (strictly later); each later group doubles the window (`E + 60`,
    /// `E + 120`, ...). Here: the first end after which the job fits on the
    /// nodes open over `[t, t + limit)` falls in some window; the job is
    /// planned at the last end in that window, and no earlier than `t`. A
    /// job that fits there before any running job ends keeps `t`. The
    /// nodes, in `alloc_buf`, are chosen on the state the test saw: the
    /// free resources once the whole group has ended.
    fn will_run_start(&mut self, j: u32, t: u64, resolution: u64) -> u64 {
        let c = &self.jc[j as usize];
        if c.unit {
            return self.will_run_unit(j, t);
        }
        let limit = c.limit;
        let part = &self.parts[c.part as usize];
        let mut ff = std::mem::take(&mut self.bf.ff);
        // The nodes some reservation holds during `[t, t + limit)`, as a
        // bitset (`blocked` is free between sweeps).
        let plan = &mut self.bf;
        let w = plan.words;
        let wend = t.saturating_add(limit);
        plan.blocked.iter_mut().for_each(|x| *x = 0);
        for (k, &(s, e)) in plan.rlist.iter().enumerate() {
            if s < wend && e > t {
                for (x, &b) in plan.blocked.iter_mut().zip(&plan.rbits[k * w..(k + 1) * w]) {
                    *x |= b;
                }
            }
        }
        let blocked = &plan.blocked;
        let open =
            |n: u32| part.member[n as usize] && blocked[n as usize / 64] & (1 << (n % 64)) == 0;
        ff.clear();
        ff.extend_from_slice(&self.free);
        let fits = |ff: &[select::Res],
                    scratch: &mut select::Scratch,
                    out: Option<&mut Vec<select::Alloc>>| {
            select::select(
                &c.req,
                &part.nodes,
                &self.cap,
                ff,
                part.exclusive,
                &open,
                scratch,
                out,
            )
        };
        // The free CPUs and GPUs on the open nodes: select runs only once
        // they suffice.
        let mut agg = (0u64, 0u64);
        for &n in &part.nodes {
            if open(n) {
                agg.0 += ff[n as usize].cpus as u64;
                agg.1 += ff[n as usize].gpus as u64;
            }
        }
        let enough = |agg: (u64, u64)| agg.0 >= c.req.cpus as u64 && agg.1 >= c.req.gpus as u64;
        let slots = &self.slots;
        let jc = &self.jc;
        // Frees running job `r`'s allocation in `ff` if it holds an open
        // node (the test skips jobs on none of its nodes).
        let release = |r: u32, ff: &mut [select::Res], agg: &mut (u64, u64)| {
            let allocs = &slots[jc[r as usize].slot as usize];
            if !allocs.iter().any(|a| open(a.node)) {
                return false;
            }
            for a in allocs {
                let f = &mut ff[a.node as usize];
                f.cpus += a.cpus;
                f.gpus += a.gpus;
                if f.mem != select::MEM_UNLIMITED {
                    f.mem += a.mem;
                }
                if open(a.node) {
                    agg.0 += a.cpus as u64;
                    agg.1 += a.gpus as u64;
                }
            }
            true
        };
        let mut result = t;
        if !(enough(agg) && fits(&ff, &mut self.scratch, None)) {
            let mut first = None;
            let mut fit_end = None;
            let mut i = 0;
            while i < self.running.len() {
                let e = round_up(self.running[i].0, resolution);
                if e > t {
                    break;
                }
                // Every job ending at `e`.
                let mut any = false;
                while let Some(&(er, r)) = self.running.get(i) {
                    if round_up(er, resolution) != e {
                        break;
                    }
                    i += 1;
                    any |= release(r, &mut ff, &mut agg);
                }
                if !any {
                    continue;
                }
                first.get_or_insert(e);
                if enough(agg) && fits(&ff, &mut self.scratch, None) {
                    fit_end = Some(e);
                    break;
                }
            }
            if let (Some(first), Some(e)) = (first, fit_end) {
                let bound = will_run_bound(first, e);
                let mut g = e;
                for &(er, r) in &self.running[i..] {
                    let er = round_up(er, resolution);
                    if er > bound {
                        break;
                    }
                    if release(r, &mut ff, &mut agg) {
                        g = er;
                    }
                }
                result = g.max(t);
            }
        }
        // The nodes: chosen on the state the test saw when the job fit.
        let placed = fits(&ff, &mut self.scratch, Some(&mut self.alloc_buf));
        debug_assert!(placed);
        self.bf.ff = ff;
        result
    }

    /// [`Sim::will_run_start`] for a CPU-only job on a partition of 1-CPU
    /// nodes without GPUs, on bitsets: a node is free or not, the job
    /// fits once enough open nodes are free, and select takes the lowest
    /// of them. Same answer and nodes, which it leaves in `found_bits`
    /// only (not in `alloc_buf`).
    fn will_run_unit(&mut self, j: u32, t: u64) -> u64 {
        by_words!(self.bf.words, self.will_run_unit_n(j, t))
    }

    /// [`Sim::will_run_unit`] on bitsets of `words::<N>` words. It reads
    /// the release profile instead of releasing running jobs one by one:
    /// the open nodes free after the ends up to profile state `k` are
    /// `prof_bits[k] & open`, since a running job's nodes are 1-CPU nodes
    /// that it holds alone (neither free nor held by another job). So a
    /// group of ends releases an open node exactly when that set grows
    /// from one state to the next, and the job fits once it holds `need`
    /// nodes.
    fn will_run_unit_n<const N: usize>(&mut self, j: u32, t: u64) -> u64 {
        let c = &self.jc[j as usize];
        let need = c.req.cpus as u64;
        let wend = t.saturating_add(c.limit);
        let plan = &mut self.bf;
        let w = words::<N>(plan.words);
        // `blocked` = the open nodes: members free of reservations during
        // `[t, t + limit)` (from the reserved nodes that the sweep left when
        // it found `t`).
        let mb = &plan.member_bits[c.part as usize][..w];
        let reserved = |plan: &Plan, out: &mut [u64]| {
            out.fill(0);
            for (k, &(s, e)) in plan.rlist.iter().enumerate() {
                if s < wend && e > t {
                    or_into_n::<N>(out, &plan.rbits[k * w..(k + 1) * w]);
                }
            }
        };
        if plan.swept != Some((t, wend)) {
            let mut r = std::mem::take(&mut plan.blocked);
            reserved(plan, &mut r[..w]);
            plan.blocked = r;
        }
        #[cfg(debug_assertions)]
        {
            let mut r = vec![0; w];
            reserved(plan, &mut r);
            debug_assert_eq!(r[..], plan.blocked[..w]);
        }
        plan.swept = None;
        for (b, &m) in plan.blocked[..w].iter_mut().zip(mb) {
            *b = m & !*b;
        }
        // The profile is current (the sweep before this test built it,
        // and no job has started since), so its state 0 is the free nodes.
        debug_assert!(plan.prof_valid && plan.prof_t.len() <= self.running.len());
        debug_assert_eq!(plan.prof_bits[..w], plan.free_bits[..w]);
        let Plan {
            prof_t,
            prof_bits,
            blocked,
            found_bits,
            usable,
            ..
        } = plan;
        let (open, found, cur) = (&blocked[..w], &mut found_bits[..w], &mut usable[..w]);
        let state = |k: usize, out: &mut [u64]| {
            let b = &prof_bits[k * w..(k + 1) * w];
            for i in 0..w {
                out[i] = b[i] & open[i];
            }
        };
        // `found` = the open nodes free in the last state looked at, and
        // `have` their number (`u64::MAX` once unknown).
        state(0, found);
        let mut result = t;
        let mut have = count_n::<N>(found);
        if have < need {
            // The first group of ends that releases an open node, and the
            // first after which the job fits; only ends up to `t` count.
            let last = prof_t.partition_point(|&x| x <= t);
            let mut first = None;
            let mut fit = None;
            for k in 1..=last {
                state(k, cur);
                if cur[..] == found[..] {
                    continue;
                }
                found.copy_from_slice(cur);
                first.get_or_insert(prof_t[k - 1]);
                have = count_n::<N>(found);
                if have >= need {
                    fit = Some(k);
                    break;
                }
            }
            if let (Some(first), Some(kf)) = (first, fit) {
                // Every end up to the bound is released; the start is the
                // last of them that releases an open node.
                let bound = will_run_bound(first, prof_t[kf - 1]);
                let mut g = prof_t[kf - 1];
                for (k, &e) in prof_t.iter().enumerate().skip(kf) {
                    if e > bound {
                        break;
                    }
                    state(k + 1, cur);
                    if cur[..] != found[..] {
                        found.copy_from_slice(cur);
                        g = e;
                        have = u64::MAX;
                    }
                }
                result = g.max(t);
            }
        }
        // The lowest `need` free open nodes, one CPU each (what select
        // takes among equal nodes), as a bitset: the planner reads the
        // nodes only as one. Exactly `need` of them are all kept.
        if have != need {
            keep_lowest(found, need);
        }
        result
    }

    /// One backfill cycle.
    pub(super) fn backfill_cycle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.stats.bf_cycles += 1;
        let max_test = (self.cluster.sched.bf_max_job_test.max(1) as usize).min(self.pending.len());
        // Only jobs that fit the idle resources can start in this cycle;
        // reservations matter only for jobs before the last of them. The
        // last one that can start is at or before the last that fits.
        let Some(hi) = (0..max_test)
            .rev()
            .find(|&i| self.agg_fits(self.pending[i]))
        else {
            return;
        };
        let now = self.now;
        let horizon = now.saturating_add(self.cluster.sched.bf_window);
        let resolution = self.cluster.sched.bf_resolution.max(1);
        self.bf.clear();
        if self.bf.stale {
            // A job started or ended since the last cycle.
            let plan = &mut self.bf;
            debug_assert!(
                self.free
                    .iter()
                    .enumerate()
                    .all(|(n, f)| (f.cpus > 0) == (plan.free_bits[n / 64] >> (n % 64) & 1 == 1))
            );
            plan.prof_valid = false;
            plan.log.clear();
            plan.log_bits.clear();
            plan.stale = false;
            #[cfg(debug_assertions)]
            {
                plan.log_running.clear();
                plan.log_running.extend_from_slice(&self.running);
            }
        }
        #[cfg(debug_assertions)]
        debug_assert!(
            self.bf.log_running == self.running,
            "a job started or ended without Plan::forget"
        );
        let Some(mut last) = self.last_starter(0, hi) else {
            return;
        };
        let mut started = false;
        let mut q = 0;
        let mut i = 0;
        while i <= last {
            let j = self.pending[i];
            i += 1;
            let c = self.jc[j as usize];
            let limit = c.limit;
            if self.fits_open_now(j, true) {
                self.start_job(j, true);
                self.bf.prof_valid = false;
                started = true;
                match self.last_starter(i, last) {
                    Some(k) => last = k,
                    None => break,
                }
                continue;
            }
            if i > last {
                break; // No job after this one can start: its reservation is moot.
            }
            // Earliest later start: sweep expected ends of running jobs and
            // ends of reservations, then Slurm's will-run start.
            // Its search may begin at the earliest fit of an earlier job
            // of the same shape, or of a CPU-only job on the same
            // partition of 1-CPU nodes with as few CPUs and as short a
            // limit (see `Shape::first`): it fits no earlier, so its first
            // sweep finds the same time it would from 0, and none for that
            // job means none for it. Its will-run start and reservation
            // follow from that sweep alone, so the plan is the same as
            // without these bounds. One scan finds this job's shape and
            // the bounds; both need the same partition and a limit no
            // longer than this job's, which is tested first.
            let mut shape = None;
            let mut from = 0;
            let mut none = false;
            let unit = c.unit;
            let bounds = self.bf.bounds;
            if bounds && unit {
                // The same shape has as many CPUs, so it is among those
                // that bound this job (and there is at most one).
                // (The limit first: it is the test most shapes fail; on a
                // cluster of one partition the partition always matches.)
                let cpus = c.req.cpus as u64;
                for (k, s) in self.bf.shapes.iter().enumerate() {
                    if s.limit > limit || s.cpu_only_cpus > cpus || s.part != c.part {
                        continue;
                    }
                    from = from.max(s.first.unwrap_or(NEVER));
                    if s.limit == limit && s.req == c.req {
                        shape = Some(k);
                    }
                }
                if from == NEVER {
                    (from, none) = (0, true);
                }
            } else {
                for (k, s) in self.bf.shapes.iter().enumerate() {
                    if s.part != c.part || s.limit > limit {
                        continue;
                    }
                    let same = s.limit == limit && s.req == c.req;
                    if same && shape.is_none() {
                        shape = Some(k);
                    }
                    if bounds && same {
                        match s.first {
                            Some(t) => from = from.max(t),
                            None => none = true,
                        }
                    }
                }
            }
            if none || from > 0 {
                self.stats.bf_bounded += 1;
            }
            let (found, first) = if none {
                (None, None)
            } else {
                self.earliest_start(j, from, horizon, resolution, &mut q)
            };
            match shape {
                // The same shape: only its earliest fit is new (the rest
                // follows from the request, partition and limit).
                Some(k) => self.bf.shapes[k].first = first,
                None if self.bf.shapes.len() < SHAPES => self.bf.shapes.push(Shape {
                    req: c.req,
                    part: c.part,
                    limit,
                    cpu_only_cpus: if c.req.cpu_only() {
                        c.req.cpus as u64
                    } else {
                        u64::MAX
                    },
                    first,
                }),
                None => {}
            }
            if let Some(t) = found {
                if self.bf.found_bits.iter().any(|&x| x != 0) {
                    self.bf.record_bits(t, limit);
                }
                // The job at `last` could start before this reservation;
                // one that begins after its window `[now, now + limit)`
                // leaves it able to, and so does one that holds no node
                // with a free CPU now: every start now takes a free CPU on
                // each node it uses, so no job's open free nodes change.
                let lj = self.pending[last] as usize;
                let plan = &self.bf;
                if t >= now.saturating_add(self.jc[lj].limit) {
                    continue;
                }
                if !plan
                    .found_bits
                    .iter()
                    .zip(&plan.free_bits)
                    .any(|(&r, &f)| r & f != 0)
                {
                    // (Debug builds check that the job still can.)
                    debug_assert_eq!(self.last_starter(i, last), Some(last));
                    continue;
                }
                match self.last_starter(i, last) {
                    Some(k) => last = k,
                    None => break,
                }
            }
        }
        if started {
            let jc = &self.jc;
            self.pending
                .retain(|&j| jc[j as usize].state == State::Pending);
            self.mark_bf_dirty();
        }
    }
}

/// The allocation `select::select` makes for a CPUs-only, any-node-count
/// request on a shared partition, given the usable nodes as a bitset (in
/// ascending index order, as a partition's sorted node list) and their
/// free resources; the caller has checked that their CPUs suffice.
fn alloc_fast(
    req: &select::Req,
    usable: &[u64],
    free: &[select::Res],
    cand: &mut Vec<(u64, u32)>,
    out: &mut Vec<select::Alloc>,
) {
    let bits = || bit_iter(usable);
    out.clear();
    // One node holding the whole job: fewest free GPUs, then CPUs, then
    // lowest index.
    let mut best: Option<(u64, u32)> = None;
    for n in bits() {
        let f = free[n as usize];
        if f.cpus >= req.cpus {
            let key = ((f.gpus as u64) << 32) | f.cpus as u64;
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, n));
            }
        }
    }
    if let Some((_, n)) = best {
        out.push(select::Alloc {
            node: n,
            cpus: req.cpus,
            gpus: 0,
            mem: 0,
        });
        return;
    }
    // Several nodes: most free CPUs first, then lowest index.
    cand.clear();
    cand.extend(bits().map(|n| {
        (
            ((u32::MAX - free[n as usize].cpus) as u64) << 32 | n as u64,
            n,
        )
    }));
    cand.sort_unstable();
    let mut rc = req.cpus;
    for &(_, n) in cand.iter() {
        if rc == 0 {
            break;
        }
        let c = free[n as usize].cpus.min(rc);
        rc -= c;
        out.push(select::Alloc {
            node: n,
            cpus: c,
            gpus: 0,
            mem: 0,
        });
    }
    debug_assert_eq!(rc, 0);
}

/// Where an entry of time `t` goes in `v` (sorted by time): after every
/// entry of its time or earlier. Often at the end (reservations come
/// mostly in time order), which is tested before bisecting.
#[inline(always)]
fn insert_point(v: &[(u64, u32, u64)], t: u64) -> usize {
    match v.last() {
        Some(&(x, _, _)) if x > t => v.partition_point(|&(x, _, _)| x <= t),
        _ => v.len(),
    }
}

/// [`Sim::known_nofit`] for job constants `c` and the list `nofit`.
#[inline(always)]
fn nofit_covers(nofit: &[(u16, u32, u64)], c: &JobC) -> bool {
    let (p, need, limit) = (c.part, c.req.cpus, c.limit);
    nofit
        .iter()
        .any(|&(fp, fc, fl)| fc <= need && fl <= limit && fp == p)
}

/// `dst.extend_from_slice(src)` for a node bitset: a copy of known
/// length for 1 to 4 words (a call to `memcpy` costs more than the copy).
#[inline(always)]
fn extend_words(dst: &mut Vec<u64>, src: &[u64]) {
    match src.len() {
        1 => dst.extend_from_slice(&src[..1]),
        2 => dst.extend_from_slice(&src[..2]),
        3 => dst.extend_from_slice(&src[..3]),
        4 => dst.extend_from_slice(&src[..4]),
        _ => dst.extend_from_slice(src),
    }
}

/// `dst.copy_from_slice(src)` for node bitsets, as [`extend_words`].
#[inline(always)]
fn copy_words(dst: &mut [u64], src: &[u64]) {
    match src.len() {
        1 => dst[..1].copy_from_slice(&src[..1]),
        2 => dst[..2].copy_from_slice(&src[..2]),
        3 => dst[..3].copy_from_slice(&src[..3]),
        4 => dst[..4].copy_from_slice(&src[..4]),
        _ => dst.copy_from_slice(src),
    }
}

/// Sets `bits` to the nodes of `allocs` (and no others).
fn set_node_bits(bits: &mut [u64], allocs: &[select::Alloc]) {
    bits.fill(0);
    for a in allocs {
        bits[a.node as usize / 64] |= 1 << (a.node % 64);
    }
}

/// The length of the bitsets that a `by_words` function `N` handles.
fn words<const N: usize>(len: usize) -> usize {
    if N == 0 { len } else { N }
}

/// `dst |= src` on node bitsets (of `dst.len()` words).
#[cfg(test)]
fn or_into(dst: &mut [u64], src: &[u64]) {
    by_words!(dst.len(), or_into_n(dst, src))
}

/// [`or_into`] on bitsets of `words::<N>(dst.len())` words.
#[inline(always)]
fn or_into_n<const N: usize>(dst: &mut [u64], src: &[u64]) {
    let n = words::<N>(dst.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    for i in 0..n {
        dst[i] |= src[i];
    }
}

/// `dst &= !src` on node bitsets (of `dst.len()` words).
#[cfg(test)]
fn and_not_into(dst: &mut [u64], src: &[u64]) {
    by_words!(dst.len(), and_not_into_n(dst, src))
}

/// `dst &= !src` on bitsets of `words::<N>(dst.len())` words.
#[cfg(test)]
#[inline(always)]
fn and_not_into_n<const N: usize>(dst: &mut [u64], src: &[u64]) {
    let n = words::<N>(dst.len());
    let (dst, src) = (&mut dst[..n], &src[..n]);
    for i in 0..n {
        dst[i] &= !src[i];
    }
}

/// `dst |= a & b` on node bitsets (of `dst.len()` words).
#[cfg(test)]
fn or_and_into(dst: &mut [u64], a: &[u64], b: &[u64]) {
    by_words!(dst.len(), or_and_into_n(dst, a, b))
}

/// `dst |= a & b` on bitsets of `words::<N>(dst.len())` words.
#[cfg(test)]
#[inline(always)]
fn or_and_into_n<const N: usize>(dst: &mut [u64], a: &[u64], b: &[u64]) {
    let n = words::<N>(dst.len());
    let (dst, a, b) = (&mut dst[..n], &a[..n], &b[..n]);
    for i in 0..n {
        dst[i] |= a[i] & b[i];
    }
}

/// Whether node bitsets `a` and `b` (of `a.len()` words) share a node.
#[cfg(test)]
fn intersects(a: &[u64], b: &[u64]) -> bool {
    fn go<const N: usize>(a: &[u64], b: &[u64]) -> bool {
        let n = words::<N>(a.len());
        let (a, b) = (&a[..n], &b[..n]);
        let mut any = 0;
        for i in 0..n {
            any |= a[i] & b[i];
        }
        any != 0
    }
    by_words!(a.len(), go(a, b))
}

/// The number of nodes in a node bitset.
#[cfg(test)]
fn count(a: &[u64]) -> u64 {
    by_words!(a.len(), count_n(a))
}

/// [`count`] on a bitset of `words::<N>(a.len())` words.
#[inline(always)]
fn count_n<const N: usize>(a: &[u64]) -> u64 {
    let a = &a[..words::<N>(a.len())];
    a.iter().map(|x| x.count_ones() as u64).sum()
}

/// The number of nodes in `a & b` (bitsets of `words::<N>(a.len())` words).
#[inline(always)]
fn count_and_n<const N: usize>(a: &[u64], b: &[u64]) -> u64 {
    let n = words::<N>(a.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut sum = 0;
    for i in 0..n {
        sum += (a[i] & b[i]).count_ones() as u64;
    }
    sum
}

/// The number of nodes in `a & b & !c` (bitsets of `a.len()` words).
#[cfg(test)]
fn count_and_not(a: &[u64], b: &[u64], c: &[u64]) -> u64 {
    by_words!(a.len(), count_and_not_n(a, b, c))
}

/// The number of nodes in `a & b & !c` (bitsets of `words::<N>(a.len())`
/// words).
#[inline(always)]
fn count_and_not_n<const N: usize>(a: &[u64], b: &[u64], c: &[u64]) -> u64 {
    let n = words::<N>(a.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut sum = 0;
    for i in 0..n {
        sum += (a[i] & b[i] & !c[i]).count_ones() as u64;
    }
    sum
}

/// Whether `a & b & !c` has a node (bitsets of `words::<N>(a.len())`
/// words).
#[inline(always)]
fn any_and_not_n<const N: usize>(a: &[u64], b: &[u64], c: &[u64]) -> bool {
    let n = words::<N>(a.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut any = 0;
    for i in 0..n {
        any |= a[i] & b[i] & !c[i];
    }
    any != 0
}

/// Sets `dst` to the union of the nodes of the reservations in `list`
/// (`by_start` or `by_end` entries) whose other time passes `keep`, each
/// reservation's nodes in `rbits` (bitsets of `words::<N>(dst.len())`
/// words). Inlined: with the 1-CPU sweep's blocked nodes on the stack
/// (an array), its loop has the registers for this one, and the call
/// cost more than the loop.
#[inline(always)]
fn union_where<const N: usize>(
    dst: &mut [u64],
    list: &[(u64, u32, u64)],
    rbits: &[u64],
    keep: impl Fn(u64) -> bool,
) {
    let w = words::<N>(dst.len());
    let dst = &mut dst[..w];
    if N > 0 {
        // Of known length, the bitsets are arrays: one bounds check per
        // reservation, and the union stays in registers until the end.
        let (rb, _) = rbits.as_chunks::<N>();
        let mut acc = [0u64; N];
        for &(_, k, x) in list {
            if keep(x) {
                let r = &rb[k as usize];
                for i in 0..N {
                    acc[i] |= r[i];
                }
            }
        }
        dst.copy_from_slice(&acc);
        return;
    }
    dst.fill(0);
    for &(_, k, x) in list {
        if keep(x) {
            or_into_n::<N>(dst, &rbits[k as usize * w..][..w]);
        }
    }
}

/// [`Plan::begun_n`] on the plan's fields: the prefix unions `start_or`
/// (the first `start_or_ok` valid) over `by_start`, with each
/// reservation's nodes in `rbits`, bitsets of `w = words::<N>(w)` words.
#[inline(always)]
fn begun_n<'a, const N: usize>(
    start_or: &'a mut Vec<u64>,
    start_or_ok: &mut usize,
    by_start: &[(u64, u32, u64)],
    rbits: &[u64],
    w: usize,
    i: usize,
) -> &'a [u64] {
    let w = words::<N>(w);
    if start_or.len() < (i + 1) * w {
        start_or.resize((i + 1) * w, 0);
    }
    for m in *start_or_ok..=i {
        let k = by_start[m - 1].1 as usize;
        let (done, rest) = start_or.split_at_mut(m * w);
        let x = &mut rest[..w];
        x.copy_from_slice(&done[(m - 1) * w..][..w]);
        or_into_n::<N>(x, &rbits[k * w..(k + 1) * w]);
    }
    *start_or_ok = (*start_or_ok).max(i + 1);
    &start_or[i * w..(i + 1) * w]
}

/// Clears all but the lowest `n` set bits of a node bitset.
fn keep_lowest(bits: &mut [u64], n: u64) {
    let mut left = n;
    for x in bits.iter_mut() {
        if left == 0 {
            *x = 0;
            continue;
        }
        let ones = x.count_ones() as u64;
        if ones <= left {
            left -= ones;
            continue;
        }
        // Keep the lowest `left` (< `ones`) bits of this word: clear the
        // lowest `left` from a copy and keep what was cleared, or clear
        // the highest `ones - left`, whichever takes fewer steps.
        if left <= ones - left {
            let mut rest = *x;
            for _ in 0..left {
                rest &= rest - 1;
            }
            *x ^= rest;
        } else {
            for _ in 0..ones - left {
                *x &= !(1u64 << (63 - x.leading_zeros()));
            }
        }
        left = 0;
    }
}

/// The end of the will-run window that holds end `e`, given the first
/// running job's end `first` (see [`Sim::will_run_start`]): windows end
/// at `E + 30`, `E + 60`, `E + 120`, ... s, where `E` is `first` rounded
/// up to the next multiple of 30 s (strictly later). Slurm's
/// `time_window` in cons_tres's job_test.c; `bf_window_linear` is not
/// modelled.
///
/// The window is the first `30 · 2^k` s (`k` ≥ 0, saturating) with
/// `E + 30 · 2^k ≥ e`, computed directly: `k` is the ceiling of
/// `log2(ceil((e − E) / 30))` when `e > E + 30`.
fn will_run_bound(first: u64, e: u64) -> u64 {
    const WINDOW: u64 = 30;
    let base = first.saturating_add(WINDOW - first % WINDOW);
    if base.saturating_add(WINDOW) >= e {
        return base.saturating_add(WINDOW);
    }
    // `e − base > 30`, so `q ≥ 2` and `k ≥ 1`; a window past `u64::MAX`
    // saturates, as doubling with `saturating_mul` would.
    let q = (e - base).div_ceil(WINDOW);
    let k = u64::BITS - (q - 1).leading_zeros();
    let w = 1u64
        .checked_shl(k)
        .and_then(|p| WINDOW.checked_mul(p))
        .unwrap_or(u64::MAX);
    base.saturating_add(w)
}

/// The set bits of a node bitset, ascending.
fn bit_iter(words: &[u64]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(k, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let b = w.trailing_zeros();
            w &= w - 1;
            Some((k * 64) as u32 + b)
        })
    })
}

/// Appends one CPU on each of the lowest `need` nodes set in `words` (bit
/// `i` of word `k` is node `64 k + i`), fewer if not that many are set:
/// `select`'s allocation for a CPU-only job on 1-CPU nodes, which takes the
/// lowest of equal nodes.
fn push_lowest_units(words: impl Iterator<Item = u64>, need: u64, out: &mut Vec<select::Alloc>) {
    let mut left = need;
    if left == 0 {
        return;
    }
    for (k, mut x) in words.enumerate() {
        while x != 0 {
            out.push(select::Alloc {
                node: (k * 64) as u32 + x.trailing_zeros(),
                cpus: 1,
                gpus: 0,
                mem: 0,
            });
            x &= x - 1;
            left -= 1;
            if left == 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Backfill, SimConfig, SimResult};
    use super::Sim;
    use crate::baselines;
    use crate::cluster::{Cluster, Node, Partition, PriorityConfig, SchedConfig};
    use crate::trace::{Job, Names};

    /// 16 nodes of 1 CPU (with `gpus` untyped GPUs each, which no job asks
    /// for) and jobs that arrive faster than they end, so that many
    /// backfill cycles follow arrivals only.
    /// A xorshift64 generator from `seed` (non-zero): the tests' own
    /// random numbers, the same on every platform.
    fn xorshift(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    fn workload(gpus: u32, mem: u64) -> (Vec<Job>, Names, Cluster) {
        let mut rng = xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |m: u64| rng() % m;
        let mut t = 0;
        let jobs = (0..300u64)
            .map(|id| {
                t += next(40);
                let limit = 60 * (1 + next(60));
                Job {
                    id: id + 1,
                    submit: t,
                    eligible: t,
                    cpus: 1 + next(10) as u32,
                    mem_mb: mem,
                    run_time: next(limit + limit / 4),
                    time_limit: Some(limit),
                    user: 1 + next(2) as u32,
                    ..Job::default()
                }
            })
            .collect();
        let mut names = Names::default();
        names.users.intern("alice");
        names.users.intern("bob");
        let nodes = (0..16)
            .map(|i| Node {
                name: format!("n{i}"),
                cpus: 1,
                mem_mb: 0,
                gpus,
                gpu_type: String::new(),
                features: vec![],
            })
            .collect();
        let cluster = Cluster {
            name: "t".into(),
            nodes,
            partitions: vec![Partition {
                name: "p".into(),
                nodes: (0..16).collect(),
                priority_tier: 1,
                priority_job_factor: 1,
                max_time: None,
                default_time: None,
                default: true,
                exclusive: false,
            }],
            priority: PriorityConfig::default(),
            sched: SchedConfig {
                bf_interval: 5,
                bf_resolution: 60,
                ..SchedConfig::default()
            },
        };
        (jobs, names, cluster)
    }

    fn run(jobs: &[Job], names: &Names, c: &Cluster, policy: &str, memo: bool) -> SimResult {
        run_with(jobs, names, c, policy, memo, true)
    }

    fn run_with(
        jobs: &[Job],
        names: &Names,
        c: &Cluster,
        policy: &str,
        memo: bool,
        bounds: bool,
    ) -> SimResult {
        let mut p = baselines::by_name(policy).expect("policy");
        let cfg = SimConfig {
            backfill: Backfill::Slurm,
            record_events: true,
            ..SimConfig::default()
        };
        let mut sim = Sim::new(jobs, names, c, p.as_mut(), &cfg).expect("valid");
        sim.bf.memo = memo;
        sim.bf.bounds = bounds;
        sim.run().expect("simulation")
    }

    /// A later job's search begins at the earliest fit of an earlier job of
    /// its shape (or, on 1-CPU nodes, of a smaller, shorter CPU-only job),
    /// and is skipped where that job fits nowhere in the window. With the
    /// will-run groups a planned start can lie past the earliest fit, so
    /// beginning at the earlier job's *planned* start (as this once did)
    /// changed schedules, and made them depend on how many shapes were
    /// kept. The bounds must leave every plan as a search from 0 makes it.
    #[test]
    fn shape_bounds_give_the_schedule_of_unbounded_searches() {
        for (gpus, mem) in [(0, 0), (1, 0), (1, 1)] {
            let (mut jobs, names, base) = workload(gpus, mem);
            // Few shapes, so that many jobs of a cycle share one.
            for (k, j) in jobs.iter_mut().enumerate() {
                let limit = 120 * (1 + k as u64 % 3);
                j.cpus = 1 + (k as u32 * 7) % 3;
                j.run_time %= limit + limit / 4;
                j.time_limit = Some(limit);
            }
            for (window, max_test) in [(86_400, 500), (600, 500), (3_600, 6)] {
                let mut c = base.clone();
                c.sched.bf_window = window;
                c.sched.bf_max_job_test = max_test;
                for policy in ["slurm", "fcfs", "wfp3"] {
                    let what = format!(
                        "gpus={gpus} mem={mem} window={window} max_test={max_test} {policy}"
                    );
                    let plain = run_with(&jobs, &names, &c, policy, false, false);
                    let bounded = run_with(&jobs, &names, &c, policy, false, true);
                    assert!(
                        plain.outcomes.iter().filter(|o| o.backfilled).count() > 50,
                        "{what}"
                    );
                    assert_eq!(plain.stats.bf_bounded, 0, "{what}");
                    assert!(
                        bounded.stats.bf_bounded > 20,
                        "{what}: {} searches bounded",
                        bounded.stats.bf_bounded
                    );
                    assert_eq!(plain.outcomes, bounded.outcomes, "{what}");
                    assert_eq!(plain.events, bounded.events, "{what}");
                }
            }
        }
    }

    #[test]
    fn will_run_bound_is_the_doubled_window() {
        // The definition: double the window from 30 s until it reaches `e`.
        fn by_doubling(first: u64, e: u64) -> u64 {
            let base = first.saturating_add(30 - first % 30);
            let mut w = 30u64;
            while base.saturating_add(w) < e {
                w = w.saturating_mul(2);
            }
            base.saturating_add(w)
        }
        let mut rng = xorshift(0x9e37_79b9_7f4a_7c15);
        let edges = [0, 1, 29, 30, 31, 59, 60, 61, 89, 90, 91, 120, 121];
        let firsts = [
            0,
            1,
            29,
            30,
            31,
            1000,
            u64::MAX - 100,
            u64::MAX - 30,
            u64::MAX,
        ];
        let mut cases = Vec::new();
        for &f in &firsts {
            for &d in &edges {
                cases.push((f, f.saturating_add(d)));
                for k in 0..64 {
                    let x = 30u64.saturating_mul(1 << k);
                    for dd in [x.saturating_sub(1), x, x.saturating_add(1)] {
                        cases.push((f, f.saturating_add(dd).saturating_add(d)));
                    }
                }
            }
        }
        for _ in 0..20_000 {
            let f = rng() >> (rng() % 64);
            let e = f.saturating_add(rng() >> (rng() % 64));
            cases.push((f, e));
        }
        for (f, e) in cases {
            assert_eq!(
                super::will_run_bound(f, e),
                by_doubling(f, e),
                "first {f} end {e}"
            );
        }
    }

    #[test]
    fn keep_lowest_keeps_the_lowest_set_bits() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for round in 0..2000 {
            let words = 1 + round % 3;
            let bits: Vec<u64> = (0..words)
                .map(|k| match (round + k) % 4 {
                    0 => next(),
                    1 => next() & next(),
                    2 => u64::MAX,
                    _ => next() & next() & next(),
                })
                .collect();
            let ones: u64 = bits.iter().map(|x| x.count_ones() as u64).sum();
            for n in [
                0,
                1,
                ones / 3,
                ones / 2,
                ones.saturating_sub(1),
                ones,
                ones + 5,
            ] {
                let mut got = bits.clone();
                super::keep_lowest(&mut got, n);
                let mut want = vec![0u64; words];
                for b in super::bit_iter(&bits).take(n as usize) {
                    want[b as usize / 64] |= 1 << (b % 64);
                }
                assert_eq!(got, want, "{bits:x?} n={n}");
            }
        }
    }

    /// The bitset helpers take fixed-length paths for 1 to 4 words and an
    /// open loop beyond; every length gives the plain word-by-word result.
    #[test]
    fn bitset_helpers_agree_with_plain_loops() {
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..600 {
            let n = 1 + round % 7;
            let mut v = |sparse: bool| -> Vec<u64> {
                (0..n)
                    .map(|_| {
                        if sparse {
                            next() & next() & next()
                        } else {
                            next()
                        }
                    })
                    .collect()
            };
            let (a, b, c) = (v(round % 2 == 0), v(false), v(round % 3 == 0));
            let mut got = a.clone();
            super::or_into(&mut got, &b);
            let want: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x | y).collect();
            assert_eq!(got, want);
            let mut got = a.clone();
            super::and_not_into(&mut got, &b);
            let want: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x & !y).collect();
            assert_eq!(got, want);
            let mut got = a.clone();
            super::or_and_into(&mut got, &b, &c);
            let want: Vec<u64> = (0..n).map(|i| a[i] | (b[i] & c[i])).collect();
            assert_eq!(got, want);
            let inter = (0..n).any(|i| a[i] & c[i] != 0);
            assert_eq!(super::intersects(&a, &c), inter);
            let ones: u64 = a.iter().map(|x| x.count_ones() as u64).sum();
            assert_eq!(super::count(&a), ones);
            let open: u64 = (0..n)
                .map(|i| (a[i] & b[i] & !c[i]).count_ones() as u64)
                .sum();
            assert_eq!(super::count_and_not(&a, &b, &c), open);
        }
    }

    #[test]
    fn reused_sweeps_give_the_schedule_of_full_cycles() {
        // Each planner path (1-CPU nodes; CPU-only jobs on other nodes;
        // the general sweep, here for a memory request), windows short
        // enough that "no start in the window" answers turn into starts
        // as `now` moves on (reusing those answers regardless of the
        // horizon changes the wfp3 schedules at 600 s and 300 s), and a
        // `bf_max_job_test` that cuts the queue.
        for (gpus, mem) in [(0, 0), (1, 0), (1, 1)] {
            let (jobs, names, base) = workload(gpus, mem);
            for (window, max_test) in [(86_400, 500), (600, 500), (300, 500), (3_600, 6)] {
                let mut c = base.clone();
                c.sched.bf_window = window;
                c.sched.bf_max_job_test = max_test;
                for policy in ["slurm", "wfp3"] {
                    let what = format!(
                        "gpus={gpus} mem={mem} window={window} max_test={max_test} {policy}"
                    );
                    let full = run(&jobs, &names, &c, policy, false);
                    let memo = run(&jobs, &names, &c, policy, true);
                    assert_eq!(full.stats.bf_reused, 0, "{what}");
                    assert!(
                        memo.stats.bf_reused > 10,
                        "{what}: {} sweeps reused",
                        memo.stats.bf_reused
                    );
                    assert!(full.outcomes.iter().filter(|o| o.backfilled).count() > 50);
                    assert_eq!(full.outcomes, memo.outcomes, "{what}");
                    assert_eq!(full.events, memo.events, "{what}");
                    assert_eq!(
                        full.stats.bf_sweeps,
                        memo.stats.bf_sweeps + memo.stats.bf_reused,
                        "{what}"
                    );
                }
            }
        }
    }
}
