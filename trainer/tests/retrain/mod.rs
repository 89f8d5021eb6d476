//! `slurm-rl retrain` end to end, on small synthetic workloads (about 30 s
//! in release): the drift scenario and a sabotaged candidate.
//!
//! Workload A: 40% whole-cluster 16-GPU jobs that run far shorter than the
//! 1-GPU jobs (run time ∝ gpus^-1.5), every user asking for the partition's
//! maximum time. Workload B: 85% 1-GPU jobs of minutes and 15% 16-GPU jobs
//! that run for hours (∝ gpus^1), honest time limits, a steady arrival rate.
//! A model trained on A (whose time limits never vary) orders B's jobs
//! badly; retraining on B fixes it. Training is a real PPO run, pinned to
//! one seed and one libtorch thread, so the runs are reproducible.

use std::path::Path;
use std::process::Output;

const BASE: &str = r#"
load = 1.3
[cluster]
nodes = 4
gpus_per_node = 4
cpus_per_node = 32
mem_mb_per_node = 256000
debug_nodes = 1
[users]
count = 16
debug_users = 0.0
max_requesters = MAXREQ
[outcomes]
fail_fraction = 0.0
timeout_fraction = 0.0
"#;

const A: &str = r#"
jobs = 800
seed = 11
gpu_mix = [[1, 0.6], [16, 0.4]]
"#;
const A_TAIL: &str = r#"
[runtime]
median_s = 3600.0
sigma = 0.3
gpu_exponent = -1.5
"#;

const B: &str = r#"
jobs = 1200
seed = 3
gpu_mix = [[1, 0.85], [16, 0.15]]
"#;
const B_TAIL: &str = r#"
[runtime]
median_s = 300.0
sigma = 0.3
gpu_exponent = 1.0
[arrivals]
hourly = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
weekend_factor = 1.0
"#;

/// PPO settings that learn within a dozen updates on these workloads.
const TRAIN: &[&str] = &[
    "--seed",
    "5",
    "--quiet",
    "--val-sequences",
    "2",
    "--norm-windows",
    "1",
    "--jobs-per-episode",
    "64",
    "--total-updates",
    "12",
    "--episodes-per-update",
    "6",
    "--learning-rate",
    "3e-2",
    "--update-epochs",
    "8",
    "--hidden",
    "8",
    "--actor-out-gain",
    "1.0",
    "--ent-coef",
    "0",
    "--val-every",
    "0",
];

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = super::bin();
    c.env("SLURM_CPUS_PER_TASK", "1")
        .env_remove("SLURM_ARRAY_TASK_ID");
    // `paths` are spliced in where an argument is "{}".
    let mut it = paths.iter();
    for a in args {
        if *a == "{}" {
            c.arg(it.next().expect("a path for every {}"));
        } else {
            c.arg(a);
        }
    }
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Generates A and B (and their cluster) in a temporary directory; the
/// deployed model is `m/model.safetensors`.
struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(
            d.join("A.toml"),
            format!("{A}{}{A_TAIL}", BASE.replace("MAXREQ", "1.0")),
        )
        .unwrap();
        std::fs::write(
            d.join("B.toml"),
            format!("{B}{}{B_TAIL}", BASE.replace("MAXREQ", "0.0")),
        )
        .unwrap();
        for (cfg, out, cl) in [
            ("A.toml", "A.jsonl", "cluster.toml"),
            ("B.toml", "B.jsonl", "clusterB.toml"),
        ] {
            let o = run(
                &["synth", "--config", "{}", "-o", "{}", "--cluster-out", "{}"],
                &[&d.join(cfg), &d.join(out), &d.join(cl)],
            );
            assert!(o.status.success(), "{}", text(&o));
        }
        assert_eq!(
            std::fs::read_to_string(d.join("cluster.toml")).unwrap(),
            std::fs::read_to_string(d.join("clusterB.toml")).unwrap(),
            "A and B run on the same cluster"
        );
        // These scenarios were sized (training updates, windows) when the
        // simulator ran the main scheduler in the second of each submission;
        // batch_sched_delay = 0 keeps that schedule (docs/simulator.md, Main
        // scheduler). With Slurm's default of 3 s the 12-update candidates
        // no longer differ from the deployed model by more than the gate's
        // confidence interval.
        for cl in ["cluster.toml", "clusterB.toml"] {
            let text = std::fs::read_to_string(d.join(cl)).unwrap();
            assert!(text.contains("\nbatch_sched_delay = "), "{text}");
            let pinned: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("batch_sched_delay = ") {
                        "batch_sched_delay = 0"
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            std::fs::write(d.join(cl), pinned + "\n").unwrap();
        }
        std::fs::create_dir_all(d.join("m")).unwrap();
        Setup { dir }
    }

    /// Trains on A and installs that model.
    fn deploy_a(&self) {
        let d = self.dir.path();
        let mut args = vec!["train", "--trace", "{}", "--cluster", "{}", "--out", "{}"];
        args.extend_from_slice(TRAIN);
        let o = run(
            &args,
            &[&d.join("A.jsonl"), &d.join("cluster.toml"), &d.join("a")],
        );
        assert!(o.status.success(), "{}", text(&o));
        std::fs::copy(d.join("a/model.safetensors"), d.join("m/model.safetensors")).unwrap();
    }

    fn path(&self, p: &str) -> std::path::PathBuf {
        self.dir.path().join(p)
    }

    /// `slurm-rl retrain` on B with `extra` retrain options.
    fn retrain(&self, work: &str, extra: &[&str]) -> (Output, serde_json::Value) {
        let mut args = vec![
            "retrain",
            "--model",
            "{}",
            "--trace",
            "{}",
            "--slurm-conf",
            "{}",
            "--work-dir",
            "{}",
            "--no-reconfigure",
            "--eval-jobs",
            "48",
            "--eval-sequences",
            "16",
        ];
        args.extend_from_slice(extra);
        args.push("--");
        args.extend_from_slice(TRAIN);
        let o = run(
            &args,
            &[
                &self.path("m/model.safetensors"),
                &self.path("B.jsonl"),
                &self.path("cluster.toml"),
                &self.path(work),
            ],
        );
        let runs: Vec<_> = std::fs::read_dir(self.path(work))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(runs.len(), 1, "one dated run directory: {runs:?}");
        let report = std::fs::read_to_string(runs[0].join("report.json")).unwrap();
        (o, serde_json::from_str(&report).unwrap())
    }
}

#[test]
fn retrain_drift_scenario_deploys_the_better_model_and_rollback_restores() {
    let s = Setup::new();
    s.deploy_a();
    let model = s.path("m/model.safetensors");
    let old = std::fs::read(&model).unwrap();
    let (o, report) = s.retrain("work", &[]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(0), "{all}");
    assert_eq!(report["decision"], "deployed", "{all}");
    assert_eq!(report["reference"], "deployed");
    // The candidate beats the old model on B by more than the paired CI.
    let d = report["candidate_vs_reference"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metric"] == "bsld_mean")
        .unwrap()
        .clone();
    let (mean, half) = (d["mean"].as_f64().unwrap(), d["ci95"].as_f64().unwrap());
    assert!(
        mean < 0.0 && -mean > half,
        "candidate − deployed bsld {mean} ± {half}\n{all}"
    );
    assert_eq!(d["verdict"], "better");
    // Installed atomically, the old model kept beside it.
    let new = std::fs::read(&model).unwrap();
    assert_ne!(new, old);
    assert_eq!(
        std::fs::read(s.path("m/model.safetensors.prev")).unwrap(),
        old
    );
    let m = policy::Model::load(&model).unwrap();
    assert_eq!(
        m.training["workload"]["jobs"], 900,
        "B's 1200 jobs minus the 25% held back"
    );
    assert!(
        m.training["retrain"]["mode"]
            .as_str()
            .unwrap()
            .starts_with("fine-tuned")
    );
    // The report shows B's drift from A: the GPU mix and the run times moved.
    assert_eq!(report["drift"]["known"], true);
    let drifted: Vec<&str> = report["drift"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["drifted"] == true)
        .map(|r| r["feature"].as_str().unwrap())
        .collect();
    for f in ["gpu_mix[1]", "gpu_mix[9-16]", "run_time_s (median)"] {
        assert!(drifted.contains(&f), "{f} not flagged: {drifted:?}");
    }
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("## Decision: deployed"), "{md}");
    assert!(md.contains("## Workload drift since the last training"));
    let run_dir = std::fs::read_dir(s.path("work"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for f in [
        "report.md",
        "report.png",
        "history.jsonl",
        "candidate.safetensors",
    ] {
        assert!(run_dir.join(f).is_file(), "{f} missing");
    }

    // Rollback puts the old model back, and a second one rolls forward.
    let o = run(
        &["rollback", "--model", "{}", "--no-reconfigure"],
        &[&model],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&model).unwrap(), old);
    let o = run(
        &["rollback", "--model", "{}", "--no-reconfigure"],
        &[&model],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read(&model).unwrap(), new);
}

/// A linear model scoring `−log_time_limit` (shortest limit first).
fn sjf_model() -> policy::Model {
    use policy::features::{FEATURE_NAMES, FeatureSpec, N_FEATURES};
    use policy::nn::{Activation, Architecture, Linear, Mlp};
    let mut weight = vec![0.0f32; N_FEATURES];
    weight[FEATURE_NAMES
        .iter()
        .position(|n| *n == "log_time_limit")
        .unwrap()] = -1.0;
    let arch = Architecture {
        inputs: N_FEATURES,
        hidden: vec![],
        activation: Activation::Relu,
    };
    let layer = Linear {
        inputs: N_FEATURES,
        outputs: 1,
        weight,
        bias: vec![0.0],
    };
    policy::Model::new(
        Mlp::new(arch, vec![layer]).unwrap(),
        FeatureSpec::current_identity(),
        "test: shortest time limit first".into(),
        serde_json::json!({}),
        "2026-01-01T00:00:00Z".into(),
    )
    .unwrap()
}

#[test]
fn retrain_gate_refuses_a_sabotaged_candidate() {
    let s = Setup::new();
    let model = s.path("m/model.safetensors");
    // The deployed model: shortest time limit first, which suits B well.
    sjf_model().save(&model).unwrap();
    let old = std::fs::read(&model).unwrap();
    // A candidate trained on B (from scratch: a linear model has no hidden
    // layer to fine-tune), with its scores negated.
    let (o, report) = s.retrain("work", &["--sabotage-reverse-score"]);
    let all = text(&o);
    assert_eq!(o.status.code(), Some(3), "{all}");
    assert_eq!(report["decision"], "kept");
    assert_eq!(report["gate_passed"], false);
    assert!(
        report["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("FAIL objective bsld_mean"),
        "{all}"
    );
    // Significantly worse than the deployed model, and nothing changed.
    let d = report["candidate_vs_reference"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["metric"] == "bsld_mean")
        .unwrap()
        .clone();
    assert_eq!(d["verdict"], "worse", "{all}");
    assert_eq!(std::fs::read(&model).unwrap(), old);
    assert!(!s.path("m/model.safetensors.prev").exists());

    // A failed run (too few held-back jobs for one window) changes nothing.
    let o = run(
        &[
            "retrain",
            "--model",
            "{}",
            "--trace",
            "{}",
            "--slurm-conf",
            "{}",
            "--work-dir",
            "{}",
            "--no-reconfigure",
            "--eval-jobs",
            "5000",
        ],
        &[
            &model,
            &s.path("B.jsonl"),
            &s.path("cluster.toml"),
            &s.path("work-fail"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("fewer than --eval-jobs 5000"));
    assert_eq!(std::fs::read(&model).unwrap(), old);
    assert!(!s.path("m/model.safetensors.prev").exists());
}

#[test]
fn retrain_is_locked_against_a_concurrent_run() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model.safetensors");
    let lock = std::fs::File::create(dir.path().join("model.safetensors.lock")).unwrap();
    lock.try_lock().unwrap();
    let retrain = || {
        run(
            &[
                "retrain",
                "--model",
                "{}",
                "--trace",
                "{}",
                "--work-dir",
                "{}",
            ],
            &[
                &model,
                Path::new("/nonexistent.jsonl"),
                &dir.path().join("w"),
            ],
        )
    };
    let o = retrain();
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds"));
    assert!(!dir.path().join("w").exists(), "a busy run does nothing");
    drop(lock);
    // Unlocked, the same run proceeds (and fails on the missing trace: 1).
    let o = retrain();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!model.exists());
}
