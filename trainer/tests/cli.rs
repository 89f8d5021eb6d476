//! End-to-end tests of the `slurm-rl` binary: run it as a user would and
//! check its files and messages.
//!
//! Only behaviour visible from outside belongs here; unit tests sit next
//! to the code.

use std::path::{Path, PathBuf};
use std::process::Command;

mod retrain;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_slurm-rl"))
}

fn quirks() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sim/tests/data/sacct_quirks.log"
    ))
}

fn read_jsonl(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Writes `d/t.jsonl` and `d/c.toml` with `slurm-rl synth` and `args`.
fn synth_into(d: &Path, args: &[&str]) {
    let o = bin()
        .arg("synth")
        .args(args)
        .arg("-o")
        .arg(d.join("t.jsonl"))
        .arg("--cluster-out")
        .arg(d.join("c.toml"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// `slurm-rl <sub>` on [`synth_into`]'s workload and cluster in `d`.
fn on_synth(sub: &str, d: &Path) -> Command {
    let mut c = bin();
    c.arg(sub)
        .arg("--trace")
        .arg(d.join("t.jsonl"))
        .arg("--cluster")
        .arg(d.join("c.toml"));
    c
}

/// `slurm-rl train` on [`synth_into`]'s workload in `d`, writing to `out`.
fn train_on(d: &Path, out: &Path) -> Command {
    let mut c = on_synth("train", d);
    c.arg("--out").arg(out);
    c
}

#[test]
fn import_sacct_dump_writes_jsonl_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hist.jsonl");
    let o = bin()
        .args(["import", "sacct"])
        .arg(quirks())
        .args(["--timezone", "UTC", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("imported 17 jobs"), "{stderr}");
    assert!(stderr.contains("(19 lines read)"), "{stderr}");
    assert!(
        stderr.contains("dropped 1: step row without its job row"),
        "{stderr}"
    );
    let lines = read_jsonl(&out);
    assert_eq!(lines[0]["format"], "slurm-rl-trace");
    assert_eq!(lines[0]["source"], "sacct");
    assert_eq!(lines.len(), 18);
    let gpu = lines.iter().find(|l| l["id"] == 1000).unwrap();
    assert_eq!(gpu["gpus"], 2);
    assert_eq!(gpu["gpu_type"], "a100");
    assert_eq!(gpu["user"], "alice");
    assert_eq!(gpu["submit"], 1_767_571_200u64 + 36_000);
    let cancelled = lines.iter().find(|l| l["id"] == 1030).unwrap();
    assert_eq!(cancelled["state"], "CANCELLED");
    assert!(cancelled["start"].is_null());
}

#[test]
fn import_sacct_drop_cancelled_pending_and_timezone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hist.jsonl");
    let o = bin()
        .args(["import", "sacct"])
        .arg(quirks())
        .args([
            "--timezone",
            "Europe/Berlin",
            "--drop-cancelled-pending",
            "-o",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("dropped 2: cancelled while pending"),
        "{stderr}"
    );
    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), 16);
    let gpu = lines.iter().find(|l| l["id"] == 1000).unwrap();
    // 10:00 in Berlin (CET, UTC+1) is 09:00 UTC.
    assert_eq!(gpu["submit"], 1_767_571_200u64 + 9 * 3600);
}

#[test]
fn import_sacct_bad_file_names_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("bad.log");
    let text = std::fs::read_to_string(quirks()).unwrap();
    let broken = text.replacen("|32G|billing=8,cpu=8,", "|32G|billing=8,cpu=,", 1);
    assert_ne!(broken, text);
    std::fs::write(&dump, broken).unwrap();
    let out = dir.path().join("o.jsonl");
    let o = bin()
        .args(["import", "sacct"])
        .arg(&dump)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("bad.log:2: field `ReqTRES`"), "{stderr}");
    assert!(!out.exists(), "no output on error");
    // --lenient skips the line and says so.
    let o = bin()
        .args(["import", "sacct", "--lenient"])
        .arg(&dump)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("skipped 1 bad lines"), "{stderr}");
    assert!(stderr.contains("imported 16 jobs"), "{stderr}");
}

#[test]
fn import_sacct_live_runs_sacct_with_the_field_list() {
    let dir = tempfile::tempdir().unwrap();
    let args_file = dir.path().join("args.txt");
    let fake = dir.path().join("fake-sacct");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho \"TZ=$TZ\" >> '{}'\ncat '{}'\n",
            args_file.display(),
            args_file.display(),
            quirks().display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.path().join("live.jsonl");
    let o = bin()
        .args([
            "import",
            "sacct",
            "--start",
            "2026-01-01",
            "--end",
            "2026-02-01",
        ])
        .args(["-M", "tiny", "--sacct"])
        .arg(&fake)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("imported 17 jobs"), "{stderr}");
    let args = std::fs::read_to_string(&args_file).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for want in [
        "--allusers",
        "--parsable2",
        "--noconvert",
        "--starttime",
        "2026-01-01",
    ] {
        assert!(args.contains(&want), "{want} missing from {args:?}");
    }
    assert!(args.contains(&"--format=JobID,JobIDRaw,Cluster,Partition,Account,Group,User,QOS,Submit,Eligible,Start,End,Elapsed,Timelimit,State,ExitCode,NNodes,NCPUS,ReqCPUS,ReqMem,ReqTRES,AllocTRES,Priority"), "{args:?}");
    assert!(args.contains(&"TZ=UTC"), "{args:?}");
    assert!(args.windows(2).any(|w| w == ["-M", "tiny"]));
    assert_eq!(read_jsonl(&out).len(), 18);
}

#[test]
fn import_sacct_live_reports_missing_or_failing_sacct() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.jsonl");
    let o = bin()
        .args([
            "import",
            "sacct",
            "--start",
            "2026-01-01",
            "--end",
            "2026-02-01",
        ])
        .args(["--sacct", "/nonexistent/sacct", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("/nonexistent/sacct not found"), "{stderr}");
    let failing = dir.path().join("failing-sacct");
    std::fs::write(
        &failing,
        "#!/bin/sh\necho 'sacct: error: Problem talking to the database' >&2\nexit 1\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = bin()
        .args([
            "import",
            "sacct",
            "--start",
            "2026-01-01",
            "--end",
            "2026-02-01",
            "--sacct",
        ])
        .arg(&failing)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        stderr.contains("Problem talking to the database"),
        "{stderr}"
    );
}

#[test]
fn import_sacct_help_teaches_the_field_list() {
    let o = bin().args(["import", "sacct", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(help.contains("JobID,JobIDRaw,Cluster"), "{help}");
    assert!(help.contains("CANCELLED WHILE PENDING"));
    assert!(help.contains("Europe/Berlin"));
}

/// Trains for 2 updates on a tiny synthetic trace, then checks every output,
/// that the model file loads and scores, that `evaluate --model` runs it, and
/// that `--resume` continues from a checkpoint.
/// One `--seed` makes a run reproducible: the same weights and curves
/// (but for the timing column) from two processes, other weights from
/// another seed. Each run is its own process because libtorch's generator
/// is global: in a test binary other tests draw from it concurrently.
#[test]
fn train_with_one_seed_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_into(d, &["-n", "120", "--seed", "8"]);
    let run = |name: &str, seed: &str| {
        let out = d.join(name);
        let o = train_on(d, &out)
            .args([
                "--seed",
                seed,
                "--jobs-per-episode",
                "20",
                "--episodes-per-update",
                "1",
            ])
            .args([
                "--total-updates",
                "2",
                "--hidden",
                "6",
                "--val-sequences",
                "1",
            ])
            .args(["--checkpoint-every", "0", "--quiet"])
            .env("SLURM_CPUS_PER_TASK", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let model = policy::Model::load(out.join("model.safetensors")).unwrap();
        let csv = std::fs::read_to_string(out.join("curves.csv")).unwrap();
        (model.mlp().clone(), csv)
    };
    let (w1, c1) = run("a", "5");
    let (w2, c2) = run("b", "5");
    let (w3, _) = run("c", "6");
    assert_eq!(w1, w2, "same seed, different weights");
    assert_ne!(w1, w3, "different seeds, same weights");
    let (h1, h2) = (c1.lines().next().unwrap(), c2.lines().next().unwrap());
    assert_eq!(h1, h2);
    let sps = h1.split(',').position(|m| m == "charts/SPS").unwrap();
    assert_eq!(c1.lines().count(), 3, "{c1}");
    for (a, b) in c1.lines().zip(c2.lines()).skip(1) {
        for (i, (x, y)) in a.split(',').zip(b.split(',')).enumerate() {
            assert!(i == sps || x == y, "column {i}: {x} vs {y}");
        }
    }
}

#[test]
fn train_two_updates_on_a_tiny_trace_writes_a_loadable_model() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_into(d, &["-n", "160", "--seed", "3", "--nodes", "4"]);
    let out = d.join("run");
    let train = |extra: &[&str]| {
        let o = train_on(d, &out)
            .args([
                "--jobs-per-episode",
                "24",
                "--episodes-per-update",
                "1",
                "--val-sequences",
                "2",
                "--checkpoint-every",
                "1",
                "--hidden",
                "8,4",
                "--quiet",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stdout = train(&["--total-updates", "2"]);
    assert!(stdout.contains("# slurm-rl training report"), "{stdout}");
    for f in [
        "model.safetensors",
        "curves.csv",
        "curves.png",
        "report.md",
        "checkpoint-00002.safetensors",
        "checkpoint-00002.json",
    ] {
        assert!(out.join(f).is_file(), "{f} is missing");
    }
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| bsld_mean |"), "{report}");
    let csv = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    for m in [
        "losses/policy_loss",
        "losses/value_loss",
        "losses/entropy",
        "losses/approx_kl",
        "charts/SPS",
        "sched/bsld",
        "sched/val_bsld",
    ] {
        assert!(header.contains(&m), "{m} not in {header:?}");
    }
    assert_eq!(lines.count(), 2);

    // The model file loads through the policy crate and scores.
    let model = policy::Model::load(out.join("model.safetensors")).unwrap();
    assert_eq!(model.architecture().hidden, vec![8, 4]);
    assert!(model.reward.contains("mean_bsld"));
    let ctx = policy::QueueContext {
        now: 100,
        free_cpus: 8,
        total_cpus: 64,
        free_gpus: 2,
        total_gpus: 32,
        queue_len: 2,
        running: 1,
    };
    let jobs = [
        policy::JobObs {
            cpus: 4,
            gpus: 1,
            time_limit: 3600,
            ..Default::default()
        },
        policy::JobObs {
            cpus: 32,
            gpus: 8,
            time_limit: 86400,
            wait: 5000,
            ..Default::default()
        },
    ];
    let mut scores = [f32::NAN; 2];
    model.score_jobs(&ctx, &jobs, &mut scores, &mut model.scratch());
    assert!(scores.iter().all(|s| s.is_finite()), "{scores:?}");

    // evaluate --model runs it beside a baseline.
    let ev = d.join("eval");
    let o = on_synth("evaluate", d)
        .args([
            "--policies",
            "slurm,learned",
            "--sequences",
            "2",
            "--jobs",
            "24",
            "--model",
        ])
        .arg(out.join("model.safetensors"))
        .arg("--out")
        .arg(&ev)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let res = std::fs::read_to_string(ev.join("results.json")).unwrap();
    assert!(res.contains("\"learned\""));

    // Resume from the checkpoint of update 2 and run update 3 only; the
    // curves of updates 1 and 2 are kept.
    let ckpt = out.join("checkpoint-00002.safetensors");
    train(&["--total-updates", "3", "--resume", ckpt.to_str().unwrap()]);
    let csv = std::fs::read_to_string(out.join("curves.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(rows[2].starts_with("3,"), "{csv}");
}

/// `--load-factor` replays the same jobs with arrivals F times as fast: on
/// a synthetic workload at 70% load, twice the arrival rate makes the same
/// jobs wait longer; evaluate records the factor and names it in its table;
/// a factor that is not above 0 is refused before anything runs.
#[test]
fn load_factor_compresses_arrivals_in_simulate_and_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    synth_into(d, &["-n", "300", "--seed", "4", "--load", "0.7"]);
    let simulate = |factor: &str| {
        let o = on_synth("simulate", d)
            .args([
                "--policy",
                "fcfs",
                "--format",
                "json",
                "--load-factor",
                factor,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(doc["inputs"]["load_factor"], factor.parse::<f64>().unwrap());
        doc["metrics"].clone()
    };
    let (base, fast) = (simulate("1"), simulate("2"));
    assert_eq!(base["jobs"], 300);
    assert_eq!(fast["jobs"], 300);
    let wait = |m: &serde_json::Value| m["wait_mean"].as_f64().unwrap();
    assert!(wait(&fast) > wait(&base), "{base} vs {fast}");

    let evaluate = |factors: &str, out: &Path| {
        on_synth("evaluate", d)
            .args([
                "--policies",
                "slurm,fcfs",
                "--sequences",
                "2",
                "--jobs",
                "100",
            ])
            .args(["--load-factor", factors, "--out"])
            .arg(out)
            .output()
            .unwrap()
    };
    let results = |dir: &Path| -> serde_json::Value {
        let mut doc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap())
                .unwrap();
        doc["inputs"]["wall_seconds"] = serde_json::Value::Null;
        doc
    };
    let one = d.join("eval");
    let o = evaluate("1.5", &one);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(results(&one)["inputs"]["load_factor"], 1.5);
    let md = std::fs::read_to_string(one.join("results.md")).unwrap();
    assert!(md.contains("(300 jobs, arrivals ×1.5)"), "{md}");

    // A list: the whole evaluation per factor in load-F/, ascending, the
    // same as a run at that factor alone, plus the sweep's three files.
    let sweep = d.join("sweep");
    let o = evaluate("1.5,1", &sweep);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(results(&sweep.join("load-1.5")), results(&one));
    assert_eq!(results(&sweep.join("load-1"))["inputs"]["load_factor"], 1.0);
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sweep.join("load.json")).unwrap()).unwrap();
    assert_eq!(doc["load_factors"], serde_json::json!([1.0, 1.5]));
    assert_eq!(doc["factors"][1]["dir"], "load-1.5");
    assert_eq!(
        doc["factors"][1]["report"]["policies"],
        results(&one)["policies"]
    );
    let md = std::fs::read_to_string(sweep.join("load.md")).unwrap();
    let bsld = md.split("## wait_mean").next().unwrap();
    let rows: Vec<&str> = bsld.lines().filter(|l| l.starts_with("| 1")).collect();
    assert_eq!(rows.len(), 2, "{md}");
    assert!(
        rows[0].starts_with("| 1 ") && rows[1].starts_with("| 1.5 "),
        "{md}"
    );
    assert!(std::fs::metadata(sweep.join("load.png")).unwrap().len() > 1000);
    let o = evaluate("1,1.25,1", &d.join("twice"));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--load-factor lists 1 twice"));
    let o = on_synth("evaluate", d)
        .args(["--runs", "no-such-run", "--load-factor", "1,1.25", "--out"])
        .arg(d.join("runs"))
        .output()
        .unwrap();
    assert!(!o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("--runs takes one --load-factor"),
        "{stderr}"
    );

    for bad in ["0", "-1", "nan", "fast"] {
        let o = on_synth("simulate", d)
            .arg(format!("--load-factor={bad}"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "--load-factor {bad} accepted");
        assert!(stderr.contains("expected a number above 0"), "{stderr}");
    }
}
