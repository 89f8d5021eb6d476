//! `slurm-rl simulate`: replay one trace through the simulator under one
//! policy and report the schedule's metrics as a table or one JSON document,
//! optionally with the event log and a schedule plot.
//!
//! This file parses options, loads inputs and prints; it must not compute
//! metrics itself (`sim::metrics` does) or draw (`crate::plot` does). It
//! also holds the temporary trace and cluster loaders that `evaluate`
//! shares until `cmd::common` provides them.

use super::common::{apply_load_factor, load_cluster, load_trace};
use anyhow::{Context, Result};
use sim::engine::{Backfill, CancelledPending, JobOutcome, OutcomeKind, SimConfig};
use sim::metrics::{self, Better, METRICS, Metrics};
use sim::trace::{JobState, Trace};
use std::io::Write;
use std::path::PathBuf;

const LONG_ABOUT: &str = "\
The simulator schedules the way Slurm does: a main scheduler walks the
pending jobs in descending priority (here: the policy's score) and starts
those that fit, and sched/backfill (unless --backfill none) starts lower
jobs early when that does not delay the reservations of higher ones. Every
job runs its recorded run time, or is killed at its time limit.

Policies (--policy):
  slurm   Slurm's priority/multifactor with the cluster's weights
  fcfs    first come, first served (earliest submit first)
  sjf     shortest job first (smallest time limit)
  wfp3    WFP3: (wait / estimate)³ · cpus, favours long-waiting, short jobs
  unicep  UNICEP: wait / (log2(cpus) · estimate), favours long waits, short estimates
  f1      F1: a score fitted by regression (Carastan-Santos & de Camargo, SC'17)
  aging   (wait + 1h) / (estimate^0.8 · cpus^0.15): size first, then wait

Metrics (waits etc. count only jobs that started):
  wait            start − max(submit, eligible); mean, median, p95, p99 (nearest rank), max
  bsld            bounded slowdown max(1, (wait + run) / max(run, 10 s)), mean
  jct             job completion time end − submit, mean
  makespan        last end − first submit
  cpu/gpu util    Σ cpus·run / (total CPUs · makespan), same for GPUs
  fairness        Jain's index of per-user mean bsld, (Σx)²/(n·Σx²), 1 = fair
  counts          completed, timeout, cancelled, rejected, started, backfilled
docs/metrics.md gives every formula.

The cluster comes from --cluster (a slurm-rl .toml cluster file, or a
slurm.conf with its gres.conf beside it); without --cluster, a trace read
from SWF gets a cluster derived from its header (MaxNodes, MaxProcs).";

/// Help layout: about, the long description (`before_long_help`, shown by
/// `--help` only), usage, options, examples.
pub(super) const HELP_TEMPLATE: &str =
    "{about-with-newline}\n{before-help}{usage-heading} {usage}\n\n{all-args}{after-help}";

const AFTER_LONG_HELP: &str = "\
Examples:
  slurm-rl simulate --trace lublin_256.swf --policy fcfs --backfill none
  slurm-rl simulate --trace hist.jsonl --cluster /etc/slurm/slurm.conf --format json > run.json
  slurm-rl simulate --trace hist.jsonl --cluster cluster.toml --events ev.log --plot schedule.png";

/// Backfill mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackfillArg {
    /// sched/backfill with the cluster's SchedulerParameters.
    Slurm,
    /// The main scheduler only (sched/builtin).
    None,
}

impl BackfillArg {
    /// The engine's value.
    pub fn to_engine(self) -> Backfill {
        match self {
            BackfillArg::Slurm => Backfill::Slurm,
            BackfillArg::None => Backfill::None,
        }
    }
    /// The name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            BackfillArg::Slurm => "slurm",
            BackfillArg::None => "none",
        }
    }
}

/// Treatment of jobs cancelled while pending, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CancelledArg {
    /// They wait in the queue and leave at their recorded end time.
    Keep,
    /// They are not simulated.
    Drop,
}

impl CancelledArg {
    /// The engine's value.
    pub fn to_engine(self) -> CancelledPending {
        match self {
            CancelledArg::Keep => CancelledPending::Keep,
            CancelledArg::Drop => CancelledPending::Drop,
        }
    }
    /// The name as written on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CancelledArg::Keep => "keep",
            CancelledArg::Drop => "drop",
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable metric | value table.
    Table,
    /// One JSON document: the inputs and the metrics.
    Json,
}

/// Arguments.
#[derive(clap::Args, Debug)]
// The one-line about comes from the subcommand's doc in main.rs; the long
// description is placed right after it through the template.
#[command(before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP, help_template = super::simulate::HELP_TEMPLATE)]
pub struct Args {
    /// The workload: .swf/.swf.gz (Standard Workload Format), .jsonl
    /// (slurm-rl's trace format), anything else is read as an sacct
    /// --parsable2 dump.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The cluster: a .toml cluster file, or a slurm.conf. Optional for SWF
    /// traces (derived from the header).
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// The policy that orders pending jobs (slurm, fcfs, sjf, wfp3, unicep,
    /// f1; `learned` with --model; or a .safetensors model file).
    #[arg(long, default_value = "slurm")]
    pub policy: String,
    /// A model file written by `slurm-rl train`, for `--policy learned`.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Backfill scheduler beside the main scheduler.
    #[arg(long, value_enum, default_value_t = BackfillArg::Slurm)]
    pub backfill: BackfillArg,
    /// What to do with jobs that were cancelled while pending in the trace.
    #[arg(long, value_enum, default_value_t = CancelledArg::Keep)]
    pub cancelled_pending: CancelledArg,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the simulator's event log here (one line per event).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Write a PNG of the schedule here: pending jobs and utilization over
    /// time, and the wait-time CDF.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Seed of the simulator's RNG.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// What-if load: replay the trace's arrivals F times as fast (every
    /// submit gap divided by F), so 1.25 offers 25% more load and 0.8 20%
    /// less. Requests, limits and run times stay as recorded.
    #[arg(long, value_name = "F", default_value_t = 1.0, value_parser = super::common::load_factor_arg)]
    pub load_factor: f64,
    /// Skip malformed trace lines (counted on stderr) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Write the simulated schedule as a `sacct --parsable2` dump (the
    /// accounting history this cluster would have had under this policy),
    /// readable by `slurm-rl import sacct`. Rejected jobs are left out.
    #[arg(long, value_name = "FILE")]
    pub sacct_out: Option<PathBuf>,
    /// Time zone of the times in --sacct-out (an IANA name).
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub timezone: chrono_tz::Tz,
}

/// The baseline called `name`, with the list of valid names on error.
pub(super) fn baseline(name: &str) -> Result<Box<dyn policy::Policy>> {
    sim::baselines::by_name(name).with_context(|| {
        format!(
            "unknown policy `{name}`; known: {}",
            sim::baselines::NAMES.join(", ")
        )
    })
}

/// A spinner on stderr while something long runs (hidden when stderr is
/// not a terminal).
pub(super) fn spinner(msg: String) -> indicatif::ProgressBar {
    let pb =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    pb.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .expect("valid template"),
    );
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// Formats a metric value with its unit for people: seconds also in a
/// larger unit, ratios as percent.
pub(super) fn human_value(def: &metrics::MetricDef, v: f64) -> String {
    match def.unit {
        "%" => format!("{:.2} %", 100.0 * v),
        "s" => {
            if v >= 2.0 * 86400.0 {
                format!("{v:.0} s ({:.2} days)", v / 86400.0)
            } else if v >= 3600.0 {
                format!("{v:.1} s ({:.2} h)", v / 3600.0)
            } else if v >= 60.0 {
                format!("{v:.1} s ({:.1} min)", v / 60.0)
            } else {
                format!("{v:.1} s")
            }
        }
        _ if def.better == Better::Neither => format!("{v:.0}"),
        _ => format!("{v:.4}"),
    }
}

/// Says on stderr when jobs were rejected: usually a cluster that does not
/// match the trace (jobs larger than the cluster, or unknown partitions).
pub(super) fn warn_rejected(m: &Metrics) {
    if m.rejected > 0 {
        eprintln!(
            "warning: {} of {} jobs were rejected (larger than the cluster, or an unknown partition); they are counted but not measured",
            m.rejected, m.jobs
        );
    }
}

/// A closed stdout (`slurm-rl … | head`) is not an error.
pub(super) fn ignore_broken_pipe(r: std::io::Result<()>) -> Result<()> {
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The trace as accounting would record it after this simulated schedule:
/// start and end from the simulation, TIMEOUT for jobs killed at their
/// limit, CANCELLED without a start for jobs that left the queue. Jobs the
/// simulator rejected are left out.
fn simulated_history(trace: &Trace, outcomes: &[JobOutcome]) -> Trace {
    let mut out = Trace {
        meta: trace.meta.clone(),
        names: trace.names.clone(),
        jobs: Vec::with_capacity(trace.jobs.len()),
    };
    for (j, o) in trace.jobs.iter().zip(outcomes) {
        let mut h = j.clone();
        match (o.kind, o.start) {
            (OutcomeKind::Rejected, _) => continue,
            (OutcomeKind::Cancelled, _) | (_, None) => {
                h.start = None;
                h.end = Some(o.end);
                h.run_time = 0;
                h.state = JobState::Cancelled;
            }
            (kind, Some(start)) => {
                h.start = Some(start);
                h.end = Some(o.end);
                h.run_time = o.end - start;
                h.state = match (kind, j.state) {
                    (OutcomeKind::Timeout, _) => JobState::Timeout,
                    // A job that ran to its end keeps how it ended, except
                    // states that need the original limit or a start.
                    (
                        _,
                        JobState::Timeout
                        | JobState::Cancelled
                        | JobState::Pending
                        | JobState::Running,
                    ) => JobState::Completed,
                    (_, s) => s,
                };
            }
        }
        out.jobs.push(h);
    }
    out
}

/// The metric | value table.
fn table(m: &Metrics) -> String {
    let rows: Vec<(&str, String)> = METRICS
        .iter()
        .map(|d| (d.label, human_value(d, (d.get)(m))))
        .collect();
    let w = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(6).max(6);
    let mut s = format!(
        "{:<w$} | value\n{}-|-{}\n",
        "metric",
        "-".repeat(w),
        "-".repeat(24)
    );
    for (l, v) in rows {
        s.push_str(&format!("{l:<w$} | {v}\n"));
    }
    s
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let mut trace = load_trace(&a.trace, a.lenient)?;
    let cluster = load_cluster(a.cluster.as_deref(), &mut trace, &a.trace)?;
    apply_load_factor(&mut trace, a.load_factor)?;
    let mut pol = match super::evaluate::resolve_policies(
        std::slice::from_ref(&a.policy),
        a.model.as_deref(),
        None,
    )?
    .pop()
    {
        Some(spec) => (spec.make)(),
        None => baseline(&a.policy)?,
    };
    let cfg = SimConfig {
        backfill: a.backfill.to_engine(),
        cancelled_pending: a.cancelled_pending.to_engine(),
        record_events: a.events.is_some(),
        seed: a.seed,
    };
    let pb = spinner(format!(
        "simulating {} jobs under {}",
        trace.jobs.len(),
        a.policy
    ));
    let started = std::time::Instant::now();
    let res = sim::engine::simulate(&trace.jobs, &trace.names, &cluster, pol.as_mut(), &cfg);
    pb.finish_and_clear();
    let res = res.with_context(|| format!("simulating {}", a.trace.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        res.outcomes.len() == trace.jobs.len(),
        "the simulator returned {} outcomes for {} jobs",
        res.outcomes.len(),
        trace.jobs.len()
    );
    let m = metrics::compute(
        &trace.jobs,
        &res.outcomes,
        cluster.total_cpus(),
        cluster.total_gpus(),
    );

    warn_rejected(&m);
    let printed = (|| -> std::io::Result<()> {
        let stdout = std::io::stdout();
        let out = &mut stdout.lock();
        match a.format {
            Format::Table => {
                writeln!(
                    out,
                    "trace {} ({} jobs{}), cluster {} ({} CPUs, {} GPUs), policy {}, backfill {}, seed {}\n",
                    a.trace.display(),
                    trace.jobs.len(),
                    super::evaluate::load_note(a.load_factor),
                    cluster.name,
                    cluster.total_cpus(),
                    cluster.total_gpus(),
                    a.policy,
                    a.backfill.name(),
                    a.seed
                )?;
                write!(out, "{}", table(&m))?;
                writeln!(
                    out,
                    "\nsimulated in {elapsed:.2} s: {} events, {} main passes, {} backfill cycles",
                    res.stats.events, res.stats.main_passes, res.stats.bf_cycles
                )?;
            }
            Format::Json => {
                let doc = serde_json::json!({
                    "inputs": {
                        "trace": a.trace.display().to_string(),
                        "jobs": trace.jobs.len(),
                        "cluster": a.cluster.as_ref().map(|p| p.display().to_string()),
                        "cluster_name": cluster.name,
                        "total_cpus": cluster.total_cpus(),
                        "total_gpus": cluster.total_gpus(),
                        "policy": a.policy,
                        "backfill": a.backfill.name(),
                        "cancelled_pending": a.cancelled_pending.name(),
                        "seed": a.seed,
                        "load_factor": a.load_factor,
                    },
                    "metrics": m,
                    "stats": {
                        "events": res.stats.events,
                        "main_passes": res.stats.main_passes,
                        "bf_cycles": res.stats.bf_cycles,
                        "wall_seconds": elapsed,
                    },
                });
                serde_json::to_writer_pretty(&mut *out, &doc)?;
                writeln!(out)?;
            }
        }
        Ok(())
    })();
    ignore_broken_pipe(printed)?;

    if let Some(p) = &a.events {
        sim::io::atomic_write(p, |w| {
            for line in &res.events {
                writeln!(w, "{line}")?;
            }
            Ok(())
        })
        .with_context(|| format!("writing event log {}", p.display()))?;
    }
    if let Some(p) = &a.sacct_out {
        let history = simulated_history(&trace, &res.outcomes);
        sim::trace::sacct_write::write(p, &history, a.timezone)
            .with_context(|| format!("writing sacct dump {}", p.display()))?;
    }
    if let Some(p) = &a.plot {
        let tl = metrics::timeline(&trace.jobs, &res.outcomes);
        let waits: Vec<f64> = trace
            .jobs
            .iter()
            .zip(&res.outcomes)
            .filter_map(|(j, o)| o.start.map(|s| metrics::wait_of(j, s) as f64))
            .collect();
        let title = format!(
            "{} — policy {}, backfill {}, cluster {}",
            a.trace
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            a.policy,
            a.backfill.name(),
            cluster.name
        );
        crate::plot::schedule(
            p,
            &title,
            &tl,
            cluster.total_cpus(),
            cluster.total_gpus(),
            &waits,
        )?;
    }

    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn table_lists_every_metric_with_units() {
        let m = Metrics {
            wait_mean: 7200.0,
            cpu_util: 0.5,
            completed: 3,
            ..Metrics::default()
        };
        let t = table(&m);
        assert_eq!(t.lines().count(), METRICS.len() + 2);
        assert!(
            t.contains("mean wait") && t.contains("7200.0 s (2.00 h)"),
            "{t}"
        );
        assert!(t.contains("50.00 %"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with("completed") && l.ends_with("| 3")),
            "{t}"
        );
    }

    #[test]
    fn cluster_is_required_for_non_swf_traces() {
        let mut t = Trace::default();
        let e = load_cluster(None, &mut t, Path::new("x.jsonl")).unwrap_err();
        assert!(format!("{e:#}").contains("--cluster is required"), "{e:#}");
    }

    #[test]
    fn unknown_policy_lists_the_known_ones() {
        let e = baseline("nope").err().expect("no policy called nope");
        assert!(e.to_string().contains("fcfs"), "{e}");
    }

    #[test]
    fn simulated_history_records_each_outcome_as_accounting_would() {
        let mut t = Trace::default();
        for (id, state) in [
            (1, JobState::Completed),
            (2, JobState::Failed),
            (3, JobState::Completed),
            (4, JobState::Cancelled),
            (5, JobState::Completed),
        ] {
            t.jobs.push(sim::trace::Job {
                id,
                submit: 100,
                eligible: 100,
                run_time: 50,
                state,
                ..Default::default()
            });
        }
        let o = |start: Option<u64>, end, kind| JobOutcome {
            start,
            end,
            kind,
            backfilled: false,
        };
        let outcomes = [
            o(Some(110), 160, OutcomeKind::Completed),
            o(Some(120), 170, OutcomeKind::Completed),
            o(Some(130), 160, OutcomeKind::Timeout),
            o(None, 140, OutcomeKind::Cancelled),
            o(None, 100, OutcomeKind::Rejected),
        ];
        let h = simulated_history(&t, &outcomes);
        assert_eq!(h.jobs.len(), 4, "the rejected job is left out");
        let got: Vec<_> = h
            .jobs
            .iter()
            .map(|j| (j.id, j.start, j.end, j.run_time, j.state))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, Some(110), Some(160), 50, JobState::Completed),
                (2, Some(120), Some(170), 50, JobState::Failed),
                (3, Some(130), Some(160), 30, JobState::Timeout),
                (4, None, Some(140), 0, JobState::Cancelled),
            ]
        );
    }
}
