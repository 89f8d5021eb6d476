//! Schedule metrics: turns one simulated schedule (the jobs and their
//! [`JobOutcome`]s) into the headline numbers every report uses, and into a
//! step-function timeline of queue length and busy resources.
//!
//! The exact formulas are written down in `docs/metrics.md`; this file and
//! that document must agree. This module only measures: it must not
//! simulate, know about policies, or print anything. All times are integer
//! seconds; the metrics themselves are `f64` because they are averages and
//! ratios.

use crate::engine::{JobOutcome, OutcomeKind};
use crate::trace::{Job, NameId};
use serde::Serialize;
use std::collections::BTreeMap;

/// Run times below this many seconds count as this many in the bounded
/// slowdown (the usual 10 s threshold).
pub const BSLD_THRESHOLD: u64 = 10;

/// Headline metrics of one simulated schedule.
///
/// Statistics over waits, slowdowns and completion times use only jobs that
/// started (`started` of them); jobs that never started are counted in the
/// outcome counters but excluded there. A mean, median or percentile over an
/// empty set is reported as 0 (look at `started` to tell that case apart).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Metrics {
    /// Jobs in the schedule.
    pub jobs: usize,
    /// Jobs that ran their actual run time.
    pub completed: usize,
    /// Jobs killed at their time limit.
    pub timeout: usize,
    /// Jobs that left the queue without starting.
    pub cancelled: usize,
    /// Jobs that can never run on the cluster.
    pub rejected: usize,
    /// Jobs that started (`start` is set).
    pub started: usize,
    /// Started jobs that the backfill scheduler started.
    pub backfilled: usize,
    /// Mean wait of started jobs, seconds: wait = start − max(submit, eligible).
    pub wait_mean: f64,
    /// Median wait (mean of the two middle values for an even count), seconds.
    pub wait_median: f64,
    /// 95th percentile of the wait (nearest rank), seconds.
    pub wait_p95: f64,
    /// 99th percentile of the wait (nearest rank), seconds.
    pub wait_p99: f64,
    /// Longest wait, seconds.
    pub wait_max: f64,
    /// Mean bounded slowdown: max(1, (wait + run) / max(run, 10)), run = end − start.
    pub bsld_mean: f64,
    /// Mean job completion time of started jobs, end − submit, seconds.
    pub jct_mean: f64,
    /// Last end of a started job minus the first submit of any job, seconds.
    pub makespan: u64,
    /// Σ cpus·(end − start) / (total CPUs · makespan), in [0, 1].
    pub cpu_util: f64,
    /// Σ gpus·(end − start) / (total GPUs · makespan); 0 without GPUs.
    pub gpu_util: f64,
    /// Users with at least one started job.
    pub users: usize,
    /// Jain's index of the per-user mean bounded slowdown, in (0, 1]; 1 = fair.
    pub fairness: f64,
}

/// Which direction of a metric is good, for comparisons and plots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Smaller values are better (waits, slowdowns).
    Lower,
    /// Larger values are better (utilization, fairness).
    Higher,
    /// Neither (counts that describe the workload).
    Neither,
}

/// Description of one numeric metric: its stable name, how to print it and
/// how to read it out of a [`Metrics`].
#[derive(Debug, Clone, Copy)]
pub struct MetricDef {
    /// Stable name, equal to the field name in [`Metrics`] and in JSON.
    pub name: &'static str,
    /// Human label for tables and plot titles.
    pub label: &'static str,
    /// Unit (`s`, `%`, empty when unitless).
    pub unit: &'static str,
    /// Which direction is good.
    pub better: Better,
    /// Reads the value (utilizations in [0, 1], not percent).
    pub get: fn(&Metrics) -> f64,
}

/// Every numeric metric, in report order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "bsld_mean",
        label: "mean bounded slowdown",
        unit: "",
        better: Better::Lower,
        get: |m| m.bsld_mean,
    },
    MetricDef {
        name: "wait_mean",
        label: "mean wait",
        unit: "s",
        better: Better::Lower,
        get: |m| m.wait_mean,
    },
    MetricDef {
        name: "wait_median",
        label: "median wait",
        unit: "s",
        better: Better::Lower,
        get: |m| m.wait_median,
    },
    MetricDef {
        name: "wait_p95",
        label: "p95 wait",
        unit: "s",
        better: Better::Lower,
        get: |m| m.wait_p95,
    },
    MetricDef {
        name: "wait_p99",
        label: "p99 wait",
        unit: "s",
        better: Better::Lower,
        get: |m| m.wait_p99,
    },
    MetricDef {
        name: "wait_max",
        label: "max wait",
        unit: "s",
        better: Better::Lower,
        get: |m| m.wait_max,
    },
    MetricDef {
        name: "jct_mean",
        label: "mean completion time",
        unit: "s",
        better: Better::Lower,
        get: |m| m.jct_mean,
    },
    MetricDef {
        name: "makespan",
        label: "makespan",
        unit: "s",
        better: Better::Lower,
        get: |m| m.makespan as f64,
    },
    MetricDef {
        name: "cpu_util",
        label: "CPU utilization",
        unit: "%",
        better: Better::Higher,
        get: |m| m.cpu_util,
    },
    MetricDef {
        name: "gpu_util",
        label: "GPU utilization",
        unit: "%",
        better: Better::Higher,
        get: |m| m.gpu_util,
    },
    MetricDef {
        name: "fairness",
        label: "fairness (Jain, bsld)",
        unit: "",
        better: Better::Higher,
        get: |m| m.fairness,
    },
    MetricDef {
        name: "jobs",
        label: "jobs",
        unit: "",
        better: Better::Neither,
        get: |m| m.jobs as f64,
    },
    MetricDef {
        name: "started",
        label: "started",
        unit: "",
        better: Better::Neither,
        get: |m| m.started as f64,
    },
    MetricDef {
        name: "completed",
        label: "completed",
        unit: "",
        better: Better::Neither,
        get: |m| m.completed as f64,
    },
    MetricDef {
        name: "timeout",
        label: "timeout",
        unit: "",
        better: Better::Neither,
        get: |m| m.timeout as f64,
    },
    MetricDef {
        name: "cancelled",
        label: "cancelled",
        unit: "",
        better: Better::Neither,
        get: |m| m.cancelled as f64,
    },
    MetricDef {
        name: "rejected",
        label: "rejected",
        unit: "",
        better: Better::Neither,
        get: |m| m.rejected as f64,
    },
    MetricDef {
        name: "backfilled",
        label: "backfilled",
        unit: "",
        better: Better::Neither,
        get: |m| m.backfilled as f64,
    },
    MetricDef {
        name: "users",
        label: "users",
        unit: "",
        better: Better::Neither,
        get: |m| m.users as f64,
    },
];

/// The metric called `name`.
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|d| d.name == name)
}

/// The wait of a started job: start − max(submit, eligible), never negative.
pub fn wait_of(job: &Job, start: u64) -> u64 {
    start.saturating_sub(job.submit.max(job.eligible))
}

/// The bounded slowdown of a started job with the given wait and run time:
/// max(1, (wait + run) / max(run, [`BSLD_THRESHOLD`])).
pub fn bounded_slowdown(wait: u64, run: u64) -> f64 {
    let denom = run.max(BSLD_THRESHOLD) as f64;
    ((wait + run) as f64 / denom).max(1.0)
}

/// Nearest-rank percentile of ascending `sorted` values: the value at rank
/// ⌈p·n/100⌉ (1-based), with rank 0 read as 1. `p` is a whole percent in
/// 0..=100. Returns 0 for an empty slice.
pub fn percentile_nearest_rank(sorted: &[f64], p: u32) -> f64 {
    assert!(p <= 100, "percentile {p} out of 0..=100");
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    // Integer arithmetic: no rounding trouble at p·n/100 exact.
    let rank = (p as usize * n).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Median of ascending `sorted` values (mean of the two middle values for an
/// even count); 0 for an empty slice.
pub fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// Jain's fairness index (Σx)² / (n·Σx²) of non-negative values; 1 for an
/// empty slice or all zeros (nobody is treated worse than anybody else).
pub fn jain_index(xs: &[f64]) -> f64 {
    let n = xs.len() as f64;
    let sum: f64 = xs.iter().sum();
    let sum_sq: f64 = xs.iter().map(|x| x * x).sum();
    if xs.is_empty() || sum_sq == 0.0 {
        1.0
    } else {
        sum * sum / (n * sum_sq)
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Computes the metrics of a schedule (`outcomes[i]` belongs to `jobs[i]`).
///
/// `total_cpus` and `total_gpus` are the cluster's totals; a utilization
/// whose total is 0 is reported as 0. Resources counted are the job's
/// requested `cpus` and `gpus` (the simulator allocates what is requested).
///
/// # Panics
/// When `jobs` and `outcomes` differ in length.
pub fn compute(jobs: &[Job], outcomes: &[JobOutcome], total_cpus: u64, total_gpus: u64) -> Metrics {
    assert_eq!(jobs.len(), outcomes.len(), "one outcome per job");
    let mut m = Metrics {
        jobs: jobs.len(),
        ..Metrics::default()
    };
    let first_submit = jobs.iter().map(|j| j.submit).min().unwrap_or(0);
    let mut last_end: Option<u64> = None;
    let mut waits = Vec::with_capacity(jobs.len());
    let mut bslds = Vec::with_capacity(jobs.len());
    let mut jcts = Vec::with_capacity(jobs.len());
    let mut cpu_seconds: u128 = 0;
    let mut gpu_seconds: u128 = 0;
    // BTreeMap: deterministic iteration (the result must not depend on hashing).
    let mut per_user: BTreeMap<NameId, (f64, usize)> = BTreeMap::new();
    for (job, out) in jobs.iter().zip(outcomes) {
        match out.kind {
            OutcomeKind::Completed => m.completed += 1,
            OutcomeKind::Timeout => m.timeout += 1,
            OutcomeKind::Cancelled => m.cancelled += 1,
            OutcomeKind::Rejected => m.rejected += 1,
        }
        let Some(start) = out.start else { continue };
        m.started += 1;
        if out.backfilled {
            m.backfilled += 1;
        }
        let run = out.end.saturating_sub(start);
        let wait = wait_of(job, start);
        let bsld = bounded_slowdown(wait, run);
        waits.push(wait as f64);
        bslds.push(bsld);
        jcts.push(out.end.saturating_sub(job.submit) as f64);
        cpu_seconds += job.cpus as u128 * run as u128;
        gpu_seconds += job.gpus as u128 * run as u128;
        last_end = Some(last_end.map_or(out.end, |e| e.max(out.end)));
        let u = per_user.entry(job.user).or_insert((0.0, 0));
        u.0 += bsld;
        u.1 += 1;
    }
    waits.sort_by(f64::total_cmp);
    m.wait_mean = mean(&waits);
    m.wait_median = median(&waits);
    m.wait_p95 = percentile_nearest_rank(&waits, 95);
    m.wait_p99 = percentile_nearest_rank(&waits, 99);
    m.wait_max = waits.last().copied().unwrap_or(0.0);
    m.bsld_mean = mean(&bslds);
    m.jct_mean = mean(&jcts);
    m.makespan = last_end.map_or(0, |e| e.saturating_sub(first_submit));
    let util = |busy: u128, total: u64| {
        let cap = total as u128 * m.makespan as u128;
        if cap == 0 {
            0.0
        } else {
            busy as f64 / cap as f64
        }
    };
    m.cpu_util = util(cpu_seconds, total_cpus);
    m.gpu_util = util(gpu_seconds, total_gpus);
    let user_means: Vec<f64> = per_user.values().map(|&(s, n)| s / n as f64).collect();
    m.users = user_means.len();
    m.fairness = jain_index(&user_means);
    m
}

/// The state of the cluster from one instant until the next point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimelinePoint {
    /// Time (Unix seconds) from which this state holds.
    pub time: u64,
    /// Jobs submitted and not yet started or gone.
    pub pending: u64,
    /// Jobs running.
    pub running: u64,
    /// CPUs of running jobs.
    pub busy_cpus: u64,
    /// GPUs of running jobs.
    pub busy_gpus: u64,
}

/// The schedule as a step function: one point per distinct time at which
/// something changes (a submit, a start, an end), ascending.
///
/// A job is pending from `submit` until it starts, or until `end` if it
/// never starts (rejected jobs are never pending); it runs on
/// `[start, end)`.
pub fn timeline(jobs: &[Job], outcomes: &[JobOutcome]) -> Vec<TimelinePoint> {
    assert_eq!(jobs.len(), outcomes.len(), "one outcome per job");
    // (time, Δpending, Δrunning, Δcpus, Δgpus), summed per time below.
    let mut deltas: BTreeMap<u64, [i64; 4]> = BTreeMap::new();
    let mut add = |t: u64, d: [i64; 4]| {
        let e = deltas.entry(t).or_insert([0; 4]);
        for (a, b) in e.iter_mut().zip(d) {
            *a += b;
        }
    };
    for (job, out) in jobs.iter().zip(outcomes) {
        let (c, g) = (job.cpus as i64, job.gpus as i64);
        match out.start {
            Some(start) => {
                let submit = job.submit.min(start);
                if start > submit {
                    add(submit, [1, 0, 0, 0]);
                    add(start, [-1, 0, 0, 0]);
                }
                if out.end > start {
                    add(start, [0, 1, c, g]);
                    add(out.end, [0, -1, -c, -g]);
                }
            }
            None if out.kind == OutcomeKind::Rejected => {}
            None => {
                if out.end > job.submit {
                    add(job.submit, [1, 0, 0, 0]);
                    add(out.end, [-1, 0, 0, 0]);
                }
            }
        }
    }
    let mut state = [0i64; 4];
    deltas
        .into_iter()
        .map(|(time, d)| {
            for (s, x) in state.iter_mut().zip(d) {
                *s += x;
            }
            TimelinePoint {
                time,
                pending: state[0].max(0) as u64,
                running: state[1].max(0) as u64,
                busy_cpus: state[2].max(0) as u64,
                busy_gpus: state[3].max(0) as u64,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: u64, user: NameId, submit: u64, cpus: u32, gpus: u32) -> Job {
        Job {
            id,
            user,
            submit,
            eligible: submit,
            cpus,
            gpus,
            nodes: 1,
            ..Job::default()
        }
    }

    fn ran(start: u64, end: u64) -> JobOutcome {
        JobOutcome {
            start: Some(start),
            end,
            kind: OutcomeKind::Completed,
            backfilled: false,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
    }

    #[test]
    fn percentile_nearest_rank_edges() {
        let one = [7.0];
        // n = 1: rank ⌈p/100⌉ = 1 for every p > 0, and p = 0 is read as rank 1.
        for p in [0, 1, 50, 95, 99, 100] {
            assert_eq!(percentile_nearest_rank(&one, p), 7.0);
        }
        assert_eq!(percentile_nearest_rank(&[], 95), 0.0);
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        // n = 100: rank ⌈95·100/100⌉ = 95 → value 95; ⌈99⌉ = 99 → 99; p100 → 100.
        assert_eq!(percentile_nearest_rank(&xs, 95), 95.0);
        assert_eq!(percentile_nearest_rank(&xs, 99), 99.0);
        assert_eq!(percentile_nearest_rank(&xs, 100), 100.0);
        assert_eq!(percentile_nearest_rank(&xs, 0), 1.0);
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        // n = 10: p95 → rank ⌈9.5⌉ = 10 → 10; p50 → rank 5 → 5; p91 → ⌈9.1⌉ = 10; p90 → 9.
        assert_eq!(percentile_nearest_rank(&ten, 95), 10.0);
        assert_eq!(percentile_nearest_rank(&ten, 50), 5.0);
        assert_eq!(percentile_nearest_rank(&ten, 91), 10.0);
        assert_eq!(percentile_nearest_rank(&ten, 90), 9.0);
    }

    #[test]
    fn median_even_odd_empty() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0]), 3.0);
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
        // Even count: mean of the two middle values, (2 + 4) / 2 = 3.
        assert_eq!(median(&[1.0, 2.0, 4.0, 100.0]), 3.0);
    }

    #[test]
    fn bounded_slowdown_threshold() {
        // run 100, wait 50: (50 + 100) / 100 = 1.5.
        assert!(close(bounded_slowdown(50, 100), 1.5));
        // run 2 < 10: (30 + 2) / 10 = 3.2.
        assert!(close(bounded_slowdown(30, 2), 3.2));
        // run 2, no wait: (0 + 2) / 10 = 0.2 → floored at 1.
        assert_eq!(bounded_slowdown(0, 2), 1.0);
        // run 0 (instant job), wait 5: 5 / 10 = 0.5 → 1.
        assert_eq!(bounded_slowdown(5, 0), 1.0);
    }

    #[test]
    fn empty_schedule() {
        let m = compute(&[], &[], 64, 0);
        assert_eq!(m.jobs, 0);
        assert_eq!(m.started, 0);
        assert_eq!(m.wait_mean, 0.0);
        assert_eq!(m.wait_p99, 0.0);
        assert_eq!(m.makespan, 0);
        assert_eq!(m.cpu_util, 0.0);
        assert_eq!(m.fairness, 1.0);
        assert!(timeline(&[], &[]).is_empty());
    }

    /// Four jobs on an 8-CPU, 2-GPU cluster, worked by hand.
    ///
    /// | job | user | submit | eligible | cpus | gpus | start | end | wait | run |
    /// |-----|------|--------|----------|------|------|-------|-----|------|-----|
    /// | 1   | 1    | 100    | 100      | 4    | 0    | 100   | 200 | 0    | 100 |
    /// | 2   | 1    | 110    | 150      | 8    | 2    | 200   | 205 | 50   | 5   |
    /// | 3   | 2    | 120    | 120      | 2    | 0    | 120   | 420 | 0    | 300 |
    /// | 4   | 2    | 130    | 130      | 1    | 0    | never (cancelled, left at 300)   |
    #[test]
    fn hand_worked_schedule() {
        let mut jobs = vec![
            job(1, 1, 100, 4, 0),
            job(2, 1, 110, 8, 2),
            job(3, 2, 120, 2, 0),
            job(4, 2, 130, 1, 0),
        ];
        jobs[1].eligible = 150;
        let mut bf = ran(120, 420);
        bf.backfilled = true;
        let outcomes = [
            ran(100, 200),
            JobOutcome {
                kind: OutcomeKind::Timeout,
                ..ran(200, 205)
            },
            bf,
            JobOutcome {
                start: None,
                end: 300,
                kind: OutcomeKind::Cancelled,
                backfilled: false,
            },
        ];
        let m = compute(&jobs, &outcomes, 8, 2);
        assert_eq!(
            (
                m.jobs,
                m.started,
                m.completed,
                m.timeout,
                m.cancelled,
                m.rejected
            ),
            (4, 3, 2, 1, 1, 0)
        );
        assert_eq!(m.backfilled, 1);
        // Waits {0, 50, 0} → sorted {0, 0, 50}: mean 50/3, median 0, p95 rank ⌈2.85⌉ = 3 → 50.
        assert!(close(m.wait_mean, 50.0 / 3.0));
        assert_eq!(m.wait_median, 0.0);
        assert_eq!(m.wait_p95, 50.0);
        assert_eq!(m.wait_p99, 50.0);
        assert_eq!(m.wait_max, 50.0);
        // bsld: job1 (0+100)/100 = 1; job2 (50+5)/max(5,10) = 5.5; job3 (0+300)/300 = 1.
        // mean = 7.5 / 3 = 2.5.
        assert!(close(m.bsld_mean, 2.5));
        // JCT = end − submit: 100, 95, 300 → mean 495/3 = 165.
        assert!(close(m.jct_mean, 165.0));
        // makespan = last end 420 − first submit 100 = 320.
        assert_eq!(m.makespan, 320);
        // CPU: 4·100 + 8·5 + 2·300 = 1040 over 8·320 = 2560 → 0.40625.
        assert!(close(m.cpu_util, 1040.0 / 2560.0));
        // GPU: 2·5 = 10 over 2·320 = 640 → 0.015625.
        assert!(close(m.gpu_util, 10.0 / 640.0));
        // Per-user mean bsld: user 1 (1 + 5.5)/2 = 3.25; user 2: 1 (job 4 never started).
        // Jain = (3.25 + 1)² / (2 · (3.25² + 1²)) = 18.0625 / (2 · 11.5625) = 0.78108...
        assert_eq!(m.users, 2);
        assert!(close(m.fairness, 18.0625 / 23.125));
    }

    #[test]
    fn no_gpus_means_zero_gpu_util() {
        let jobs = [job(1, 1, 0, 1, 0)];
        let m = compute(&jobs, &[ran(0, 10)], 4, 0);
        assert_eq!(m.gpu_util, 0.0);
        // 1 CPU busy for the whole 10 s makespan on 4 CPUs.
        assert!(close(m.cpu_util, 0.25));
    }

    #[test]
    fn rejected_jobs_counted_not_measured() {
        let jobs = [job(1, 1, 0, 1, 0), job(2, 1, 5, 1000, 0)];
        let outcomes = [
            ran(20, 30),
            JobOutcome {
                start: None,
                end: 5,
                kind: OutcomeKind::Rejected,
                backfilled: false,
            },
        ];
        let m = compute(&jobs, &outcomes, 4, 0);
        assert_eq!((m.jobs, m.started, m.rejected), (2, 1, 1));
        // Only job 1: wait 20, bsld (20+10)/10 = 3.
        assert_eq!(m.wait_mean, 20.0);
        assert!(close(m.bsld_mean, 3.0));
        // makespan 30 − 0.
        assert_eq!(m.makespan, 30);
    }

    #[test]
    fn jain_fairness_examples() {
        // Equal values are perfectly fair.
        assert!(close(jain_index(&[2.0, 2.0, 2.0]), 1.0));
        // One user gets everything: (x)² / (n·x²) = 1/n.
        assert!(close(jain_index(&[5.0, 0.0, 0.0, 0.0]), 0.25));
        // {1, 3}: 16 / (2 · 10) = 0.8.
        assert!(close(jain_index(&[1.0, 3.0]), 0.8));
        assert_eq!(jain_index(&[]), 1.0);
    }

    /// Three users, slowdowns chosen so the per-user means are 1, 2 and 3:
    /// Jain = 6² / (3 · 14) = 36/42 = 6/7.
    #[test]
    fn user_fairness_schedule() {
        // Every job runs 100 s, so bsld = (wait + 100)/100: wait 0 → 1, 100 → 2, 200 → 3.
        let jobs = [
            job(1, 1, 0, 1, 0),
            job(2, 2, 0, 1, 0),
            job(3, 2, 0, 1, 0),
            job(4, 3, 0, 1, 0),
        ];
        // user 2 has bsld 1 and 3 → mean 2; user 3 has 3.
        let outcomes = [ran(0, 100), ran(0, 100), ran(200, 300), ran(200, 300)];
        let m = compute(&jobs, &outcomes, 2, 0);
        assert_eq!(m.users, 3);
        assert!(close(m.fairness, 6.0 / 7.0), "{}", m.fairness);
        // overall mean bsld (1 + 1 + 3 + 3) / 4 = 2.
        assert!(close(m.bsld_mean, 2.0));
    }

    #[test]
    fn timeline_steps() {
        // Job 1: submit 0, runs [0, 10) on 2 CPUs. Job 2: submit 5, runs [10, 20) on 4 CPUs, 1 GPU.
        // Job 3: submit 5, cancelled while pending at 15.
        let jobs = [job(1, 1, 0, 2, 0), job(2, 1, 5, 4, 1), job(3, 1, 5, 1, 0)];
        let outcomes = [
            ran(0, 10),
            ran(10, 20),
            JobOutcome {
                start: None,
                end: 15,
                kind: OutcomeKind::Cancelled,
                backfilled: false,
            },
        ];
        let tl = timeline(&jobs, &outcomes);
        let p = |time, pending, running, busy_cpus, busy_gpus| TimelinePoint {
            time,
            pending,
            running,
            busy_cpus,
            busy_gpus,
        };
        assert_eq!(
            tl,
            vec![
                p(0, 0, 1, 2, 0),
                p(5, 2, 1, 2, 0),
                p(10, 1, 1, 4, 1),
                p(15, 0, 1, 4, 1),
                p(20, 0, 0, 0, 0)
            ]
        );
    }

    #[test]
    fn metric_table_matches_fields() {
        let m = Metrics {
            bsld_mean: 3.0,
            wait_p99: 9.0,
            cpu_util: 0.5,
            makespan: 7,
            users: 2,
            ..Metrics::default()
        };
        let json = serde_json::to_value(&m).unwrap();
        // Every MetricDef name is a field of the JSON, with the same value.
        for d in METRICS {
            let v = json
                .get(d.name)
                .unwrap_or_else(|| panic!("{} not a field", d.name));
            assert_eq!(v.as_f64().unwrap(), (d.get)(&m), "{}", d.name);
        }
        assert_eq!(
            METRICS.len(),
            json.as_object().unwrap().len(),
            "every field has a MetricDef"
        );
        assert_eq!(metric("wait_p99").unwrap().better, Better::Lower);
        assert!(metric("nope").is_none());
    }
}
