//! Integration tests of site_factor/rl without Slurm: fabricated 22.05 job
//! records (bindgen'd `#[repr(C)]` types) go through `JobView` to
//! `JobObs`, whose features must equal those of the same job built the way
//! the simulator builds it; and the update logic (`imp::plan`) scores a
//! fabricated queue in the model's order. The exported-symbol check on the
//! built `.so` is `exported_symbols` (needs `cargo build --release`).
//!
//! These tests must not call anything that resolves to slurmctld or
//! libslurmfull (the log, `job_list`, `slurm_conf`): they link without them.

use policy::features::{FeatureSpec, N_FEATURES, features_array};
use policy::nn::Architecture;
use policy::{JobObs, Model, QueueContext};
use site_factor_rl::fabricate::{Job, Spec};
use site_factor_rl::factor::NICE_OFFSET;
use site_factor_rl::host::TestHost;
use site_factor_rl::imp::{self, Buffers, Totals};
use site_factor_rl::slurm::{JobView, UNLIMITED_SECS, Weights};
use site_factor_rl::state::State;
use site_factor_rl::sys::{INFINITE, NO_VAL, job_states};

const NOW: u64 = 1_700_010_000;
const W: Weights = Weights {
    fs: 10_000,
    qos: 1000,
};

fn view(j: &Job) -> JobView<'_> {
    // SAFETY: the fabricated record and its nested records live as long as `j`.
    unsafe { JobView::from_raw(j.ptr()) }.expect("non-null record")
}

fn ctx() -> QueueContext {
    QueueContext {
        now: NOW,
        free_cpus: 96,
        total_cpus: 512,
        free_gpus: 4,
        total_gpus: 32,
        queue_len: 40,
        running: 12,
    }
}

fn assert_same_features(got: &JobObs, want: &JobObs, c: &QueueContext) {
    assert_eq!(got, want, "JobObs differ");
    let (a, b) = (features_array(got, c), features_array(want, c));
    for k in 0..N_FEATURES {
        assert_eq!(
            a[k].to_bits(),
            b[k].to_bits(),
            "feature {}",
            policy::features::FEATURE_NAMES[k]
        );
    }
}

#[test]
fn fabricated_gpu_job_has_the_simulators_features() {
    // 2 nodes × 16 tasks, 4000 MB per CPU, 2 GPUs per node, 2 h limit,
    // eligible at begin (after submit), fairshare 0.25, QOS 0.5.
    let spec = Spec {
        id: 4242,
        submit: 1_700_000_000,
        begin: 1_700_000_600,
        time_limit_min: 120,
        min_cpus: 32,
        min_nodes: 2,
        num_tasks: 32,
        mem_per_cpu_mb: Some(4000),
        tres_per_node: Some("gres:gpu:2".into()),
        partition: Some((3, NO_VAL, INFINITE)),
        factors: Some([500.0, 0.25 * 10_000.0, 20.0, 0.0, 0.5 * 1000.0]),
        ..Spec::default()
    };
    let job = Job::new(&spec);
    let c = ctx();
    let got = view(&job).obs(NOW, &W, &c);
    // The same job as the simulator's engine builds it (engine::sim::observe).
    let want = JobObs {
        id: 4242,
        submit: 1_700_000_000,
        wait: NOW - 1_700_000_600,
        time_limit: 120 * 60,
        nodes: 2,
        cpus: 32,
        mem_mb: 32 * 4000,
        gpus: 4,
        fits_now: true, // 32 <= 96 free CPUs, 4 <= 4 free GPUs
        partition_tier: 3,
        qos: 0.5,
        fairshare: 0.25,
        multifactor: (500.0f64 + 2500.0 + 20.0 + 500.0).floor(),
    };
    assert_same_features(&got, &want, &c);
}

#[test]
fn defaults_and_units_of_a_cpu_job() {
    // No --time (partition DefaultTime 30 min), memory per node, 5 GPUs per
    // job, no cached factors yet (a new job), not eligible until later.
    let spec = Spec {
        id: 7,
        submit: 1_700_009_000,
        begin: 1_700_020_000,
        time_limit_min: NO_VAL,
        min_cpus: 200,
        min_nodes: 4,
        mem_per_node_mb: 1000,
        tres_per_job: Some("gres:gpu:a100:5".into()),
        partition: Some((1, 30, 600)),
        ..Spec::default()
    };
    let job = Job::new(&spec);
    let c = ctx();
    let want = JobObs {
        id: 7,
        submit: 1_700_009_000,
        wait: 0,
        time_limit: 30 * 60,
        nodes: 4,
        cpus: 200,
        mem_mb: 4 * 1000,
        gpus: 5,
        fits_now: false,
        partition_tier: 1,
        qos: 0.0,
        fairshare: 1.0,
        multifactor: 0.0,
    };
    assert_same_features(&view(&job).obs(NOW, &W, &c), &want, &c);

    // Partition without DefaultTime: its MaxTime; unlimited job: one year.
    let j2 = Job::new(&Spec {
        time_limit_min: NO_VAL,
        partition: Some((1, NO_VAL, 600)),
        ..Spec::default()
    });
    assert_eq!(view(&j2).time_limit_secs(), 600 * 60);
    let j3 = Job::new(&Spec {
        time_limit_min: INFINITE,
        ..Spec::default()
    });
    assert_eq!(view(&j3).time_limit_secs(), UNLIMITED_SECS);
}

#[test]
fn null_nested_pointers_give_safe_defaults() {
    let job = Job::new(&Spec {
        has_details: false,
        partition: None,
        factors: None,
        time_limit_min: NO_VAL,
        ..Spec::default()
    });
    let v = view(&job);
    let o = v.obs(NOW, &W, &ctx());
    assert_eq!(o.nodes, 1);
    assert_eq!(o.cpus, 1);
    assert_eq!(o.mem_mb, 0);
    assert_eq!(o.gpus, 0);
    assert_eq!(o.submit, 0);
    assert_eq!(o.partition_tier, 0);
    assert_eq!(o.time_limit, UNLIMITED_SECS);
    assert_eq!((o.qos, o.fairshare, o.multifactor), (0.0, 1.0, 0.0));
    assert!(features_array(&o, &ctx()).iter().all(|f| f.is_finite()));
    // SAFETY: null is explicitly allowed.
    assert!(unsafe { JobView::from_raw(std::ptr::null()) }.is_none());
}

#[test]
fn weights_of_zero_do_not_divide_by_zero() {
    let job = Job::new(&Spec {
        factors: Some([1.0, 0.0, 0.0, 0.0, 0.0]),
        ..Spec::default()
    });
    let o = view(&job).obs(NOW, &Weights::default(), &ctx());
    assert_eq!((o.qos, o.fairshare, o.multifactor), (0.0, 1.0, 1.0));
}

fn model_state(dir: &std::path::Path, params: &str) -> State {
    guarded_model_state(dir, params, None)
}

/// [`model_state`] with a model that records the max-wait guard `max_wait`.
fn guarded_model_state(dir: &std::path::Path, params: &str, max_wait: Option<u64>) -> State {
    let m = Model::random(
        Architecture::default_for(N_FEATURES),
        FeatureSpec::current_identity(),
        11,
    )
    .unwrap()
    .with_max_wait(max_wait);
    let p = dir.join("rl.safetensors");
    m.save(&p).unwrap();
    let h = TestHost::default();
    let s = State::build(&h, Some(&format!("model={} {params}", p.display())));
    assert!(!s.is_neutral(), "{:?}", h.log);
    s
}

/// A queue of pending jobs of varied shape plus running jobs.
fn queue() -> Vec<Job> {
    let mut jobs: Vec<Job> = (0..60u32)
        .map(|i| {
            Job::new(&Spec {
                id: 100 + i,
                submit: 1_700_000_000 + i as i64 * 97,
                begin: 0,
                time_limit_min: 10 + (i * 37) % 600,
                min_cpus: 1 + (i * 13) % 128,
                min_nodes: 1 + i % 4,
                mem_per_cpu_mb: Some(1000 + (i as u64 * 311) % 8000),
                tres_per_node: (i % 5 == 0).then(|| "gres:gpu:1".into()),
                factors: Some([i as f64, 5000.0 / (1 + i % 3) as f64, 0.0, 0.0, 0.0]),
                ..Spec::default()
            })
        })
        .collect();
    for i in 0..5u32 {
        jobs.push(Job::new(&Spec {
            id: 10 + i,
            state: job_states::JOB_RUNNING,
            total_cpus: 64,
            tres_per_node: Some("gres:gpu:2".into()),
            ..Spec::default()
        }));
    }
    jobs
}

#[test]
fn plan_scores_pending_jobs_in_model_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = model_state(dir.path(), "max_wait=0");
    let jobs = queue();
    let views: Vec<JobView<'_>> = jobs.iter().map(view).collect();
    let mut buf = Buffers::default();
    let totals = Totals {
        cpus: 1024,
        gpus: 16,
    };
    let ctx = imp::plan(&state, &views, NOW, &W, totals, &mut buf);
    assert_eq!(ctx.queue_len, 60);
    assert_eq!(ctx.running, 5);
    assert_eq!(ctx.free_cpus, 1024 - 5 * 64);
    assert_eq!(ctx.free_gpus, 16 - 5 * 2);
    assert_eq!(buf.obs.len(), 60);
    assert!(buf.index.iter().all(|&i| views[i].is_pending()));
    let model = state.model.as_ref().unwrap();
    let mut scratch = model.scratch();
    let scores: Vec<f32> = buf
        .obs
        .iter()
        .map(|o| model.score_job(o, &ctx, &mut scratch))
        .collect();
    let distinct = {
        let mut s = scores.clone();
        s.sort_by(f32::total_cmp);
        s.dedup();
        s.len()
    };
    assert!(distinct > 50, "the model should separate the jobs");
    for a in 0..scores.len() {
        for b in 0..scores.len() {
            if scores[a] < scores[b] {
                assert!(buf.factors[a] < buf.factors[b], "jobs {a},{b}");
            }
        }
        assert!(buf.factors[a] >= NICE_OFFSET);
    }
}

#[test]
fn plan_guard_lifts_long_waiting_jobs_above_all_others() {
    let dir = tempfile::tempdir().unwrap();
    // Jobs were submitted 1_700_000_000 + i*97 with NOW 10_000 s later: the
    // first ~31 have waited at least 7000 s.
    // The guard set by the parameter, or recorded in the model file.
    for state in [
        model_state(dir.path(), "max_wait=7000"),
        guarded_model_state(dir.path(), "", Some(7000)),
    ] {
        assert_eq!(state.max_wait, Some(7000));
        guard_lifts_jobs_past(&state, 7000);
    }
    // Neither: the default, seven days.
    assert_eq!(model_state(dir.path(), "").max_wait, Some(7 * 24 * 3600));
}

fn guard_lifts_jobs_past(state: &State, max_wait: u64) {
    let jobs = queue();
    let views: Vec<JobView<'_>> = jobs.iter().map(view).collect();
    let mut buf = Buffers::default();
    imp::plan(
        state,
        &views,
        NOW,
        &W,
        Totals {
            cpus: 1024,
            gpus: 16,
        },
        &mut buf,
    );
    let (old, young): (Vec<_>, Vec<_>) = buf
        .obs
        .iter()
        .zip(&buf.factors)
        .partition(|(o, _)| o.wait >= max_wait);
    assert!(!old.is_empty() && !young.is_empty());
    let min_old = old.iter().map(|(_, f)| **f).min().unwrap();
    let max_young = young.iter().map(|(_, f)| **f).max().unwrap();
    assert!(min_old > max_young);
    // Among guarded jobs, longer wait means higher factor.
    for a in &old {
        for b in &old {
            if a.0.wait > b.0.wait {
                assert!(a.1 > b.1);
            }
        }
    }
}

#[test]
fn neutral_state_gives_nice_offset_to_every_pending_job() {
    let h = TestHost::default();
    let state = State::build(&h, Some("max_wait=1"));
    let jobs = queue();
    let views: Vec<JobView<'_>> = jobs.iter().map(view).collect();
    let mut buf = Buffers::default();
    imp::plan(&state, &views, NOW, &W, Totals::default(), &mut buf);
    assert_eq!(buf.factors, vec![NICE_OFFSET; 60]);
}

/// Every symbol Slurm's loader needs is exported by the release `.so`
/// (`nm -D --defined-only`), and every symbol it needs from its host is one
/// that slurmctld or libslurmfull exports (Rust links with BIND_NOW, so an
/// unresolvable symbol makes the load fail). Run after
/// `cargo build --release -p slurm-plugin` (scripts/check-plugin-symbols
/// does both; `SLURM_RL_PLUGIN_SO` names another build's `.so`, which must
/// be for the same Slurm release as this test); fails, never skips, when
/// the library is missing.
#[test]
#[ignore = "needs target/release/libsite_factor_rl.so: run scripts/check-plugin-symbols"]
fn exported_symbols() {
    let so = std::env::var_os("SLURM_RL_PLUGIN_SO").map_or_else(
        || {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../target/release/libsite_factor_rl.so")
        },
        std::path::PathBuf::from,
    );
    assert!(so.is_file(), "{} not built", so.display());
    let nm = |flag: &str| -> Vec<(String, String)> {
        let out = std::process::Command::new("nm")
            .args(["-D", flag])
            .arg(&so)
            .output()
            .expect("nm (binutils) must be installed");
        assert!(out.status.success(), "nm {flag} failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                let n = f.len();
                (n >= 2).then(|| (f[n - 2].to_string(), f[n - 1].to_string()))
            })
            .collect()
    };
    let defined = nm("--defined-only");
    for sym in site_factor_rl::REQUIRED_SYMBOLS {
        assert!(
            defined.iter().any(|(_, n)| n == sym),
            "{sym} is not exported by {}",
            so.display()
        );
    }
    // No entry point of another release: 24.05+ has no
    // site_factor_p_reconfig, and Slurm would never call it.
    for (_, n) in &defined {
        assert!(
            !n.starts_with("site_factor_p_")
                || site_factor_rl::REQUIRED_SYMBOLS.contains(&n.as_str()),
            "{} exports {n}, which Slurm {} does not have",
            so.display(),
            site_factor_rl::version::SERIES
        );
    }
    // Symbols without a version come from the host process: they must be
    // among those slurmctld 22.05 (job_list, cluster_cpus) and libslurmfull
    // export (checked against Debian's slurmctld and
    // slurm-wlm-basic-plugins 22.05.8 with nm -D).
    let from_host: Vec<String> = nm("--undefined-only")
        .into_iter()
        .filter(|(kind, n)| kind == "U" && !n.contains('@'))
        .map(|(_, n)| n)
        .collect();
    for n in &from_host {
        assert!(
            site_factor_rl::HOST_SYMBOLS.contains(&n.as_str()),
            "{} needs `{n}`, which slurmctld/libslurmfull may not provide",
            so.display()
        );
    }
    assert!(from_host.iter().any(|n| n == "job_list"), "{from_host:?}");
}
