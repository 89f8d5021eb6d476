//! `slurm-rl explain`: why the learned policy scores a job the way it does.
//! It takes a queue snapshot (by replaying a trace in the simulator under
//! the model, or from the live cluster with `--squeue`), ranks the pending
//! jobs the way the scheduler would, and attributes each score to the
//! features by integrated gradients (`policy::explain`).
//!
//! This file parses options, builds the snapshot from a replay, renders
//! tables and JSON; the live snapshot lives in `squeue`, the bar chart in
//! `plot`. It must not compute attributions itself (`policy::explain`
//! does) and must not change how scores are computed (`policy::Model`).

mod plot;
mod squeue;

use super::common::{load_cluster, load_trace};
use super::simulate::BackfillArg;
use anyhow::{Context, Result, bail};
use policy::explain::{Baseline, JobExplanation, explain_job, queue_mean_baseline};
use policy::{JobObs, LearnedPolicy, Model, Policy, QueueContext};
use sim::engine::{OutcomeKind, SimConfig};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

const LONG_ABOUT: &str = "\
Where the snapshot comes from:
  --trace T --at TIME   replay T in the simulator with the model as the
                        priority (rescored at submit and every
                        PriorityCalcPeriod, as site_factor/rl runs) and take
                        the pending queue at TIME, before that second's
                        scheduling passes
  --trace T --job ID    the same, at job ID's last pending moment (its
                        simulated start); --at picks another instant
  --squeue              the live queue of the cluster this host talks to:
                        `squeue --json` for the jobs, `sprio` for the
                        fairshare, QOS and multifactor parts, `sinfo` for
                        the free resources

The replay starts from an empty cluster --warmup-hours before TIME (default
one week), so a long trace need not be simulated from its beginning.

How a score is explained:
  Each job's score is the model's output for its 20 normalized features
  (docs/model-format.md). The contributions are integrated gradients along
  the straight line from a baseline to the job: they add up to
  score − baseline score (the residual is printed; for the default ReLU
  network the integral is exact). --baseline training-mean (default) asks
  \"what makes this job score differently from a typical job of the
  training data\"; --baseline queue-mean asks \"… from the average job
  pending right now\", which is what decides the order of the queue.
  Queue features (free CPUs, queue length) are equal for every job at one
  instant: they move every score and rarely change the order.

Rank: as the scheduler orders the queue, by partition PriorityTier, then
score, then submit time, then job id.

docs/explain.md describes the method, the output and its caveats.";

const AFTER_LONG_HELP: &str = "\
Examples:
  # Why does job 4711 wait? (its last pending moment in a replay)
  slurm-rl explain --model runs/site/model.safetensors --trace hist.jsonl \\
      --cluster /etc/slurm/slurm.conf --job 4711
  # The whole queue one day into an SWF trace, top-3 features per job
  slurm-rl explain --model model.safetensors --trace lublin_256.swf --at +86400
  # Against the average pending job, as JSON, with a bar chart
  slurm-rl explain --model model.safetensors --trace hist.jsonl --cluster slurm.conf \\
      --at 2026-01-05T10:00:00 --job 4711 --baseline queue-mean --format json --plot why.png
  # Why is 4711 behind 4702? (contributions add up to the score difference)
  slurm-rl explain --model model.safetensors --trace hist.jsonl --cluster slurm.conf \\
      --at 2026-01-05T10:00:00 --job 4711 --versus 4702
  # The live queue (on a host with squeue/sprio/sinfo)
  slurm-rl explain --model /etc/slurm/rl/model.safetensors --squeue --job 123";

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Readable tables.
    Table,
    /// One JSON document.
    Json,
}

/// Baseline of the attribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BaselineArg {
    /// The normalizer's mean (0 in normalized space): a typical training job.
    TrainingMean,
    /// The mean of the pending jobs in this snapshot.
    QueueMean,
}

impl BaselineArg {
    fn name(self) -> &'static str {
        match self {
            BaselineArg::TrainingMean => "training-mean",
            BaselineArg::QueueMean => "queue-mean",
        }
    }
}

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP, help_template = super::simulate::HELP_TEMPLATE)]
pub struct Args {
    /// The model file (written by `slurm-rl train`).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Replay this trace (.swf/.swf.gz, .jsonl, sacct dump) to get the queue.
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "squeue",
        required_unless_present = "squeue"
    )]
    pub trace: Option<PathBuf>,
    /// The cluster: a .toml cluster file or a slurm.conf (optional for SWF).
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// The instant of the snapshot: trace seconds (`86400`), an offset from
    /// the first submit (`+3600`), or a UTC date-time (`2026-01-05T10:00:00`).
    #[arg(long, value_name = "TIME", conflicts_with = "squeue")]
    pub at: Option<String>,
    /// Explain this job in full (its rank, every feature).
    #[arg(long, value_name = "ID")]
    pub job: Option<u64>,
    /// Why is --job ranked where it is relative to this job? The other
    /// job's features become the baseline, so the contributions add up to
    /// score(--job) − score(--versus).
    #[arg(long, value_name = "ID", requires = "job")]
    pub versus: Option<u64>,
    /// Take the live queue from squeue/sprio/sinfo instead of a replay.
    #[arg(long)]
    pub squeue: bool,
    /// What the contributions are measured against.
    #[arg(long, value_enum, default_value_t = BaselineArg::TrainingMean)]
    pub baseline: BaselineArg,
    /// Driving features shown per job in the queue table.
    #[arg(long, default_value_t = 3)]
    pub top: usize,
    /// Most queue rows printed (the JSON has every job).
    #[arg(long, default_value_t = 50)]
    pub rows: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write a bar chart of the contributions (of --job, else of the
    /// top-ranked job) to this PNG.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Replay only jobs submitted this many hours before the snapshot.
    #[arg(long, default_value_t = 168.0)]
    pub warmup_hours: f64,
    /// Backfill scheduler in the replay.
    #[arg(long, value_enum, default_value_t = BackfillArg::Slurm)]
    pub backfill: BackfillArg,
    /// Seed of the simulator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Skip malformed trace lines instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// The max-wait guard, as the plugin's `max_wait=` (seconds, or with
    /// suffix s, m, h, d; 0: none). A job that has waited this long ranks
    /// above every job that has not, oldest first, whatever its score.
    /// Default: the model's own guard, else 7d, as the plugin does.
    #[arg(long, value_name = "DURATION", value_parser = crate::cmd::evaluate::duration_arg)]
    pub max_wait: Option<u64>,
}

impl Args {
    /// The guard in force: --max-wait, else the model's, else 7d.
    fn guard(&self, model: &Model) -> Option<u64> {
        policy::learned::max_wait_in_force(model.max_wait, self.max_wait)
    }
}

/// One pending job of a snapshot, as the policy last scored it.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    pub obs: JobObs,
    pub ctx: QueueContext,
    pub user: String,
    pub partition: String,
}

/// A queue snapshot, ready to explain.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    /// The instant (trace or Unix seconds).
    pub at: u64,
    /// Where it came from, for people.
    pub source: String,
    /// Whether times are Unix seconds (else relative trace seconds).
    pub unix_times: bool,
    pub jobs: Vec<Pending>,
}

/// One explained job with its place in the queue.
#[derive(Debug, Clone, serde::Serialize)]
struct Row {
    rank: usize,
    /// Past the max-wait guard: ranked by wait, above every job below it.
    guarded: bool,
    user: String,
    partition: String,
    scored_at: u64,
    wait_s: u64,
    time_limit_s: u64,
    cpus: u32,
    gpus: u32,
    nodes: u32,
    #[serde(flatten)]
    explanation: JobExplanation,
}

/// Wraps the learned policy and keeps, for every job, the observation and
/// context of its last scoring at or before `until`.
struct Recorder {
    inner: LearnedPolicy,
    until: u64,
    last: HashMap<u64, (JobObs, QueueContext)>,
}

impl Policy for Recorder {
    fn name(&self) -> &str {
        "learned"
    }
    fn rescore(&self) -> policy::Rescore {
        self.inner.rescore()
    }
    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        self.inner.score(ctx, jobs, out);
        if ctx.now <= self.until {
            for j in jobs {
                self.last.insert(j.id, (*j, *ctx));
            }
        }
    }
}

/// Parses `--at`: seconds, `+seconds` after `first_submit`, or a UTC
/// date-time.
fn parse_at(s: &str, first_submit: u64) -> Result<u64> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix('+') {
        let d: u64 = rest
            .parse()
            .with_context(|| format!("--at {s}: expected +SECONDS after the first submit"))?;
        return Ok(first_submit.saturating_add(d));
    }
    if let Ok(v) = s.parse::<u64>() {
        return Ok(v);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return u64::try_from(t.timestamp()).context("--at is before 1970");
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, fmt) {
            return u64::try_from(t.and_utc().timestamp()).context("--at is before 1970");
        }
    }
    bail!(
        "--at {s}: expected trace seconds (86400), +SECONDS after the first submit, or a UTC date-time (2026-01-05T10:00:00)"
    )
}

/// Replays `jobs` (a slice of the sorted trace) under the model and
/// returns the recorder and the outcomes.
fn replay(
    model: &Model,
    trace: &sim::trace::Trace,
    range: std::ops::Range<usize>,
    cluster: &sim::cluster::Cluster,
    cfg: &SimConfig,
    until: u64,
    guard: Option<u64>,
) -> Result<(Recorder, Vec<sim::engine::JobOutcome>)> {
    let mut rec = Recorder {
        inner: LearnedPolicy::new(model.clone()).with_max_wait(guard),
        until,
        last: HashMap::new(),
    };
    let res = sim::engine::simulate(&trace.jobs[range], &trace.names, cluster, &mut rec, cfg)?;
    Ok((rec, res.outcomes))
}

/// The snapshot of a replay: `--at`, or `--job`'s last pending moment.
fn snapshot_from_trace(a: &Args, model: &Model) -> Result<Snapshot> {
    let path = a
        .trace
        .as_ref()
        .expect("clap requires --trace without --squeue");
    let mut trace = load_trace(path, a.lenient)?;
    trace.sort();
    let cluster = load_cluster(a.cluster.as_deref(), &mut trace, path)?;
    let Some(first) = trace.jobs.first().map(|j| j.submit) else {
        bail!("{}: the trace has no jobs", path.display());
    };
    let cfg = SimConfig {
        backfill: a.backfill.to_engine(),
        seed: a.seed,
        ..Default::default()
    };
    let warmup = (a.warmup_hours.max(0.0) * 3600.0) as u64;
    let from = |t: u64| {
        trace
            .jobs
            .partition_point(|j| j.submit < t.saturating_sub(warmup))
    };
    let upto = |t: u64| trace.jobs.partition_point(|j| j.submit <= t);
    let pb = super::simulate::spinner("replaying the trace under the model".into());
    let at = match (&a.at, a.job) {
        (Some(s), _) => parse_at(s, first)?,
        (None, Some(id)) => {
            let Some(job) = trace.jobs.iter().find(|j| j.id == id) else {
                bail!("job {id} is not in {}", path.display());
            };
            // Its start depends only on jobs submitted before it: simulate
            // ever longer horizons until it starts within one.
            let submit = job.submit;
            let mut horizon = 86_400u64;
            loop {
                let cut = upto(submit.saturating_add(horizon));
                let lo = from(submit);
                let (_, outcomes) =
                    replay(model, &trace, lo..cut, &cluster, &cfg, 0, a.guard(model))?;
                let k = trace.jobs[lo..cut]
                    .iter()
                    .position(|j| j.id == id)
                    .expect("the job is in its own window");
                let o = outcomes[k];
                let end_of_window = cut == trace.jobs.len();
                match (o.kind, o.start) {
                    (OutcomeKind::Rejected, _) => bail!(
                        "job {id} can never run on this cluster (larger than it, or an unknown partition)"
                    ),
                    (_, Some(s)) if s <= submit.saturating_add(horizon) || end_of_window => {
                        break s;
                    }
                    (OutcomeKind::Cancelled, None) => break o.end.saturating_sub(1).max(submit),
                    _ if end_of_window => break o.end,
                    _ => horizon = horizon.saturating_mul(4),
                }
            }
        }
        (None, None) => bail!("give --at TIME or --job ID to choose the instant of the snapshot"),
    };
    let lo = from(at);
    let hi = upto(at);
    let (rec, outcomes) = replay(model, &trace, lo..hi, &cluster, &cfg, at, a.guard(model))?;
    pb.finish_and_clear();
    let mut jobs = Vec::new();
    for (j, o) in trace.jobs[lo..hi].iter().zip(&outcomes) {
        let pending = match o.kind {
            OutcomeKind::Rejected => false,
            OutcomeKind::Cancelled if o.start.is_none() => o.end > at,
            _ => o.start.is_none_or(|s| s >= at),
        };
        if !pending {
            continue;
        }
        if let Some((obs, ctx)) = rec.last.get(&j.id) {
            jobs.push(Pending {
                obs: *obs,
                ctx: *ctx,
                user: trace.names.users.name(j.user).to_string(),
                partition: trace.names.partitions.name(j.partition).to_string(),
            });
        }
    }
    Ok(Snapshot {
        at,
        source: format!(
            "replay of {} ({} jobs submitted in the {:.0} h before, backfill {})",
            path.display(),
            hi - lo,
            a.warmup_hours,
            a.backfill.name()
        ),
        unix_times: first > 100_000_000,
        jobs,
    })
}

/// Ranks and explains every job of the snapshot.
/// Explains every job of `snap` and ranks them as the plugin orders them:
/// partition tier, then the jobs past the max-wait `guard` (oldest first),
/// then score, then submit time.
fn explain_all(
    model: &Model,
    snap: &Snapshot,
    baseline: BaselineArg,
    guard: Option<u64>,
) -> Result<Vec<Row>> {
    let base = match baseline {
        BaselineArg::TrainingMean => Baseline::TrainingMean,
        BaselineArg::QueueMean => {
            let pairs: Vec<(JobObs, QueueContext)> =
                snap.jobs.iter().map(|p| (p.obs, p.ctx)).collect();
            Baseline::Normalized(queue_mean_baseline(model, &pairs))
        }
    };
    let mut rows = snap
        .jobs
        .iter()
        .map(|p| {
            Ok(Row {
                rank: 0,
                guarded: guard.is_some_and(|g| p.obs.wait >= g),
                user: p.user.clone(),
                partition: p.partition.clone(),
                scored_at: p.ctx.now,
                wait_s: p.obs.wait,
                time_limit_s: p.obs.time_limit,
                cpus: p.obs.cpus,
                gpus: p.obs.gpus,
                nodes: p.obs.nodes,
                explanation: explain_job(model, &p.obs, &p.ctx, &base)?,
            })
        })
        .collect::<Result<Vec<Row>>>()?;
    let tier: HashMap<u64, (u32, u64)> = snap
        .jobs
        .iter()
        .map(|p| (p.obs.id, (p.obs.partition_tier, p.obs.submit)))
        .collect();
    rows.sort_by(|a, b| {
        let (ta, sa) = tier[&a.explanation.job];
        let (tb, sb) = tier[&b.explanation.job];
        let past = |r: &Row| r.guarded.then_some(r.wait_s);
        tb.cmp(&ta)
            .then(past(b).cmp(&past(a)))
            .then(b.explanation.score.total_cmp(&a.explanation.score))
            .then(sa.cmp(&sb))
            .then(a.explanation.job.cmp(&b.explanation.job))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    Ok(rows)
}

/// Seconds as `3d04h`, `2h05m`, `4m10s` or `12s`.
fn dur(s: u64) -> String {
    if s >= 86_400 {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3600)
    } else if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// An instant for people: a UTC date-time for Unix times, else `t=N s`.
fn when(t: u64, unix: bool) -> String {
    if unix {
        chrono::DateTime::from_timestamp(t as i64, 0).map_or(format!("{t}"), |d| {
            d.format("%Y-%m-%d %H:%M:%S UTC").to_string()
        })
    } else {
        format!("t={t} s")
    }
}

/// What a feature means for this job, in the job's own units.
fn meaning(name: &str, o: &JobObs, c: &QueueContext) -> String {
    let pct = |n: u64, d: u64| {
        if d == 0 {
            "n/a".to_string()
        } else {
            format!("{:.0}%", 100.0 * n as f64 / d as f64)
        }
    };
    match name {
        "log_wait" => format!("waited {}", dur(o.wait)),
        "log_time_limit" => format!("limit {}", dur(o.time_limit)),
        "log_wait_ratio" => format!(
            "wait/limit {:.2}",
            o.wait as f64 / o.time_limit.max(1) as f64
        ),
        "log_cpus" => format!("{} CPUs", o.cpus),
        "cpu_frac" => format!(
            "{} of {} CPUs",
            pct(o.cpus as u64, c.total_cpus),
            c.total_cpus
        ),
        "log_mem_mb" => format!("{} MB", o.mem_mb),
        "log_mem_per_cpu_mb" => format!("{} MB/CPU", o.mem_mb / (o.cpus.max(1) as u64)),
        "log_gpus" => format!("{} GPUs", o.gpus),
        "gpu_frac" => format!(
            "{} of {} GPUs",
            pct(o.gpus as u64, c.total_gpus),
            c.total_gpus
        ),
        "log_nodes" => format!("{} nodes", o.nodes),
        "log_cpu_seconds" => format!("{:.1} CPU-h", o.cpus as f64 * o.time_limit as f64 / 3600.0),
        "fits_now" => (if o.fits_now {
            "fits now"
        } else {
            "does not fit now"
        })
        .to_string(),
        "partition_tier" => format!("tier {}", o.partition_tier),
        "qos" => format!("QOS {:.2}", o.qos),
        "fairshare" => format!("fairshare {:.2}", o.fairshare),
        "multifactor_slog" => format!("multifactor {:.0}", o.multifactor),
        "free_cpu_frac" => format!("{} CPUs free", pct(c.free_cpus, c.total_cpus)),
        "free_gpu_frac" => format!("{} GPUs free", pct(c.free_gpus, c.total_gpus)),
        "log_queue_len" => format!("{} pending", c.queue_len),
        "log_running" => format!("{} running", c.running),
        _ => String::new(),
    }
}

/// A signed text bar, `width` characters for `max`.
fn bar(v: f64, max: f64, width: usize) -> String {
    let n = if max > 0.0 {
        ((v.abs() / max) * width as f64).round() as usize
    } else {
        0
    };
    let b = if v >= 0.0 { "+" } else { "-" };
    b.repeat(n.min(width))
}

/// Decimals that show about four significant digits of numbers up to `max`.
fn decimals(max: f64) -> usize {
    if max > 0.0 && max.is_finite() {
        (3.0 - max.log10().floor()).clamp(2.0, 9.0) as usize
    } else {
        3
    }
}

/// A signed number with `d` decimals.
fn signed(v: f64, d: usize) -> String {
    format!("{v:+.d$}")
}

/// A name, or `-` when empty (SWF traces have no user names).
fn or_dash(s: &str) -> String {
    if s.is_empty() { "-".into() } else { s.into() }
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())))
}

fn method_text(e: &JobExplanation) -> String {
    match e.method {
        policy::explain::Method::Exact { pieces } => {
            format!("exact integrated gradients over {pieces} linear pieces")
        }
        policy::explain::Method::Midpoint { steps } => {
            format!("integrated gradients, midpoint rule with {steps} steps")
        }
    }
}

/// The full explanation of one job as text.
/// `other` is the `--versus` job, whose values are shown beside this one's.
fn render_job(
    row: &Row,
    p: &Pending,
    other: Option<&Pending>,
    snap: &Snapshot,
    baseline: &str,
) -> String {
    let e = &row.explanation;
    let mut s = String::new();
    s.push_str(&format!(
        "Job {} (user {}, partition {}): rank {} of {} pending at {}\n",
        e.job,
        or_dash(&row.user),
        or_dash(&row.partition),
        row.rank,
        snap.jobs.len(),
        when(snap.at, snap.unix_times)
    ));
    s.push_str(&format!(
        "  last scored at {}; waited {}, limit {}, {} CPUs, {} GPUs, {} nodes\n",
        when(row.scored_at, snap.unix_times),
        dur(row.wait_s),
        dur(row.time_limit_s),
        row.cpus,
        row.gpus,
        row.nodes
    ));
    if row.guarded {
        s.push_str(
            "  past the max-wait guard: ranked by its wait, above every job below the guard, whatever its score\n",
        );
    }
    let max = e
        .features
        .iter()
        .map(|f| f.contribution.abs())
        .fold(0.0, f64::max);
    let d = decimals(max.max(e.score.abs() as f64));
    s.push_str(&format!(
        "  score {} = baseline ({}) {} + contributions {}   [{}; residual {:.1e}]\n\n",
        signed(e.score as f64, d),
        baseline,
        signed(e.baseline_score, d),
        signed(e.score as f64 - e.baseline_score, d),
        method_text(e),
        e.residual
    ));
    let versus_head = other.map(|o| format!("this job vs job {}", o.obs.id));
    let head = [
        "feature",
        versus_head.as_deref().unwrap_or("this job"),
        "raw",
        "normalized",
        "contribution",
        "",
    ];
    let rows: Vec<[String; 6]> = e
        .ranked()
        .into_iter()
        .map(|i| {
            let f = &e.features[i];
            [
                f.name.clone(),
                match other {
                    Some(o) => format!(
                        "{} vs {}",
                        meaning(&f.name, &p.obs, &p.ctx),
                        meaning(&f.name, &o.obs, &o.ctx)
                    ),
                    None => meaning(&f.name, &p.obs, &p.ctx),
                },
                format!("{:.3}", f.raw),
                format!("{:+.3}", f.normalized),
                signed(f.contribution, decimals(max)),
                bar(f.contribution, max, 20),
            ]
        })
        .collect();
    let w: Vec<usize> = (0..6)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: [&str; 6]| {
        let mut l = String::from(" ");
        for (c, cell) in cells.iter().enumerate() {
            // Numbers right-aligned, text left-aligned.
            if (2..=4).contains(&c) {
                l.push_str(&format!(
                    " {}{}",
                    " ".repeat(w[c] - cell.chars().count()),
                    cell
                ));
            } else {
                l.push_str(&format!(" {}", pad(cell, w[c])));
            }
        }
        format!("{}\n", l.trim_end())
    };
    s.push_str(&line(head));
    for r in &rows {
        s.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]]));
    }
    s.push_str(
        "\n  + pushes the job up the queue, - pushes it down; contributions are in score units.\n",
    );
    s
}

/// The ranked queue with each job's top driving features.
fn render_queue(rows: &[Row], snap: &Snapshot, top: usize, max_rows: usize) -> String {
    let mut s = format!(
        "Queue at {}: {} pending jobs ({})\n\n",
        when(snap.at, snap.unix_times),
        snap.jobs.len(),
        snap.source
    );
    let head = [
        "rank",
        "job",
        "user",
        "partition",
        "score",
        "wait",
        "limit",
        "cpus",
        "gpus",
    ];
    let shown = &rows[..rows.len().min(max_rows)];
    let dc = decimals(
        shown
            .iter()
            .flat_map(|r| r.explanation.features.iter().map(|f| f.contribution.abs()))
            .fold(0.0, f64::max),
    );
    let ds = decimals(
        shown
            .iter()
            .map(|r| r.explanation.score.abs() as f64)
            .fold(0.0, f64::max),
    );
    let mut table: Vec<Vec<String>> = Vec::new();
    for r in shown {
        let e = &r.explanation;
        let drivers: Vec<String> = e
            .ranked()
            .into_iter()
            .take(top)
            .map(|i| {
                format!(
                    "{} {}",
                    e.features[i].name,
                    signed(e.features[i].contribution, dc)
                )
            })
            .collect();
        table.push(vec![
            r.rank.to_string(),
            e.job.to_string(),
            or_dash(&r.user),
            or_dash(&r.partition),
            signed(e.score as f64, ds),
            dur(r.wait_s),
            dur(r.time_limit_s),
            r.cpus.to_string(),
            r.gpus.to_string(),
            drivers.join(", "),
        ]);
    }
    let mut head: Vec<String> = head.iter().map(|h| h.to_string()).collect();
    head.push(format!("top {top} features (contribution)"));
    let w: Vec<usize> = (0..head.len())
        .map(|c| {
            table
                .iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, x)| pad(x, w[c]))
            .collect();
        format!("  {}\n", parts.join("  ").trim_end())
    };
    s.push_str(&line(&head));
    for r in &table {
        s.push_str(&line(r));
    }
    if rows.len() > max_rows {
        s.push_str(&format!(
            "  … {} more (raise --rows, or --format json)\n",
            rows.len() - max_rows
        ));
    }
    s
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let model = Model::load(&a.model).context("loading --model")?;
    let snap = if a.squeue {
        squeue::snapshot()?
    } else {
        snapshot_from_trace(&a, &model)?
    };
    let mut rows = explain_all(&model, &snap, a.baseline, a.guard(&model))?;
    let mut baseline_label = a.baseline.name().to_string();
    let focus = match a.job {
        Some(id) => Some(
            rows.iter()
                .position(|r| r.explanation.job == id)
                .with_context(|| {
                    format!(
                        "job {id} is not pending at {} ({} jobs are)",
                        when(snap.at, snap.unix_times),
                        rows.len()
                    )
                })?,
        ),
        None => None,
    };
    if let (Some(i), Some(v)) = (focus, a.versus) {
        let other = snap.jobs.iter().find(|p| p.obs.id == v).with_context(|| {
            format!(
                "--versus {v}: job {v} is not pending at {}",
                when(snap.at, snap.unix_times)
            )
        })?;
        let me = pending_of_id(&snap, rows[i].explanation.job);
        let b = policy::explain::normalized_features(&model, &other.obs, &other.ctx);
        rows[i].explanation = explain_job(&model, &me.obs, &me.ctx, &Baseline::Normalized(b))?;
        let rank = rows
            .iter()
            .find(|r| r.explanation.job == v)
            .map_or(0, |r| r.rank);
        baseline_label = format!("job {v}, rank {rank}");
    }
    if let Some(path) = &a.plot {
        match focus.or(if rows.is_empty() { None } else { Some(0) }) {
            Some(i) => plot::contributions(path, &rows[i].explanation, &title(&rows[i], &snap))?,
            None => eprintln!("note: the queue is empty; no plot written"),
        }
    }
    let pending_of = |r: &Row| {
        snap.jobs
            .iter()
            .find(|p| p.obs.id == r.explanation.job)
            .expect("every row comes from the snapshot")
    };
    let text = match a.format {
        FormatArg::Json => {
            let doc = serde_json::json!({
                "at": snap.at,
                "source": snap.source,
                "model": a.model.display().to_string(),
                "baseline": baseline_label,
                "pending": rows.len(),
                "job": focus.map(|i| &rows[i]),
                "queue": rows,
            });
            format!("{}\n", serde_json::to_string_pretty(&doc)?)
        }
        FormatArg::Table => match focus {
            Some(i) => render_job(
                &rows[i],
                pending_of(&rows[i]),
                a.versus.map(|v| pending_of_id(&snap, v)),
                &snap,
                &baseline_label,
            ),
            None => render_queue(&rows, &snap, a.top, a.rows),
        },
    };
    super::simulate::ignore_broken_pipe(std::io::stdout().lock().write_all(text.as_bytes()))
}

fn pending_of_id(snap: &Snapshot, id: u64) -> &Pending {
    snap.jobs
        .iter()
        .find(|p| p.obs.id == id)
        .expect("every row comes from the snapshot")
}

fn title(r: &Row, snap: &Snapshot) -> String {
    format!(
        "job {} (rank {} of {}): score {:+.3} vs baseline {:+.3}",
        r.explanation.job,
        r.rank,
        snap.jobs.len(),
        r.explanation.score,
        r.explanation.baseline_score
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_accepts_seconds_offsets_and_dates() {
        assert_eq!(parse_at("86400", 5).unwrap(), 86400);
        assert_eq!(parse_at("+60", 1000).unwrap(), 1060);
        assert_eq!(parse_at("1970-01-02T00:00:00", 0).unwrap(), 86400);
        assert_eq!(parse_at("1970-01-02T01:00:00+01:00", 0).unwrap(), 86400);
        let e = parse_at("yesterday", 0).unwrap_err();
        assert!(format!("{e:#}").contains("--at yesterday"), "{e:#}");
    }

    /// Four whole-cluster jobs submitted a second apart, each running
    /// 100 s: they run one after another.
    fn fixture(dir: &std::path::Path) -> (PathBuf, PathBuf) {
        let swf = dir.join("t.swf");
        let mut text = String::from("; MaxNodes: 4\n; MaxProcs: 4\n");
        for i in 1..=4u64 {
            text.push_str(&format!(
                "{i} {} -1 100 4 -1 -1 4 200 -1 1 {i} 1 -1 1 -1 -1 -1\n",
                i - 1
            ));
        }
        std::fs::write(&swf, text).unwrap();
        let model = dir.join("m.safetensors");
        let arch = policy::nn::Architecture::default_for(policy::features::N_FEATURES);
        Model::random(arch, policy::features::FeatureSpec::current_identity(), 5)
            .unwrap()
            .save(&model)
            .unwrap();
        (swf, model)
    }

    fn args(trace: PathBuf, model: PathBuf) -> Args {
        Args {
            model,
            trace: Some(trace),
            cluster: None,
            at: None,
            job: None,
            versus: None,
            squeue: false,
            baseline: BaselineArg::TrainingMean,
            top: 3,
            rows: 50,
            format: FormatArg::Table,
            plot: None,
            warmup_hours: 168.0,
            backfill: BackfillArg::Slurm,
            seed: 0,
            lenient: false,
            max_wait: None,
        }
    }

    #[test]
    fn replay_snapshot_at_a_time_and_at_a_jobs_start() {
        let dir = tempfile::tempdir().unwrap();
        let (swf, model_path) = fixture(dir.path());
        let model = Model::load(&model_path).unwrap();
        // At t=50 job 1 runs and jobs 2..4 wait.
        let mut a = args(swf.clone(), model_path.clone());
        a.at = Some("50".into());
        let snap = snapshot_from_trace(&a, &model).unwrap();
        assert_eq!(snap.at, 50);
        let mut ids: Vec<u64> = snap.jobs.iter().map(|p| p.obs.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [2, 3, 4]);
        let rows = explain_all(&model, &snap, BaselineArg::QueueMean, None).unwrap();
        assert_eq!(rows.iter().map(|r| r.rank).collect::<Vec<_>>(), [1, 2, 3]);
        for w in rows.windows(2) {
            assert!(w[0].explanation.score >= w[1].explanation.score);
        }
        for r in &rows {
            assert!(r.explanation.residual.abs() < 1e-9);
            assert_eq!(r.explanation.features.len(), policy::features::N_FEATURES);
        }
        // Jobs past the guard (here every job: a guard of 0 s) rank by wait.
        let rows = explain_all(&model, &snap, BaselineArg::QueueMean, Some(0)).unwrap();
        assert!(rows.iter().all(|r| r.guarded));
        assert!(rows.windows(2).all(|w| w[0].wait_s >= w[1].wait_s));
        let text = render_job(
            &rows[0],
            pending_of_id(&snap, rows[0].explanation.job),
            None,
            &snap,
            "b",
        );
        assert!(text.contains("past the max-wait guard"), "{text}");
        // Job 3's last pending moment is its start; job 4 still waits then.
        let mut a = args(swf, model_path);
        a.job = Some(3);
        let snap = snapshot_from_trace(&a, &model).unwrap();
        let mut ids: Vec<u64> = snap.jobs.iter().map(|p| p.obs.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [3, 4], "at {}", snap.at);
        let rows = explain_all(&model, &snap, BaselineArg::TrainingMean, None).unwrap();
        let row = rows.iter().find(|r| r.explanation.job == 3).unwrap();
        let text = render_job(
            row,
            pending_of_id(&snap, 3),
            Some(pending_of_id(&snap, 4)),
            &snap,
            "job 4",
        );
        assert!(text.contains("Job 3"), "{text}");
        assert!(text.contains("log_wait"), "{text}");
        assert!(text.contains("this job vs job 4"), "{text}");
        let q = render_queue(&rows, &snap, 2, 1);
        assert!(q.contains("… 1 more"), "{q}");
        let png = dir.path().join("why.png");
        plot::contributions(&png, &row.explanation, "t").unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }

    #[test]
    fn durations_and_bars() {
        assert_eq!(dur(59), "59s");
        assert_eq!(dur(3 * 3600 + 5 * 60), "3h05m");
        assert_eq!(dur(2 * 86_400 + 7200), "2d02h");
        assert_eq!(bar(-1.0, 2.0, 10), "-----");
        assert_eq!(bar(2.0, 2.0, 10), "++++++++++");
        assert_eq!(bar(1.0, 0.0, 10), "");
    }
}
