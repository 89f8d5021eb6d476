//! `slurm-rl retrain` and `slurm-rl rollback`: the adaptive loop. Import
//! recent history, fine-tune (or train from scratch), evaluate the candidate
//! against the deployed model and the `slurm` baseline on the most recent
//! held-back jobs, and install the candidate only when the deployment gate
//! says it is better; then ask slurmctld to reload.
//!
//! This file owns the command line, the lock, the data split, the gate
//! ([`decide`]), the installation, the drift summary and the dated report. It
//! must not contain any part of the learning algorithm (`crate::ppo`) or of
//! the evaluation protocol (`sim::eval`). A failed run changes nothing: the
//! model file is replaced only at the very end, by one atomic rename.

use super::common::{load_cluster, load_trace, write_file};
use crate::ppo;
use anyhow::{Context, Result, bail};
use clap::Parser;
use policy::Model;
use sim::eval::{EvalInput, PolicySpec, Report, Verdict};
use sim::metrics::{Better, METRICS, MetricDef, Metrics};
use sim::trace::{Trace, jsonl};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit status: the candidate was installed (and slurmctld asked to reload).
pub const EXIT_DEPLOYED: u8 = 0;
/// Exit status: the run failed; nothing was changed.
pub const EXIT_FAILED: u8 = 1;
/// Exit status: the candidate did not pass the gate; the deployed model stays.
pub const EXIT_KEPT: u8 = 3;
/// Exit status: another `retrain`/`rollback` holds the lock; nothing was done.
pub const EXIT_BUSY: u8 = 4;

const RETRAIN_HELP: &str = "\
WHAT IT DOES
  1. Locks MODEL.lock (a second run exits 4 at once).
  2. Reads the history: `sacct` for the last --days days (run on this host,
     like `slurm-rl import sacct --start … --end …`), or --trace FILE
     (optionally only its last --days days). The cluster, partitions and
     priority weights come from --slurm-conf (the live slurm.conf and the
     gres.conf beside it).
  3. Splits the history by submit time: the latest --holdout jobs are held
     back; training sees only the jobs before them.
  4. Fine-tunes the deployed model (its weights, architecture and feature
     normalization are the start), or trains from scratch with
     --from-scratch (also when there is no deployed model). Options after
     `--` go to the trainer (see `slurm-rl train --help`).
  5. Evaluates candidate, deployed model and the `slurm` baseline on the same
     --eval-sequences windows of --eval-jobs jobs cut from the held-back
     jobs, with 95% CIs and paired differences.
  6. The gate deploys the candidate only when, on --objective, it is better
     than the deployed model (or than `slurm` when none is deployed) by more
     than the paired 95% CI (and by --min-improvement), and its mean p99 wait
     is within --p99-tolerance of the deployed model's and under
     --guard-p99-wait.
  7. To deploy: copies the deployed model to MODEL.prev, writes the
     candidate to a temporary file, fsyncs it, renames it over MODEL, fsyncs
     the directory, and runs `scontrol reconfigure` (site_factor/rl reloads
     its model=). If reconfigure fails, the previous model is put back.
  8. Writes a dated report in --work-dir/YYYY-MM-DDTHH-MM-SSZ/: report.md,
     report.json, report.png, plus the imported history and the candidate.

EXIT STATUS
  0  deployed: the candidate is installed and slurmctld was asked to reload
  3  kept: the candidate did not pass the gate; nothing changed
  1  failed: an error (message on stderr, report.json says which); nothing
     changed
  2  usage error
  4  busy: another retrain or rollback holds the lock; nothing was done

EXAMPLES
  # nightly, as an admin would run it (docs/adaptive.md: scrontab, systemd)
  slurm-rl retrain --model /etc/slurm/rl/model.safetensors --days 30 \\
      --work-dir /var/lib/slurm-rl/retrain -- --total-updates 200
  # from a dump or an imported trace, without touching slurmctld
  slurm-rl retrain --model model.safetensors --trace hist.jsonl \\
      --slurm-conf slurm.conf --work-dir runs --no-reconfigure
  # undo the last deployment
  slurm-rl rollback --model /etc/slurm/rl/model.safetensors";

/// What the gate optimizes and guards, and how the evaluation windows are cut.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct GateArgs {
    /// Metric the candidate must improve (any metric of `slurm-rl evaluate`
    /// with a direction: bsld_mean, wait_mean, wait_p99, jct_mean, …).
    #[arg(long, default_value = "bsld_mean")]
    pub objective: String,
    /// Extra margin: the improvement must also exceed this fraction of the
    /// deployed model's mean (0: the CI alone decides).
    #[arg(long, default_value_t = 0.0)]
    pub min_improvement: f64,
    /// p99-wait guard: refuse a candidate whose mean p99 wait exceeds the
    /// deployed model's by more than this fraction.
    #[arg(long, default_value_t = 0.10)]
    pub p99_tolerance: f64,
    /// p99-wait guard: refuse a candidate whose mean p99 wait exceeds this
    /// many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub guard_p99_wait: Option<f64>,
}

/// `slurm-rl retrain` options.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
#[command(after_long_help = RETRAIN_HELP)]
pub struct Args {
    /// The model file site_factor/rl reads (its `model=` parameter). Need not
    /// exist yet: then the candidate is compared with `slurm` alone.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// The cluster: the live slurm.conf (gres.conf beside it) or a .toml
    /// cluster file. Default: $SLURM_CONF, else /etc/slurm/slurm.conf.
    #[arg(long, value_name = "FILE")]
    pub slurm_conf: Option<PathBuf>,
    /// Days of history: sacct is asked for the last N days; with --trace,
    /// only jobs submitted in the N days before its last submit are used.
    #[arg(long, value_name = "N")]
    pub days: Option<f64>,
    /// Read this trace (any format `slurm-rl import` writes or reads)
    /// instead of running sacct.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Cluster to ask (sacct -M).
    #[arg(short = 'M', long = "cluster", value_name = "CLUSTER")]
    pub sacct_cluster: Option<String>,
    /// The sacct program.
    #[arg(long, value_name = "PROGRAM", default_value = "sacct")]
    pub sacct: PathBuf,
    /// Skip malformed history lines instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Train a new model instead of fine-tuning the deployed one.
    #[arg(long)]
    pub from_scratch: bool,
    /// Fraction of the history (latest jobs by submit time) held back for
    /// the gate's evaluation.
    #[arg(long, default_value_t = 0.25)]
    pub holdout: f64,
    /// Evaluation windows, evenly spaced over the held-back jobs.
    #[arg(long, default_value_t = 10)]
    pub eval_sequences: usize,
    /// Jobs per evaluation window.
    #[arg(long, default_value_t = 256)]
    pub eval_jobs: usize,
    #[command(flatten)]
    pub gate: GateArgs,
    /// Where dated run directories (report, history, candidate) go.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/slurm-rl/retrain")]
    pub work_dir: PathBuf,
    /// Evaluate and report, but install nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not run `scontrol reconfigure` after installing.
    #[arg(long)]
    pub no_reconfigure: bool,
    /// The scontrol program.
    #[arg(long, value_name = "PROGRAM", default_value = "scontrol")]
    pub scontrol: PathBuf,
    /// Test of the gate only: negate the candidate's scores before the
    /// evaluation (a sabotaged candidate the gate must refuse).
    #[arg(long, hide = true)]
    pub sabotage_reverse_score: bool,
    /// Trainer options (`slurm-rl train --help`), after `--`. --trace,
    /// --cluster and --out are set by retrain.
    #[arg(last = true, value_name = "TRAIN-OPTIONS")]
    pub train_args: Vec<String>,
}

/// `slurm-rl rollback` options.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = "\
Swaps MODEL and MODEL.prev (each written atomically), so a second rollback
rolls forward again, then runs `scontrol reconfigure`.

EXIT STATUS
  0 rolled back, 1 failed (nothing changed), 4 busy (a retrain holds the lock)

EXAMPLE
  slurm-rl rollback --model /etc/slurm/rl/model.safetensors")]
pub struct RollbackArgs {
    /// The model file site_factor/rl reads.
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Do not run `scontrol reconfigure` afterwards.
    #[arg(long)]
    pub no_reconfigure: bool,
    /// The scontrol program.
    #[arg(long, value_name = "PROGRAM", default_value = "scontrol")]
    pub scontrol: PathBuf,
}

/// Runs `slurm-rl retrain` and maps the outcome to its exit status.
pub fn main(a: Args) -> ExitCode {
    let lock = match Lock::acquire(&a.model) {
        Ok(Some(l)) => l,
        Ok(None) => {
            eprintln!(
                "retrain: another retrain or rollback holds {}; nothing done",
                lock_path(&a.model).display()
            );
            return ExitCode::from(EXIT_BUSY);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let stamp = chrono::Utc::now().format("%Y-%m-%dT%H-%M-%SZ").to_string();
    let run_dir = a.work_dir.join(&stamp);
    let code = match run(&a, &run_dir) {
        Ok(true) => EXIT_DEPLOYED,
        Ok(false) => EXIT_KEPT,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Best effort: say in the run directory why the run failed.
            let j = serde_json::json!({
                "decision": "failed", "exit_code": EXIT_FAILED,
                "error": format!("{e:#}"), "model": a.model,
            });
            if std::fs::create_dir_all(&run_dir).is_ok() {
                let _ = sim::io::atomic_write(&run_dir.join("report.json"), |w| {
                    w.write_all(serde_json::to_string_pretty(&j)?.as_bytes())
                });
            }
            EXIT_FAILED
        }
    };
    drop(lock);
    ExitCode::from(code)
}

/// Runs `slurm-rl rollback`.
pub fn rollback_main(a: RollbackArgs) -> ExitCode {
    let lock = match Lock::acquire(&a.model) {
        Ok(Some(l)) => l,
        Ok(None) => {
            eprintln!(
                "rollback: another retrain or rollback holds {}; nothing done",
                lock_path(&a.model).display()
            );
            return ExitCode::from(EXIT_BUSY);
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let r = rollback(&a);
    drop(lock);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

// ---------------------------------------------------------------------------
// Lock, installation, reconfigure
// ---------------------------------------------------------------------------

fn lock_path(model: &Path) -> PathBuf {
    sibling(model, "lock")
}

/// `MODEL.prev`: the model the last deployment replaced.
pub fn prev_path(model: &Path) -> PathBuf {
    sibling(model, "prev")
}

fn sibling(model: &Path, ext: &str) -> PathBuf {
    let mut s = model.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// An exclusive lock on `MODEL.lock`, released when dropped (or when the
/// process dies: it is an OS file lock, never a stale file).
struct Lock(#[allow(dead_code)] std::fs::File);

impl Lock {
    fn acquire(model: &Path) -> Result<Option<Lock>> {
        let p = lock_path(model);
        if let Some(d) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .with_context(|| format!("opening the lock file {}", p.display()))?;
        // std's file locks (flock on Linux, Rust >= 1.89).
        let locked = f.try_lock();
        match locked {
            Ok(()) => Ok(Some(Lock(f))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(anyhow::Error::new(e).context(format!("locking {}", p.display())))
            }
        }
    }
}

fn reconfigure(scontrol: &Path) -> Result<()> {
    let out = std::process::Command::new(scontrol)
        .arg("reconfigure")
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running {} reconfigure", scontrol.display()))?;
    if !out.status.success() {
        bail!(
            "`{} reconfigure` failed ({}): {}",
            scontrol.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Installs `candidate` over `model`, keeping the old one as `MODEL.prev`;
/// reconfigures unless told not to. On a failed reconfigure the old model is
/// put back and the error returned.
fn install(model: &Path, candidate: &[u8], scontrol: Option<&Path>) -> Result<()> {
    let read_opt = |p: &Path| match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", p.display()))),
    };
    let prev = prev_path(model);
    let old = read_opt(model)?;
    let old_prev = read_opt(&prev)?;
    // Puts `path` back to `bytes` (or removes it when it did not exist).
    let restore = |path: &Path, bytes: &Option<Vec<u8>>| -> Result<()> {
        match bytes {
            Some(b) => write_file(path, b),
            None => match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(anyhow::Error::new(e).context(format!("removing {}", path.display())))
                }
                _ => Ok(()),
            },
        }
    };
    if let Some(old) = &old {
        write_file(&prev, old)?;
    }
    let result = write_file(model, candidate).and_then(|()| match scontrol {
        Some(sc) => reconfigure(sc),
        None => Ok(()),
    });
    if let Err(e) = result {
        restore(model, &old).context("putting the previous model back")?;
        restore(&prev, &old_prev).context("putting the previous MODEL.prev back")?;
        return Err(e.context("the previous model was put back"));
    }
    Ok(())
}

fn rollback(a: &RollbackArgs) -> Result<()> {
    let prev = prev_path(&a.model);
    let back = std::fs::read(&prev).with_context(|| {
        format!(
            "reading {} (no earlier model to roll back to)",
            prev.display()
        )
    })?;
    Model::from_bytes(&back)
        .map_err(|e| anyhow::anyhow!("{}: {e}", prev.display()))
        .context("refusing to roll back to an unusable model")?;
    let current =
        std::fs::read(&a.model).with_context(|| format!("reading {}", a.model.display()))?;
    write_file(&a.model, &back)?;
    write_file(&prev, &current)?;
    if !a.no_reconfigure
        && let Err(e) = reconfigure(&a.scontrol)
    {
        write_file(&a.model, &current)?;
        write_file(&prev, &back)?;
        return Err(e.context("rollback undone"));
    }
    eprintln!(
        "rolled back {} to the previous model (the replaced one is now {})",
        a.model.display(),
        prev.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------

/// Parses trainer options the way `slurm-rl train` does.
#[derive(Parser)]
#[command(name = "slurm-rl retrain --")]
struct TrainCli {
    #[command(flatten)]
    args: ppo::Args,
}

fn slurm_conf(a: &Args) -> PathBuf {
    a.slurm_conf.clone().unwrap_or_else(|| {
        std::env::var_os("SLURM_CONF")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/slurm/slurm.conf"))
    })
}

/// The history: from --trace or a live sacct run, limited to --days.
fn history(a: &Args) -> Result<(Trace, String)> {
    match &a.trace {
        Some(p) => {
            let mut t = load_trace(p, a.lenient)?;
            t.sort();
            let mut from = p.display().to_string();
            if let (Some(days), Some(last)) = (a.days, t.jobs.last().map(|j| j.submit)) {
                let cut = last.saturating_sub((days * 86_400.0) as u64);
                t.jobs.retain(|j| j.submit >= cut);
                from.push_str(&format!(" (last {days} days)"));
            }
            Ok((t, from))
        }
        None => {
            let Some(days) = a.days else {
                bail!("give --days N (sacct history of the last N days) or --trace FILE");
            };
            let now = chrono::Utc::now();
            let start = now - chrono::Duration::seconds((days * 86_400.0) as i64);
            let fmt = "%Y-%m-%dT%H:%M:%S";
            let sa = super::import::SacctArgs {
                file: None,
                start: Some(start.format(fmt).to_string()),
                end: Some(now.format(fmt).to_string()),
                cluster: a.sacct_cluster.clone(),
                output: PathBuf::new(),
                timezone: Some(chrono_tz::UTC),
                lenient: a.lenient,
                drop_cancelled_pending: false,
                sacct: a.sacct.clone(),
            };
            let opts = sim::trace::sacct::SacctOptions {
                strictness: if a.lenient {
                    sim::trace::Strictness::Lenient
                } else {
                    sim::trace::Strictness::Strict
                },
                timezone: Some(chrono_tz::UTC),
                keep_cancelled_pending: true,
            };
            let (mut t, _, shown) = super::import::run_sacct(
                &sa,
                sa.start.as_deref().unwrap_or_default(),
                sa.end.as_deref().unwrap_or_default(),
                opts,
            )?;
            t.sort();
            Ok((t, shown))
        }
    }
}

/// Evenly spaced starts of `n` windows of `k` jobs in `lo..len`.
fn window_starts(lo: usize, len: usize, k: usize, n: usize) -> Vec<usize> {
    let span = len - lo - k;
    (0..n)
        .map(|i| lo + if n <= 1 { span } else { span * i / (n - 1) })
        .collect()
}

/// The candidate with its scores negated (the sabotage test of the gate).
fn reversed(m: &Model) -> Result<Model> {
    let mut layers = m.mlp().layers().to_vec();
    let last = layers
        .last_mut()
        .context("a model has at least one layer")?;
    last.weight.iter_mut().for_each(|w| *w = -*w);
    last.bias.iter_mut().for_each(|b| *b = -*b);
    let mlp = policy::nn::Mlp::new(m.architecture().clone(), layers).map_err(anyhow::Error::msg)?;
    let mut training = m.training.clone();
    training["sabotaged"] = serde_json::json!("scores negated (--sabotage-reverse-score)");
    Ok(Model::new(
        mlp,
        m.spec().clone(),
        m.reward.clone(),
        training,
        m.created.clone(),
    )?)
}

/// Returns whether the candidate was deployed.
fn run(a: &Args, run_dir: &Path) -> Result<bool> {
    let t0 = std::time::Instant::now();
    let objective = objective_def(&a.gate.objective)?;
    if !(0.0..1.0).contains(&a.holdout) || a.holdout == 0.0 {
        bail!("--holdout must be in (0, 1), got {}", a.holdout);
    }
    if a.eval_sequences < 2 {
        bail!("--eval-sequences must be at least 2 (a CI needs two windows)");
    }
    std::fs::create_dir_all(run_dir).with_context(|| format!("creating {}", run_dir.display()))?;
    eprintln!("retrain: run directory {}", run_dir.display());

    // 1. History and cluster.
    let (mut trace, from) = history(a)?;
    let conf = slurm_conf(a);
    let cluster = load_cluster(Some(&conf), &mut trace, &conf)?;
    let hist_path = run_dir.join("history.jsonl");
    jsonl::write(&hist_path, &trace).with_context(|| format!("writing {}", hist_path.display()))?;
    let len = trace.jobs.len();
    let split = ((len as f64) * (1.0 - a.holdout)).floor() as usize;
    let k = a.eval_jobs;
    if len - split < k {
        bail!(
            "the held-back part has {} jobs ({} of the {len} jobs from {from}), fewer than --eval-jobs {k}: import more days or lower --eval-jobs",
            len - split,
            a.holdout
        );
    }
    eprintln!(
        "retrain: {len} jobs from {from}; training on jobs 0..{split}, gate on jobs {split}..{len}"
    );
    let mut train_trace = trace.clone();
    train_trace.jobs.truncate(split);
    let train_path = run_dir.join("train.jsonl");
    jsonl::write(&train_path, &train_trace)
        .with_context(|| format!("writing {}", train_path.display()))?;

    // 2. The deployed model.
    let deployed = match std::fs::metadata(&a.model) {
        Ok(_) => {
            Some(Model::load(&a.model).map_err(|e| anyhow::anyhow!("the deployed model: {e}"))?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(anyhow::Error::new(e).context(format!("{}", a.model.display()))),
    };

    // 3. Train the candidate.
    let mut argv: Vec<String> = vec![
        "slurm-rl retrain --".into(),
        "--trace".into(),
        train_path.display().to_string(),
        "--cluster".into(),
        conf.display().to_string(),
        "--out".into(),
        run_dir.join("train").display().to_string(),
    ];
    let mut mode = "from scratch".to_string();
    match (&deployed, a.from_scratch) {
        (Some(m), false) if !m.architecture().hidden.is_empty() => {
            argv.push("--init-model".into());
            argv.push(a.model.display().to_string());
            let given = |f: &str| {
                a.train_args
                    .iter()
                    .any(|x| x == f || x.starts_with(&format!("{f}=")))
            };
            if !given("--hidden") {
                let h: Vec<String> = m
                    .architecture()
                    .hidden
                    .iter()
                    .map(|x| x.to_string())
                    .collect();
                argv.push(format!("--hidden={}", h.join(",")));
            }
            if !given("--activation") {
                argv.push(format!(
                    "--activation={}",
                    serde_json::to_value(m.architecture().activation)?
                        .as_str()
                        .unwrap_or("relu")
                ));
            }
            mode = format!("fine-tuned from {}", a.model.display());
        }
        (Some(_), false) => {
            tracing::warn!(
                "the deployed model has no hidden layer and cannot be fine-tuned: training from scratch"
            );
            mode = "from scratch (the deployed model has no hidden layer to fine-tune)".into();
        }
        (None, _) => mode = "from scratch (no model deployed)".into(),
        (Some(_), true) => {}
    }
    argv.extend(a.train_args.iter().cloned());
    let targs = TrainCli::try_parse_from(&argv)
        .map_err(|e| anyhow::anyhow!("trainer options after `--`: {e}"))?
        .args;
    eprintln!("retrain: training the candidate ({mode})");
    let out = ppo::train(&targs, train_trace.clone(), cluster.clone())?;
    let mut candidate = out.model;
    let workload = WorkloadSummary::of(&train_trace);
    candidate.training["workload"] = serde_json::to_value(&workload)?;
    candidate.training["retrain"] = serde_json::json!({
        "history": from, "mode": mode, "train_jobs": [0, split], "holdout_jobs": [split, len],
    });
    if a.sabotage_reverse_score {
        candidate = reversed(&candidate)?;
    }
    // These exact bytes are installed if the gate passes.
    let cand_bytes = candidate.to_bytes()?;
    write_file(&run_dir.join("candidate.safetensors"), &cand_bytes)
        .context("writing the candidate")?;

    // 4. Evaluate the three on the same held-back windows.
    let starts = window_starts(split, len, k, a.eval_sequences);
    let sim_cfg = sim::engine::SimConfig {
        backfill: targs.backfill.to_engine(),
        seed: targs.seed,
        ..Default::default()
    };
    let mut specs = vec![PolicySpec::baseline("slurm").expect("the slurm baseline exists")];
    if let Some(d) = &deployed {
        let d = d.clone();
        specs.push(PolicySpec::new("deployed", move || {
            Box::new(policy::LearnedPolicy::new(d.clone()))
        }));
    }
    let c = candidate.clone();
    specs.push(PolicySpec::new("candidate", move || {
        Box::new(policy::LearnedPolicy::new(c.clone()))
    }));
    let input = EvalInput {
        trace: &trace,
        cluster: &cluster,
        sim: &sim_cfg,
        jobs_per_sequence: k,
        starts: &starts,
    };
    let reference = if deployed.is_some() {
        "deployed"
    } else {
        "slurm"
    };
    eprintln!(
        "retrain: evaluating on {} windows of {k} held-back jobs",
        starts.len()
    );
    let report = super::common::evaluate_with_progress(&input, &specs, Some(reference), "window")?;
    let per: Vec<(String, Vec<Metrics>)> = report
        .policies
        .iter()
        .map(|p| (p.policy.clone(), p.sequences.clone()))
        .collect();
    let vs_slurm = sim::eval::summarise(k, starts.clone(), Some("slurm"), per);

    // 5. Gate.
    let decision = decide(&report, objective, reference, &a.gate);
    let deploy = decision.deploy && !a.dry_run;

    // 6. Report (before installing: a report that cannot be written fails the
    //    run while nothing has changed yet).
    let drift = drift(
        deployed.as_ref().and_then(recorded_workload).as_ref(),
        &WorkloadSummary::of(&trace),
    );
    let outcome = if deploy {
        "deployed"
    } else if decision.deploy {
        "kept (dry run: the candidate passed the gate)"
    } else {
        "kept"
    };
    let ctx = ReportCtx {
        a,
        from: &from,
        mode: &mode,
        len,
        split,
        report: &report,
        vs_slurm: &vs_slurm,
        decision: &decision,
        outcome,
        drift: &drift,
        reference,
        objective,
        train_s: out.wall_s,
        updates: targs.total_updates,
        total_s: t0.elapsed().as_secs_f64(),
    };
    let md = render_markdown(&ctx)?;
    let json = render_json(&ctx)?;
    write_file(&run_dir.join("report.md"), md.as_bytes())?;
    let plot_defs: Vec<&MetricDef> = [objective.name, "wait_p99"]
        .iter()
        .filter_map(|n| METRICS.iter().find(|d| d.name == *n))
        .fold(Vec::new(), |mut v, d| {
            if !v.iter().any(|x: &&MetricDef| x.name == d.name) {
                v.push(d);
            }
            v
        });
    crate::plot::comparison(
        &run_dir.join("report.png"),
        &report,
        &plot_defs,
        &format!("slurm-rl retrain: candidate vs {reference} on the held-back jobs"),
    )?;

    // 7. Install.
    if deploy {
        let sc = (!a.no_reconfigure).then_some(a.scontrol.as_path());
        install(&a.model, &cand_bytes, sc)?;
    }
    sim::io::atomic_write(&run_dir.join("report.json"), |w| {
        w.write_all(serde_json::to_string_pretty(&json)?.as_bytes())
    })
    .context("writing report.json")?;
    print!("{md}");
    eprintln!(
        "retrain: {outcome}{} (report {})",
        if deploy && !a.no_reconfigure {
            ", scontrol reconfigure done"
        } else {
            ""
        },
        run_dir.join("report.md").display()
    );
    Ok(deploy)
}

// ---------------------------------------------------------------------------
// The gate
// ---------------------------------------------------------------------------

fn objective_def(name: &str) -> Result<&'static MetricDef> {
    let Some(d) = METRICS.iter().find(|d| d.name == name) else {
        bail!(
            "--objective {name}: unknown metric; one of {}",
            METRICS
                .iter()
                .filter(|d| d.better != Better::Neither)
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if d.better == Better::Neither {
        bail!("--objective {name}: a count has no better direction");
    }
    Ok(d)
}

/// What the gate decided, and why.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Decision {
    /// Install the candidate.
    pub deploy: bool,
    /// One line per check, pass or fail.
    pub reasons: Vec<String>,
}

/// The deployment gate. `report` has `candidate` and `reference` (the
/// deployed model, or `slurm` when none is deployed) with paired differences
/// against `reference`. The candidate passes when, on the objective, the
/// whole 95% CI of the paired difference is on the good side of 0, the mean
/// improvement exceeds `min_improvement` × |reference mean| and the CI half
/// width, and the p99-wait guard holds.
pub fn decide(report: &Report, objective: &MetricDef, reference: &str, g: &GateArgs) -> Decision {
    let mut reasons = Vec::new();
    let mut ok = true;
    let (Some(cand), Some(refp)) = (report.policy("candidate"), report.policy(reference)) else {
        return Decision {
            deploy: false,
            reasons: vec!["the evaluation lacks the candidate or the reference".into()],
        };
    };
    let m = objective.name;
    match (cand.diff_of(m), refp.summary_of(m)) {
        (Some(d), Some(rs)) => {
            let sign = if objective.better == Better::Lower {
                -1.0
            } else {
                1.0
            };
            let gain = sign * d.mean; // > 0: the candidate is better
            let half = d.ci95.unwrap_or(f64::INFINITY);
            let margin = g.min_improvement * rs.mean.abs();
            let pass = d.verdict == Verdict::Better && gain > half && gain > margin;
            ok &= pass;
            reasons.push(format!(
                "{} objective {m}: candidate − {reference} = {:+.4} ± {:.4} (paired 95% CI, {} windows); improvement {gain:.4} {} the CI half width {half:.4}{}",
                if pass { "PASS" } else { "FAIL" },
                d.mean,
                half,
                rs.n,
                if gain > half { ">" } else { "<=" },
                if g.min_improvement > 0.0 {
                    format!(
                        " and {} the required margin {margin:.4} ({}% of {reference}'s {:.4})",
                        if gain > margin { ">" } else { "<=" },
                        g.min_improvement * 100.0,
                        rs.mean
                    )
                } else {
                    String::new()
                }
            ));
        }
        _ => {
            ok = false;
            reasons.push(format!("FAIL objective {m}: not measured"));
        }
    }
    match (cand.summary_of("wait_p99"), refp.summary_of("wait_p99")) {
        (Some(c), Some(r)) => {
            let limit = r.mean * (1.0 + g.p99_tolerance);
            let pass = c.mean <= limit + 1e-9;
            ok &= pass;
            reasons.push(format!(
                "{} p99-wait guard: candidate {:.0} s {} {limit:.0} s ({reference}'s {:.0} s + {}%)",
                if pass { "PASS" } else { "FAIL" },
                c.mean,
                if pass { "<=" } else { ">" },
                r.mean,
                g.p99_tolerance * 100.0
            ));
            if let Some(cap) = g.guard_p99_wait {
                let pass = c.mean <= cap;
                ok &= pass;
                reasons.push(format!(
                    "{} p99-wait cap: candidate {:.0} s {} --guard-p99-wait {cap:.0} s",
                    if pass { "PASS" } else { "FAIL" },
                    c.mean,
                    if pass { "<=" } else { ">" }
                ));
            }
        }
        _ => {
            ok = false;
            reasons.push("FAIL p99-wait guard: wait_p99 not measured".into());
        }
    }
    Decision {
        deploy: ok,
        reasons,
    }
}

// ---------------------------------------------------------------------------
// Workload summary and drift
// ---------------------------------------------------------------------------

/// Distribution of one job feature: mean and deciles 10/50/90.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dist {
    /// Mean.
    pub mean: f64,
    /// 10th percentile.
    pub p10: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
}

impl Dist {
    fn of(mut xs: Vec<f64>) -> Option<Dist> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let q = |p: f64| xs[((p * (xs.len() - 1) as f64).round() as usize).min(xs.len() - 1)];
        Some(Dist {
            mean: xs.iter().sum::<f64>() / xs.len() as f64,
            p10: q(0.1),
            p50: q(0.5),
            p90: q(0.9),
        })
    }
}

/// What a model was trained on, stored in its `training.workload` metadata
/// (docs/model-format.md) so the next retrain can measure drift.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WorkloadSummary {
    /// Jobs.
    pub jobs: usize,
    /// First to last submit, days.
    pub span_days: f64,
    /// Per feature: `run_time_s`, `time_limit_s`, `gpus`, `cpus`, `nodes`,
    /// `mem_mb`, `interarrival_s`, `limit_over_run`.
    pub features: BTreeMap<String, Dist>,
    /// Share of jobs by GPUs per job (`0`, `1`, `2`, `3-4`, `5-8`, `9-16`, `17+`).
    pub gpu_mix: BTreeMap<String, f64>,
}

const GPU_BUCKETS: &[(&str, u32, u32)] = &[
    ("0", 0, 0),
    ("1", 1, 1),
    ("2", 2, 2),
    ("3-4", 3, 4),
    ("5-8", 5, 8),
    ("9-16", 9, 16),
    ("17+", 17, u32::MAX),
];

impl WorkloadSummary {
    /// Summarizes a trace's jobs.
    pub fn of(t: &Trace) -> WorkloadSummary {
        let jobs = &t.jobs;
        let mut f: BTreeMap<String, Dist> = BTreeMap::new();
        let mut put = |name: &str, xs: Vec<f64>| {
            if let Some(d) = Dist::of(xs) {
                f.insert(name.into(), d);
            }
        };
        let ran: Vec<_> = jobs.iter().filter(|j| j.run_time > 0).collect();
        put(
            "run_time_s",
            ran.iter().map(|j| j.run_time as f64).collect(),
        );
        put(
            "time_limit_s",
            jobs.iter()
                .filter_map(|j| j.time_limit.map(|x| x as f64))
                .collect(),
        );
        put(
            "limit_over_run",
            ran.iter()
                .filter_map(|j| j.time_limit.map(|l| l as f64 / j.run_time as f64))
                .collect(),
        );
        put("gpus", jobs.iter().map(|j| j.gpus as f64).collect());
        put("cpus", jobs.iter().map(|j| j.cpus as f64).collect());
        put("nodes", jobs.iter().map(|j| j.nodes as f64).collect());
        put(
            "mem_mb",
            jobs.iter()
                .filter(|j| j.mem_mb > 0)
                .map(|j| j.mem_mb as f64)
                .collect(),
        );
        put(
            "interarrival_s",
            jobs.windows(2)
                .map(|w| w[1].submit.saturating_sub(w[0].submit) as f64)
                .collect(),
        );
        let n = jobs.len().max(1) as f64;
        let gpu_mix = GPU_BUCKETS
            .iter()
            .map(|(name, lo, hi)| {
                let c = jobs
                    .iter()
                    .filter(|j| j.gpus >= *lo && j.gpus <= *hi)
                    .count();
                (name.to_string(), c as f64 / n)
            })
            .collect();
        let span = match (jobs.first(), jobs.last()) {
            (Some(a), Some(b)) => (b.submit - a.submit) as f64 / 86_400.0,
            _ => 0.0,
        };
        WorkloadSummary {
            jobs: jobs.len(),
            span_days: span,
            features: f,
            gpu_mix,
        }
    }
}

/// The workload a model was trained on: its `training.workload` summary, or
/// else (a model from `slurm-rl train`) the training jobs of the trace its
/// metadata names (`training.trace`, `training.train_jobs`), if that file
/// is still readable.
fn recorded_workload(m: &Model) -> Option<WorkloadSummary> {
    if let Some(w) = m.training.get("workload") {
        return serde_json::from_value(w.clone()).ok();
    }
    let path = PathBuf::from(m.training.get("trace")?.as_str()?);
    let range = m.training.get("train_jobs")?.as_array()?;
    let (lo, hi) = (
        range.first()?.as_u64()? as usize,
        range.get(1)?.as_u64()? as usize,
    );
    let mut t = load_trace(&path, true).ok()?;
    t.sort();
    if lo > hi || hi > t.jobs.len() {
        return None;
    }
    t.jobs = t.jobs[lo..hi].to_vec();
    tracing::info!(
        "the deployed model records no workload summary; summarizing its training trace {}",
        path.display()
    );
    Some(WorkloadSummary::of(&t))
}

/// One line of the drift table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DriftRow {
    /// Feature (or `gpu_mix[bucket]`).
    pub feature: String,
    /// At the last training (the deployed model's metadata).
    pub before: f64,
    /// In the new history.
    pub now: f64,
    /// `log2(now / before)` of medians, or the change of a GPU-mix share.
    pub shift: f64,
    /// |shift| ≥ 1 (a median halved or doubled) or a share moved ≥ 10 points.
    pub drifted: bool,
}

/// Drift of the new history against the deployed model's training data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Drift {
    /// False when the deployed model records no workload summary.
    pub known: bool,
    /// The rows (empty when unknown).
    pub rows: Vec<DriftRow>,
    /// The new history's summary.
    pub now: WorkloadSummary,
}

fn drift(before: Option<&WorkloadSummary>, now: &WorkloadSummary) -> Drift {
    let Some(b) = before else {
        return Drift {
            known: false,
            rows: Vec::new(),
            now: now.clone(),
        };
    };
    let mut rows = Vec::new();
    for (name, d) in &now.features {
        if let Some(o) = b.features.get(name) {
            let shift = if o.p50 > 0.0 && d.p50 > 0.0 {
                (d.p50 / o.p50).log2()
            } else if o.p50 == d.p50 {
                0.0
            } else {
                f64::INFINITY.copysign(d.p50 - o.p50)
            };
            rows.push(DriftRow {
                feature: format!("{name} (median)"),
                before: o.p50,
                now: d.p50,
                shift,
                drifted: shift.abs() >= 1.0,
            });
            let tail = if o.p90 > 0.0 && d.p90 > 0.0 {
                (d.p90 / o.p90).log2()
            } else {
                0.0
            };
            rows.push(DriftRow {
                feature: format!("{name} (p90)"),
                before: o.p90,
                now: d.p90,
                shift: tail,
                drifted: tail.abs() >= 1.0,
            });
        }
    }
    for (bucket, share) in &now.gpu_mix {
        let old = b.gpu_mix.get(bucket).copied().unwrap_or(0.0);
        rows.push(DriftRow {
            feature: format!("gpu_mix[{bucket}]"),
            before: old,
            now: *share,
            shift: share - old,
            drifted: (share - old).abs() >= 0.10,
        });
    }
    Drift {
        known: true,
        rows,
        now: now.clone(),
    }
}

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

struct ReportCtx<'a> {
    a: &'a Args,
    from: &'a str,
    mode: &'a str,
    len: usize,
    split: usize,
    report: &'a Report,
    vs_slurm: &'a Report,
    decision: &'a Decision,
    outcome: &'a str,
    drift: &'a Drift,
    reference: &'a str,
    objective: &'a MetricDef,
    train_s: f64,
    updates: usize,
    total_s: f64,
}

fn cell(r: &Report, p: &str, m: &str) -> String {
    r.policy(p)
        .and_then(|p| p.summary_of(m))
        .map_or("–".into(), |s| match s.ci95 {
            Some(h) => format!("{:.4} ± {:.4}", s.mean, h),
            None => format!("{:.4}", s.mean),
        })
}

fn diff_cell(r: &Report, p: &str, m: &str) -> String {
    r.policy(p)
        .and_then(|p| p.diff_of(m))
        .map_or("–".into(), |d| match d.ci95 {
            Some(h) => format!("{:+.4} ± {:.4} ({:?})", d.mean, h, d.verdict),
            None => format!("{:+.4} ({:?})", d.mean, d.verdict),
        })
}

fn render_markdown(c: &ReportCtx<'_>) -> Result<String> {
    let mut s = String::new();
    let a = c.a;
    writeln!(s, "# slurm-rl retrain: {}\n", c.outcome)?;
    writeln!(s, "- date: {}", chrono::Utc::now().to_rfc3339())?;
    writeln!(s, "- model: `{}`", a.model.display())?;
    writeln!(s, "- history: {} ({} jobs)", c.from, c.len)?;
    writeln!(s, "- cluster: `{}`", slurm_conf(a).display())?;
    writeln!(
        s,
        "- candidate: {} on jobs 0..{}, {} updates, training {:.1} s; total {:.1} s",
        c.mode, c.split, c.updates, c.train_s, c.total_s
    )?;
    writeln!(
        s,
        "- gate: {} windows of {} jobs evenly spaced over the held-back jobs {}..{} (starts {:?}); objective `{}`; reference `{}`\n",
        c.report.starts.len(),
        c.report.jobs_per_sequence,
        c.split,
        c.len,
        c.report.starts,
        c.objective.name,
        c.reference
    )?;
    writeln!(s, "## Decision: {}\n", c.outcome)?;
    for r in &c.decision.reasons {
        writeln!(s, "- {r}")?;
    }
    writeln!(s)?;
    writeln!(
        s,
        "## Candidate, deployed model and slurm on the held-back jobs\n\nMean ± 95% CI over the windows; paired differences per window.\n"
    )?;
    let names: Vec<&str> = c
        .report
        .policies
        .iter()
        .map(|p| p.policy.as_str())
        .collect();
    let both = c.reference != "slurm";
    writeln!(
        s,
        "| metric | {} | candidate − {} |{}",
        names.join(" | "),
        c.reference,
        if both { " candidate − slurm |" } else { "" }
    )?;
    writeln!(
        s,
        "|---|{}---|{}",
        "---|".repeat(names.len()),
        if both { "---|" } else { "" }
    )?;
    for m in [
        "bsld_mean",
        "wait_mean",
        "wait_p99",
        "jct_mean",
        "cpu_util",
        "gpu_util",
        "fairness",
    ] {
        let cells: Vec<String> = names.iter().map(|p| cell(c.report, p, m)).collect();
        writeln!(
            s,
            "| {m} | {} | {} |{}",
            cells.join(" | "),
            diff_cell(c.report, "candidate", m),
            if both {
                format!(" {} |", diff_cell(c.vs_slurm, "candidate", m))
            } else {
                String::new()
            }
        )?;
    }
    writeln!(s, "\nPlot: `report.png`.\n")?;
    writeln!(s, "## Workload drift since the last training\n")?;
    if c.drift.known {
        writeln!(
            s,
            "Shift: log2 ratio of the new to the old value (1 = doubled); for GPU-mix shares, the change in share. `*` marks drift (|shift| ≥ 1, or ≥ 0.10 of the jobs).\n"
        )?;
        writeln!(s, "| feature | at last training | now | shift | |")?;
        writeln!(s, "|---|---|---|---|---|")?;
        for r in &c.drift.rows {
            writeln!(
                s,
                "| {} | {:.3} | {:.3} | {:+.2} | {} |",
                r.feature,
                r.before,
                r.now,
                r.shift,
                if r.drifted { "*" } else { "" }
            )?;
        }
    } else {
        writeln!(
            s,
            "The deployed model records no workload summary (`training.workload`; it was not made by `slurm-rl retrain`, or there is none). The new history:\n"
        )?;
        writeln!(s, "| feature | mean | p10 | p50 | p90 |")?;
        writeln!(s, "|---|---|---|---|---|")?;
        for (n, d) in &c.drift.now.features {
            writeln!(
                s,
                "| {n} | {:.3} | {:.3} | {:.3} | {:.3} |",
                d.mean, d.p10, d.p50, d.p90
            )?;
        }
    }
    writeln!(s)?;
    Ok(s)
}

fn render_json(c: &ReportCtx<'_>) -> Result<serde_json::Value> {
    let summaries = |r: &Report| {
        r.policies
            .iter()
            .map(|p| {
                (
                    p.policy.clone(),
                    serde_json::to_value(&p.summary).unwrap_or_default(),
                )
            })
            .collect::<serde_json::Map<_, _>>()
    };
    let diffs = |r: &Report| {
        r.policy("candidate")
            .map(|p| serde_json::to_value(&p.vs_reference).unwrap_or_default())
            .unwrap_or_default()
    };
    let deployed = c.outcome == "deployed";
    Ok(serde_json::json!({
        "date": chrono::Utc::now().to_rfc3339(),
        "decision": if deployed { "deployed" } else { "kept" },
        "exit_code": if deployed { EXIT_DEPLOYED } else { EXIT_KEPT },
        "outcome": c.outcome,
        "gate_passed": c.decision.deploy,
        "reasons": c.decision.reasons,
        "objective": c.objective.name,
        "reference": c.reference,
        "model": c.a.model,
        "history": c.from,
        "jobs": c.len,
        "train_jobs": [0, c.split],
        "holdout_jobs": [c.split, c.len],
        "mode": c.mode,
        "windows": { "starts": c.report.starts, "jobs_per_window": c.report.jobs_per_sequence },
        "summaries": summaries(c.report),
        "candidate_vs_reference": diffs(c.report),
        "candidate_vs_slurm": diffs(c.vs_slurm),
        "drift": c.drift,
        "gate": c.a.gate,
        "train_args": c.a.train_args,
        "train_s": c.train_s,
        "total_s": c.total_s,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics_with(bsld: f64, p99: f64) -> Metrics {
        Metrics {
            bsld_mean: bsld,
            wait_p99: p99,
            ..Default::default()
        }
    }

    fn report(cand: &[f64], dep: &[f64], p99c: f64, p99d: f64) -> Report {
        let per = vec![
            (
                "deployed".to_string(),
                dep.iter().map(|&b| metrics_with(b, p99d)).collect(),
            ),
            (
                "candidate".to_string(),
                cand.iter().map(|&b| metrics_with(b, p99c)).collect(),
            ),
        ];
        sim::eval::summarise(8, (0..cand.len()).collect(), Some("deployed"), per)
    }

    fn gate() -> GateArgs {
        GateArgs {
            objective: "bsld_mean".into(),
            min_improvement: 0.0,
            p99_tolerance: 0.1,
            guard_p99_wait: None,
        }
    }

    #[test]
    fn gate_deploys_a_clear_improvement() {
        let r = report(&[2.0, 2.1, 1.9, 2.0], &[3.0, 3.2, 2.9, 3.1], 100.0, 100.0);
        let d = decide(&r, objective_def("bsld_mean").unwrap(), "deployed", &gate());
        assert!(d.deploy, "{:?}", d.reasons);
    }

    #[test]
    fn gate_keeps_when_the_ci_covers_zero_or_worse_or_p99_breached() {
        let obj = objective_def("bsld_mean").unwrap();
        // Noisy: better on average, but the CI contains 0.
        let r = report(&[2.0, 4.0, 1.0, 3.5], &[3.0, 3.0, 3.0, 3.0], 100.0, 100.0);
        assert!(!decide(&r, obj, "deployed", &gate()).deploy);
        // Worse.
        let r = report(&[4.0, 4.1, 3.9, 4.0], &[3.0, 3.2, 2.9, 3.1], 100.0, 100.0);
        assert!(!decide(&r, obj, "deployed", &gate()).deploy);
        // Better, but the p99 wait grows 20% (> 10% tolerance).
        let r = report(&[2.0, 2.1, 1.9, 2.0], &[3.0, 3.2, 2.9, 3.1], 120.0, 100.0);
        let d = decide(&r, obj, "deployed", &gate());
        assert!(!d.deploy);
        assert!(
            d.reasons.iter().any(|x| x.starts_with("FAIL p99")),
            "{:?}",
            d.reasons
        );
        // Better, but the absolute cap is exceeded.
        let r = report(&[2.0, 2.1, 1.9, 2.0], &[3.0, 3.2, 2.9, 3.1], 100.0, 100.0);
        let g = GateArgs {
            guard_p99_wait: Some(50.0),
            ..gate()
        };
        assert!(!decide(&r, obj, "deployed", &g).deploy);
        // Better, but not by the required 50%.
        let g = GateArgs {
            min_improvement: 0.5,
            ..gate()
        };
        assert!(!decide(&r, obj, "deployed", &g).deploy);
    }

    #[test]
    fn objective_must_have_a_direction() {
        assert!(objective_def("jobs").is_err());
        assert!(objective_def("nope").is_err());
        assert_eq!(objective_def("gpu_util").unwrap().better, Better::Higher);
    }

    #[test]
    fn windows_lie_in_the_holdout() {
        let s = window_starts(750, 1000, 100, 4);
        assert_eq!(s, vec![750, 800, 850, 900]);
        assert!(s.iter().all(|&x| x >= 750 && x + 100 <= 1000));
    }

    #[test]
    fn install_keeps_prev_and_rollback_swaps() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("model.safetensors");
        let arch = policy::nn::Architecture {
            inputs: policy::features::N_FEATURES,
            hidden: vec![4],
            activation: policy::nn::Activation::Relu,
        };
        let spec = policy::features::FeatureSpec::current_identity();
        let a = Model::random(arch.clone(), spec.clone(), 1)
            .unwrap()
            .to_bytes()
            .unwrap();
        let b = Model::random(arch, spec, 2).unwrap().to_bytes().unwrap();
        install(&m, &a, None).unwrap();
        assert!(!prev_path(&m).exists());
        install(&m, &b, None).unwrap();
        assert_eq!(std::fs::read(&m).unwrap(), b);
        assert_eq!(std::fs::read(prev_path(&m)).unwrap(), a);
        // A failing reconfigure puts the old model back.
        let c = vec![1u8, 2, 3];
        let err = install(&m, &c, Some(Path::new("/bin/false"))).unwrap_err();
        assert!(format!("{err:#}").contains("put back"), "{err:#}");
        assert_eq!(std::fs::read(&m).unwrap(), b);
        let rb = RollbackArgs {
            model: m.clone(),
            no_reconfigure: true,
            scontrol: PathBuf::from("scontrol"),
        };
        rollback(&rb).unwrap();
        assert_eq!(std::fs::read(&m).unwrap(), a);
        assert_eq!(std::fs::read(prev_path(&m)).unwrap(), b);
    }

    #[test]
    fn init_model_copies_the_actor_weights() {
        use policy::nn::{Activation, Architecture};
        let arch = Architecture {
            inputs: policy::features::N_FEATURES,
            hidden: vec![6, 3],
            activation: Activation::Tanh,
        };
        let spec = policy::features::FeatureSpec::current_identity();
        let m = Model::random(arch, spec.clone(), 7).unwrap();
        let mut agent = ppo::Agent::new(tch::Device::Cpu, &[6, 3], Activation::Tanh, 0.01);
        agent.load_actor(&m).unwrap();
        let back = agent
            .to_model(spec, "r".into(), serde_json::json!({}))
            .unwrap();
        assert_eq!(back.mlp(), m.mlp());
        // Another architecture is refused.
        let mut other = ppo::Agent::new(tch::Device::Cpu, &[6], Activation::Tanh, 0.01);
        assert!(other.load_actor(&m).is_err());
    }

    #[test]
    fn lock_is_exclusive() {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("model.safetensors");
        let l = Lock::acquire(&m).unwrap();
        assert!(l.is_some());
        assert!(Lock::acquire(&m).unwrap().is_none());
        drop(l);
        assert!(Lock::acquire(&m).unwrap().is_some());
    }

    #[test]
    fn drift_flags_a_changed_gpu_mix_and_run_times() {
        let before = WorkloadSummary {
            jobs: 10,
            span_days: 1.0,
            features: [(
                "run_time_s".to_string(),
                Dist {
                    mean: 100.0,
                    p10: 10.0,
                    p50: 100.0,
                    p90: 1000.0,
                },
            )]
            .into(),
            gpu_mix: [("1".to_string(), 0.9), ("5-8".to_string(), 0.1)].into(),
        };
        let now = WorkloadSummary {
            jobs: 10,
            span_days: 1.0,
            features: [(
                "run_time_s".to_string(),
                Dist {
                    mean: 500.0,
                    p10: 10.0,
                    p50: 400.0,
                    p90: 1200.0,
                },
            )]
            .into(),
            gpu_mix: [("1".to_string(), 0.5), ("5-8".to_string(), 0.5)].into(),
        };
        let d = drift(Some(&before), &now);
        let row = |f: &str| d.rows.iter().find(|r| r.feature == f).unwrap();
        assert!(row("run_time_s (median)").drifted);
        assert!((row("run_time_s (median)").shift - 2.0).abs() < 1e-9);
        assert!(!row("run_time_s (p90)").drifted);
        assert!(row("gpu_mix[5-8]").drifted);
        assert!(!drift(None, &now).known);
    }
}
