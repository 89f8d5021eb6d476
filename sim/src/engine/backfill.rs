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
}

impl Plan {
    pub(crate) fn new(nodes: usize) -> Self {
        Plan {
            res: vec![Vec::new(); nodes],
            touched: Vec::new(),
            ends: Vec::new(),
            ff: Vec::new(),
        }
    }

    fn clear(&mut self) {
        for &n in &self.touched {
            self.res[n as usize].clear();
        }
        self.touched.clear();
        self.ends.clear();
    }

    /// Whether node `n` is free of reservations over `[t, t + len)`.
    fn open(&self, n: u32, t: u64, len: u64) -> bool {
        let e = t.saturating_add(len);
        self.res[n as usize]
            .iter()
            .all(|&(rs, re)| !(rs < e && t < re))
    }

    fn reserve(&mut self, n: u32, t: u64, len: u64) {
        let v = &mut self.res[n as usize];
        if v.is_empty() {
            self.touched.push(n);
        }
        let e = t.saturating_add(len);
        v.push((t, e));
        let pos = self.ends.partition_point(|&x| x < e);
        self.ends.insert(pos, e);
    }
}

impl Sim<'_> {
    /// One backfill cycle.
    pub(super) fn backfill_cycle(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.stats.bf_cycles += 1;
        let max_test = (self.cluster.sched.bf_max_job_test.max(1) as usize).min(self.pending.len());
        // Only jobs that fit the idle resources (ignoring reservations) can
        // start in this cycle; reservations matter only for jobs before the
        // last of them. Free resources only shrink during the cycle.
        let Some(last) = (0..max_test)
            .rev()
            .find(|&i| self.agg_fits(self.pending[i]))
        else {
            return;
        };
        let now = self.now;
        let horizon = now.saturating_add(self.cluster.sched.bf_window);
        let resolution = self.cluster.sched.bf_resolution.max(1);
        self.bf.clear();
        let mut started = false;
        for i in 0..=last {
            let j = self.pending[i];
            let c = self.jc[j as usize];
            let p = c.part as usize;
            let limit = c.limit;
            // Can it start now, clear of every reservation?
            if self.agg_fits(j) {
                let part = &self.parts[p];
                let plan = &self.bf;
                let ok = select::select(
                    &c.req,
                    &part.nodes,
                    &self.cap,
                    &self.free,
                    part.exclusive,
                    &|n| plan.open(n, now, limit),
                    &mut self.scratch,
                    Some(&mut self.alloc_buf),
                );
                if ok {
                    self.start_job(j, true);
                    started = true;
                    continue;
                }
            }
            if i == last {
                break; // No job after this one can start: its reservation is moot.
            }
            // Earliest later start: sweep expected ends of running jobs and
            // ends of reservations.
            let part = &self.parts[p];
            let mut ff = std::mem::take(&mut self.bf.ff);
            ff.clear();
            ff.extend_from_slice(&self.free);
            let (mut agg_c, mut agg_g) = (self.part_free_cpus[p], self.part_free_gpus[p]);
            let (mut ri, mut ei) = (0usize, 0usize);
            let mut found = None;
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
                        }
                    }
                }
                while self.bf.ends.get(ei).is_some_and(|&e| e <= t) {
                    ei += 1;
                }
                if agg_c < c.req.cpus as u64 || agg_g < c.req.gpus as u64 {
                    continue;
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
            if let Some(t) = found {
                for k in 0..self.alloc_buf.len() {
                    let n = self.alloc_buf[k].node;
                    self.bf.reserve(n, t, limit);
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
