//! `slurm-rl rlscheduler`: RLScheduler's (SC'20) evaluation protocol and
//! simplified backfill, so our figures can be set beside that paper's
//! table.
//!
//! This file parses options and prints; the rules live in `sim::rlsched`
//! and are documented in docs/rlscheduler.md.

use anyhow::{Context, Result, bail};
use sim::rlsched::{self, Key};
use std::path::PathBuf;

const AFTER_LONG_HELP: &str = "\
RLScheduler's own loader (procs = max(allocated, requested); a missing
request is the run time; run time 0 dropped; stable sort by id), its machine
(MaxNodes x 1 processor), its windows (jobs i..i+1023 on an empty machine),
its committed-head scheduling loop and its simplified backfill (start a
waiting job only if it ends before the head's shadow time). Metrics: mean
bounded slowdown max(1, (wait + run)/max(run, 10)) and its utilization.

Keys: fcfs, sjf, f1, wfp3-compat and unicep-compat (WFP3 and UNICEP as its
code implements them: the columns of its table), wfp3 and unicep (textbook).

The default start indices are the ten of its README table:
1981, 2756, 4299, 8850, 3316, 2714, 5228, 7762, 4022, 7085.

--model adds a learned column: a model from `slurm-rl rlscheduler-train`,
run greedily (the highest score among the 128 visible jobs, RLScheduler's
MAX_QUEUE_SIZE, in submit order) in the same loop. `--model FILE` serves
every row; `--model no:FILE` and `--model yes:FILE` serve one row each. The
learned cell also gets a 95% confidence interval over the windows (Student
t, n − 1 degrees of freedom) and a paired comparison with each key.

Examples:
  slurm-rl rlscheduler --trace lublin_256.swf
  slurm-rl rlscheduler --trace lublin_256.swf --model no:models/rlscheduler/lublin1-no.safetensors \
      --model yes:models/rlscheduler/lublin1-yes.safetensors --keys fcfs,sjf,f1
  slurm-rl rlscheduler --trace SDSC-SP2-1998-4.2-cln.swf.gz --keys fcfs,f1 --backfill yes --format json";

/// Backfill setting of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackfillChoice {
    /// Both rows: without and with backfilling.
    Both,
    /// With RLScheduler's simplified backfilling only.
    Yes,
    /// Without backfilling only.
    No,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// One JSON document.
    Json,
}

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct Args {
    /// An SWF trace (.swf or .swf.gz).
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// Ordering keys to run, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "fcfs,wfp3-compat,unicep-compat,sjf,f1"
    )]
    pub keys: Vec<String>,
    /// Without backfilling, with it, or both.
    #[arg(long, value_enum, default_value_t = BackfillChoice::Both)]
    pub backfill: BackfillChoice,
    /// Window start indices (into the job list after RLScheduler's loading rules).
    #[arg(long, value_delimiter = ',')]
    pub starts: Option<Vec<usize>>,
    /// Jobs per window.
    #[arg(long, default_value_t = rlsched::WINDOW_LEN)]
    pub jobs: usize,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// A learned model for a `learned` column: `FILE` (every row), or
    /// `no:FILE` / `yes:FILE` (one row). Repeatable.
    #[arg(long, value_name = "[no:|yes:]FILE")]
    pub model: Vec<String>,
}

/// Which model serves which row (`None`: both rows).
fn parse_models(specs: &[String]) -> Result<Vec<(Option<bool>, PathBuf)>> {
    specs
        .iter()
        .map(|s| {
            Ok(match s.split_once(':') {
                Some(("no", f)) => (Some(false), PathBuf::from(f)),
                Some(("yes", f)) => (Some(true), PathBuf::from(f)),
                _ => (None, PathBuf::from(s)),
            })
        })
        .collect()
}

/// Mean and the half-width of its 95% confidence interval (Student t).
pub fn mean_ci95(v: &[f64]) -> (f64, f64) {
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n.max(1) as f64;
    if n < 2 {
        return (mean, f64::NAN);
    }
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    // Two-sided 97.5% quantiles of Student's t for 1..=30 degrees of freedom.
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    let t = T.get(n - 2).copied().unwrap_or(1.96);
    (mean, t * (var / n as f64).sqrt())
}

fn key_by_name(name: &str) -> Result<Key> {
    Key::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .with_context(|| {
            let known: Vec<_> = Key::ALL.iter().map(|k| k.name()).collect();
            format!("unknown key `{name}`; known: {}", known.join(", "))
        })
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let keys: Vec<Key> = a
        .keys
        .iter()
        .map(|k| key_by_name(k))
        .collect::<Result<_>>()?;
    if keys.is_empty() {
        bail!("--keys is empty");
    }
    let starts = a
        .starts
        .clone()
        .unwrap_or_else(|| rlsched::TABLE_STARTS.to_vec());
    if starts.is_empty() {
        bail!("--starts is empty");
    }
    let trace = rlsched::load(&a.trace)
        .with_context(|| format!("loading {} under RLScheduler's rules", a.trace.display()))?;
    let models = parse_models(&a.model)?;
    let model_for = |bf: bool| -> Option<&PathBuf> {
        models
            .iter()
            .rev()
            .find(|(row, _)| row.is_none_or(|r| r == bf))
            .map(|(_, f)| f)
    };
    let rows: &[bool] = match a.backfill {
        BackfillChoice::Both => &[false, true],
        BackfillChoice::Yes => &[true],
        BackfillChoice::No => &[false],
    };
    let mut cells = Vec::new();
    for &bf in rows {
        for &key in &keys {
            let (mut bsld, mut util) = (Vec::new(), Vec::new());
            for &s in &starts {
                let r = rlsched::run_window(&trace, s, a.jobs, key, bf)
                    .with_context(|| format!("window at {s}"))?;
                bsld.push(r.mean_bsld);
                util.push(r.utilization);
            }
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            cells.push(serde_json::json!({
                "backfill": bf,
                "key": key.name(),
                "mean_bsld": mean(&bsld),
                "utilization": mean(&util),
                "windows_bsld": bsld,
            }));
        }
        if let Some(file) = model_for(bf) {
            let model = policy::Model::load(file)
                .with_context(|| format!("loading model {}", file.display()))?;
            let trace = std::sync::Arc::new(trace.clone());
            let split = crate::rlenv::Split {
                train_starts: vec![(0, 0)],
                val_starts: vec![],
                train_jobs: 0,
            };
            let mut env = crate::rlenv::RlEnv::new(
                trace.clone(),
                crate::rlenv::RlEnvConfig {
                    backfill: bf,
                    jobs_per_episode: a.jobs,
                    ..Default::default()
                },
                model.spec().normalizer.clone(),
                split,
            );
            let t0 = std::time::Instant::now();
            let (mut bsld, mut util, mut decisions) = (Vec::new(), Vec::new(), 0usize);
            for &s in &starts {
                let mlp = model.mlp();
                let (b, u, d) =
                    crate::rlenv::run_greedy(&mut env, s, a.jobs, &mut |obs, scores| {
                        scores.resize(obs.n(), 0.0);
                        let _ = mlp.score_batch(&obs.features, scores);
                    })
                    .with_context(|| format!("window at {s}"))?;
                bsld.push(b);
                util.push(u);
                decisions += d;
            }
            let secs = t0.elapsed().as_secs_f64();
            let (mean, ci) = mean_ci95(&bsld);
            // Paired per-window differences against each key of this row.
            let mut vs = serde_json::Map::new();
            for c in cells
                .iter()
                .filter(|c| c["backfill"] == bf && c["key"] != "learned")
            {
                let kb: Vec<f64> = c["windows_bsld"]
                    .as_array()
                    .map(|v| v.iter().filter_map(|x| x.as_f64()).collect())
                    .unwrap_or_default();
                let d: Vec<f64> = bsld.iter().zip(&kb).map(|(l, k)| l - k).collect();
                let (dm, dci) = mean_ci95(&d);
                vs.insert(
                    c["key"].as_str().unwrap_or("?").to_string(),
                    serde_json::json!({"mean_diff": dm, "ci95": dci}),
                );
            }
            cells.push(serde_json::json!({
                "backfill": bf,
                "key": "learned",
                "model": file.display().to_string(),
                "mean_bsld": mean,
                "ci95": ci,
                "utilization": util.iter().sum::<f64>() / util.len() as f64,
                "windows_bsld": bsld,
                "paired_vs_keys": vs,
                "decisions": decisions,
                "decisions_per_s": decisions as f64 / secs.max(1e-9),
            }));
        }
    }
    match a.format {
        Format::Json => {
            let doc = serde_json::json!({
                "trace": a.trace.display().to_string(),
                "jobs_per_window": a.jobs,
                "starts": starts,
                "cells": cells,
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        Format::Table => {
            println!(
                "{} ({} jobs after RLScheduler's loading rules), {} windows of {} jobs: mean bounded slowdown (utilization)\n",
                a.trace.display(),
                trace.jobs.len(),
                starts.len(),
                a.jobs
            );
            let learned = !models.is_empty();
            let mut header = format!("{:<10}", "backfill");
            for k in &keys {
                header.push_str(&format!(" | {:>22}", k.name()));
            }
            if learned {
                header.push_str(&format!(" | {:>30}", "learned (95% CI)"));
            }
            println!("{header}");
            println!("{}", "-".repeat(header.len()));
            for &bf in rows {
                let mut line = format!("{:<10}", if bf { "yes" } else { "no" });
                let row: Vec<_> = cells.iter().filter(|c| c["backfill"] == bf).collect();
                for c in row.iter().filter(|c| c["key"] != "learned") {
                    line.push_str(&format!(
                        " | {:>12.2} ({:>6.3})",
                        c["mean_bsld"].as_f64().unwrap_or(f64::NAN),
                        c["utilization"].as_f64().unwrap_or(f64::NAN)
                    ));
                }
                if learned {
                    match row.iter().find(|c| c["key"] == "learned") {
                        Some(c) => line.push_str(&format!(
                            " | {:>10.2} ± {:<8.2} ({:>6.3})",
                            c["mean_bsld"].as_f64().unwrap_or(f64::NAN),
                            c["ci95"].as_f64().unwrap_or(f64::NAN),
                            c["utilization"].as_f64().unwrap_or(f64::NAN)
                        )),
                        None => line.push_str(&format!(" | {:>30}", "-")),
                    }
                }
                println!("{line}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_name_resolves_and_unknown_lists_them() {
        for k in Key::ALL {
            assert_eq!(key_by_name(k.name()).unwrap(), k);
        }
        let e = key_by_name("lifo").unwrap_err().to_string();
        assert!(e.contains("wfp3-compat"), "{e}");
    }

    #[test]
    fn model_specs_and_ci() {
        let m = parse_models(&["a.st".into(), "yes:b.st".into(), "no:c:d.st".into()]).unwrap();
        assert_eq!(
            m,
            vec![
                (None, PathBuf::from("a.st")),
                (Some(true), PathBuf::from("b.st")),
                (Some(false), PathBuf::from("c:d.st")),
            ]
        );
        let (mean, ci) = mean_ci95(&[1.0, 2.0, 3.0]);
        // s = 1, t(2) = 4.303: 4.303 / sqrt(3).
        assert!((mean - 2.0).abs() < 1e-12 && (ci - 4.303 / 3f64.sqrt()).abs() < 1e-9);
    }
}
