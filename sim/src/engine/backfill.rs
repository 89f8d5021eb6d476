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
use super::sim::{NEVER, Sim, State, round_up};

/// Reservations of the current cycle.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Per node: reserved intervals `[s, e)`.
    res: Vec<Vec<(u64, u64)>>,
    /// Nodes with at least one reservation (to clear them cheaply).
    touched: Vec<u32>,
    /// Ends of all reservations, sorted.
    ends: Vec<u64>,
    /// Free resources at the sweep time.
    ff: Vec<select::Res>,
    /// Nodes with a free CPU now.
    free_now: Vec<u32>,
    /// Earliest starts found in this cycle, by job shape (request,
    /// partition, limit); `None` = beyond the window. A later job of the
    /// same shape cannot start earlier: reservations only grow.
    shapes: Vec<(select::Req, u16, u64, Option<u64>)>,
    /// This cycle's reservations as `(start, end)`, one per job; its
    /// nodes are the bitset `rbits[k * words..]`.
    rlist: Vec<(u64, u64)>,
    /// The nodes of the reservation being recorded (bitset).
    found_bits: Vec<u64>,
    /// Scratch node list for `sync`.
    tmp: Vec<u32>,
    /// `rlist` indices sorted by start, and by end.
    by_start: Vec<(u64, u32)>,
    by_end: Vec<(u64, u32)>,
    /// Prefix unions over `by_start`: entry `i` (`words` words) holds the
    /// nodes of the first `i` reservations by start. The first
    /// `start_or_ok` entries are valid; an insertion into `by_start`
    /// invalidates those after it, and [`Plan::begun`] recomputes them.
    start_or: Vec<u64>,
    start_or_ok: usize,
    /// Per node, within one fast sweep: how many reservations block it
    /// (zero outside sweeps).
    cnt: Vec<u32>,
    /// Bitset over nodes: free CPUs now.
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
    /// The release profile of this cycle's running jobs: distinct expected
    /// ends (rounded), ascending, and the free nodes after each (state 0
    /// is now, state `k` follows the first `k` ends; `words` words each).
    /// Valid while `prof_valid`: built by the first unit sweep of a cycle,
    /// dropped when a job starts.
    prof_t: Vec<u64>,
    prof_bits: Vec<u64>,
    prof_valid: bool,
    /// How many `rlist` entries `res` holds.
    synced: usize,
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
            synced: 0,
            blocked: vec![0; words],
            res: vec![Vec::new(); nodes],
            touched: Vec::new(),
            ends: Vec::new(),
            ff: Vec::new(),
            free_now: Vec::new(),
            shapes: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &n in &self.touched {
            self.res[n as usize].clear();
        }
        self.touched.clear();
        self.ends.clear();
        self.shapes.clear();
        self.rlist.clear();
        self.by_start.clear();
        self.by_end.clear();
        self.start_or_ok = 1;
        self.rbits.clear();
        self.prof_valid = false;
        self.synced = 0;
    }

    /// Whether partition `p` has only 1-CPU nodes without GPUs.
    pub(crate) fn unit(&self, p: usize) -> bool {
        self.unit[p]
    }

    /// Records the nodes of allocation slot `slot`.
    pub(crate) fn set_slot_bits(&mut self, slot: u32, allocs: &[select::Alloc]) {
        let w = self.words;
        let off = slot as usize * w;
        if self.slot_bits.len() < off + w {
            self.slot_bits.resize(off + w, 0);
        }
        let b = &mut self.slot_bits[off..off + w];
        b.iter_mut().for_each(|x| *x = 0);
        for a in allocs {
            b[a.node as usize / 64] |= 1 << (a.node % 64);
        }
    }

    /// Sets `free_bits` from `free_now`.
    fn set_free_bits(&mut self) {
        self.free_bits.iter_mut().for_each(|w| *w = 0);
        for &n in &self.free_now {
            self.free_bits[n as usize / 64] |= 1 << (n % 64);
        }
    }

    /// Records one job's reservation of `nodes` over `[t, t + len)` in
    /// the sorted ends and the lists that fast sweeps walk; `sync` later
    /// copies it to the per-node intervals.
    fn record(&mut self, nodes: &[select::Alloc], t: u64, len: u64) {
        if nodes.is_empty() {
            return;
        }
        self.found_bits.iter_mut().for_each(|x| *x = 0);
        for a in nodes {
            self.found_bits[a.node as usize / 64] |= 1 << (a.node % 64);
        }
        self.record_bits(t, len);
    }

    /// [`Plan::record`] of the nodes in `found_bits` (not empty).
    fn record_bits(&mut self, t: u64, len: u64) {
        let e = t.saturating_add(len);
        if let Err(pos) = self.ends.binary_search(&e) {
            self.ends.insert(pos, e);
        }
        let k = self.rlist.len() as u32;
        self.rlist.push((t, e));
        self.rbits.extend_from_slice(&self.found_bits);
        let i = self.by_start.partition_point(|&x| x <= (t, k));
        self.by_start.insert(i, (t, k));
        self.start_or_ok = self.start_or_ok.min(i + 1);
        let i = self.by_end.partition_point(|&x| x <= (e, k));
        self.by_end.insert(i, (e, k));
    }

    /// The nodes of the first `i` reservations by start (a prefix of
    /// `by_start`), as a bitset.
    fn begun(&mut self, i: usize) -> &[u64] {
        let w = self.words;
        if self.start_or.len() < (i + 1) * w {
            self.start_or.resize((i + 1) * w, 0);
        }
        for m in self.start_or_ok..=i {
            let k = self.by_start[m - 1].1 as usize;
            let (done, rest) = self.start_or.split_at_mut(m * w);
            for ((x, &p), &b) in rest[..w]
                .iter_mut()
                .zip(&done[(m - 1) * w..])
                .zip(&self.rbits[k * w..(k + 1) * w])
            {
                *x = p | b;
            }
        }
        self.start_or_ok = self.start_or_ok.max(i + 1);
        &self.start_or[i * w..(i + 1) * w]
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

    /// Whether no reservation of this cycle holds any of `nodes` during
    /// `[t, t + len)` (from the reservation list; `res` may be stale).
    fn clear_of_reservations(&self, nodes: &[select::Alloc], t: u64, len: u64) -> bool {
        let w = self.words;
        let e = t.saturating_add(len);
        self.rlist.iter().enumerate().all(|(k, &(rs, re))| {
            rs >= e
                || re <= t
                || nodes
                    .iter()
                    .all(|a| self.rbits[k * w + a.node as usize / 64] & (1 << (a.node % 64)) == 0)
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
    fn fits_open_now(&mut self, j: u32, take: bool) -> bool {
        if !self.agg_fits(j) {
            return false;
        }
        let c = self.jc[j as usize];
        let part = &self.parts[c.part as usize];
        let now = self.now;
        let fast = !part.exclusive && c.req.nodes == 0 && c.req.gpus == 0 && c.req.mem == 0;
        if fast && self.bf.unit[c.part as usize] {
            return self.unit_fits_now(j, take);
        }
        self.bf.sync();
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
        let c = self.jc[j as usize];
        let p = c.part as usize;
        let need = c.req.cpus as u64;
        let plan = &mut self.bf;
        let wend = self.now.saturating_add(c.limit);
        let i = plan.by_start.partition_point(|&(s, _)| s < wend);
        plan.begun(i);
        let w = plan.words;
        let blocked = &plan.start_or[i * w..(i + 1) * w];
        let mb = &plan.member_bits[p];
        let usable = || {
            plan.free_bits
                .iter()
                .zip(mb)
                .zip(blocked)
                .map(|((&f, &m), &b)| f & m & !b)
        };
        let open: u64 = usable().map(|x| x.count_ones() as u64).sum();
        if open < need {
            return false;
        }
        if take {
            self.alloc_buf.clear();
            let mut left = need;
            'words: for (k, mut x) in usable().enumerate() {
                while x != 0 {
                    if left == 0 {
                        break 'words;
                    }
                    let n = (k * 64) as u32 + x.trailing_zeros();
                    x &= x - 1;
                    left -= 1;
                    self.alloc_buf.push(select::Alloc {
                        node: n,
                        cpus: 1,
                        gpus: 0,
                        mem: 0,
                    });
                }
            }
        }
        true
    }

    /// The last index in `lo..=hi` of a job that can start now, if any.
    /// Reservations only grow and free resources only shrink during a
    /// cycle, so a job that cannot start now never can later in the cycle.
    fn last_starter(&mut self, lo: usize, hi: usize) -> Option<usize> {
        let mut k = hi;
        loop {
            if k < lo {
                return None;
            }
            if self.fits_open_now(self.pending[k], false) {
                return Some(k);
            }
            if k == 0 {
                return None;
            }
            k -= 1;
        }
    }

    /// The earliest start of job `j` at or after `t_min` within the
    /// horizon, sweeping the expected ends of running jobs and the ends of
    /// reservations; fills `alloc_buf` when found.
    fn sweep(&mut self, j: u32, t_min: u64, horizon: u64, resolution: u64) -> Option<u64> {
        let c = self.jc[j as usize];
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
            let te = self.bf.ends.get(ei).copied().unwrap_or(NEVER);
            let t = tr.min(te);
            if t == NEVER || t > horizon {
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
            while self.bf.ends.get(ei).is_some_and(|&e| e <= t) {
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
        let c = self.jc[j as usize];
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
            let te = plan.ends.get(ei).copied().unwrap_or(NEVER);
            let t = tr.min(te);
            if t == NEVER || t > horizon {
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
            while plan.ends.get(ei).is_some_and(|&e| e <= t) {
                ei += 1;
            }
            let wend = t.saturating_add(limit);
            while let Some(&(s, k)) = plan.by_start.get(bi) {
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
            while let Some(&(e, k)) = plan.by_end.get(xi) {
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
        for &(_, k) in &plan.by_start[..bi] {
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
        let plan = &mut self.bf;
        let w = plan.words;
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
            for (x, &b) in plan.prof_bits[base..]
                .iter_mut()
                .zip(&plan.slot_bits[off..off + w])
            {
                *x |= b;
            }
        }
        plan.prof_valid = true;
    }

    /// [`Sim::fast_sweep`] on a partition of 1-CPU nodes without GPUs,
    /// where a node is either free or not. The free nodes at each expected
    /// end come from the cycle's release profile, and the reserved nodes
    /// are a bitset, so a candidate time costs a few word operations and
    /// the open free CPUs are a popcount. The sweep starts at the first
    /// end after which the partition has enough free CPUs at all (found
    /// by bisection; no earlier time can pass the check). The reserved
    /// nodes, left in `found_bits`, are the lowest-indexed usable ones,
    /// one CPU each, which is what `alloc_fast` picks when every free CPU
    /// count is 1 and no node has GPUs.
    fn unit_sweep(&mut self, j: u32, t_min: u64, horizon: u64, resolution: u64) -> Option<u64> {
        if !self.bf.prof_valid {
            self.build_profile(resolution);
        }
        let c = self.jc[j as usize];
        let p = c.part as usize;
        let limit = c.limit;
        let need = c.req.cpus as u64;
        let plan = &mut self.bf;
        let w = plan.words;
        plan.blocked.iter_mut().for_each(|x| *x = 0);
        let mb = &plan.member_bits[p];
        let state = |k: usize| &plan.prof_bits[k * w..(k + 1) * w];
        let free_cpus = |k: usize| -> u64 {
            state(k)
                .iter()
                .zip(mb)
                .map(|(&f, &m)| (f & m).count_ones() as u64)
                .sum()
        };
        // The first state with enough free CPUs in the partition.
        let (mut lo, mut hi) = (0usize, plan.prof_t.len() + 1);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if free_cpus(mid) < need {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if lo == plan.prof_t.len() + 1 {
            return None;
        }
        let t_lo = if lo == 0 {
            t_min
        } else {
            t_min.max(plan.prof_t[lo - 1])
        };
        let mut ri = plan.prof_t.partition_point(|&x| x < t_lo);
        let mut ei = plan.ends.partition_point(|&x| x < t_lo);
        let (mut bi, mut xi) = (0usize, 0usize);
        // `blocked` holds the nodes of `by_start[..in_blocked]` less those
        // ended by the last rebuild, at `by_end[..rebuilt]`.
        let (mut in_blocked, mut rebuilt) = (0usize, 0usize);
        let mut found = None;
        loop {
            let tr = plan.prof_t.get(ri).copied().unwrap_or(NEVER);
            let te = plan.ends.get(ei).copied().unwrap_or(NEVER);
            let t = tr.min(te);
            if t == NEVER || t > horizon {
                break;
            }
            while plan.prof_t.get(ri).is_some_and(|&x| x <= t) {
                ri += 1;
            }
            while plan.ends.get(ei).is_some_and(|&e| e <= t) {
                ei += 1;
            }
            // The blocked nodes: reservations begun (`by_start[..bi]`) and
            // not ended (`by_end[..xi]`). A reservation ends after it
            // begins, so one that has ended was begun at the same candidate
            // time or earlier.
            let wend = t.saturating_add(limit);
            while plan.by_start.get(bi).is_some_and(|&(s, _)| s < wend) {
                bi += 1;
            }
            while plan.by_end.get(xi).is_some_and(|&(e, _)| e <= t) {
                xi += 1;
            }
            if t < t_min {
                continue;
            }
            if xi == 0 {
                if bi != in_blocked {
                    plan.begun(bi);
                    plan.blocked
                        .copy_from_slice(&plan.start_or[bi * w..(bi + 1) * w]);
                }
            } else if xi != rebuilt {
                plan.blocked.iter_mut().for_each(|x| *x = 0);
                for &(_, k) in &plan.by_start[..bi] {
                    if plan.rlist[k as usize].1 > t {
                        let off = k as usize * w;
                        for (x, &b) in plan.blocked.iter_mut().zip(&plan.rbits[off..off + w]) {
                            *x |= b;
                        }
                    }
                }
                rebuilt = xi;
            } else {
                for &(_, k) in &plan.by_start[in_blocked..bi] {
                    let off = k as usize * w;
                    for (x, &b) in plan.blocked.iter_mut().zip(&plan.rbits[off..off + w]) {
                        *x |= b;
                    }
                }
            }
            in_blocked = bi;
            let mb = &plan.member_bits[p];
            let open: u64 = plan.prof_bits[ri * w..(ri + 1) * w]
                .iter()
                .zip(mb)
                .zip(&plan.blocked)
                .map(|((&f, &m), &b)| (f & m & !b).count_ones() as u64)
                .sum();
            if open >= need {
                found = Some((t, ri));
                break;
            }
        }
        let (t, k) = found?;
        // The lowest `need` usable nodes, into `found_bits`.
        let mb = &plan.member_bits[p];
        let mut left = need;
        let state = &plan.prof_bits[k * w..(k + 1) * w];
        for (i, out) in plan.found_bits.iter_mut().enumerate() {
            let mut x = state[i] & mb[i] & !plan.blocked[i];
            if (x.count_ones() as u64) > left {
                // Keep the lowest `left` bits of this word.
                let mut keep = 0u64;
                for _ in 0..left {
                    let low = x & x.wrapping_neg();
                    keep |= low;
                    x &= x - 1;
                }
                x = keep;
            }
            left -= x.count_ones() as u64;
            *out = x;
        }
        debug_assert_eq!(left, 0);
        Some(t)
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
        let c = self.jc[j as usize];
        let p = c.part as usize;
        if !self.parts[p].exclusive
            && c.req.nodes == 0
            && c.req.gpus == 0
            && c.req.mem == 0
            && self.bf.unit[p]
        {
            return self.will_run_unit(j, t, resolution);
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
    /// of them. Same answer and allocation.
    fn will_run_unit(&mut self, j: u32, t: u64, resolution: u64) -> u64 {
        let c = self.jc[j as usize];
        let need = c.req.cpus as u64;
        let wend = t.saturating_add(c.limit);
        let plan = &mut self.bf;
        let w = plan.words;
        // `blocked` = the open nodes: members free of reservations during
        // `[t, t + limit)`; `found_bits` = the open nodes free so far.
        plan.blocked
            .copy_from_slice(&plan.member_bits[c.part as usize]);
        for (k, &(s, e)) in plan.rlist.iter().enumerate() {
            if s < wend && e > t {
                for (x, &b) in plan.blocked.iter_mut().zip(&plan.rbits[k * w..(k + 1) * w]) {
                    *x &= !b;
                }
            }
        }
        for ((f, &o), &b) in plan
            .found_bits
            .iter_mut()
            .zip(&plan.blocked)
            .zip(&plan.free_bits)
        {
            *f = o & b;
        }
        let count = |x: &[u64]| x.iter().map(|v| v.count_ones() as u64).sum::<u64>();
        let mut result = t;
        if count(&plan.found_bits) < need {
            let mut first = None;
            let mut fit_end = None;
            let mut i = 0;
            // Adds running job `r`'s nodes if it holds an open one.
            let release = |r: u32, found: &mut [u64]| {
                let off = self.jc[r as usize].slot as usize * w;
                let nodes = &plan.slot_bits[off..off + w];
                if nodes.iter().zip(&plan.blocked).all(|(&n, &o)| n & o == 0) {
                    return false;
                }
                for ((f, &n), &o) in found.iter_mut().zip(nodes).zip(&plan.blocked) {
                    *f |= n & o;
                }
                true
            };
            let mut found = std::mem::take(&mut plan.usable);
            found.copy_from_slice(&plan.found_bits);
            while i < self.running.len() {
                let e = round_up(self.running[i].0, resolution);
                if e > t {
                    break;
                }
                let mut any = false;
                while let Some(&(er, r)) = self.running.get(i) {
                    if round_up(er, resolution) != e {
                        break;
                    }
                    i += 1;
                    any |= release(r, &mut found);
                }
                if !any {
                    continue;
                }
                first.get_or_insert(e);
                if count(&found) >= need {
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
                    if release(r, &mut found) {
                        g = er;
                    }
                }
                result = g.max(t);
            }
            plan.found_bits.copy_from_slice(&found);
            plan.usable = found;
        }
        // The lowest `need` free open nodes, one CPU each.
        self.alloc_buf.clear();
        for n in bit_iter(&plan.found_bits).take(need as usize) {
            self.alloc_buf.push(select::Alloc {
                node: n,
                cpus: 1,
                gpus: 0,
                mem: 0,
            });
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
        // reservations matter only for jobs before the last of them.
        if !(0..max_test).any(|i| self.agg_fits(self.pending[i])) {
            return;
        }
        let now = self.now;
        let horizon = now.saturating_add(self.cluster.sched.bf_window);
        let resolution = self.cluster.sched.bf_resolution.max(1);
        self.bf.clear();
        let mut free_now = std::mem::take(&mut self.bf.free_now);
        free_now.clear();
        free_now.extend((0..self.free.len() as u32).filter(|&n| self.free[n as usize].cpus > 0));
        self.bf.free_now = free_now;
        self.bf.set_free_bits();
        let Some(mut last) = self.last_starter(0, max_test - 1) else {
            return;
        };
        let mut started = false;
        let mut i = 0;
        while i <= last {
            let j = self.pending[i];
            i += 1;
            let c = self.jc[j as usize];
            let p = c.part as usize;
            let limit = c.limit;
            if self.fits_open_now(j, true) {
                self.start_job(j, true);
                self.bf.prof_valid = false;
                started = true;
                let free = &self.free;
                self.bf.free_now.retain(|&n| free[n as usize].cpus > 0);
                self.bf.set_free_bits();
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
            // ends of reservations.
            let shape = self
                .bf
                .shapes
                .iter()
                .position(|&(r, sp, sl, _)| r == c.req && sp == c.part && sl == limit);
            let t_min = match shape.map(|k| self.bf.shapes[k].3) {
                Some(None) => continue, // Same shape found no start in the window.
                Some(Some(t)) => t,
                None => 0,
            };
            let fast = {
                let part = &self.parts[p];
                !part.exclusive && c.req.nodes == 0 && c.req.gpus == 0 && c.req.mem == 0
            };
            let unit = fast && self.bf.unit[p];
            // The first time the job fits, moved to the start cons_tres's
            // will-run test reports (`will_run_start`); the sweep from
            // there places it.
            let mut from = t_min;
            let found = loop {
                let t = if unit {
                    self.unit_sweep(j, from, horizon, resolution)
                } else if fast {
                    self.fast_sweep(j, from, horizon, resolution)
                } else {
                    self.sweep(j, from, horizon, resolution)
                };
                let Some(t) = t else { break None };
                let g = self.will_run_start(j, t, resolution);
                if g > horizon {
                    break None;
                }
                if g == t || self.bf.clear_of_reservations(&self.alloc_buf, g, limit) {
                    break Some(g);
                }
                from = g;
            };
            match shape {
                Some(k) => self.bf.shapes[k].3 = found,
                None if self.bf.shapes.len() < 16 => {
                    self.bf.shapes.push((c.req, c.part, limit, found));
                }
                None => {}
            }
            if let Some(t) = found {
                self.bf.record(&self.alloc_buf, t, limit);
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

/// The end of the will-run window that holds end `e`, given the first
/// running job's end `first` (see [`Sim::will_run_start`]): windows end
/// at `E + 30`, `E + 60`, `E + 120`, ... s, where `E` is `first` rounded
/// up to the next multiple of 30 s (strictly later). Slurm's
/// `time_window` in cons_tres's job_test.c; `bf_window_linear` is not
/// modelled.
fn will_run_bound(first: u64, e: u64) -> u64 {
    const WINDOW: u64 = 30;
    let base = first.saturating_add(WINDOW - first % WINDOW);
    let mut w = WINDOW;
    while base.saturating_add(w) < e {
        w = w.saturating_mul(2);
    }
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
