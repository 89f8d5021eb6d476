//! Node selection in the manner of `select/cons_tres`: which nodes, and how
//! much of each (CPUs, memory, GPUs), a job gets.
//!
//! This module owns the per-node resource arithmetic and the choice of
//! nodes. It knows nothing about time, events or priorities: callers pass
//! the free resources to select from and a predicate saying which nodes may
//! be used (the backfill planner uses it to hide reserved nodes). It must
//! not change cluster state itself.

/// Memory value meaning "not modelled" (a node with `RealMemory` 0).
pub(crate) const MEM_UNLIMITED: u64 = u64::MAX;

/// Resources on one node (capacity or free amount).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Res {
    pub cpus: u32,
    pub gpus: u32,
    /// MB; [`MEM_UNLIMITED`] when memory is not modelled on the node.
    pub mem: u64,
}

/// Static facts about a node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeCap {
    pub res: Res,
    /// GPU type id (0 = untyped).
    pub gtype: u32,
}

/// What one job holds on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Alloc {
    pub node: u32,
    pub cpus: u32,
    pub gpus: u32,
    /// MB actually taken (0 on nodes whose memory is not modelled).
    pub mem: u64,
}

/// A job's request, normalised once at load time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Req {
    /// Total CPUs (at least 1).
    pub cpus: u32,
    /// Total GPUs.
    pub gpus: u32,
    /// Total memory in MB (0 = none requested).
    pub mem: u64,
    /// Exact node count, 0 = any.
    pub nodes: u32,
    /// Required GPU type id, 0 = any.
    pub gtype: u32,
}

impl Req {
    /// Whether the request is for CPUs only, on any number of nodes: on a
    /// shared partition it then fits exactly when the free CPUs add up.
    #[inline]
    pub(crate) fn cpu_only(&self) -> bool {
        self.nodes == 0 && self.gpus == 0 && self.mem == 0
    }
}

fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b.max(1))
}

fn mem_fits(free: u64, need: u64) -> bool {
    free == MEM_UNLIMITED || free >= need
}

fn take_mem(free: u64, need: u64) -> u64 {
    if free == MEM_UNLIMITED { 0 } else { need }
}

/// Scratch buffers reused across calls so that selection does not allocate.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    cand: Vec<(u64, u32)>,
    /// Runs of consecutive candidate nodes: (first position in `cand`, length).
    runs: Vec<(usize, usize)>,
}

/// Sorts `cand` (keyed by node index) and splits it into runs of nodes with
/// consecutive indices, as cons_tres's `_eval_nodes` groups the nodes that
/// can take a job into "consecutive sets".
fn consecutive_runs(cand: &mut [(u64, u32)], runs: &mut Vec<(usize, usize)>) {
    cand.sort_unstable();
    runs.clear();
    let mut i = 0;
    while i < cand.len() {
        let s = i;
        while i + 1 < cand.len() && cand[i + 1].1 == cand[i].1 + 1 {
            i += 1;
        }
        runs.push((s, i + 1 - s));
        i += 1;
    }
}

/// The run cons_tres takes nodes from next when `rem` nodes are still
/// needed and every candidate node offers the same share: the first of the
/// smallest runs that are large enough, or, when none is, the first of the
/// largest. Used-up runs have length 0.
fn best_run(runs: &[(usize, usize)], rem: usize) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (r, &(_, len)) in runs.iter().enumerate() {
        if len == 0 {
            continue;
        }
        let Some(b) = best else {
            best = Some(r);
            continue;
        };
        let bl = runs[b].1;
        let (suff, best_suff) = (len >= rem, bl >= rem);
        // A large-enough run beats one that is not, a smaller large-enough
        // run beats a larger one, and among runs too small the largest wins.
        let better = if suff {
            !best_suff || len < bl
        } else {
            !best_suff && len > bl
        };
        if better {
            best = Some(r);
        }
    }
    best
}

/// The node cons_tres gives a one-node job without GPUs, among the candidate
/// nodes `cand` split into `runs` of consecutive indices. `_eval_nodes`
/// weighs each node by the CPUs it could give the job, which for a job
/// without GRES are all its free CPUs (the GRES filter caps a GPU job's at
/// its share, so those keep the first node of the smallest run): it takes
/// the run with the fewest free CPUs in total (the first on ties; every run
/// is large enough for one node), and in it the node with the fewest free
/// CPUs (the first on ties). Checked against slurmctld's backfill log on
/// every start that had a choice (docs/simulator.md, "Node choice for
/// one-node jobs").
fn tightest_cpu_node(cand: &[(u64, u32)], runs: &[(usize, usize)], free: &[Res]) -> u32 {
    let cpus = |&(_, n): &(u64, u32)| free[n as usize].cpus as u64;
    let mut best_run = (u64::MAX, 0, 0);
    for &(s, len) in runs {
        let total: u64 = cand[s..s + len].iter().map(cpus).sum();
        if total < best_run.0 {
            best_run = (total, s, len);
        }
    }
    let (_, s, len) = best_run;
    let mut best = cand[s];
    for c in &cand[s + 1..s + len] {
        if cpus(c) < cpus(&best) {
            best = *c;
        }
    }
    best.1
}

/// Chooses nodes for `req` among `nodes` (a partition's node list), using
/// `free` as the free resources per node and `usable(n)` as the extra
/// condition a node must meet. Returns whether the job fits; when `out` is
/// given and the job fits, it receives the allocation.
///
/// Rules (see docs/simulator.md, "Node selection"):
/// - `exclusive`: only fully idle nodes, each taken whole.
/// - `nodes > 0`: exactly that many nodes, each giving `ceil(total/nodes)`
///   of every resource, chosen as cons_tres does: the nodes that can give
///   that share form runs of consecutive node indices; the job takes the
///   lowest nodes of the first smallest run that is large enough (or, when
///   none is, of the largest run, then continues with the remaining runs).
///   A one-node job without GPUs instead takes the tightest node by free
///   CPUs ([`tightest_cpu_node`]).
/// - `nodes == 0`: one node if any can hold the whole job (best fit);
///   otherwise as few nodes as possible, taking the nodes with the most
///   usable CPUs first; memory follows CPUs (per-CPU share).
#[allow(clippy::too_many_arguments)]
pub(crate) fn select(
    req: &Req,
    nodes: &[u32],
    cap: &[NodeCap],
    free: &[Res],
    exclusive: bool,
    usable: &dyn Fn(u32) -> bool,
    scratch: &mut Scratch,
    out: Option<&mut Vec<Alloc>>,
) -> bool {
    let type_ok = |n: u32| req.gpus == 0 || req.gtype == 0 || cap[n as usize].gtype == req.gtype;
    if exclusive {
        return select_exclusive(req, nodes, cap, free, &type_ok, usable, scratch, out);
    }
    if req.nodes > 0 {
        let k = req.nodes as u64;
        let need = Res {
            cpus: ceil_div(req.cpus as u64, k) as u32,
            gpus: ceil_div(req.gpus as u64, k) as u32,
            mem: ceil_div(req.mem, k),
        };
        scratch.cand.clear();
        for &n in nodes {
            let f = free[n as usize];
            if f.cpus >= need.cpus
                && f.gpus >= need.gpus
                && mem_fits(f.mem, need.mem)
                && type_ok(n)
                && usable(n)
            {
                scratch.cand.push((n as u64, n));
            }
        }
        if scratch.cand.len() < req.nodes as usize {
            return false;
        }
        if let Some(out) = out {
            out.clear();
            consecutive_runs(&mut scratch.cand, &mut scratch.runs);
            if req.nodes == 1 && req.gpus == 0 {
                let n = tightest_cpu_node(&scratch.cand, &scratch.runs, free);
                out.push(Alloc {
                    node: n,
                    cpus: need.cpus,
                    gpus: 0,
                    mem: take_mem(free[n as usize].mem, need.mem),
                });
                return true;
            }
            let mut rem = req.nodes as usize;
            while rem > 0 {
                let Some(b) = best_run(&scratch.runs, rem) else {
                    break;
                };
                let (s, len) = scratch.runs[b];
                let take = len.min(rem);
                for &(_, n) in &scratch.cand[s..s + take] {
                    out.push(Alloc {
                        node: n,
                        cpus: need.cpus,
                        gpus: need.gpus,
                        mem: take_mem(free[n as usize].mem, need.mem),
                    });
                }
                rem -= take;
                scratch.runs[b].1 = 0;
            }
            debug_assert_eq!(rem, 0);
        }
        return true;
    }
    // nodes == 0: memory per CPU.
    let mpc = if req.mem == 0 {
        0
    } else {
        ceil_div(req.mem, req.cpus as u64)
    };
    // One node holding the whole job, best fit.
    let mut best: Option<(u64, u32)> = None;
    let mut sum_c: u64 = 0;
    let mut sum_g: u64 = 0;
    for &n in nodes {
        let f = free[n as usize];
        if f.cpus == 0 || !type_ok(n) || !usable(n) {
            continue;
        }
        if f.cpus >= req.cpus && f.gpus >= req.gpus && mem_fits(f.mem, req.mem) {
            let key = ((f.gpus as u64) << 32) | f.cpus as u64;
            if best.is_none_or(|(k, _)| key < k) {
                best = Some((key, n));
            }
        }
        let c = usable_cpus(f, mpc);
        if c > 0 {
            sum_c += c as u64;
            sum_g += f.gpus as u64;
        }
    }
    if let Some((_, n)) = best {
        if let Some(out) = out {
            out.clear();
            out.push(Alloc {
                node: n,
                cpus: req.cpus,
                gpus: req.gpus,
                mem: take_mem(free[n as usize].mem, req.mem),
            });
        }
        return true;
    }
    if sum_c < req.cpus as u64 || sum_g < req.gpus as u64 {
        return false;
    }
    // Several nodes: most usable CPUs first.
    scratch.cand.clear();
    for &n in nodes {
        let f = free[n as usize];
        let c = usable_cpus(f, mpc);
        if c > 0 && type_ok(n) && usable(n) {
            // Descending by CPUs, ascending by index.
            scratch
                .cand
                .push((((u32::MAX - c) as u64) << 32 | n as u64, n));
        }
    }
    scratch.cand.sort_unstable();
    let (mut rc, mut rg) = (req.cpus, req.gpus);
    let mut picked: u32 = 0;
    let mut out = out;
    if let Some(o) = out.as_deref_mut() {
        o.clear();
    }
    for &(_, n) in &scratch.cand {
        if rc == 0 && rg == 0 {
            break;
        }
        let f = free[n as usize];
        let cu = usable_cpus(f, mpc);
        let g = f.gpus.min(rg);
        let mut c = cu.min(rc);
        if c == 0 && g > 0 {
            c = 1; // GPUs need a CPU beside them.
        }
        if c == 0 {
            continue;
        }
        rc -= c.min(rc);
        rg -= g;
        picked += 1;
        if let Some(o) = out.as_deref_mut() {
            o.push(Alloc {
                node: n,
                cpus: c,
                gpus: g,
                mem: take_mem(f.mem, mpc * c as u64),
            });
        }
    }
    let _ = picked;
    rc == 0 && rg == 0
}

/// CPUs a node can give a `nodes == 0` job, given its per-CPU memory.
fn usable_cpus(f: Res, mpc: u64) -> u32 {
    if mpc == 0 || f.mem == MEM_UNLIMITED {
        f.cpus
    } else {
        f.cpus.min((f.mem / mpc).min(u32::MAX as u64) as u32)
    }
}

#[allow(clippy::too_many_arguments)]
fn select_exclusive(
    req: &Req,
    nodes: &[u32],
    cap: &[NodeCap],
    free: &[Res],
    type_ok: &dyn Fn(u32) -> bool,
    usable: &dyn Fn(u32) -> bool,
    scratch: &mut Scratch,
    out: Option<&mut Vec<Alloc>>,
) -> bool {
    let idle = |n: u32| free[n as usize] == cap[n as usize].res;
    scratch.cand.clear();
    if req.nodes > 0 {
        let k = req.nodes as u64;
        let (nc, ng, nm) = (
            ceil_div(req.cpus as u64, k) as u32,
            ceil_div(req.gpus as u64, k) as u32,
            ceil_div(req.mem, k),
        );
        for &n in nodes {
            let c = cap[n as usize].res;
            if c.cpus >= nc
                && c.gpus >= ng
                && mem_fits(c.mem, nm)
                && idle(n)
                && type_ok(n)
                && usable(n)
            {
                // Smallest nodes first (best fit).
                scratch
                    .cand
                    .push((((c.cpus as u64) << 32) | c.gpus as u64, n));
            }
        }
        if scratch.cand.len() < req.nodes as usize {
            return false;
        }
        scratch.cand.sort_unstable();
        scratch.cand.truncate(req.nodes as usize);
    } else {
        for &n in nodes {
            let c = cap[n as usize].res;
            if idle(n) && type_ok(n) && usable(n) {
                // Largest nodes first (fewest nodes).
                scratch.cand.push((
                    ((u32::MAX - c.cpus) as u64) << 32 | (u32::MAX - c.gpus) as u64,
                    n,
                ));
            }
        }
        scratch.cand.sort_unstable();
        let (mut rc, mut rg, mut rm) = (req.cpus as u64, req.gpus as u64, req.mem);
        let mut take = 0;
        for &(_, n) in &scratch.cand {
            if rc == 0 && rg == 0 && rm == 0 {
                break;
            }
            let c = cap[n as usize].res;
            rc = rc.saturating_sub(c.cpus as u64);
            rg = rg.saturating_sub(c.gpus as u64);
            rm = if c.mem == MEM_UNLIMITED {
                0
            } else {
                rm.saturating_sub(c.mem)
            };
            take += 1;
        }
        if rc > 0 || rg > 0 || rm > 0 {
            return false;
        }
        scratch.cand.truncate(take);
    }
    if let Some(out) = out {
        out.clear();
        for &(_, n) in &scratch.cand {
            let c = cap[n as usize].res;
            out.push(Alloc {
                node: n,
                cpus: c.cpus,
                gpus: c.gpus,
                mem: if c.mem == MEM_UNLIMITED { 0 } else { c.mem },
            });
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(v: &[(u32, u32)]) -> Vec<NodeCap> {
        v.iter()
            .map(|&(c, g)| NodeCap {
                res: Res {
                    cpus: c,
                    gpus: g,
                    mem: MEM_UNLIMITED,
                },
                gtype: 0,
            })
            .collect()
    }

    /// The nodes `select` gives `req` on a shared partition of every node
    /// in `cap` (asserting that it fits).
    fn nodes_chosen(req: &Req, cap: &[NodeCap], free: &[Res]) -> Vec<u32> {
        let all: Vec<u32> = (0..cap.len() as u32).collect();
        let mut out = Vec::new();
        assert!(select(
            req,
            &all,
            cap,
            free,
            false,
            &|_| true,
            &mut Scratch::default(),
            Some(&mut out),
        ));
        out.iter().map(|a| a.node).collect()
    }

    /// Found by the sim-to-real fidelity replay (docs/fidelity.md): a
    /// one-node GPU job went to the node with the fewest free GPUs, where
    /// slurmctld put it on the first node of the smallest run of
    /// consecutive nodes that could take it, and the next job then found
    /// no room in the simulator only.
    #[test]
    fn nodes_gt_0_take_the_smallest_run_of_consecutive_nodes_like_cons_tres() {
        let cap = caps(&[(8, 4); 6]);
        let mut free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        // Node 2 is full, so the candidates form runs {0, 1} and {3, 4, 5};
        // node 1 has the fewest free GPUs overall.
        free[2].cpus = 0;
        free[1].gpus = 2;
        free[4].gpus = 3;
        let run = |req: Req| nodes_chosen(&req, &cap, &free);
        let one = Req {
            cpus: 1,
            gpus: 2,
            nodes: 1,
            ..Req::default()
        };
        // The smallest run that is large enough is {0, 1}: its lowest node.
        assert_eq!(run(one), vec![0]);
        // Three nodes: only {3, 4, 5} is large enough.
        assert_eq!(run(Req { nodes: 3, ..one }), vec![3, 4, 5]);
        // Four nodes: no run is large enough; the largest first, then the rest.
        assert_eq!(run(Req { nodes: 4, ..one }), vec![3, 4, 5, 0]);
        // Nodes that cannot give the share break the runs: with 3 GPUs per
        // node, node 1 (2 free) is out and {0} is the smallest run.
        assert_eq!(run(Req { gpus: 3, ..one }), vec![0]);
    }

    /// Found in slurmctld's backfill log (plugin replay rl4 of
    /// docs/fidelity.md): `Test JobId=20 ... on n[1-4]`, then `Started
    /// JobId=20 ... on n4`, with 3 free CPUs on n1 and 2 on n4. A one-node
    /// job without GPUs goes to the run with the fewest free CPUs and to its
    /// tightest node; a GPU job keeps the first node of the smallest run.
    #[test]
    fn a_one_node_cpu_job_takes_the_tightest_node_of_the_tightest_run() {
        let cap = caps(&[(8, 2); 6]);
        let mut free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        // Node 2 is full: runs {0, 1} (3 + 5 = 8 free CPUs) and
        // {3, 4, 5} (4 + 2 + 6 = 12).
        for (n, c) in [(0, 3), (1, 5), (2, 0), (3, 4), (4, 2), (5, 6)] {
            free[n].cpus = c;
        }
        let run = |req: Req, free: &[Res]| nodes_chosen(&req, &cap, free);
        let cpu = Req {
            cpus: 2,
            nodes: 1,
            ..Req::default()
        };
        // Run {0, 1} has fewer free CPUs; node 0 the fewest in it.
        assert_eq!(run(cpu, &free), vec![0]);
        // With 3 CPUs node 4 (2 free) is out: runs {0, 1} (8) and {3} (4),
        // so the lone node 3 wins although node 0 has fewer free CPUs.
        assert_eq!(run(Req { cpus: 3, ..cpu }, &free), vec![3]);
        // Within a run the tightest node, not the first.
        free[0].cpus = 6;
        free[1].cpus = 2;
        free[3].cpus = 8;
        assert_eq!(run(cpu, &free), vec![1]);
        // A GPU job keeps the first node of the smallest run.
        assert_eq!(run(Req { gpus: 1, ..cpu }, &free), vec![0]);
    }

    #[test]
    fn best_fit_single_node() {
        let cap = caps(&[(8, 0), (8, 0), (8, 0)]);
        let mut free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        free[0].cpus = 6;
        free[1].cpus = 2;
        let req = Req {
            cpus: 2,
            ..Req::default()
        };
        let mut out = Vec::new();
        let ok = select(
            &req,
            &[0, 1, 2],
            &cap,
            &free,
            false,
            &|_| true,
            &mut Scratch::default(),
            Some(&mut out),
        );
        assert!(ok);
        // Node 1 has exactly 2 free CPUs: the best fit.
        assert_eq!(
            out,
            vec![Alloc {
                node: 1,
                cpus: 2,
                gpus: 0,
                mem: 0
            }]
        );
    }

    #[test]
    fn spread_over_fewest_nodes() {
        let cap = caps(&[(4, 0), (4, 0), (4, 0)]);
        let mut free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        free[0].cpus = 1;
        let req = Req {
            cpus: 7,
            ..Req::default()
        };
        let mut out = Vec::new();
        assert!(select(
            &req,
            &[0, 1, 2],
            &cap,
            &free,
            false,
            &|_| true,
            &mut Scratch::default(),
            Some(&mut out)
        ));
        // Nodes 1 and 2 (4 free each) before node 0 (1 free): 4 + 3.
        assert_eq!(
            out.iter().map(|a| (a.node, a.cpus)).collect::<Vec<_>>(),
            vec![(1, 4), (2, 3)]
        );
        let req = Req {
            cpus: 10,
            ..Req::default()
        };
        assert!(!select(
            &req,
            &[0, 1, 2],
            &cap,
            &free,
            false,
            &|_| true,
            &mut Scratch::default(),
            None
        ));
    }

    #[test]
    fn exact_node_count_and_unusable_nodes() {
        let cap = caps(&[(4, 0), (4, 0), (4, 0)]);
        let free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        let req = Req {
            cpus: 6,
            nodes: 3,
            ..Req::default()
        };
        let mut out = Vec::new();
        assert!(select(
            &req,
            &[0, 1, 2],
            &cap,
            &free,
            false,
            &|_| true,
            &mut Scratch::default(),
            Some(&mut out)
        ));
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|a| a.cpus == 2));
        assert!(!select(
            &req,
            &[0, 1, 2],
            &cap,
            &free,
            false,
            &|n| n != 1,
            &mut Scratch::default(),
            None
        ));
    }

    #[test]
    fn exclusive_takes_idle_whole_nodes() {
        let cap = caps(&[(4, 0), (4, 0)]);
        let mut free: Vec<Res> = cap.iter().map(|c| c.res).collect();
        free[0].cpus = 3;
        let req = Req {
            cpus: 1,
            ..Req::default()
        };
        let mut out = Vec::new();
        assert!(select(
            &req,
            &[0, 1],
            &cap,
            &free,
            true,
            &|_| true,
            &mut Scratch::default(),
            Some(&mut out)
        ));
        assert_eq!(
            out,
            vec![Alloc {
                node: 1,
                cpus: 4,
                gpus: 0,
                mem: 0
            }]
        );
        free[1].cpus = 3;
        assert!(!select(
            &req,
            &[0, 1],
            &cap,
            &free,
            true,
            &|_| true,
            &mut Scratch::default(),
            None
        ));
    }
}
