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

Examples:
  slurm-rl rlscheduler --trace lublin_256.swf
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
            let mut header = format!("{:<10}", "backfill");
            for k in &keys {
                header.push_str(&format!(" | {:>22}", k.name()));
            }
            println!("{header}");
            println!("{}", "-".repeat(header.len()));
            for (i, &bf) in rows.iter().enumerate() {
                let mut line = format!("{:<10}", if bf { "yes" } else { "no" });
                for c in &cells[i * keys.len()..(i + 1) * keys.len()] {
                    line.push_str(&format!(
                        " | {:>12.2} ({:>6.3})",
                        c["mean_bsld"].as_f64().unwrap_or(f64::NAN),
                        c["utilization"].as_f64().unwrap_or(f64::NAN)
                    ));
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
}
