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

/// A remembered answer of [`Plan::open_memo`].
#[derive(Debug, Clone, Copy, Default)]
struct Memo {
    sweep: u64,
    until: u64,
    open: bool,
}

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
    /// Per node, within one sweep: whether it is open, and until when
    /// that answer holds (valid when `memo.sweep == sweep`).
    memo: Vec<Memo>,
    sweep: u64,
}

impl Plan {
    pub(crate) fn new(nodes: usize) -> Self {
        Plan {
            res: vec![Vec::new(); nodes],
            touched: Vec::new(),
            ends: Vec::new(),
            ff: Vec::new(),
            free_now: Vec::new(),
            shapes: Vec::new(),
            memo: vec![Memo::default(); nodes],
            sweep: 0,
        }
    }

    fn clear(&mut self) {
        for &n in &self.touched {
            self.res[n as usize].clear();
        }
        self.touched.clear();
        self.ends.clear();
        self.shapes.clear();
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

    /// Whether node `n` is open over `[t, t + len)`, remembering within the
    /// current sweep (one job, so one `len`) until when the answer holds:
    /// a reservation `[s, e)` that overlaps the window keeps overlapping it
    /// for every start before `e`; an open node stays open while the window
    /// ends before the node's next reservation.
    fn open_memo(&mut self, n: u32, t: u64, len: u64) -> bool {
        let k = n as usize;
        let m = self.memo[k];
        if m.sweep == self.sweep && (if m.open { t <= m.until } else { t < m.until }) {
            return m.open;
        }
        let v = &self.res[k];
        let e = t.saturating_add(len);
        let i = v.partition_point(|&(_, re)| re <= t);
        let (open, until) = match v.get(i) {
            Some(&(rs, re)) if rs < e => (false, re),
            Some(&(rs, _)) => (true, rs.saturating_sub(len)),
            None => (true, NEVER),
        };
        self.memo[k] = Memo {
            sweep: self.sweep,
            until,
            open,
        };
        open
    }

    /// Reserves node `n` over `[t, t + len)` (which `open` allowed).
    fn reserve(&mut self, n: u32, t: u64, len: u64) {
        let e = t.saturating_add(len);
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
        if let Err(pos) = self.ends.binary_search(&e) {
            self.ends.insert(pos, e);
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
        let plan = &self.bf;
        if !part.exclusive && c.req.nodes == 0 && c.req.gpus == 0 && c.req.mem == 0 {
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
                started = true;
                let free = &self.free;
                self.bf.free_now.retain(|&n| free[n as usize].cpus > 0);
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
            let part = &self.parts[p];
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
            let fast = !part.exclusive && c.req.nodes == 0 && c.req.gpus == 0 && c.req.mem == 0;
            self.bf.sweep += 1;
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
                if fast {
                    // CPUs only, any node count: add up open free CPUs first.
                    let need = c.req.cpus as u64;
                    let mut sum = 0u64;
                    for &n in &part.nodes {
                        let f = ff[n as usize].cpus;
                        if f > 0 && self.bf.open_memo(n, t, limit) {
                            sum += f as u64;
                            if sum >= need {
                                break;
                            }
                        }
                    }
                    if sum < need {
                        continue;
                    }
                }
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
            match shape {
                Some(k) => self.bf.shapes[k].3 = found,
                None if self.bf.shapes.len() < 16 => {
                    self.bf.shapes.push((c.req, c.part, limit, found));
                }
                None => {}
            }
            if let Some(t) = found {
                for k in 0..self.alloc_buf.len() {
                    let n = self.alloc_buf[k].node;
                    self.bf.reserve(n, t, limit);
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
