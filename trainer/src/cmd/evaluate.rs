//! `slurm-rl evaluate`: compare policies on the same sequences cut from a
//! trace, with 95% confidence intervals and paired comparisons against a
//! reference policy; writes results.json, results.md, sequences.csv and
//! comparison.png.
//!
//! This file parses options, resolves policy names (one function, so a
//! learned model can join the list), drives `sim::eval` with a progress bar
//! and renders the results; it must not compute statistics itself
//! (`sim::eval` does) or draw (`crate::plot` does).

use super::common::{apply_load_factor, load_cluster, load_trace};
use super::simulate::{BackfillArg, CancelledArg};
use anyhow::{Context, Result, bail};
use sim::engine::SimConfig;
use sim::eval::{self, EvalInput, PolicyReport, PolicySpec, Report, Starts, Verdict};
use sim::metrics::{self, MetricDef};
use std::io::Write;
use std::path::{Path, PathBuf};

const LONG_ABOUT: &str = "\
Protocol:
  1. Cut N sequences of K consecutive jobs (by submit time) from the trace.
     Starts are drawn uniformly from 0..=len−K with --seed (ChaCha8, with
     replacement, in draw order), or given explicitly with --starts (e.g.
     RLScheduler's 1981,2756,4299,8850,3316,2714,5228,7762,4022,7085) so
     results can be compared job for job with other simulators.
  2. Run every policy on every sequence; each run starts from an empty
     cluster and sees only the sequence's K jobs. Sequence s uses simulator
     seed --seed + s, the same for every policy.
  3. For each policy and metric: the mean over the N sequences and the 95%
     Student-t confidence interval (mean ± t(0.975, N−1)·sd/√N).
  4. Paired differences against --reference (policy − reference, per
     sequence), with their 95% CI. A cell is marked `!` when the policy is
     significantly worse than the reference (the whole interval on the bad
     side of 0) and `+` when significantly better.

Policies (--policies):
  slurm   Slurm's priority/multifactor with the cluster's weights
  fcfs    first come, first served (earliest submit first)
  sjf     shortest job first (smallest time limit)
  wfp3    WFP3: (wait / estimate)³ · cpus, favours long-waiting, short jobs
  unicep  UNICEP: wait / (log2(cpus) · estimate), favours long waits, short estimates
  f1      F1: a score fitted by regression (Carastan-Santos & de Camargo, SC'17)
  aging   (wait + 1h) / (estimate^0.8 · cpus^0.15): size first, then wait; the
          warm start of `train --init aging`. aging:B/P/Q sets the three
          (e.g. aging:30m/0.5/0.3). Scored as the plugin scores a model.

Metrics (lower is better unless noted; only started jobs count in waits):
  bsld_mean   mean bounded slowdown max(1, (wait + run)/max(run, 10 s))
  wait_*      wait = start − max(submit, eligible): mean, median, p95, p99 (nearest rank)
  jct_mean    mean completion time end − submit
  makespan    last end − first submit of the sequence
  cpu_util    Σ cpus·run / (total CPUs · makespan)   (higher is better)
  gpu_util    the same for GPUs, 0 without GPUs        (higher is better)
  fairness    Jain's index of per-user mean bsld       (higher is better)
docs/metrics.md and docs/evaluation.md give every formula.

Outputs in --out: results.json (per-policy summaries, paired differences
and per-sequence metrics), results.md (the tables printed on stdout),
sequences.csv (one row per policy and sequence, with its start index: to
see which windows carry a mean) and comparison.png (bars with 95% CI
whiskers). With several --load-factor values, each factor's four files go
to DIR/load-F/, and DIR gets load.md, load.json and load.png: every policy
against the load.";

const AFTER_LONG_HELP: &str = "\
Examples:
  slurm-rl evaluate --trace lublin_256.swf --sequences 10 --jobs 1024 --out eval/
  slurm-rl evaluate --trace lublin_256.swf --backfill none --policies fcfs,sjf,f1 \\
      --reference fcfs --starts 1981,2756,4299,8850,3316,2714,5228,7762,4022,7085 --out rls/
  slurm-rl evaluate --trace hist.jsonl --cluster /etc/slurm/slurm.conf --sequences 30 --out eval/
  # What if the same jobs arrived 25% and 50% faster? (eval/load.png)
  slurm-rl evaluate --trace hist.jsonl --cluster slurm.conf --model model.safetensors \\
      --load-factor 1,1.25,1.5 --out eval/
  # The best run of a sweep (docs/training.md, \"Sweeps on Slurm\")
  slurm-rl evaluate --trace hist.jsonl --cluster slurm.conf --runs 'runs/sweep/task-*' \\
      --sequences 10 --jobs 256 --out runs/sweep/best";

/// Metrics in the tables and the plot, in this order.
const TABLE_METRICS: &[&str] = &[
    "bsld_mean",
    "wait_mean",
    "wait_median",
    "wait_p95",
    "wait_p99",
    "jct_mean",
    "cpu_util",
    "gpu_util",
    "fairness",
];
const PLOT_METRICS: &[&str] = &["bsld_mean", "wait_mean", "wait_p99", "cpu_util"];

/// Arguments.
#[derive(clap::Args, Debug)]
// The one-line about comes from the subcommand's doc in main.rs; the long
// description is placed right after it through the template.
#[command(before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP, help_template = super::simulate::HELP_TEMPLATE)]
pub struct Args {
    /// The workload: .swf/.swf.gz, .jsonl, or an sacct --parsable2 dump.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The cluster: a .toml cluster file, or a slurm.conf. Optional for SWF
    /// traces (derived from the header).
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Policies to compare, comma-separated (default: every baseline, plus
    /// `learned` with --model). A name may also be a `.safetensors` model file.
    #[arg(long, value_delimiter = ',', value_name = "NAMES")]
    pub policies: Vec<String>,
    /// A model file written by `slurm-rl train`: the policy `learned`.
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Backfill scheduler beside the main scheduler.
    #[arg(long, value_enum, default_value_t = BackfillArg::Slurm)]
    pub backfill: BackfillArg,
    /// What to do with jobs that were cancelled while pending in the trace.
    #[arg(long, value_enum, default_value_t = CancelledArg::Keep)]
    pub cancelled_pending: CancelledArg,
    /// Number of sequences N (with random starts).
    #[arg(long, default_value_t = 10)]
    pub sequences: usize,
    /// Jobs per sequence K.
    #[arg(long, default_value_t = 1024)]
    pub jobs: usize,
    /// Seed of the random starts and base seed of the simulator.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Explicit start indices (0-based, into the trace's jobs sorted by
    /// submit), comma-separated; overrides --sequences and the random draw.
    #[arg(long, value_delimiter = ',', value_name = "I,J,..")]
    pub starts: Vec<usize>,
    /// Policy the others are compared with, pair by pair; `none` for no
    /// comparison. Added to --policies when missing.
    #[arg(long, default_value = "slurm")]
    pub reference: String,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Skip malformed trace lines (counted on stderr) instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Pick the best of several training runs (e.g. a sweep's tasks): run
    /// directories or model files, comma-separated; `*` in the last path
    /// component is expanded (`runs/sweep/task-*`). Sequences come from the
    /// runs' held-out jobs unless --starts is given. Writes runs.json,
    /// runs.md, runs.png, best.json and best.safetensors.
    #[arg(long, value_delimiter = ',', value_name = "DIRS", conflicts_with_all = ["policies", "model"])]
    pub runs: Vec<String>,
    /// With --runs: a run whose mean p99 wait exceeds this many seconds
    /// ranks after every run that does not (default: the runs' training
    /// --guard-p99-wait, else "p99 wait not significantly worse than slurm").
    #[arg(long, value_name = "SECONDS", requires = "runs")]
    pub guard_p99_wait: Option<f64>,
    /// The max-wait guard of every learned policy, as the plugin's
    /// `max_wait=` (seconds, or with suffix s, m, h, d; 0 turns it off): a
    /// job that has waited this long outranks every job that has not,
    /// oldest first. Default: each model's own (its `max_wait` metadata),
    /// else 7d, as the plugin does without `max_wait=`.
    #[arg(long, value_name = "DURATION", value_parser = duration_arg)]
    pub max_wait: Option<u64>,
    /// What-if load: replay the trace's arrivals F times as fast (every
    /// submit gap divided by F), so 1.25 offers 25% more load and 0.8 20%
    /// less. Requests, limits and run times stay as recorded; the sequence
    /// starts are cut from the compressed trace. A list (1,1.25,1.5) runs
    /// the whole evaluation once per factor into DIR/load-F/ and adds
    /// load.md, load.json and load.png: every policy against the load.
    #[arg(long, value_name = "F,..", value_delimiter = ',', default_value = "1", value_parser = super::common::load_factor_arg)]
    pub load_factor: Vec<f64>,
}

/// Parses a duration (`--max-wait`, `train --max-wait`, `--aging-offset`,
/// the B of `aging:B/P/Q`) the way the plugin parses `max_wait=`.
pub(crate) fn duration_arg(v: &str) -> Result<u64, String> {
    policy::learned::parse_duration(v)
        .ok_or_else(|| format!("`{v}`: expected seconds, or a number with suffix s, m, h or d"))
}

/// Turns policy names into factories. Every way to name a policy goes
/// through here: a baseline name, `learned` (the model file given with
/// `--model`), or the path of a model file (`*.safetensors`, named after
/// the file's stem). A model file is read and validated once. `max_wait`
/// overrides every model's max-wait guard (`Some(0)` turns it off).
pub(crate) fn resolve_policies(
    names: &[String],
    model: Option<&Path>,
    max_wait: Option<u64>,
) -> Result<Vec<PolicySpec<'static>>> {
    let names: Vec<String> = if names.is_empty() {
        let mut v: Vec<String> = sim::baselines::NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        if model.is_some() {
            v.push("learned".into());
        }
        v
    } else {
        names
            .iter()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            bail!("policy `{n}` is listed twice in --policies");
        }
    }
    let mut specs: Vec<PolicySpec<'static>> = Vec::with_capacity(names.len());
    for n in &names {
        if let Some(spec) = PolicySpec::baseline(n) {
            specs.push(spec);
            continue;
        }
        if let Some(params) = n.strip_prefix("aging:") {
            let aging = parse_aging(params).with_context(|| {
                format!("policy `{n}`: expected aging:B/P/Q, e.g. aging:1h/0.8/0.15")
            })?;
            specs.push(PolicySpec::new(n.clone(), move || Box::new(aging)));
            continue;
        }
        let path = if n == "learned" {
            model
                .with_context(|| "policy `learned` needs --model FILE (a model file written by `slurm-rl train`)")?
                .to_path_buf()
        } else if n.ends_with(".safetensors") {
            PathBuf::from(n)
        } else {
            bail!(
                "unknown policy `{n}`; known: {}, aging:B/P/Q, learned (with --model), or a path to a .safetensors model file",
                sim::baselines::NAMES.join(", ")
            );
        };
        let m = policy::Model::load(&path)
            .with_context(|| format!("loading the model for policy `{n}`"))?;
        let name = if n == "learned" {
            "learned".to_string()
        } else {
            path.file_stem()
                .map_or(n.clone(), |s| s.to_string_lossy().into_owned())
        };
        let label = name.clone();
        specs.push(PolicySpec::new(name, move || {
            Box::new(learned_policy(&m, &label, max_wait))
        }));
    }
    Ok(specs)
}

/// `B/P/Q` of `aging:B/P/Q`: the offset (a duration, as `--max-wait`) and
/// the two powers (finite, at least 0).
fn parse_aging(v: &str) -> Result<sim::baselines::Aging> {
    let parts: Vec<&str> = v.split('/').collect();
    let [b, p, q] = parts[..] else {
        bail!("`{v}` has {} parts, not 3", parts.len());
    };
    let offset = duration_arg(b).map_err(|e| anyhow::anyhow!("B: {e}"))? as f64;
    let power = |name: &str, x: &str| -> Result<f64> {
        match x.parse::<f64>() {
            Ok(y) if y.is_finite() && y >= 0.0 => Ok(y),
            _ => bail!("{name}: `{x}` is not a number ≥ 0"),
        }
    };
    Ok(sim::baselines::Aging {
        offset,
        time_power: power("P", p)?,
        cpu_power: power("Q", q)?,
    })
}

/// `m` as the policy `label`, with its max-wait guard overridden when
/// `max_wait` is given (`Some(0)`: no guard).
pub(crate) fn learned_policy(
    m: &policy::Model,
    label: &str,
    max_wait: Option<u64>,
) -> policy::LearnedPolicy {
    policy::LearnedPolicy::new(m.clone())
        .with_name(label)
        .with_max_wait(policy::learned::max_wait_in_force(m.max_wait, max_wait))
}

fn def(name: &str) -> &'static MetricDef {
    metrics::metric(name).expect("the metric lists above name real metrics")
}

/// A cell `mean ± ci` with the verdict marker.
fn cell(report: &Report, policy: &str, d: &MetricDef) -> String {
    let p = report.policy(policy).expect("policy from the report");
    let s = p.summary_of(d.name).expect("every metric is summarised");
    let (scale, _) = table_scale(d);
    let mark = p.diff_of(d.name).map_or("", |x| mark(x.verdict));
    format!("{}{mark}", mean_ci(s.mean, s.ci95, scale))
}

/// `mean ± ci` (or the mean alone without an interval), times `scale`.
fn mean_ci(mean: f64, ci95: Option<f64>, scale: f64) -> String {
    match ci95 {
        Some(h) => format!("{} ± {}", num(mean * scale), num(h * scale)),
        None => num(mean * scale),
    }
}

/// The table mark of a paired verdict: ` !` worse, ` +` better, else none.
fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Worse => " !",
        Verdict::Better => " +",
        _ => "",
    }
}

/// Tables show seconds as seconds and ratios as percent.
fn table_scale(d: &MetricDef) -> (f64, &'static str) {
    if d.unit == "%" {
        (100.0, "%")
    } else {
        (1.0, d.unit)
    }
}

fn num(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn header(d: &MetricDef) -> String {
    let (_, unit) = table_scale(d);
    if unit.is_empty() {
        d.name.to_string()
    } else {
        format!("{} ({unit})", d.name)
    }
}

/// A markdown table whose columns are padded so it also reads as plain text.
fn md_table(head: &[String], rows: &[Vec<String>]) -> String {
    let cols = head.len();
    let width: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([head[c].chars().count(), 3])
                .max()
                .unwrap_or(3)
        })
        .collect();
    let line = |cells: &[String]| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| format!("{s}{}", " ".repeat(width[c] - s.chars().count())))
            .collect();
        format!("| {} |\n", parts.join(" | "))
    };
    let mut out = line(head);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("|-{}-|\n", rule.join("-|-")));
    for r in rows {
        out.push_str(&line(r));
    }
    out
}

/// The results as markdown: the mean ± CI table, then (with a reference)
/// the paired-difference table.
pub(crate) fn render_markdown(
    report: &Report,
    inputs: &str,
    table_metrics: &[&MetricDef],
) -> String {
    let mut s = String::new();
    s.push_str(&format!("# Policy comparison\n\n{inputs}\n\n"));
    s.push_str(&format!(
        "Mean ± 95% CI half-width (Student t, n = {}) over sequences of {} jobs. Times in seconds, utilization in %.\n",
        report.starts.len(),
        report.jobs_per_sequence
    ));
    if let Some(r) = &report.reference {
        s.push_str(&format!(
            "`!` = significantly worse than `{r}`, `+` = significantly better (paired 95% CI of the difference excludes 0).\n"
        ));
    }
    s.push('\n');
    let mut head = vec!["policy".to_string()];
    head.extend(table_metrics.iter().map(|d| header(d)));
    let rows: Vec<Vec<String>> = report
        .policies
        .iter()
        .map(|p| {
            let mut r = vec![p.policy.clone()];
            r.extend(table_metrics.iter().map(|d| cell(report, &p.policy, d)));
            r
        })
        .collect();
    s.push_str(&md_table(&head, &rows));
    if let Some(r) = &report.reference {
        let others: Vec<_> = report.policies.iter().filter(|p| &p.policy != r).collect();
        if !others.is_empty() {
            s.push_str(&format!(
                "\n## Paired differences: policy − {r} (mean ± 95% CI)\n\n"
            ));
            let mut head = vec!["policy".to_string()];
            head.extend(table_metrics.iter().map(|d| header(d)));
            let rows: Vec<Vec<String>> = others
                .iter()
                .map(|p| {
                    let mut row = vec![p.policy.clone()];
                    for d in table_metrics {
                        let (scale, _) = table_scale(d);
                        let x = p.diff_of(d.name).expect("every metric is compared");
                        row.push(format!(
                            "{}{}",
                            mean_ci(x.mean, x.ci95, scale),
                            mark(x.verdict)
                        ));
                    }
                    row
                })
                .collect();
            s.push_str(&md_table(&head, &rows));
            s.push_str(&largest_windows(report, r, &others));
        }
    }
    s
}

/// The metrics whose single largest window [`largest_windows`] reports.
const WINDOW_METRICS: &[&str] = &["bsld_mean", "wait_p99"];

/// A markdown section: for each policy, the window whose paired difference
/// from the reference is largest in size, and the mean difference over the
/// other windows. Empty with fewer than three windows.
fn largest_windows(report: &Report, reference: &str, others: &[&PolicyReport]) -> String {
    let n = report.starts.len();
    let Some(base) = report.policy(reference) else {
        return String::new();
    };
    if n < 3 {
        return String::new();
    }
    let mut head = vec!["policy".to_string()];
    for name in WINDOW_METRICS {
        let d = def(name);
        head.push(format!("{}: window (start), difference", header(d)));
        head.push("mean of the others".into());
    }
    let rows: Vec<Vec<String>> = others
        .iter()
        .map(|p| {
            let mut row = vec![p.policy.clone()];
            for name in WINDOW_METRICS {
                let d = def(name);
                let (scale, _) = table_scale(d);
                let diffs: Vec<f64> = eval::paired_differences(&p.sequences, &base.sequences, d)
                    .into_iter()
                    .map(|x| x * scale)
                    .collect();
                let (i, top) = diffs
                    .iter()
                    .copied()
                    .enumerate()
                    .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                    .expect("at least three windows");
                let rest = (diffs.iter().sum::<f64>() - top) / (diffs.len() - 1) as f64;
                row.push(format!("{} ({}), {}", i, report.starts[i], num(top)));
                row.push(num(rest));
            }
            row
        })
        .collect();
    format!(
        "\n## Largest single window: policy − {reference}\n\n\
         The window (sequence number and start index) with the largest paired difference, and the \
         mean difference over the other {} windows. When the two differ in sign or size, that one \
         window carries the mean; sequences.csv has every window.\n\n{}",
        n - 1,
        md_table(&head, &rows)
    )
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    if !a.runs.is_empty() {
        return super::runs::run(a);
    }
    let factors = load_factors(&a.load_factor)?;
    let mut trace = load_trace(&a.trace, a.lenient)?;
    let cluster = load_cluster(a.cluster.as_deref(), &mut trace, &a.trace)?;
    let mut specs = resolve_policies(&a.policies, a.model.as_deref(), a.max_wait)?;
    let reference = match a.reference.as_str() {
        "none" => None,
        r => {
            if !specs.iter().any(|s| s.name == r) {
                let spec = resolve_policies(&[r.to_string()], a.model.as_deref(), a.max_wait)
                    .context("--reference")?;
                eprintln!("note: adding the reference policy `{r}` to the evaluated policies");
                specs.splice(0..0, spec);
            }
            Some(r.to_string())
        }
    };
    let setup = Setup {
        a: &a,
        cluster: &cluster,
        specs: &specs,
        reference: reference.as_deref(),
    };
    if let [factor] = factors[..] {
        apply_load_factor(&mut trace, factor)?;
        let done = setup.evaluate_at(&trace, factor, &a.out)?;
        let names: Vec<String> = done
            .written
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        return print_stdout(&format!(
            "{}\n{} runs in {:.1} s; wrote {}\n",
            done.md,
            done.runs,
            done.secs,
            names.join(", ")
        ));
    }
    // Several factors: the whole evaluation once per factor, then the sweep.
    let mut reports = Vec::new();
    for &factor in &factors {
        let mut t = trace.clone();
        apply_load_factor(&mut t, factor)?;
        let dir = a.out.join(format!("load-{factor}"));
        let done = setup.evaluate_at(&t, factor, &dir)?;
        eprintln!(
            "arrivals ×{factor}: {} runs in {:.1} s, results in {}",
            done.runs,
            done.secs,
            dir.display()
        );
        reports.push(done.report);
    }
    let md = load_markdown(&setup, &factors, &reports);
    let written = write_load_sweep(&setup, &factors, &reports, &md)?;
    let names: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
    print_stdout(&format!("{md}\nwrote {}\n", names.join(", ")))
}

/// `--load-factor`'s list, ascending; a factor given twice is an error.
fn load_factors(given: &[f64]) -> Result<Vec<f64>> {
    let mut f = given.to_vec();
    f.sort_by(f64::total_cmp);
    if let Some(w) = f.windows(2).find(|w| w[0] == w[1]) {
        bail!("--load-factor lists {} twice", w[0]);
    }
    anyhow::ensure!(!f.is_empty(), "--load-factor needs at least one factor");
    Ok(f)
}

fn print_stdout(text: &str) -> Result<()> {
    super::simulate::ignore_broken_pipe(std::io::stdout().lock().write_all(text.as_bytes()))?;
    Ok(())
}

/// What every evaluation of one `evaluate` call shares.
struct Setup<'a> {
    a: &'a Args,
    cluster: &'a sim::cluster::Cluster,
    specs: &'a [PolicySpec<'a>],
    reference: Option<&'a str>,
}

/// One evaluation's results and what it wrote.
struct Evaluated {
    report: Report,
    md: String,
    written: [PathBuf; 4],
    runs: usize,
    secs: f64,
}

impl Setup<'_> {
    /// Evaluates every policy on `trace` (already at `factor`'s load) and
    /// writes results.json, results.md, sequences.csv and comparison.png
    /// into `out`.
    fn evaluate_at(&self, trace: &sim::trace::Trace, factor: f64, out: &Path) -> Result<Evaluated> {
        let (a, cluster) = (self.a, self.cluster);
        let how = if a.starts.is_empty() {
            Starts::Random {
                count: a.sequences,
                seed: a.seed,
            }
        } else {
            Starts::Explicit(a.starts.clone())
        };
        let starts = eval::sequence_starts(trace.jobs.len(), a.jobs, &how)?;
        let sim_cfg = SimConfig {
            backfill: a.backfill.to_engine(),
            cancelled_pending: a.cancelled_pending.to_engine(),
            record_events: false,
            seed: a.seed,
        };
        let input = EvalInput {
            trace,
            cluster,
            sim: &sim_cfg,
            jobs_per_sequence: a.jobs,
            starts: &starts,
        };
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;

        let runs = self.specs.len() * starts.len();
        let started = std::time::Instant::now();
        let report =
            super::common::evaluate_with_progress(&input, self.specs, self.reference, "seq")?;
        let secs = started.elapsed().as_secs_f64();

        let mut table_metrics: Vec<&MetricDef> = TABLE_METRICS.iter().map(|n| def(n)).collect();
        if cluster.total_gpus() == 0 {
            table_metrics.retain(|d| d.name != "gpu_util");
        }
        let md = render_markdown(
            &report,
            &self.inputs_line(Some((trace.jobs.len(), factor))),
            &table_metrics,
        );
        let mut inputs_json = self.inputs_json(Some((trace.jobs.len(), factor)));
        inputs_json["wall_seconds"] = secs.into();
        let title = format!(
            "{}{}: {} sequences × {} jobs, backfill {}",
            self.trace_name(),
            load_note(factor),
            starts.len(),
            a.jobs,
            a.backfill.name()
        );
        let written = write_outputs(
            out,
            inputs_json,
            &report,
            &md,
            cluster.total_gpus() > 0,
            &title,
        )?;
        let rejected = report
            .policies
            .iter()
            .map(|p| p.sequences.iter().map(|m| m.rejected).sum::<usize>())
            .max()
            .unwrap_or(0);
        if rejected > 0 {
            eprintln!(
                "warning: {rejected} of {} jobs per policy were rejected (larger than the cluster, or an unknown partition); they are counted but not measured",
                starts.len() * a.jobs
            );
        }
        Ok(Evaluated {
            report,
            md,
            written,
            runs,
            secs,
        })
    }

    fn trace_name(&self) -> String {
        self.a
            .trace
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The first line of results.md: what was evaluated, and how; with
    /// `loaded` = (jobs in the trace, load factor) for one evaluation.
    fn inputs_line(&self, loaded: Option<(usize, f64)>) -> String {
        let (a, cluster) = (self.a, self.cluster);
        format!(
            "trace `{}`{}, cluster `{}` ({} CPUs, {} GPUs), backfill {}, {} sequences of {} jobs, {}",
            a.trace.display(),
            loaded.map_or(String::new(), |(n, f)| format!(
                " ({n} jobs{})",
                load_note(f)
            )),
            cluster.name,
            cluster.total_cpus(),
            cluster.total_gpus(),
            a.backfill.name(),
            if a.starts.is_empty() {
                a.sequences
            } else {
                a.starts.len()
            },
            a.jobs,
            if a.starts.is_empty() {
                format!("random starts (seed {})", a.seed)
            } else {
                "explicit starts".into()
            },
        )
    }

    /// results.json's `inputs`; with `loaded` as for [`Self::inputs_line`].
    fn inputs_json(&self, loaded: Option<(usize, f64)>) -> serde_json::Value {
        let (a, cluster) = (self.a, self.cluster);
        let mut doc = serde_json::json!({
            "trace": a.trace.display().to_string(),
            "cluster": a.cluster.as_ref().map(|p| p.display().to_string()),
            "cluster_name": cluster.name,
            "total_cpus": cluster.total_cpus(),
            "total_gpus": cluster.total_gpus(),
            "backfill": a.backfill.name(),
            "cancelled_pending": a.cancelled_pending.name(),
            "seed": a.seed,
            "starts_from": if a.starts.is_empty() { "random" } else { "explicit" },
        });
        if let Some((n, f)) = loaded {
            doc["trace_jobs"] = n.into();
            doc["load_factor"] = f.into();
        }
        doc
    }
}

/// The metrics of the load sweep's tables and figure.
const LOAD_METRICS: &[&str] = &["bsld_mean", "wait_mean", "wait_p99", "cpu_util"];

/// load.md: per metric, a row per load factor and a column per policy:
/// mean ± CI, and the change against the reference with its paired verdict.
fn load_markdown(setup: &Setup<'_>, factors: &[f64], reports: &[Report]) -> String {
    let first = &reports[0];
    let mut s = format!(
        "# Policy comparison under more load\n\n{}\n\n",
        setup.inputs_line(None)
    );
    s.push_str(&format!(
        "Each row is the whole evaluation with the trace's arrivals F times as fast (its tables are in \
         load-F/results.md). Mean ± 95% CI over {} sequences of {} jobs",
        first.starts.len(),
        first.jobs_per_sequence
    ));
    match &first.reference {
        Some(r) => s.push_str(&format!(
            "; in brackets the change against `{r}`, `+`/`!` when the paired 95% CI says significantly better/worse.\n"
        )),
        None => s.push_str(".\n"),
    }
    for name in LOAD_METRICS {
        let d = def(name);
        let (scale, _) = table_scale(d);
        s.push_str(&format!("\n## {}\n\n", header(d)));
        let mut head = vec!["load factor".to_string()];
        head.extend(first.policies.iter().map(|p| p.policy.clone()));
        let rows: Vec<Vec<String>> = factors
            .iter()
            .zip(reports)
            .map(|(f, r)| {
                let mut row = vec![format!("{f}")];
                let base = r
                    .reference
                    .as_deref()
                    .and_then(|n| r.policy(n))
                    .and_then(|p| p.summary_of(d.name))
                    .map(|x| x.mean);
                for p in &r.policies {
                    let x = p.summary_of(d.name).expect("every metric is summarised");
                    let mut c = mean_ci(x.mean, x.ci95, scale);
                    if let (Some(b), Some(diff)) = (base, p.diff_of(d.name))
                        && b != 0.0
                    {
                        let change = 100.0 * (x.mean / b - 1.0);
                        c.push_str(&format!(" ({change:+.1}%{})", mark(diff.verdict)));
                    }
                    row.push(c);
                }
                row
            })
            .collect();
        s.push_str(&md_table(&head, &rows));
    }
    s
}

/// Writes load.md (`md`, from [`load_markdown`]), load.json (every
/// factor's full report) and load.png into --out; returns their paths.
fn write_load_sweep(
    setup: &Setup<'_>,
    factors: &[f64],
    reports: &[Report],
    md: &str,
) -> Result<[PathBuf; 3]> {
    let out = &setup.a.out;
    let md_path = out.join("load.md");
    super::common::write_file(&md_path, md.as_bytes())?;
    let per_factor: Vec<serde_json::Value> = factors
        .iter()
        .zip(reports)
        .map(|(f, r)| {
            Ok(serde_json::json!({
                "load_factor": f,
                "dir": format!("load-{f}"),
                "report": serde_json::to_value(r)?,
            }))
        })
        .collect::<Result<_, serde_json::Error>>()?;
    let inputs = setup.inputs_json(None);
    let doc =
        serde_json::json!({ "inputs": inputs, "load_factors": factors, "factors": per_factor });
    let json_path = out.join("load.json");
    super::common::write_json(&json_path, &doc)?;
    let png_path = out.join("load.png");
    let metrics: Vec<&MetricDef> = LOAD_METRICS.iter().map(|n| def(n)).collect();
    let title = format!(
        "{}: {} sequences × {} jobs under more load, backfill {}",
        setup.trace_name(),
        reports[0].starts.len(),
        reports[0].jobs_per_sequence,
        setup.a.backfill.name()
    );
    crate::plot::load_sweep(&png_path, &title, factors, reports, &metrics)?;
    Ok([md_path, json_path, png_path])
}

/// `, arrivals ×F` for a what-if load, nothing for the trace as recorded.
pub(crate) fn load_note(factor: f64) -> String {
    if factor == 1.0 {
        String::new()
    } else {
        format!(", arrivals ×{factor}")
    }
}

/// Writes results.json (`{"inputs": …, ` then the [`Report`]'s fields),
/// results.md and comparison.png into `out`; returns their paths.
fn write_outputs(
    out: &Path,
    inputs: serde_json::Value,
    report: &Report,
    md: &str,
    has_gpus: bool,
    title: &str,
) -> Result<[PathBuf; 4]> {
    let mut doc = serde_json::json!({ "inputs": inputs });
    let serde_json::Value::Object(fields) = serde_json::to_value(report)? else {
        bail!("a report serialises to a JSON object");
    };
    doc.as_object_mut()
        .expect("built as an object")
        .extend(fields);
    let json_path = out.join("results.json");
    super::common::write_json(&json_path, &doc)?;
    let md_path = out.join("results.md");
    super::common::write_file(&md_path, md.as_bytes())?;
    let mut plot_metrics: Vec<&MetricDef> = PLOT_METRICS.iter().map(|n| def(n)).collect();
    if has_gpus {
        plot_metrics.push(def("gpu_util"));
        plot_metrics.push(def("fairness"));
    }
    let csv_path = out.join("sequences.csv");
    super::common::write_file(&csv_path, sequences_csv(report).as_bytes())?;
    let png_path = out.join("comparison.png");
    crate::plot::comparison(&png_path, report, &plot_metrics, title)?;
    Ok([json_path, md_path, csv_path, png_path])
}

/// `sequences.csv`: one row per (policy, sequence) with the sequence's
/// start index and every metric of `sim::metrics::METRICS` (utilizations
/// as fractions, as in results.json).
fn sequences_csv(report: &Report) -> String {
    // A policy name is a baseline, `aging:B/P/Q` or a file path: quote it
    // when it holds a comma or a quote (RFC 4180).
    let field = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = String::from("policy,sequence,start");
    for d in sim::metrics::METRICS {
        out.push(',');
        out.push_str(d.name);
    }
    out.push('\n');
    for p in &report.policies {
        for (i, (m, start)) in p.sequences.iter().zip(&report.starts).enumerate() {
            out.push_str(&format!("{},{i},{start}", field(&p.policy)));
            for d in sim::metrics::METRICS {
                out.push_str(&format!(",{}", (d.get)(m)));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::metrics::Metrics;

    fn report() -> Report {
        let m = |b: f64, w: f64| Metrics {
            bsld_mean: b,
            wait_mean: w,
            cpu_util: 0.5,
            ..Metrics::default()
        };
        eval::summarise(
            16,
            vec![0, 3, 5],
            Some("slurm"),
            vec![
                (
                    "slurm".into(),
                    vec![m(1.0, 10.0), m(2.0, 20.0), m(3.0, 30.0)],
                ),
                (
                    "fcfs".into(),
                    vec![m(2.0, 10.0), m(3.1, 25.0), m(4.0, 20.0)],
                ),
            ],
        )
    }

    #[test]
    fn markdown_marks_significantly_worse_cells() {
        let r = report();
        let defs = [def("bsld_mean"), def("wait_mean"), def("cpu_util")];
        let md = render_markdown(&r, "inputs here", &defs);
        // fcfs − slurm bsld = {1, 1.1, 1}: mean 1.033, tiny spread → significantly worse.
        let fcfs = md.lines().find(|l| l.starts_with("| fcfs")).unwrap();
        let cells: Vec<&str> = fcfs.split('|').map(str::trim).collect();
        assert!(cells[2].ends_with(" !"), "{fcfs}");
        // wait diffs {0, 5, −10}: not significant, no marker; utilization 50 % both.
        assert!(!cells[3].contains('!') && !cells[3].contains('+'), "{fcfs}");
        assert!(cells[4].starts_with("50.0 ±"), "{fcfs}");
        // The reference row carries no marker; the paired table lists only fcfs.
        let slurm = md.lines().find(|l| l.starts_with("| slurm")).unwrap();
        assert!(!slurm.contains('!'));
        assert!(md.contains("## Paired differences: policy − slurm"));
        assert_eq!(md.lines().filter(|l| l.starts_with("| fcfs")).count(), 3);
        // The largest single window: fcfs − slurm bsld is 1.1 in sequence
        // 1 (start 3), and 1 in each of the other two.
        let (_, tail) = md
            .split_once("## Largest single window: policy − slurm")
            .unwrap();
        let row = tail.lines().find(|l| l.starts_with("| fcfs")).unwrap();
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        assert_eq!(cells[2..4], ["1 (3), 1.10", "1.00"], "{row}");
        // All rows of a table have the same width (padded columns).
        let widths: Vec<usize> = md
            .lines()
            .filter(|l| l.starts_with('|'))
            .take(4)
            .map(|l| l.chars().count())
            .collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{md}");
    }

    #[test]
    fn outputs_are_written_and_json_is_flat() {
        let r = report();
        let dir = tempfile::tempdir().unwrap();
        let md = render_markdown(&r, "x", &[def("bsld_mean")]);
        let paths = write_outputs(
            dir.path(),
            serde_json::json!({"seed": 3}),
            &r,
            &md,
            false,
            "t",
        )
        .unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
        assert_eq!(doc["inputs"]["seed"], 3);
        assert_eq!(doc["jobs_per_sequence"], 16);
        assert_eq!(doc["reference"], "slurm");
        assert_eq!(doc["policies"][1]["policy"], "fcfs");
        assert_eq!(doc["policies"][1]["sequences"].as_array().unwrap().len(), 3);
        assert_eq!(doc["policies"][1]["vs_reference"][0]["verdict"], "worse");
        assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), md);
        // sequences.csv: a header, then policies × sequences rows with
        // their start indices.
        let csv = std::fs::read_to_string(&paths[2]).unwrap();
        let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 1 + 2 * 3);
        assert_eq!(rows[0][..4], ["policy", "sequence", "start", "bsld_mean"]);
        assert!(
            rows.iter()
                .all(|r| r.len() == 3 + sim::metrics::METRICS.len())
        );
        assert_eq!(rows[5][..4], ["fcfs", "1", "3", "3.1"]);
        assert_eq!(rows[6][2], "5");
        assert!(std::fs::metadata(&paths[3]).unwrap().len() > 1000);
        // Only the four outputs: no temporary files left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 4);
    }

    #[test]
    fn sequences_csv_quotes_a_policy_name_with_a_comma() {
        let r = eval::summarise(
            4,
            vec![7],
            None,
            vec![("runs/a,b\"c.safetensors".into(), vec![Metrics::default()])],
        );
        let csv = sequences_csv(&r);
        let row = csv.lines().nth(1).unwrap();
        assert!(
            row.starts_with("\"runs/a,b\"\"c.safetensors\",0,7,"),
            "{row}"
        );
    }

    #[test]
    fn default_policy_list_is_every_baseline() {
        let specs = resolve_policies(&[], None, None).unwrap();
        let names: Vec<_> = specs.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, sim::baselines::NAMES);
    }

    #[test]
    fn unknown_and_duplicate_policies_are_errors() {
        let e = resolve_policies(&["nope".into()], None, None)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("unknown policy `nope`"), "{e:#}");
        let e = resolve_policies(&["fcfs".into(), " fcfs".into()], None, None)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("listed twice"), "{e:#}");
    }

    #[test]
    fn aging_takes_its_parameters_from_the_name() {
        let specs = resolve_policies(&["aging:30m/0.5/0.3".into()], None, None).unwrap();
        assert_eq!(specs[0].name, "aging:30m/0.5/0.3");
        let job = policy::JobObs {
            wait: 600,
            time_limit: 7200,
            cpus: 16,
            ..Default::default()
        };
        let mut got = [0.0];
        (specs[0].make)().score(&policy::QueueContext::default(), &[job], &mut got);
        let want = 2400f64.ln() - 0.5 * 7200f64.ln() - 0.3 * 16f64.ln();
        assert!((got[0] - want).abs() < 1e-12, "{got:?} vs {want}");
        for (bad, says) in [
            ("aging:1h/0.8", "2 parts"),
            ("aging:soon/0.8/0.1", "B:"),
            ("aging:1h/-1/0.1", "P:"),
            ("aging:1h/0.8/nan", "Q:"),
        ] {
            let e = resolve_policies(&[bad.into()], None, None).err().unwrap();
            let msg = format!("{e:#}");
            assert!(msg.contains(bad) && msg.contains(says), "{bad}: {msg}");
        }
    }

    #[test]
    fn learned_needs_a_model_and_a_model_path_names_the_policy() {
        let e = resolve_policies(&["learned".into()], None, None)
            .err()
            .unwrap();
        assert!(format!("{e:#}").contains("--model"), "{e:#}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.safetensors");
        let arch = policy::nn::Architecture::default_for(policy::features::N_FEATURES);
        policy::Model::random(arch, policy::features::FeatureSpec::current_identity(), 1)
            .unwrap()
            .save(&path)
            .unwrap();
        let specs = resolve_policies(&[], Some(&path), None).unwrap();
        assert_eq!(specs.last().unwrap().name, "learned");
        assert_eq!((specs.last().unwrap().make)().name(), "learned");
        let specs = resolve_policies(&[path.to_string_lossy().into_owned()], None, None).unwrap();
        assert_eq!(specs[0].name, "mine");
        let e = resolve_policies(
            &["learned".into()],
            Some(&dir.path().join("missing.safetensors")),
            None,
        )
        .err()
        .unwrap();
        assert!(format!("{e:#}").contains("missing.safetensors"), "{e:#}");
    }
}
