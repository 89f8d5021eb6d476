//! `slurm-rl evaluate --runs`: pick the best of several training runs (the
//! tasks of a sweep). Every run's model is evaluated, beside `slurm`, on
//! the same held-out sequences; runs are ranked by mean bounded slowdown
//! among those that pass the p99-wait guard; the best model is copied to
//! `best.safetensors` with the reason in `best.json`.
//!
//! This file finds the runs, chooses the sequences, ranks and writes the
//! choice; the simulation and statistics are `sim::eval`'s and the
//! comparison tables and plot are `evaluate`'s.

use super::evaluate::Args;
use anyhow::{Context, Result, bail};
use rand::{Rng, SeedableRng};
use sim::eval::{EvalInput, PolicySpec, Report, Verdict};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One training run: its directory, model and sweep point.
#[derive(Debug, Clone)]
struct Run {
    name: String,
    dir: PathBuf,
    model_path: PathBuf,
    model: policy::Model,
    point: Option<super::sweep::SweepPoint>,
}

/// Expands `--runs` entries: directories, model files, or patterns with
/// `*` in the last path component (`runs/sweep/task-*`), sorted.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in patterns {
        let path = PathBuf::from(p);
        let last = path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !last.contains('*') {
            out.push(path);
            continue;
        }
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if dir.to_string_lossy().contains('*') {
            bail!("--runs {p}: `*` is only supported in the last path component");
        }
        let parts: Vec<&str> = last.split('*').collect();
        let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("--runs {p}: reading {}", dir.display()))?
            .filter_map(|e| e.ok())
            .filter(|e| matches_star(&e.file_name().to_string_lossy(), &parts))
            .map(|e| e.path())
            .collect();
        found.sort_by_key(|a| natural_key(a));
        if found.is_empty() {
            bail!("--runs {p}: nothing matches");
        }
        out.extend(found);
    }
    Ok(out)
}

/// `task-10` after `task-9`: digits compare as numbers.
fn natural_key(p: &Path) -> (String, u64) {
    let s = p.to_string_lossy();
    let digits: String = s
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let stem = s[..s.len() - digits.len()].to_string();
    (stem, digits.parse().unwrap_or(0))
}

/// Whether `name` matches the pattern split at its `*`s.
fn matches_star(name: &str, parts: &[&str]) -> bool {
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return name.is_empty(),
    };
    let Some(mut tail) = name.strip_prefix(first) else {
        return false;
    };
    for (i, part) in rest.iter().enumerate() {
        if i == rest.len() - 1 {
            return tail.ends_with(part) && tail.len() >= part.len();
        }
        match tail.find(part) {
            Some(k) => tail = &tail[k + part.len()..],
            None => return false,
        }
    }
    tail.is_empty()
}

fn load_run(path: &Path) -> Result<Run> {
    let (dir, model_path) = if path.is_dir() {
        (path.to_path_buf(), path.join("model.safetensors"))
    } else {
        (
            path.parent().map_or(PathBuf::from("."), Path::to_path_buf),
            path.to_path_buf(),
        )
    };
    let model = policy::Model::load(&model_path)
        .with_context(|| format!("run {}: loading its model", path.display()))?;
    let name = if path.is_dir() {
        dir.file_name()
            .map_or(dir.display().to_string(), |s| s.to_string_lossy().into())
    } else {
        model_path
            .file_stem()
            .map_or(model_path.display().to_string(), |s| {
                s.to_string_lossy().into()
            })
    };
    Ok(Run {
        name,
        point: super::sweep::read_point(&dir),
        dir,
        model_path,
        model,
    })
}

/// The held-out job range `[split, len)` the runs were validated on, from
/// their model metadata; all runs must agree.
fn held_out(runs: &[Run], trace_len: usize) -> Result<Option<(usize, usize)>> {
    let mut seen: Option<(usize, usize)> = None;
    for r in runs {
        let v = &r.model.training["val_jobs"];
        let (Some(a), Some(b)) = (v[0].as_u64(), v[1].as_u64()) else {
            return Ok(None);
        };
        let range = (a as usize, b as usize);
        if let Some(s) = seen
            && s != range
        {
            bail!(
                "runs disagree on the held-out jobs ({}..{} vs {}..{} in {}): give --starts",
                s.0,
                s.1,
                range.0,
                range.1,
                r.name
            );
        }
        seen = Some(range);
    }
    if let Some((_, len)) = seen
        && len != trace_len
    {
        bail!(
            "the runs were trained on a trace of {len} jobs but --trace has {trace_len}: pass the training trace (or --starts)"
        );
    }
    Ok(seen)
}

/// How one run fared.
#[derive(Debug, Clone, serde::Serialize)]
struct Ranked {
    rank: usize,
    run: String,
    model: String,
    point: Option<String>,
    bsld_mean: f64,
    bsld_ci95: Option<f64>,
    wait_p99: f64,
    bsld_vs_slurm: Option<f64>,
    bsld_verdict: Option<Verdict>,
    wait_p99_vs_slurm: Option<f64>,
    wait_p99_verdict: Option<Verdict>,
    guard_ok: bool,
}

/// The guard that a run must pass.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
enum Guard {
    /// Mean p99 wait at most this many seconds.
    Absolute { seconds: f64 },
    /// p99 wait not significantly worse than slurm's (paired 95% CI).
    NotWorseThanSlurm,
}

/// Ranks the runs of `report`: passing the guard first, then by mean
/// bsld, then by name.
fn rank(report: &Report, runs: &[Run], guard: Guard) -> Vec<Ranked> {
    let mut v: Vec<Ranked> = runs
        .iter()
        .filter_map(|r| {
            let p = report.policy(&r.name)?;
            let b = p.summary_of("bsld_mean")?;
            let w = p.summary_of("wait_p99")?;
            let db = p.diff_of("bsld_mean");
            let dw = p.diff_of("wait_p99");
            let guard_ok = match guard {
                Guard::Absolute { seconds } => w.mean <= seconds,
                Guard::NotWorseThanSlurm => dw.is_none_or(|d| d.verdict != Verdict::Worse),
            };
            Some(Ranked {
                rank: 0,
                run: r.name.clone(),
                model: r.model_path.display().to_string(),
                point: r.point.as_ref().map(|p| p.label()),
                bsld_mean: b.mean,
                bsld_ci95: b.ci95,
                wait_p99: w.mean,
                bsld_vs_slurm: db.map(|d| d.mean),
                bsld_verdict: db.map(|d| d.verdict),
                wait_p99_vs_slurm: dw.map(|d| d.mean),
                wait_p99_verdict: dw.map(|d| d.verdict),
                guard_ok,
            })
        })
        .collect();
    v.sort_by(|a, b| {
        b.guard_ok
            .cmp(&a.guard_ok)
            .then(a.bsld_mean.total_cmp(&b.bsld_mean))
            .then(a.run.cmp(&b.run))
    });
    for (i, r) in v.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    v
}

fn verdict_mark(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Better) => " +",
        Some(Verdict::Worse) => " !",
        _ => "",
    }
}

fn table(ranked: &[Ranked], slurm: Option<(f64, f64)>, guard: Guard) -> String {
    let mut s = String::new();
    let guard_text = match guard {
        Guard::Absolute { seconds } => format!("mean p99 wait ≤ {seconds:.0} s"),
        Guard::NotWorseThanSlurm => "p99 wait not significantly worse than slurm".into(),
    };
    s.push_str(&format!(
        "Runs ranked by mean bsld among those passing the guard ({guard_text}); `+`/`!` = significantly better/worse than slurm.\n\n"
    ));
    if let Some((b, w)) = slurm {
        s.push_str(&format!("slurm: bsld_mean {b:.3}, wait_p99 {w:.0} s\n\n"));
    }
    s.push_str("| rank | run | point | bsld_mean | − slurm | wait_p99 (s) | − slurm | guard |\n");
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in ranked {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.0} | {} | {} |\n",
            r.rank,
            r.run,
            r.point.as_deref().unwrap_or("–"),
            match r.bsld_ci95 {
                Some(h) => format!("{:.3} ± {:.3}", r.bsld_mean, h),
                None => format!("{:.3}", r.bsld_mean),
            },
            r.bsld_vs_slurm.map_or("–".into(), |d| format!(
                "{d:+.3}{}",
                verdict_mark(r.bsld_verdict)
            )),
            r.wait_p99,
            r.wait_p99_vs_slurm.map_or("–".into(), |d| format!(
                "{d:+.0}{}",
                verdict_mark(r.wait_p99_verdict)
            )),
            if r.guard_ok { "ok" } else { "FAILED" }
        ));
    }
    s
}

/// Copies `from` to `to` through a temporary file and a rename.
fn copy_atomic(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    super::common::write_file(to, &bytes)
}

/// Runs `evaluate --runs`.
pub fn run(a: Args) -> Result<()> {
    let [load_factor] = a.load_factor[..] else {
        bail!("--runs takes one --load-factor, not a list");
    };
    let paths = expand(&a.runs)?;
    let runs: Vec<Run> = paths.iter().map(|p| load_run(p)).collect::<Result<_>>()?;
    for (i, r) in runs.iter().enumerate() {
        if runs[..i].iter().any(|o| o.name == r.name) || r.name == "slurm" {
            bail!(
                "two runs are named `{}` ({}); give distinct directories",
                r.name,
                r.dir.display()
            );
        }
    }
    let mut trace = super::common::load_trace(&a.trace, a.lenient)?;
    trace.sort();
    let cluster = super::common::load_cluster(a.cluster.as_deref(), &mut trace, &a.trace)?;
    super::common::apply_load_factor(&mut trace, load_factor)?;
    let k = a.jobs;
    let (starts, from) = if !a.starts.is_empty() {
        (a.starts.clone(), "explicit starts".to_string())
    } else {
        match held_out(&runs, trace.jobs.len())? {
            Some((lo, hi)) => {
                if hi < lo + k {
                    bail!(
                        "the held-out part (jobs {lo}..{hi}) is shorter than --jobs {k}: lower --jobs or give --starts"
                    );
                }
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
                let s: Vec<usize> = (0..a.sequences)
                    .map(|_| rng.gen_range(lo..=hi - k))
                    .collect();
                (
                    s,
                    format!("held-out jobs {lo}..{hi} (random starts, seed {})", a.seed),
                )
            }
            None => bail!("the runs' models do not record their held-out jobs; give --starts"),
        }
    };
    let starts =
        sim::eval::sequence_starts(trace.jobs.len(), k, &sim::eval::Starts::Explicit(starts))?;
    let mut specs = vec![PolicySpec::baseline("slurm").expect("the slurm baseline exists")];
    for r in &runs {
        let m = r.model.clone();
        let (label, max_wait) = (r.name.clone(), a.max_wait);
        specs.push(PolicySpec::new(r.name.clone(), move || {
            Box::new(super::evaluate::learned_policy(&m, &label, max_wait))
        }));
    }
    let sim_cfg = sim::engine::SimConfig {
        backfill: a.backfill.to_engine(),
        cancelled_pending: a.cancelled_pending.to_engine(),
        record_events: false,
        seed: a.seed,
    };
    let input = EvalInput {
        trace: &trace,
        cluster: &cluster,
        sim: &sim_cfg,
        jobs_per_sequence: k,
        starts: &starts,
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let report = super::common::evaluate_with_progress(&input, &specs, Some("slurm"), "seq")?;

    let trained_guards: Vec<Option<u64>> = runs
        .iter()
        .map(|r| r.model.training["args"]["guard_p99_wait"].as_u64())
        .collect();
    let guard = match a.guard_p99_wait {
        Some(s) => Guard::Absolute { seconds: s },
        None => match trained_guards.first() {
            Some(Some(g)) if trained_guards.iter().all(|x| *x == Some(*g)) => {
                Guard::Absolute { seconds: *g as f64 }
            }
            _ => Guard::NotWorseThanSlurm,
        },
    };
    let ranked = rank(&report, &runs, guard);
    let slurm = report.policy("slurm").and_then(|p| {
        Some((
            p.summary_of("bsld_mean")?.mean,
            p.summary_of("wait_p99")?.mean,
        ))
    });
    let mut md = format!(
        "# Best run\n\n{} runs on {} sequences of {k} jobs from `{}` ({from}{}), backfill {}.\n\n",
        runs.len(),
        starts.len(),
        a.trace.display(),
        super::evaluate::load_note(load_factor),
        a.backfill.name()
    );
    md.push_str(&table(&ranked, slurm, guard));
    let best = ranked.first().filter(|r| r.guard_ok);
    let best_json = match best {
        Some(b) => {
            let run = runs
                .iter()
                .find(|r| r.name == b.run)
                .expect("ranked from runs");
            let reason = format!(
                "lowest mean bsld ({:.3}{}) among the {} runs passing the guard; slurm {}",
                b.bsld_mean,
                b.bsld_ci95.map_or(String::new(), |h| format!(" ± {h:.3}")),
                ranked.iter().filter(|r| r.guard_ok).count(),
                slurm.map_or("–".into(), |(s, _)| format!("{s:.3}"))
            );
            copy_atomic(&run.model_path, &a.out.join("best.safetensors"))?;
            md.push_str(&format!(
                "\nBest: `{}` ({}) → `{}`: {reason}.\n",
                b.run,
                b.point.as_deref().unwrap_or("no sweep point"),
                a.out.join("best.safetensors").display()
            ));
            serde_json::json!({"best": b.run, "model": b.model, "point": b.point,
                "copied_to": a.out.join("best.safetensors").display().to_string(), "reason": reason})
        }
        None => {
            md.push_str("\nNo run passes the guard: nothing was copied to best.safetensors.\n");
            serde_json::json!({"best": null, "reason": "no run passes the guard"})
        }
    };
    let doc = serde_json::json!({
        "trace": a.trace.display().to_string(),
        "load_factor": load_factor,
        "sequences": starts,
        "jobs_per_sequence": k,
        "guard": guard,
        "slurm": slurm.map(|(b, w)| serde_json::json!({"bsld_mean": b, "wait_p99": w})),
        "ranking": ranked,
        "choice": best_json,
    });
    let json_path = a.out.join("runs.json");
    super::common::write_json(&json_path, &doc)?;
    let png_path = a.out.join("runs.png");
    let defs: Vec<&sim::metrics::MetricDef> = ["bsld_mean", "wait_mean", "wait_p99", "cpu_util"]
        .iter()
        .filter_map(|m| sim::metrics::metric(m))
        .collect();
    crate::plot::comparison(
        &png_path,
        &report,
        &defs,
        &format!(
            "{} runs vs slurm on {} held-out sequences",
            runs.len(),
            starts.len()
        ),
    )?;
    let md_path = a.out.join("runs.md");
    super::common::write_file(&md_path, md.as_bytes())?;
    let best_path = a.out.join("best.json");
    super::common::write_json(&best_path, &best_json)?;
    super::simulate::ignore_broken_pipe((|| {
        let mut out = std::io::stdout().lock();
        out.write_all(md.as_bytes())?;
        writeln!(
            out,
            "\nwrote {}, {}, {}, {}",
            json_path.display(),
            png_path.display(),
            md_path.display(),
            best_path.display()
        )
    })())?;
    if best.is_none() {
        bail!("no run passes the guard");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_patterns_and_natural_order() {
        let parts = ["task-", ""];
        assert!(matches_star("task-3", &parts));
        assert!(!matches_star("best", &parts));
        assert!(matches_star("a-b.c", &["a", ".", ""]));
        assert!(matches_star("run1x", &["run", "x"]));
        assert!(!matches_star("run1y", &["run", "x"]));
        let dir = tempfile::tempdir().unwrap();
        for n in ["task-10", "task-9", "task-0", "other"] {
            std::fs::create_dir(dir.path().join(n)).unwrap();
        }
        let pat = format!("{}/task-*", dir.path().display());
        let got: Vec<String> = expand(&[pat])
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(got, ["task-0", "task-9", "task-10"]);
        let none = format!("{}/zzz-*", dir.path().display());
        assert!(expand(&[none]).is_err());
    }

    /// Random models as the runs of a sweep, evaluated for real on a small
    /// generated trace; the best is the lowest bsld among guard-passing runs.
    #[test]
    fn picks_the_best_run_and_copies_it() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = sim::synth::SynthConfig {
            jobs: 200,
            seed: 3,
            ..Default::default()
        };
        let (trace, cluster) = sim::synth::generate(&cfg).unwrap();
        let trace_path = dir.path().join("t.jsonl");
        sim::trace::jsonl::write(&trace_path, &trace).unwrap();
        let cluster_path = dir.path().join("c.toml");
        sim::cluster::file::write(&cluster_path, &cluster).unwrap();
        let sweep = dir.path().join("sweep");
        for i in 0..3u64 {
            let d = sweep.join(format!("task-{i}"));
            std::fs::create_dir_all(&d).unwrap();
            let arch = policy::nn::Architecture::default_for(policy::features::N_FEATURES);
            let spec = policy::features::FeatureSpec::current_identity();
            let m = policy::Model::random(arch, spec, 10 + i).unwrap();
            // Record a held-out part as `train` does.
            let mut training = m.training.clone();
            training["val_jobs"] = serde_json::json!([120, 200]);
            let m = policy::Model::new(
                m.mlp().clone(),
                m.spec().clone(),
                m.reward.clone(),
                training,
                m.created.clone(),
            )
            .unwrap();
            m.save(d.join("model.safetensors")).unwrap();
        }
        let out = dir.path().join("eval");
        let a = Args {
            trace: trace_path,
            cluster: Some(cluster_path),
            policies: vec![],
            model: None,
            backfill: super::super::simulate::BackfillArg::Slurm,
            cancelled_pending: super::super::simulate::CancelledArg::Keep,
            sequences: 3,
            jobs: 40,
            seed: 1,
            starts: vec![],
            reference: "slurm".into(),
            out: out.clone(),
            lenient: false,
            runs: vec![format!("{}/task-*", sweep.display())],
            guard_p99_wait: Some(1e12),
            max_wait: None,
            load_factor: vec![1.0],
        };
        run(a).unwrap();
        let doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("runs.json")).unwrap()).unwrap();
        let ranking = doc["ranking"].as_array().unwrap();
        assert_eq!(ranking.len(), 3);
        assert_eq!(doc["load_factor"], 1.0);
        // Sequences come from the held-out part.
        for s in doc["sequences"].as_array().unwrap() {
            let s = s.as_u64().unwrap();
            assert!((120..=160).contains(&s), "{s}");
        }
        let b: Vec<f64> = ranking
            .iter()
            .map(|r| r["bsld_mean"].as_f64().unwrap())
            .collect();
        assert!(b.windows(2).all(|w| w[0] <= w[1]), "{b:?}");
        let best = ranking[0]["run"].as_str().unwrap();
        assert_eq!(doc["choice"]["best"], best);
        let copied = std::fs::read(out.join("best.safetensors")).unwrap();
        let original = std::fs::read(sweep.join(best).join("model.safetensors")).unwrap();
        assert_eq!(copied, original);
        assert!(out.join("runs.md").exists() && out.join("best.json").exists());
        assert!(std::fs::metadata(out.join("runs.png")).unwrap().len() > 1000);
    }

    #[test]
    fn guard_failures_rank_last() {
        let mk = |b: f64, w: f64| sim::metrics::Metrics {
            bsld_mean: b,
            wait_p99: w,
            ..Default::default()
        };
        let report = sim::eval::summarise(
            10,
            vec![0, 1],
            Some("slurm"),
            vec![
                ("slurm".into(), vec![mk(3.0, 100.0), mk(3.0, 100.0)]),
                ("a".into(), vec![mk(1.0, 900.0), mk(1.0, 900.0)]),
                ("b".into(), vec![mk(2.0, 50.0), mk(2.0, 50.0)]),
            ],
        );
        let arch = policy::nn::Architecture::default_for(policy::features::N_FEATURES);
        let m = policy::Model::random(arch, policy::features::FeatureSpec::current_identity(), 1)
            .unwrap();
        let runs: Vec<Run> = ["a", "b"]
            .iter()
            .map(|n| Run {
                name: n.to_string(),
                dir: PathBuf::from(n),
                model_path: PathBuf::from(n),
                model: m.clone(),
                point: None,
            })
            .collect();
        let r = rank(&report, &runs, Guard::Absolute { seconds: 500.0 });
        assert_eq!((r[0].run.as_str(), r[0].guard_ok), ("b", true));
        assert_eq!((r[1].run.as_str(), r[1].guard_ok), ("a", false));
        let r = rank(&report, &runs, Guard::Absolute { seconds: 1000.0 });
        assert_eq!(r[0].run, "a");
        let t = table(&r, Some((3.0, 100.0)), Guard::NotWorseThanSlurm);
        assert!(t.contains("| 1 | a |"), "{t}");
    }
}
