//! `slurm-rl fidelity`: compare what a real slurmctld did with a replayed
//! workload (the accounting that `slurm-rl import sacct` read after
//! `slurm-rl replay`) with what the simulator does with the same jobs, job
//! by job, and say whether the simulator meets the fidelity targets.
//!
//! This file owns the comparison statistics (Kendall's tau-b, start-time
//! errors, backfill shares, headline differences), the table, the JSON and
//! the call to the plot. It must not submit jobs (`cmd::replay` does) or
//! schedule (`sim::engine` does).

use super::common::{load_cluster, load_trace};
use super::replay::Manifest;
use anyhow::{Context, Result, bail, ensure};
use serde::Serialize;
use sim::engine::{Backfill, CancelledPending, JobOutcome, OutcomeKind, SimConfig};
use sim::metrics::{self, Metrics};
use sim::trace::{JobState, Trace};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONG_ABOUT: &str = "\
Compares a real Slurm schedule with the simulator's, job by job. The
simulator gets the jobs exactly as slurmctld received them: submit and
eligible times, CPUs, nodes, memory, GPUs, time limit, partition and
user from the imported accounting, and as run time the time each job
really held its allocation (sacct's End − Start). It schedules them on
the cluster read from the same slurm.conf (and gres.conf), with its
priority weights and SchedulerParameters, under --policy.

Measures (jobs that started in both):
  kendall tau     tau-b between real and simulated start times (order)
  start error     |sim start − real start|, median and p90, divided by the
                  real mean wait
  backfill share  real: sacct Flags=SchedBackfill (from the manifest);
                  simulated: started by the simulator's backfill
  headline        mean wait, mean bounded slowdown, CPU (and GPU)
                  utilization: (sim − real) / real

Targets (--check makes a miss exit with status 2): tau ≥ 0.95, median
start error ≤ 5 % of the mean wait, each headline within 5 %.

--versus-replay DIR puts a second real replay of the same workload (its
manifest.json and real.jsonl) where the simulator was: the same measures
then say how far slurmctld reproduces itself, a yardstick for the
simulator's figures (docs/fidelity.md). Its start times are
shifted by the difference of the two replays' first submissions.";

const AFTER_LONG_HELP: &str = "\
Examples:
  slurm-rl fidelity --manifest run1/manifest.json --real run1/real.jsonl --cluster $SLURM_CONF
  slurm-rl fidelity --manifest run1/manifest.json --real run1/real.jsonl --cluster $SLURM_CONF \\
      --policy learned --model model.safetensors --json run1/fidelity.json --plot run1/fidelity.png --check
  slurm-rl fidelity --manifest run1/manifest.json --real run1/real.jsonl --versus-replay run2";

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP, help_template = super::simulate::HELP_TEMPLATE)]
pub struct Args {
    /// The manifest written by `slurm-rl replay`.
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// The real outcome: `slurm-rl import sacct` of the replay's window
    /// (.jsonl or an sacct dump). Jobs not in the manifest are ignored.
    #[arg(long, value_name = "FILE")]
    pub real: PathBuf,
    /// The cluster's slurm.conf (gres.conf beside it) [default: the
    /// manifest's].
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// The simulator's policy: `slurm` (priority/multifactor with the
    /// slurm.conf weights), another baseline, `learned` with --model, or a
    /// .safetensors model (the one the site_factor/rl plugin ran).
    #[arg(long, default_value = "slurm")]
    pub policy: String,
    /// Model file for `--policy learned`.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Write the comparison as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a PNG of real against simulated start times here.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Write the simulator's event log here.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Compare with another real replay of the same workload instead of the
    /// simulator: DIR holds its manifest.json and real.jsonl (what
    /// scripts/fidelity writes). --policy, --model and --events do not apply.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["model", "events"])]
    pub versus_replay: Option<PathBuf>,
    /// Exit with status 2 when a target is missed.
    #[arg(long)]
    pub check: bool,
    /// Target: least Kendall tau of the start order.
    #[arg(long, default_value_t = 0.95)]
    pub min_tau: f64,
    /// Target: largest median start-time error, as a share of the mean wait.
    #[arg(long, default_value_t = 0.05)]
    pub max_start_error: f64,
    /// Target: largest relative difference of each headline metric.
    #[arg(long, default_value_t = 0.05)]
    pub max_headline_diff: f64,
}

/// One job in both schedules.
#[derive(Debug, Clone, Serialize)]
pub struct JobPair {
    /// Slurm job id.
    pub slurm_id: u64,
    /// Trace id (from the manifest).
    pub trace_id: u64,
    /// Real start, seconds after the first submit.
    pub real_start: u64,
    /// Simulated start, seconds after the first submit.
    pub sim_start: u64,
    /// Started by backfill in the real cluster.
    pub real_backfill: bool,
    /// Started by backfill in the simulator.
    pub sim_backfill: bool,
}

/// One headline metric in both schedules.
#[derive(Debug, Clone, Serialize)]
pub struct Headline {
    /// Metric name (docs/metrics.md).
    pub metric: &'static str,
    /// Real value.
    pub real: f64,
    /// Simulated value.
    pub sim: f64,
    /// (sim − real) / real (0 when both are 0).
    pub rel_diff: f64,
}

/// The comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Jobs compared (started in both).
    pub jobs: usize,
    /// Kendall's tau-b of the start order.
    pub kendall_tau: f64,
    /// Real mean wait, seconds.
    pub real_mean_wait: f64,
    /// Median |Δ start|, seconds.
    pub start_error_median_s: f64,
    /// 90th percentile |Δ start|, seconds.
    pub start_error_p90_s: f64,
    /// Median |Δ start| / real mean wait.
    pub start_error_median: f64,
    /// p90 |Δ start| / real mean wait.
    pub start_error_p90: f64,
    /// Share of jobs started by backfill, real.
    pub backfill_share_real: f64,
    /// Share of jobs started by backfill, simulated.
    pub backfill_share_sim: f64,
    /// Jobs whose real start kind (backfill or not) is unknown.
    pub backfill_unknown: usize,
    /// Headline metrics.
    pub headline: Vec<Headline>,
    /// Targets missed, in words (empty = all met).
    pub missed: Vec<String>,
    /// Every job.
    pub pairs: Vec<JobPair>,
}

/// Kendall's tau-b of two equally long lists (ties in either are neither
/// concordant nor discordant, and shrink the denominator). NaN for fewer
/// than two items or when one list is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    let (mut c, mut d, mut tx, mut ty) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let a = (x[i] - x[j])
                .partial_cmp(&0.0)
                .map(|o| o as i64)
                .unwrap_or(0);
            let b = (y[i] - y[j])
                .partial_cmp(&0.0)
                .map(|o| o as i64)
                .unwrap_or(0);
            match (a, b) {
                (0, 0) => {}
                (0, _) => tx += 1,
                (_, 0) => ty += 1,
                _ if a == b => c += 1,
                _ => d += 1,
            }
        }
    }
    let n0 = c + d;
    let den = (((n0 + tx) as f64) * ((n0 + ty) as f64)).sqrt();
    if den == 0.0 {
        f64::NAN
    } else {
        (c - d) as f64 / den
    }
}

/// The real schedule as outcomes, from the imported accounting.
fn real_outcomes(trace: &Trace, backfilled: &BTreeMap<u64, bool>) -> Vec<JobOutcome> {
    trace
        .jobs
        .iter()
        .map(|j| {
            let kind = match (j.start, j.state) {
                (None, _) => OutcomeKind::Cancelled,
                (_, JobState::Timeout) => OutcomeKind::Timeout,
                _ => OutcomeKind::Completed,
            };
            JobOutcome {
                start: j.start,
                end: j.end.unwrap_or(j.submit),
                kind,
                backfilled: backfilled.get(&j.id).copied().unwrap_or(false),
            }
        })
        .collect()
}

/// The jobs of a replay's imported accounting (`real`) that its manifest
/// lists; an error when none is, or when one had not ended.
fn replay_jobs(man: &Manifest, man_path: &Path, real: &Path) -> Result<Trace> {
    let mut trace = load_trace(real, false)?;
    let listed: BTreeSet<u64> = man.jobs.iter().map(|s| s.slurm_id).collect();
    let before = trace.jobs.len();
    trace.jobs.retain(|j| listed.contains(&j.id));
    ensure!(
        !trace.jobs.is_empty(),
        "{}: none of its {before} jobs is in the manifest {} (is it the import of that replay's window?)",
        real.display(),
        man_path.display()
    );
    let missing = man.jobs.len() - trace.jobs.len();
    if missing > 0 {
        eprintln!(
            "warning: {missing} of the manifest's {} jobs are not in {}",
            man.jobs.len(),
            real.display()
        );
    }
    let pending: Vec<u64> = trace
        .jobs
        .iter()
        .filter(|j| matches!(j.state, JobState::Pending | JobState::Running))
        .map(|j| j.id)
        .collect();
    if !pending.is_empty() {
        bail!(
            "{}: jobs {:?} had not ended when accounting was read; import again after the replay",
            real.display(),
            pending
        );
    }
    Ok(trace)
}

/// Per Slurm job id, whether sacct's Flags say backfill started it (jobs
/// without Flags are left out: their kind is unknown).
fn backfill_kinds(man: &Manifest) -> BTreeMap<u64, bool> {
    man.jobs
        .iter()
        .filter(|s| !s.sched_flags.is_empty())
        .map(|s| (s.slurm_id, s.sched_flags.contains("SchedBackfill")))
        .collect()
}

/// Per Slurm job id, the trace id the replay submitted it for.
fn trace_ids_of(man: &Manifest) -> BTreeMap<u64, u64> {
    man.jobs
        .iter()
        .map(|s| (s.slurm_id, s.plan.trace_id))
        .collect()
}

/// The schedule of a second real replay of the same workload (`dir` holds
/// its manifest.json and real.jsonl), as outcomes in the order of `trace`'s
/// jobs, matched by trace id. Times are shifted by the difference of the two
/// replays' first submissions; a job missing from the second replay counts
/// as never started.
fn other_replay(
    dir: &Path,
    trace: &Trace,
    trace_ids: &BTreeMap<u64, u64>,
) -> Result<Vec<JobOutcome>> {
    let man_path = dir.join("manifest.json");
    let man = Manifest::read(&man_path)?;
    let other = replay_jobs(&man, &man_path, &dir.join("real.jsonl"))?;
    let kind = backfill_kinds(&man);
    let ids = trace_ids_of(&man);
    let outcomes = real_outcomes(&other, &kind);
    let by_trace: BTreeMap<u64, JobOutcome> = other
        .jobs
        .iter()
        .zip(outcomes)
        .map(|(j, o)| (ids[&j.id], o))
        .collect();
    let t0 = trace.jobs.iter().map(|j| j.submit).min().unwrap_or(0) as i64;
    let t0_other = other.jobs.iter().map(|j| j.submit).min().unwrap_or(0) as i64;
    let shift = |t: u64| (t as i64 - t0_other + t0).max(0) as u64;
    Ok(trace
        .jobs
        .iter()
        .map(|j| {
            let found = trace_ids.get(&j.id).and_then(|t| by_trace.get(t));
            match found {
                Some(o) => JobOutcome {
                    start: o.start.map(shift),
                    end: shift(o.end),
                    kind: o.kind,
                    backfilled: o.backfilled,
                },
                None => JobOutcome {
                    start: None,
                    end: j.submit,
                    kind: OutcomeKind::Cancelled,
                    backfilled: false,
                },
            }
        })
        .collect())
}

fn rel(real: f64, sim: f64) -> f64 {
    if real == 0.0 && sim == 0.0 {
        0.0
    } else if real == 0.0 {
        f64::INFINITY
    } else {
        (sim - real) / real
    }
}

/// Compares the two schedules of `trace`'s jobs.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    trace: &Trace,
    real: &[JobOutcome],
    sim: &[JobOutcome],
    trace_ids: &BTreeMap<u64, u64>,
    known_kind: &BTreeMap<u64, bool>,
    total_cpus: u64,
    total_gpus: u64,
    a: &Targets,
) -> Report {
    let t0 = trace.jobs.iter().map(|j| j.submit).min().unwrap_or(0);
    let mut pairs = Vec::new();
    for ((j, r), s) in trace.jobs.iter().zip(real).zip(sim) {
        if let (Some(rs), Some(ss)) = (r.start, s.start) {
            pairs.push(JobPair {
                slurm_id: j.id,
                trace_id: trace_ids.get(&j.id).copied().unwrap_or(0),
                real_start: rs - t0,
                sim_start: ss.saturating_sub(t0),
                real_backfill: r.backfilled,
                sim_backfill: s.backfilled,
            });
        }
    }
    let rx: Vec<f64> = pairs.iter().map(|p| p.real_start as f64).collect();
    let sx: Vec<f64> = pairs.iter().map(|p| p.sim_start as f64).collect();
    let tau = kendall_tau_b(&rx, &sx);
    let mut errs: Vec<f64> = pairs
        .iter()
        .map(|p| (p.sim_start as f64 - p.real_start as f64).abs())
        .collect();
    errs.sort_by(f64::total_cmp);
    let mr = metrics::compute(&trace.jobs, real, total_cpus, total_gpus);
    let ms = metrics::compute(&trace.jobs, sim, total_cpus, total_gpus);
    let mean_wait = mr.wait_mean;
    let (e50, e90) = (
        metrics::percentile_nearest_rank(&errs, 50),
        metrics::percentile_nearest_rank(&errs, 90),
    );
    let share = |f: &dyn Fn(&JobPair) -> bool| {
        if pairs.is_empty() {
            0.0
        } else {
            pairs.iter().filter(|p| f(p)).count() as f64 / pairs.len() as f64
        }
    };
    let mut headline = Vec::new();
    let mut push = |metric: &'static str, f: fn(&Metrics) -> f64| {
        headline.push(Headline {
            metric,
            real: f(&mr),
            sim: f(&ms),
            rel_diff: rel(f(&mr), f(&ms)),
        })
    };
    push("wait_mean", |m| m.wait_mean);
    push("bsld_mean", |m| m.bsld_mean);
    push("cpu_util", |m| m.cpu_util);
    if total_gpus > 0 {
        push("gpu_util", |m| m.gpu_util);
    }
    let rel_err = |e: f64| if mean_wait > 0.0 { e / mean_wait } else { 0.0 };
    let mut missed = Vec::new();
    if tau.is_nan() || tau < a.min_tau {
        missed.push(format!("Kendall tau {tau:.3} < {}", a.min_tau));
    }
    if rel_err(e50) > a.max_start_error {
        missed.push(format!(
            "median start error {:.1} % of the mean wait > {:.1} %",
            100.0 * rel_err(e50),
            100.0 * a.max_start_error
        ));
    }
    for h in &headline {
        if h.rel_diff.abs() > a.max_headline_diff {
            missed.push(format!(
                "{} differs by {:+.1} % (> {:.1} %)",
                h.metric,
                100.0 * h.rel_diff,
                100.0 * a.max_headline_diff
            ));
        }
    }
    let unknown = pairs
        .iter()
        .filter(|p| !known_kind.contains_key(&p.slurm_id))
        .count();
    Report {
        jobs: pairs.len(),
        kendall_tau: tau,
        real_mean_wait: mean_wait,
        start_error_median_s: e50,
        start_error_p90_s: e90,
        start_error_median: rel_err(e50),
        start_error_p90: rel_err(e90),
        backfill_share_real: share(&|p| p.real_backfill),
        backfill_share_sim: share(&|p| p.sim_backfill),
        backfill_unknown: unknown,
        headline,
        missed,
        pairs,
    }
}

/// The targets.
#[derive(Debug, Clone, Serialize)]
pub struct Targets {
    /// Least tau.
    pub min_tau: f64,
    /// Largest median start error / mean wait.
    pub max_start_error: f64,
    /// Largest headline difference.
    pub max_headline_diff: f64,
}

/// The readable table; `other` names the second schedule's column
/// ("simulated", or "replay 2" with --versus-replay).
fn table(r: &Report, t: &Targets, other: &str) -> String {
    let ok = |b: bool| if b { "ok" } else { "MISSED" };
    let mut s = String::new();
    s.push_str(&format!(
        "{:<28} | {:>12} | {:>12} | {:>9} | target\n",
        "measure", "real", other, "diff"
    ));
    s.push_str(&format!("{}\n", "-".repeat(82)));
    s.push_str(&format!(
        "{:<28} | {:>12} | {:>12} | {:>9} | ≥ {} {}\n",
        "Kendall tau (start order)",
        "",
        format!("{:.4}", r.kendall_tau),
        "",
        t.min_tau,
        ok(r.kendall_tau >= t.min_tau)
    ));
    s.push_str(&format!(
        "{:<28} | {:>12} | {:>12} | {:>9} | ≤ {:.0} % {}\n",
        "start error median / wait",
        "",
        format!("{:.1} s", r.start_error_median_s),
        format!("{:.1} %", 100.0 * r.start_error_median),
        100.0 * t.max_start_error,
        ok(r.start_error_median <= t.max_start_error)
    ));
    s.push_str(&format!(
        "{:<28} | {:>12} | {:>12} | {:>9} |\n",
        "start error p90 / wait",
        "",
        format!("{:.1} s", r.start_error_p90_s),
        format!("{:.1} %", 100.0 * r.start_error_p90),
    ));
    s.push_str(&format!(
        "{:<28} | {:>12} | {:>12} | {:>9} |\n",
        "started by backfill",
        format!("{:.1} %", 100.0 * r.backfill_share_real),
        format!("{:.1} %", 100.0 * r.backfill_share_sim),
        format!(
            "{:+.1} pt",
            100.0 * (r.backfill_share_sim - r.backfill_share_real)
        ),
    ));
    for h in &r.headline {
        let (rv, sv) = if h.metric.ends_with("util") {
            (
                format!("{:.2} %", 100.0 * h.real),
                format!("{:.2} %", 100.0 * h.sim),
            )
        } else if h.metric == "wait_mean" {
            (format!("{:.1} s", h.real), format!("{:.1} s", h.sim))
        } else {
            (format!("{:.3}", h.real), format!("{:.3}", h.sim))
        };
        s.push_str(&format!(
            "{:<28} | {:>12} | {:>12} | {:>9} | within {:.0} % {}\n",
            h.metric,
            rv,
            sv,
            format!("{:+.1} %", 100.0 * h.rel_diff),
            100.0 * t.max_headline_diff,
            ok(h.rel_diff.abs() <= t.max_headline_diff)
        ));
    }
    s
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let man = Manifest::read(&a.manifest)?;
    let conf = a
        .cluster
        .clone()
        .unwrap_or_else(|| PathBuf::from(&man.cluster));
    let mut trace = replay_jobs(&man, &a.manifest, &a.real)?;
    let cluster = load_cluster(Some(&conf), &mut trace, &a.real)?;
    let known_kind = backfill_kinds(&man);
    let trace_ids = trace_ids_of(&man);

    let (other, events, versus) = match &a.versus_replay {
        Some(dir) => {
            let other = other_replay(dir, &trace, &trace_ids)?;
            (other, Vec::new(), format!("replay {}", dir.display()))
        }
        None => {
            let mut pol = match super::evaluate::resolve_policies(
                std::slice::from_ref(&a.policy),
                a.model.as_deref(),
                None,
            )?
            .pop()
            {
                Some(spec) => (spec.make)(),
                None => super::simulate::baseline(&a.policy)?,
            };
            let cfg = SimConfig {
                backfill: Backfill::Slurm,
                cancelled_pending: CancelledPending::Keep,
                record_events: a.events.is_some(),
                seed: 0,
            };
            let res =
                sim::engine::simulate(&trace.jobs, &trace.names, &cluster, pol.as_mut(), &cfg)
                    .with_context(|| format!("simulating {}", a.real.display()))?;
            (res.outcomes, res.events, format!("policy {}", a.policy))
        }
    };
    let real = real_outcomes(&trace, &known_kind);
    let targets = Targets {
        min_tau: a.min_tau,
        max_start_error: a.max_start_error,
        max_headline_diff: a.max_headline_diff,
    };
    let r = compare(
        &trace,
        &real,
        &other,
        &trace_ids,
        &known_kind,
        cluster.total_cpus(),
        cluster.total_gpus(),
        &targets,
    );

    println!(
        "{} jobs of {} (compression {}, {}), cluster {} ({} CPUs, {} GPUs), {}; submission lag median {:.2} s, max {:.2} s\n",
        r.jobs,
        man.trace,
        man.compress,
        if man.aligned {
            "on whole seconds"
        } else {
            "unaligned"
        },
        conf.display(),
        cluster.total_cpus(),
        cluster.total_gpus(),
        versus,
        man.submit_lag_median,
        man.submit_lag_max
    );
    let column = if a.versus_replay.is_some() {
        "replay 2"
    } else {
        "simulated"
    };
    print!("{}", table(&r, &targets, column));
    if r.backfill_unknown > 0 {
        println!(
            "({} jobs without sacct Flags count as not backfilled)",
            r.backfill_unknown
        );
    }
    if r.missed.is_empty() {
        println!("\nall targets met");
    } else {
        println!("\ntargets missed: {}", r.missed.join("; "));
    }

    if let Some(p) = &a.json {
        let doc = serde_json::json!({
            "inputs": {
                "manifest": a.manifest.display().to_string(),
                "real": a.real.display().to_string(),
                "cluster": conf.display().to_string(),
                "policy": a.policy,
                "versus_replay": a.versus_replay.as_ref().map(|d| d.display().to_string()),
                "compress": man.compress,
                "aligned": man.aligned,
                "submit_lag_median": man.submit_lag_median,
                "submit_lag_max": man.submit_lag_max,
            },
            "targets": targets,
            "report": r,
        });
        super::common::write_json(p, &doc)?;
    }
    if let Some(p) = &a.events {
        sim::io::atomic_write(p, |w| {
            for line in &events {
                writeln!(w, "{line}")?;
            }
            Ok(())
        })
        .with_context(|| format!("writing event log {}", p.display()))?;
    }
    if let Some(p) = &a.plot {
        let pts: Vec<(f64, f64, bool)> = r
            .pairs
            .iter()
            .map(|p| (p.real_start as f64, p.sim_start as f64, p.real_backfill))
            .collect();
        let title = format!(
            "{} jobs, {}: tau {:.3}, median |Δstart| {:.1} s ({:.1} % of mean wait)",
            r.jobs,
            versus,
            r.kendall_tau,
            r.start_error_median_s,
            100.0 * r.start_error_median
        );
        crate::plot::fidelity(p, &title, &pts)?;
    }
    if a.check && !r.missed.is_empty() {
        std::process::exit(2);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_tau_b_by_hand() {
        assert_eq!(kendall_tau_b(&[1., 2., 3.], &[10., 20., 30.]), 1.0);
        assert_eq!(kendall_tau_b(&[1., 2., 3.], &[30., 20., 10.]), -1.0);
        // pairs: (1,2) c, (1,3) c, (2,3) d → (2 − 1) / 3
        let t = kendall_tau_b(&[1., 2., 3.], &[1., 3., 2.]);
        assert!((t - 1.0 / 3.0).abs() < 1e-12, "{t}");
        // one tie in y: c = 2 ((1,2),(1,3)), tie (2,3) in y only;
        // tau-b = 2 / sqrt(3 · 2)
        let t = kendall_tau_b(&[1., 2., 3.], &[1., 2., 2.]);
        assert!((t - 2.0 / 6f64.sqrt()).abs() < 1e-12, "{t}");
        assert!(kendall_tau_b(&[1.], &[1.]).is_nan());
    }

    #[test]
    fn compare_measures_errors_against_the_mean_wait() {
        let mut t = Trace::default();
        for id in 1..=4u64 {
            t.jobs.push(sim::trace::Job {
                id,
                submit: 0,
                eligible: 0,
                run_time: 10,
                cpus: 1,
                state: JobState::Completed,
                ..Default::default()
            });
        }
        let o = |s: u64, bf| JobOutcome {
            start: Some(s),
            end: s + 10,
            kind: OutcomeKind::Completed,
            backfilled: bf,
        };
        let real = vec![o(0, false), o(100, false), o(200, true), o(300, false)];
        let sim = vec![o(0, false), o(110, false), o(190, false), o(300, false)];
        let targets = Targets {
            min_tau: 0.95,
            max_start_error: 0.05,
            max_headline_diff: 0.05,
        };
        let r = compare(
            &t,
            &real,
            &sim,
            &BTreeMap::new(),
            &BTreeMap::new(),
            4,
            0,
            &targets,
        );
        assert_eq!(r.jobs, 4);
        assert_eq!(r.kendall_tau, 1.0);
        assert_eq!(r.real_mean_wait, 150.0);
        // errors 0, 10, 10, 0: nearest-rank median 0, p90 10
        assert_eq!(r.start_error_median_s, 0.0);
        assert_eq!(r.start_error_p90_s, 10.0);
        assert_eq!(r.backfill_share_real, 0.25);
        assert_eq!(r.backfill_share_sim, 0.0);
        assert_eq!(r.backfill_unknown, 4);
        assert!(r.missed.is_empty(), "{:?}", r.missed);
        // A swapped pair and a later start miss the targets.
        let sim2 = vec![o(0, false), o(210, false), o(190, false), o(400, false)];
        let r = compare(
            &t,
            &real,
            &sim2,
            &BTreeMap::new(),
            &BTreeMap::new(),
            4,
            0,
            &targets,
        );
        assert!(r.kendall_tau < 0.95);
        assert!(
            r.missed.iter().any(|m| m.contains("Kendall")),
            "{:?}",
            r.missed
        );
        assert!(
            r.missed.iter().any(|m| m.contains("wait_mean")),
            "{:?}",
            r.missed
        );
    }

    /// A second replay is matched by trace id (its Slurm ids differ), its
    /// times are shifted by the difference of the first submissions, and a
    /// job it lacks counts as never started.
    #[test]
    fn other_replay_matches_trace_ids_and_shifts_times() {
        use super::super::replay::{Planned, Submitted};
        let dir = tempfile::tempdir().unwrap();
        // Replay B: trace jobs 1 and 2 as Slurm jobs 501 and 502, first
        // submission at 1000; job 502 was backfilled.
        let mut b = Trace::default();
        for (id, submit, start) in [(501u64, 1000u64, 1005u64), (502, 1001, 1003)] {
            b.jobs.push(sim::trace::Job {
                id,
                submit,
                eligible: submit,
                start: Some(start),
                end: Some(start + 10),
                run_time: 10,
                cpus: 1,
                state: JobState::Completed,
                ..Default::default()
            });
        }
        sim::trace::jsonl::write(&dir.path().join("real.jsonl"), &b).unwrap();
        let sub = |slurm_id, trace_id, flags: &str| Submitted {
            plan: Planned {
                trace_id,
                at: 0.0,
                sleep: 10,
                limit_min: 1,
                nodes: 1,
                cpus_per_node: 1,
                gpus_per_node: 0,
                partition: String::new(),
            },
            slurm_id,
            submitted_at: 0.0,
            sched_flags: flags.into(),
        };
        let man = Manifest {
            trace: "w.jsonl".into(),
            compress: 60.0,
            aligned: true,
            cluster: "slurm.conf".into(),
            started_utc: String::new(),
            ended_utc: String::new(),
            skipped: BTreeMap::new(),
            submit_lag_median: 0.0,
            submit_lag_max: 0.0,
            import_command: String::new(),
            jobs: vec![sub(501, 1, "SchedMain"), sub(502, 2, "SchedBackfill")],
        };
        std::fs::write(
            dir.path().join("manifest.json"),
            serde_json::to_string(&man).unwrap(),
        )
        .unwrap();
        // Replay A: trace jobs 2, 1 and 3 as Slurm jobs 12, 11 and 13, first
        // submission at 50.
        let mut a = Trace::default();
        for (id, submit) in [(12u64, 51u64), (11, 50), (13, 52)] {
            a.jobs.push(sim::trace::Job {
                id,
                submit,
                eligible: submit,
                run_time: 10,
                cpus: 1,
                state: JobState::Completed,
                ..Default::default()
            });
        }
        let ids: BTreeMap<u64, u64> = [(11, 1), (12, 2), (13, 3)].into();
        let o = other_replay(dir.path(), &a, &ids).unwrap();
        assert_eq!(o[0].start, Some(53)); // trace 2: 1003 − 1000 + 50
        assert!(o[0].backfilled);
        assert_eq!(o[1].start, Some(55)); // trace 1: 1005 − 1000 + 50
        assert_eq!(o[1].end, 65);
        assert!(!o[1].backfilled);
        assert_eq!(o[2].start, None); // trace 3 is not in replay B
    }
}
