//! `slurm-rl train`: learn a scoring policy with PPO on a trace and a
//! cluster model, then compare it with the `slurm` baseline on the
//! held-out validation windows.
//!
//! This file loads the data, calls `crate::ppo::train` (which owns the
//! algorithm, checkpoints, `curves.csv` and `model.safetensors`) and
//! writes `curves.png` and `report.md`; it must not contain any part of the
//! algorithm.

use super::common::{load_cluster, load_trace};
use crate::ppo::{self, METRICS};
use anyhow::Result;
use sim::eval::{EvalInput, PolicySpec, Report};
use std::fmt::Write as _;

pub(crate) const AFTER_LONG_HELP: &str = "\
Outputs in --out: model.safetensors (load it with `slurm-rl evaluate --model`
or site_factor/rl), curves.csv and curves.png (metrics per update: losses/*,
charts/SPS, sched/bsld, sched/val_bsld, …), checkpoint-NNNNN.safetensors (+ .json),
report.md (arguments, data split, wall time, validation vs slurm).

Environment: SLURM_CPUS_PER_TASK sets libtorch's threads. SLURM_ARRAY_TASK_ID picks
the --sweep point (else it is added to --seed). docs/training.md has an sbatch script.

Examples:
  slurm-rl train --trace lublin_256.swf --out runs/lublin --total-updates 200
  slurm-rl train --trace hist.jsonl --cluster slurm.conf --out runs/site --reward mix \\
      --reward-weights 1,0.5,0 --guard-p99-wait 86400
  # A linear scorer searched by the CEM before PPO (cem.csv; docs/training.md)
  slurm-rl train --trace hist.jsonl --cluster slurm.conf --out runs/cem --linear --init unicep \\
      --cem-iters 20 --total-updates 10 --guard-p99-ratio 1.0 --keep-best-p99-ratio 1.1
  # A 12-point sweep, one point per array task (writes runs/sweep/task-<i>/)
  slurm-rl train --trace hist.jsonl --cluster slurm.conf --out runs/sweep \\
      --sweep 'learning-rate=3e-4,1e-3;rank-depth=4,16;seed=1,2,3' --sweep-count   # prints 12
  sbatch --array=0-11 --wrap \"slurm-rl train … --out runs/sweep --sweep '…'\"";

/// Runs `slurm-rl train`.
pub fn run(a: ppo::Args) -> Result<()> {
    let Some(a) = super::sweep::apply(a, &super::sweep::train_argv())? else {
        return Ok(()); // --sweep-count
    };
    let mut trace = load_trace(&a.trace, a.lenient)?;
    trace.sort();
    let cluster = load_cluster(a.cluster.as_deref(), &mut trace, &a.trace)?;
    let t0 = std::time::Instant::now();
    let out = ppo::train(&a, trace.clone(), cluster.clone())?;

    // Validation: the learned model against slurm on the held-out windows
    // (and on the --val-long-jobs windows).
    let sim_cfg = sim::engine::SimConfig {
        backfill: a.backfill.to_engine(),
        seed: out.seed,
        ..Default::default()
    };
    let validation = |k: usize, starts: &[usize]| -> Result<Option<Report>> {
        if starts.is_empty() {
            return Ok(None);
        }
        let model = out.model.clone();
        let specs = vec![
            PolicySpec::baseline("slurm").expect("the slurm baseline exists"),
            PolicySpec::new("learned", move || {
                Box::new(policy::LearnedPolicy::new(model.clone()))
            }),
        ];
        let input = EvalInput {
            trace: &trace,
            cluster: &cluster,
            sim: &sim_cfg,
            jobs_per_sequence: k,
            starts,
        };
        Ok(Some(sim::eval::evaluate(
            &input,
            &specs,
            Some("slurm"),
            &mut |_| {},
        )?))
    };
    let report = validation(a.jobs_per_episode, &out.val_starts)?;
    let long_report = validation(a.val_long_jobs.unwrap_or(0), &out.val_long_starts)?;

    let col = |name: &str| {
        METRICS
            .iter()
            .position(|m| *m == name)
            .expect("a known metric")
    };
    let series = |name: &'static str, reference: Option<f64>| {
        let c = col(name);
        crate::plot::Curve {
            name,
            points: out.curves.iter().map(|r| (r[0], r[c])).collect(),
            reference,
        }
    };
    // `slurm`'s level of a validation metric (the same in every row).
    let slurm_level = |name: &str| {
        out.curves
            .first()
            .map(|r| r[col(name)])
            .filter(|v| v.is_finite())
    };
    let val_slurm = slurm_level("sched/val_bsld_slurm");
    let mut panels = vec![
        series("sched/bsld", val_slurm),
        series("sched/val_bsld", val_slurm),
        series(
            "sched/val_wait_p99",
            slurm_level("sched/val_wait_p99_slurm"),
        ),
    ];
    if a.val_long_jobs.is_some() {
        panels.push(series(
            "sched/val_long_bsld",
            slurm_level("sched/val_long_bsld_slurm"),
        ));
        panels.push(series(
            "sched/val_long_wait_p99",
            slurm_level("sched/val_long_wait_p99_slurm"),
        ));
    }
    panels.extend([
        series("losses/policy_loss", None),
        series("losses/value_loss", None),
        series("losses/entropy", None),
        series("losses/approx_kl", None),
    ]);
    crate::plot::curves(
        &a.out.join("curves.png"),
        "slurm-rl train: PPO curves",
        &panels,
    )?;
    let text = render_report(
        &a,
        &out,
        report.as_ref(),
        long_report.as_ref(),
        t0.elapsed().as_secs_f64(),
    )?;
    let path = a.out.join("report.md");
    super::common::write_file(&path, text.as_bytes())?;
    print!("{text}");
    Ok(())
}

/// A markdown section: `learned` against `slurm` on one set of windows.
fn validation_table(s: &mut String, title: &str, r: &Report) -> Result<()> {
    writeln!(s, "## {title}\n")?;
    writeln!(
        s,
        "| metric | slurm | learned | learned − slurm | verdict |"
    )?;
    writeln!(s, "|---|---|---|---|---|")?;
    for m in ["bsld_mean", "wait_mean", "wait_p99", "cpu_util", "fairness"] {
        let cell = |p: &str| {
            r.policy(p)
                .and_then(|p| p.summary_of(m))
                .map_or("–".to_string(), |x| match x.ci95 {
                    Some(h) => format!("{:.3} ± {:.3}", x.mean, h),
                    None => format!("{:.3}", x.mean),
                })
        };
        let (diff, verdict) = r.policy("learned").and_then(|p| p.diff_of(m)).map_or(
            ("–".into(), "–".into()),
            |d| {
                (
                    match d.ci95 {
                        Some(h) => format!("{:.3} ± {:.3}", d.mean, h),
                        None => format!("{:.3}", d.mean),
                    },
                    format!("{:?}", d.verdict),
                )
            },
        );
        writeln!(
            s,
            "| {m} | {} | {} | {diff} | {verdict} |",
            cell("slurm"),
            cell("learned")
        )?;
    }
    writeln!(s)?;
    Ok(())
}

fn render_report(
    a: &ppo::Args,
    out: &ppo::Outcome,
    report: Option<&Report>,
    long_report: Option<&Report>,
    total_s: f64,
) -> Result<String> {
    let mut s = String::new();
    let ((t0, t1), (v0, v1)) = out.split;
    writeln!(s, "# slurm-rl training report\n")?;
    writeln!(s, "- trace: `{}`", a.trace.display())?;
    writeln!(
        s,
        "- cluster: {}",
        a.cluster
            .as_ref()
            .map_or("derived from the SWF header".into(), |c| format!(
                "`{}`",
                c.display()
            ))
    )?;
    writeln!(
        s,
        "- split by submit time: training jobs {t0}..{t1}, validation jobs {v0}..{v1} ({} windows of {} jobs, starts {:?})",
        out.val_starts.len(),
        a.jobs_per_episode,
        out.val_starts
    )?;
    writeln!(s, "- reward: `{}`", out.model.reward)?;
    if a.test_fraction > 0.0 {
        writeln!(
            s,
            "- test set (not trained or validated on, for `slurm-rl evaluate --starts`): jobs {v1}.. (--test-fraction {})",
            a.test_fraction
        )?;
    }
    if let (Some(first), Some(last)) = (out.cem_log.first(), out.cem_log.last()) {
        writeln!(
            s,
            "- CEM stage (update 0): {} iterations on {} training windows, best cost (bsld ÷ slurm's on those windows, plus the p99 penalty) {:.4} after the first, {:.4} after the last (cem.csv)",
            out.cem_log.len(),
            a.cem_windows,
            first[1],
            last[1]
        )?;
    }
    writeln!(
        s,
        "- model written: update {} of {} (--keep-best {})",
        out.chosen_update, a.total_updates, a.keep_best
    )?;
    writeln!(
        s,
        "- {} updates × {} episodes, {} decisions; seed {}; training {:.1} s, total {:.1} s",
        a.total_updates, a.episodes_per_update, out.global_step, out.seed, out.wall_s, total_s
    )?;
    writeln!(
        s,
        "- model: `{}`\n",
        a.out.join("model.safetensors").display()
    )?;
    match report {
        Some(r) => validation_table(
            &mut s,
            "Validation (mean ± 95% CI over the validation windows; learned − slurm paired)",
            r,
        )?,
        None => writeln!(
            s,
            "No validation: the held-out part is shorter than one window.\n"
        )?,
    }
    if let (Some(r), Some(long)) = (long_report, a.val_long_jobs) {
        validation_table(
            &mut s,
            &format!(
                "Validation on {} windows of {long} jobs (--val-long-jobs; starts {:?})",
                out.val_long_starts.len(),
                out.val_long_starts
            ),
            r,
        )?;
    }
    if let Some(last) = out.curves.last() {
        writeln!(s, "## Last update\n")?;
        for (name, v) in METRICS.iter().zip(last) {
            if v.is_finite() {
                writeln!(s, "- `{name}`: {v:.4}")?;
            }
        }
        writeln!(s)?;
    }
    writeln!(
        s,
        "## Arguments\n\n```json\n{}\n```",
        serde_json::to_string_pretty(a)?
    )?;
    Ok(s)
}
