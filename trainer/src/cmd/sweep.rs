//! `slurm-rl train --sweep`: a grid of training options whose points are
//! run one per Slurm array task. The grid `key=v1,v2;key2=w1,w2` is the
//! cartesian product of its lines' values, enumerated like nested loops
//! with the last key varying fastest; task `i` (from `--sweep-index` or
//! `SLURM_ARRAY_TASK_ID`) runs point `i` and writes to `--out DIR/task-<i>`.
//!
//! This file parses the grid, picks the point and applies it to the train
//! options by handing `--key value` to clap (so every option is checked and
//! parsed exactly as on the command line); it must not know any option's
//! meaning. `sweep.json` in the task's directory records the point, and the
//! point is part of the arguments recorded in `report.md` and in the model
//! file's `training` metadata.

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::Path;

/// The sweep options of `slurm-rl train`.
#[derive(clap::Args, Debug, Clone, Default, serde::Serialize)]
pub struct SweepArgs {
    /// A grid of train options, one sweep point per Slurm array task:
    /// `learning-rate=3e-4,1e-3;rank-depth=4,16;seed=1,2,3` (12 points).
    /// Keys are long option names without `--`; values are separated by
    /// `,`, so a list value uses `/` (`hidden=64/32,32/16/8`). Point `i` is
    /// the i-th combination, last key fastest; it writes to `--out
    /// DIR/task-<i>`.
    #[arg(long, value_name = "GRID")]
    pub sweep: Option<String>,
    /// Which point of --sweep to run (default: $SLURM_ARRAY_TASK_ID).
    #[arg(long, value_name = "I", requires = "sweep")]
    pub sweep_index: Option<usize>,
    /// Print the number of points of --sweep and exit (for
    /// `sbatch --array=0-$((N-1))`).
    #[arg(long, requires = "sweep")]
    pub sweep_count: bool,
    /// The point this run trains (set by `apply`).
    #[arg(skip)]
    pub point: Option<SweepPoint>,
}

/// One point of a sweep.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SweepPoint {
    /// Index of the point, `0..count`.
    pub index: usize,
    /// Number of points of the grid.
    pub count: usize,
    /// `(option, value)` pairs, in grid order.
    pub values: Vec<(String, String)>,
}

impl SweepPoint {
    /// `key=value key2=value2`.
    pub fn label(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Options a sweep may not vary: where data and outputs live, and the
/// sweep itself.
const FIXED: &[&str] = &[
    "trace",
    "cluster",
    "out",
    "resume",
    "sweep",
    "sweep-index",
    "sweep-count",
];

/// A parsed grid: `(key, values)` in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid(pub Vec<(String, Vec<String>)>);

impl Grid {
    /// Parses `key=v1,v2;key2=w1`.
    pub fn parse(spec: &str) -> Result<Grid> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for (n, part) in spec.split(';').enumerate() {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let Some((k, vs)) = part.split_once('=') else {
                bail!("--sweep part {} `{part}`: expected KEY=V1,V2,…", n + 1);
            };
            let k = k.trim().trim_start_matches("--").to_string();
            if k.is_empty() {
                bail!("--sweep part {} `{part}`: empty option name", n + 1);
            }
            if FIXED.contains(&k.as_str()) {
                bail!("--sweep: `{k}` cannot be swept (it is the same for every task)");
            }
            if out.iter().any(|(o, _)| *o == k) {
                bail!("--sweep: `{k}` appears twice");
            }
            let values: Vec<String> = vs.split(',').map(|v| v.trim().replace('/', ",")).collect();
            if values.iter().any(|v| v.is_empty()) {
                bail!("--sweep `{k}`: an empty value in `{vs}`");
            }
            out.push((k, values));
        }
        if out.is_empty() {
            bail!("--sweep is empty; expected KEY=V1,V2;KEY2=…");
        }
        Ok(Grid(out))
    }

    /// Number of points.
    pub fn count(&self) -> usize {
        self.0.iter().map(|(_, v)| v.len()).product()
    }

    /// Point `index` (last key fastest).
    pub fn point(&self, index: usize) -> Result<SweepPoint> {
        let count = self.count();
        if index >= count {
            bail!(
                "sweep index {index} is beyond the {count} points of --sweep (use --array=0-{})",
                count - 1
            );
        }
        let mut rest = index;
        let mut values = vec![(String::new(), String::new()); self.0.len()];
        for (slot, (k, vs)) in values.iter_mut().zip(&self.0).rev() {
            *slot = (k.clone(), vs[rest % vs.len()].clone());
            rest /= vs.len();
        }
        Ok(SweepPoint {
            index,
            count,
            values,
        })
    }
}

/// Parses train options, as `slurm-rl train` would, from `argv` (the
/// options after `train`).
fn parse_train(argv: &[OsString]) -> Result<crate::ppo::Args> {
    #[derive(clap::Parser)]
    #[command(name = "train", no_binary_name = true, args_override_self = true)]
    struct W {
        #[command(flatten)]
        a: crate::ppo::Args,
    }
    let m = W::command()
        .try_get_matches_from(argv)
        .map_err(|e| anyhow::anyhow!("{}", e.render().to_string().trim_end()))?;
    Ok(W::from_arg_matches(&m)?.a)
}

/// `argv` without any occurrence of `--key` (as `--key=v` or `--key` and
/// the values that follow it, up to the next option).
fn without_option(argv: &[OsString], key: &str) -> Vec<OsString> {
    let flag = format!("--{key}");
    let eq = format!("--{key}=");
    let is_option = |a: &OsString| {
        let s = a.to_string_lossy();
        s.starts_with('-') && s.parse::<f64>().is_err()
    };
    let mut out = Vec::with_capacity(argv.len());
    let mut skipping = false;
    for a in argv {
        let s = a.to_string_lossy();
        if s == flag {
            skipping = true;
            continue;
        }
        if skipping && !is_option(a) {
            continue;
        }
        skipping = false;
        if s.starts_with(&eq) {
            continue;
        }
        out.push(a.clone());
    }
    out
}

/// The options after the `train` subcommand in this process's arguments.
pub fn train_argv() -> Vec<OsString> {
    let all: Vec<OsString> = std::env::args_os().skip(1).collect();
    match all.iter().position(|a| a == "train") {
        Some(i) => all[i + 1..].to_vec(),
        None => all,
    }
}

/// Applies `--sweep`: returns the options of this task's point (with
/// `--out` moved to `DIR/task-<i>`), or `None` when `--sweep-count` was
/// printed and there is nothing to train. `argv` is the train command
/// line (see [`train_argv`]); the point's options are appended to it and
/// the whole is parsed again, so a swept value overrides the same option
/// given on the command line.
pub fn apply(a: crate::ppo::Args, argv: &[OsString]) -> Result<Option<crate::ppo::Args>> {
    let Some(spec) = a.sweep.sweep.clone() else {
        return Ok(Some(a));
    };
    let grid = Grid::parse(&spec)?;
    if a.sweep.sweep_count {
        println!("{}", grid.count());
        return Ok(None);
    }
    let index = match a.sweep.sweep_index {
        Some(i) => i,
        None => {
            let v = std::env::var("SLURM_ARRAY_TASK_ID").context(
                "--sweep needs --sweep-index or a Slurm array task (SLURM_ARRAY_TASK_ID)",
            )?;
            v.trim()
                .parse()
                .with_context(|| format!("SLURM_ARRAY_TASK_ID={v} is not a task index"))?
        }
    };
    let point = grid.point(index)?;
    let mut full = argv.to_vec();
    for (k, _) in &point.values {
        full = without_option(&full, k);
    }
    for (k, v) in &point.values {
        full.push(format!("--{k}").into());
        full.push(v.into());
    }
    let mut b = parse_train(&full).with_context(|| {
        format!(
            "applying sweep point {index} ({}) to the train options",
            point.label()
        )
    })?;
    b.out = a.out.join(format!("task-{index}"));
    b.sweep.sweep_index = Some(index);
    b.sweep.point = Some(point.clone());
    std::fs::create_dir_all(&b.out).with_context(|| format!("creating {}", b.out.display()))?;
    write_point(&b.out, &spec, &point)?;
    eprintln!(
        "sweep point {index} of {}: {} → {}",
        point.count,
        point.label(),
        b.out.display()
    );
    Ok(Some(b))
}

/// Writes `sweep.json` (`{"grid", "index", "count", "values"}`).
fn write_point(dir: &Path, spec: &str, p: &SweepPoint) -> Result<()> {
    let path = dir.join("sweep.json");
    let doc = serde_json::json!({
        "grid": spec,
        "index": p.index,
        "count": p.count,
        "values": p.values,
    });
    super::common::write_json(&path, &doc)
}

/// Reads a run's `sweep.json`, if it has one.
pub fn read_point(dir: &Path) -> Option<SweepPoint> {
    let text = std::fs::read_to_string(dir.join("sweep.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn grid_count_and_points_last_key_fastest() {
        let g = Grid::parse("learning-rate=3e-4,1e-3; rank-depth=4,16 ;seed=1,2,3").unwrap();
        assert_eq!(g.count(), 12);
        let p = g.point(0).unwrap();
        assert_eq!(p.label(), "learning-rate=3e-4 rank-depth=4 seed=1");
        let p = g.point(5).unwrap();
        assert_eq!(p.label(), "learning-rate=3e-4 rank-depth=16 seed=3");
        let p = g.point(11).unwrap();
        assert_eq!(p.label(), "learning-rate=1e-3 rank-depth=16 seed=3");
        // Every point is distinct.
        let all: std::collections::BTreeSet<String> =
            (0..12).map(|i| g.point(i).unwrap().label()).collect();
        assert_eq!(all.len(), 12);
        let e = g.point(12).unwrap_err();
        assert!(format!("{e}").contains("--array=0-11"), "{e}");
    }

    #[test]
    fn grid_errors_name_the_part() {
        for (spec, want) in [
            ("", "empty"),
            ("seed", "KEY=V1"),
            ("=1,2", "empty option name"),
            ("out=a,b", "cannot be swept"),
            ("seed=1;seed=2", "twice"),
            ("seed=1,,2", "empty value"),
        ] {
            let e = Grid::parse(spec).unwrap_err();
            assert!(format!("{e}").contains(want), "{spec}: {e}");
        }
    }

    #[test]
    fn apply_overrides_options_and_moves_out() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sweep");
        let base = argv(&[
            "--trace",
            "t.swf",
            "--out",
            out.to_str().unwrap(),
            "--learning-rate",
            "0.5",
            "--hidden",
            "8,8",
            "--quiet",
            "--sweep",
            "learning-rate=3e-4,1e-3;hidden=64/32,16;seed=7,9",
            "--sweep-index",
            "3",
        ]);
        let a = parse_train(&base).unwrap();
        let b = apply(a, &base).unwrap().unwrap();
        // Index 3 = (lr 3e-4, hidden 16, seed 9).
        assert_eq!(b.learning_rate, 3e-4);
        assert_eq!(b.hidden, vec![16]);
        assert_eq!(b.seed, 9);
        assert!(b.quiet, "options outside the grid are kept");
        assert_eq!(b.out, out.join("task-3"));
        let p = read_point(&b.out).unwrap();
        assert_eq!(p, b.sweep.point.clone().unwrap());
        assert_eq!((p.index, p.count), (3, 8));
        // A list value.
        let mut first = base.clone();
        first.truncate(first.len() - 1);
        first.push("0".into());
        let a = parse_train(&first).unwrap();
        let b = apply(a, &first).unwrap().unwrap();
        assert_eq!(b.hidden, vec![64, 32]);
        assert_eq!(b.seed, 7);
        // A value clap refuses is reported with the point.
        let bad = argv(&[
            "--trace",
            "t.swf",
            "--out",
            out.to_str().unwrap(),
            "--sweep",
            "learning-rate=fast",
            "--sweep-index",
            "0",
        ]);
        let e = apply(parse_train(&bad).unwrap(), &bad).unwrap_err();
        assert!(format!("{e:#}").contains("learning-rate=fast"), "{e:#}");
    }

    #[test]
    fn option_removal_takes_its_values() {
        let a = argv(&[
            "--seed",
            "1",
            "--reward-weights",
            "1",
            "-0.5",
            "0",
            "--hidden=8,8",
            "--quiet",
        ]);
        let got = without_option(&without_option(&a, "reward-weights"), "hidden");
        assert_eq!(got, argv(&["--seed", "1", "--quiet"]));
    }

    #[test]
    fn no_sweep_leaves_options_alone() {
        let base = argv(&["--trace", "t.swf", "--out", "o", "--seed", "4"]);
        let a = parse_train(&base).unwrap();
        let b = apply(a, &base).unwrap().unwrap();
        assert_eq!(b.seed, 4);
        assert_eq!(b.out, std::path::PathBuf::from("o"));
        assert!(b.sweep.point.is_none());
    }
}
