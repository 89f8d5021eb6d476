//! Integration tests of the model file (`policy::model`) and the learned
//! policy: save/load round trip, one test per error variant, a truncation
//! and bit-flip test that proves loading never panics, the `Policy`
//! adapter, and (ignored unless Python's `safetensors` is installed) a check
//! that `scripts/check-model.py` reads the file and computes the same scores.
//!
//! These tests build files only through the public API and the
//! `safetensors` crate; they must not reach into private items.

use std::borrow::Cow;
use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use policy::features::{FEATURE_NAMES, FeatureSpec, N_FEATURES, Normalizer, features_array};
use policy::model::{FORMAT_VERSION, bias_name, keys, weight_name};
use policy::nn::{Activation, Architecture};
use policy::{JobObs, LearnedPolicy, Model, ModelError, Policy, QueueContext, Rescore};
use safetensors::{Dtype, SafeTensors, View};

fn job(i: u64) -> JobObs {
    JobObs {
        id: i,
        submit: 1_700_000_000 + i * 37,
        wait: (i * 977) % 86_400,
        time_limit: 60 + (i * 7919) % 172_800,
        nodes: 1 + (i % 4) as u32,
        cpus: 1 + (i * 13 % 256) as u32,
        mem_mb: 1024 * (1 + i % 64),
        gpus: (i % 9) as u32,
        fits_now: i.is_multiple_of(3),
        partition_tier: (i % 2) as u32,
        qos: (i % 5) as f64 / 4.0,
        fairshare: 1.0 / (1.0 + (i % 7) as f64),
        multifactor: (i * 1000 % 50_000) as f64,
    }
}

fn ctx() -> QueueContext {
    QueueContext {
        now: 1_700_100_000,
        free_cpus: 300,
        total_cpus: 2048,
        free_gpus: 5,
        total_gpus: 64,
        queue_len: 500,
        running: 120,
    }
}

/// A model with a normalizer fitted on synthetic jobs.
fn model(seed: u64) -> Model {
    let rows: Vec<Vec<f32>> = (0..500)
        .map(|i| features_array(&job(i), &ctx()).to_vec())
        .collect();
    let spec = FeatureSpec::current(Normalizer::fit(&rows).unwrap());
    let mut m = Model::random(Architecture::default_for(N_FEATURES), spec, seed).unwrap();
    m.reward = "-mean_bsld".into();
    m.training = serde_json::json!({"trace": "lublin_256.swf", "updates": 3});
    m.created = "2026-11-26T23:00:00Z".into();
    m
}

/// An editable copy of a safetensors file: metadata and raw tensors.
struct Raw {
    meta: HashMap<String, String>,
    tensors: Vec<(String, RawTensor)>,
}

struct RawTensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &RawTensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

impl Raw {
    fn of(bytes: &[u8]) -> Raw {
        let st = SafeTensors::deserialize(bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(bytes).unwrap();
        let tensors = st
            .tensors()
            .into_iter()
            .map(|(n, t)| {
                (
                    n,
                    RawTensor {
                        dtype: t.dtype(),
                        shape: t.shape().to_vec(),
                        bytes: t.data().to_vec(),
                    },
                )
            })
            .collect();
        Raw {
            meta: header.metadata().clone().unwrap(),
            tensors,
        }
    }

    fn valid() -> Raw {
        Raw::of(&model(1).to_bytes().unwrap())
    }

    fn tensor(&mut self, name: &str) -> &mut RawTensor {
        &mut self.tensors.iter_mut().find(|(n, _)| n == name).unwrap().1
    }

    fn bytes(&self) -> Vec<u8> {
        safetensors::serialize(
            self.tensors.iter().map(|(n, t)| (n.as_str(), t)),
            Some(self.meta.clone()),
        )
        .unwrap()
    }

    fn load(&self) -> Result<Model, ModelError> {
        Model::from_bytes(&self.bytes())
    }
}

#[test]
fn save_load_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let m = model(42);
    m.save(&path).unwrap();
    let back = Model::load(&path).unwrap();
    assert_eq!(back, m);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "the temporary file was renamed away");
    let (mut s1, mut s2) = (m.scratch(), back.scratch());
    for i in 0..50 {
        assert_eq!(
            m.score_job(&job(i), &ctx(), &mut s1),
            back.score_job(&job(i), &ctx(), &mut s2)
        );
    }
    // The optional max-wait guard round-trips, and a model without one
    // has no `max_wait` key.
    assert_eq!(back.max_wait, None);
    let guarded = m.clone().with_max_wait(Some(2 * 86_400));
    guarded.save(&path).unwrap();
    assert_eq!(Model::load(&path).unwrap().max_wait, Some(2 * 86_400));
    assert_eq!(
        m.clone().with_max_wait(Some(0)).max_wait,
        None,
        "0 is no guard"
    );
    // Overwriting an existing file is atomic too and yields the new model.
    let other = model(43);
    other.save(&path).unwrap();
    assert_eq!(Model::load(&path).unwrap(), other);
}

#[test]
fn metadata_and_tensor_names_follow_the_spec() {
    let raw = Raw::valid();
    assert_eq!(raw.meta[keys::FORMAT], "slurm-rl-model");
    assert_eq!(raw.meta[keys::FORMAT_VERSION], FORMAT_VERSION.to_string());
    let arch: serde_json::Value = serde_json::from_str(&raw.meta[keys::ARCHITECTURE]).unwrap();
    assert_eq!(
        arch,
        serde_json::json!({"inputs": 20, "hidden": [32, 16, 8], "activation": "relu"})
    );
    let spec: serde_json::Value = serde_json::from_str(&raw.meta[keys::FEATURES]).unwrap();
    assert_eq!(spec["names"].as_array().unwrap().len(), N_FEATURES);
    assert_eq!(spec["names"][0], FEATURE_NAMES[0]);
    let mut names: Vec<(&str, &[usize])> = raw
        .tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.shape.as_slice()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("actor/l1/bias", &[32][..]),
            ("actor/l1/weight", &[32, 20][..]),
            ("actor/l2/bias", &[16][..]),
            ("actor/l2/weight", &[16, 32][..]),
            ("actor/l3/bias", &[8][..]),
            ("actor/l3/weight", &[8, 16][..]),
            ("actor/l4/bias", &[1][..]),
            ("actor/l4/weight", &[1, 8][..]),
        ]
    );
    // Weights are stored [out, in] row-major, as PyTorch's nn.Linear.
    let m = model(1);
    let w = &raw
        .tensors
        .iter()
        .find(|(n, _)| n == "actor/l1/weight")
        .unwrap()
        .1
        .bytes;
    let first_row_second = f32::from_le_bytes(w[4..8].try_into().unwrap());
    assert_eq!(first_row_second, m.mlp().layers()[0].weight[1]);
}

#[test]
fn tanh_and_other_widths_round_trip() {
    let arch = Architecture {
        inputs: N_FEATURES,
        hidden: vec![5],
        activation: Activation::Tanh,
    };
    let m = Model::random(arch, FeatureSpec::current_identity(), 9).unwrap();
    assert_eq!(Model::from_bytes(&m.to_bytes().unwrap()).unwrap(), m);
}

#[test]
fn error_io() {
    let e = Model::load("/nonexistent/dir/model.safetensors").unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/dir/model.safetensors"));
}

#[test]
fn error_not_safetensors() {
    for bytes in [
        &b""[..],
        b"hello world",
        b"\x40\0\0\0\0\0\0\0{}",
        b"\x02\0\0\0\0\0\0\0[]",
    ] {
        let e = Model::from_bytes(bytes).unwrap_err();
        assert!(matches!(e, ModelError::NotSafetensors(_)), "{e}");
    }
}

#[test]
fn error_missing_metadata() {
    for key in [
        keys::FORMAT,
        keys::FORMAT_VERSION,
        keys::ARCHITECTURE,
        keys::FEATURES,
        keys::REWARD,
        keys::TRAINING,
        keys::CREATED,
    ] {
        let mut raw = Raw::valid();
        raw.meta.remove(key);
        match raw.load() {
            Err(ModelError::MissingMetadata(k)) => assert_eq!(k, key),
            other => panic!("removing {key}: {other:?}"),
        }
    }
    // No __metadata__ at all.
    let raw = Raw::valid();
    let bare =
        safetensors::serialize(raw.tensors.iter().map(|(n, t)| (n.as_str(), t)), None).unwrap();
    assert!(
        matches!(Model::from_bytes(&bare), Err(ModelError::MissingMetadata(k)) if k == "format")
    );
}

#[test]
fn error_bad_metadata() {
    let cases: [(&str, &str); 11] = [
        (keys::MAX_WAIT, "2d"),
        (keys::MAX_WAIT, "0"),
        (keys::MAX_WAIT, "-5"),
        (keys::FORMAT, "pytorch"),
        (keys::FORMAT_VERSION, "one"),
        (keys::ARCHITECTURE, "{not json"),
        (
            keys::ARCHITECTURE,
            r#"{"inputs":20,"hidden":[0],"activation":"relu"}"#,
        ),
        (
            keys::ARCHITECTURE,
            r#"{"inputs":20,"hidden":[4],"activation":"gelu"}"#,
        ),
        (keys::FEATURES, "[]"),
        (keys::TRAINING, "not json"),
        (keys::REWARD, "  "),
    ];
    for (key, value) in cases {
        let mut raw = Raw::valid();
        raw.meta.insert(key.into(), value.into());
        match raw.load() {
            Err(ModelError::BadMetadata { key: k, message }) => {
                assert_eq!(k, key, "{message}");
                assert!(!message.is_empty());
            }
            other => panic!("{key} = {value}: {other:?}"),
        }
    }
    // Normalizer with a zero std.
    let mut raw = Raw::valid();
    let mut spec: FeatureSpec = serde_json::from_str(&raw.meta[keys::FEATURES]).unwrap();
    spec.normalizer.std[3] = 0.0;
    raw.meta
        .insert(keys::FEATURES.into(), serde_json::to_string(&spec).unwrap());
    assert!(
        matches!(raw.load(), Err(ModelError::BadMetadata { key, .. }) if key == keys::FEATURES)
    );
}

#[test]
fn error_version_mismatch() {
    let mut raw = Raw::valid();
    raw.meta.insert(
        keys::FORMAT_VERSION.into(),
        (FORMAT_VERSION + 1).to_string(),
    );
    match raw.load() {
        Err(ModelError::VersionMismatch { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_feature_mismatch() {
    let edits: [fn(&mut FeatureSpec); 3] = [
        |s| s.names[4] = "cpu_fraction".into(),
        |s| s.version += 1,
        |s| {
            s.names.pop();
            s.normalizer.mean.pop();
            s.normalizer.std.pop();
        },
    ];
    for edit in edits {
        let mut raw = Raw::valid();
        let mut spec: FeatureSpec = serde_json::from_str(&raw.meta[keys::FEATURES]).unwrap();
        edit(&mut spec);
        raw.meta
            .insert(keys::FEATURES.into(), serde_json::to_string(&spec).unwrap());
        let e = raw.load().unwrap_err();
        assert!(matches!(e, ModelError::FeatureMismatch { .. }), "{e}");
    }
}

#[test]
fn error_missing_tensor() {
    let mut raw = Raw::valid();
    raw.tensors.retain(|(n, _)| *n != bias_name(2));
    assert!(matches!(raw.load(), Err(ModelError::MissingTensor(n)) if n == "actor/l2/bias"));
}

#[test]
fn error_unexpected_tensor() {
    let mut raw = Raw::valid();
    raw.tensors.push((
        weight_name(5),
        RawTensor {
            dtype: Dtype::F32,
            shape: vec![1, 1],
            bytes: 1f32.to_le_bytes().to_vec(),
        },
    ));
    assert!(matches!(raw.load(), Err(ModelError::UnexpectedTensor(n)) if n == "actor/l5/weight"));
    // Tensors outside `actor/` (a critic, say) are allowed and ignored.
    let mut raw = Raw::valid();
    raw.tensors.push((
        "critic/l1/weight".into(),
        RawTensor {
            dtype: Dtype::F32,
            shape: vec![1],
            bytes: 1f32.to_le_bytes().to_vec(),
        },
    ));
    assert_eq!(raw.load().unwrap(), model(1));
}

#[test]
fn error_shape_mismatch() {
    let mut raw = Raw::valid();
    raw.tensor("actor/l1/weight").shape = vec![20, 32]; // transposed: same size
    match raw.load() {
        Err(ModelError::ShapeMismatch {
            name,
            expected,
            found,
        }) => {
            assert_eq!(name, "actor/l1/weight");
            assert_eq!((expected, found), (vec![32, 20], vec![20, 32]));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_dtype() {
    let mut raw = Raw::valid();
    let t = raw.tensor("actor/l3/bias");
    t.dtype = Dtype::F64;
    t.bytes = vec![0; 8 * 8];
    match raw.load() {
        Err(ModelError::DType { name, found }) => {
            assert_eq!((name.as_str(), found.as_str()), ("actor/l3/bias", "F64"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_non_finite() {
    for bad in [f32::NAN, f32::INFINITY] {
        let mut raw = Raw::valid();
        raw.tensor("actor/l2/weight").bytes[8..12].copy_from_slice(&bad.to_le_bytes());
        assert!(
            matches!(raw.load(), Err(ModelError::NonFinite { name }) if name == "actor/l2/weight")
        );
    }
}

/// SplitMix64, so the corruption below is reproducible.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn truncated_or_corrupted_files_never_panic() {
    let good = model(7).to_bytes().unwrap();
    let header_len = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Every truncation is an error, never a panic.
    for len in 0..good.len() {
        let r = catch_unwind(AssertUnwindSafe(|| Model::from_bytes(&good[..len])));
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(_)) => panic!("truncated to {len} bytes yet loaded"),
            Err(_) => panic!("panicked on a file truncated to {len} bytes"),
        }
    }
    // Seeded random corruption: 1–4 flipped bytes per try, half of the tries
    // aimed at the JSON header. Any outcome but a panic is acceptable.
    let mut rng = 0x5EED_u64;
    let (mut ok, mut err) = (0, 0);
    for _ in 0..4000 {
        let mut bad = good.clone();
        let flips = 1 + splitmix(&mut rng) % 4;
        for _ in 0..flips {
            let r = splitmix(&mut rng);
            let pos = if r.is_multiple_of(2) {
                (r >> 1) as usize % header_len
            } else {
                (r >> 1) as usize % bad.len()
            };
            bad[pos] ^= 1 << (splitmix(&mut rng) % 8);
        }
        match catch_unwind(AssertUnwindSafe(|| Model::from_bytes(&bad))) {
            Ok(Ok(m)) => {
                // A model that loads must also score without panicking.
                let mut s = m.scratch();
                assert!(
                    catch_unwind(AssertUnwindSafe(|| m.score_job(&job(1), &ctx(), &mut s))).is_ok()
                );
                ok += 1;
            }
            Ok(Err(_)) => err += 1,
            Err(_) => panic!("panicked on corrupted bytes"),
        }
    }
    assert!(
        err > 0 && ok > 0,
        "corruption should hit both header (errors) and data (loads): {ok} ok, {err} err"
    );
}

#[test]
fn learned_policy_scores_are_the_model_outputs() {
    let m = model(3);
    let mut p = LearnedPolicy::new(m.clone());
    assert_eq!(p.name(), "learned");
    assert_eq!(p.rescore(), Rescore::SubmitAndPeriod);
    let jobs: Vec<JobObs> = (0..100).map(job).collect();
    let mut out = vec![0.0f64; jobs.len()];
    p.score(&ctx(), &jobs, &mut out);
    let mut s = m.scratch();
    for (j, o) in jobs.iter().zip(&out) {
        assert_eq!(*o, m.score_job(j, &ctx(), &mut s) as f64);
    }
    assert!(out.iter().any(|&o| o != out[0]), "scores depend on the job");
    // Permutation invariance: reversed jobs give reversed scores.
    let rev: Vec<JobObs> = jobs.iter().rev().copied().collect();
    let mut out_rev = vec![0.0f64; jobs.len()];
    p.score(&ctx(), &rev, &mut out_rev);
    out_rev.reverse();
    assert_eq!(out, out_rev);
    // Mismatched lengths: the common prefix is written, nothing panics.
    let mut short = vec![f64::NAN; 3];
    p.score(&ctx(), &jobs, &mut short);
    assert_eq!(short, out[..3]);
    let mut p = p.with_name("rl-v1").with_rescore(Rescore::EveryPass);
    assert_eq!((p.name(), p.rescore()), ("rl-v1", Rescore::EveryPass));
    p.score(&ctx(), &[], &mut []);
}

/// The max-wait guard: a job that has waited `max_wait` outranks every job
/// that has not, whatever the model says, and guarded jobs go oldest first;
/// `with_max_wait(None)` gives the model's scores back.
#[test]
fn learned_policy_applies_the_max_wait_guard() {
    let m = model(3).with_max_wait(Some(86_400));
    let mut jobs: Vec<JobObs> = (0..100).map(job).collect();
    jobs[10].wait = 86_400;
    jobs[20].wait = 86_400 + 1;
    jobs[30].wait = 3 * 86_400;
    let mut p = LearnedPolicy::new(m.clone());
    assert_eq!(p.max_wait(), Some(86_400));
    let mut out = vec![0.0f64; jobs.len()];
    p.score(&ctx(), &jobs, &mut out);
    let best_unguarded = out
        .iter()
        .enumerate()
        .filter(|(i, _)| ![10, 20, 30].contains(i))
        .map(|(_, &o)| o)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(out[10] > best_unguarded && f64::from(f32::MAX) < out[10]);
    assert!(
        out[30] > out[20] && out[20] > out[10],
        "oldest first, by the second"
    );
    let mut s = m.scratch();
    assert_eq!(out[11], m.score_job(&jobs[11], &ctx(), &mut s) as f64);
    // A model that records no guard runs with the plugin's default.
    assert_eq!(
        LearnedPolicy::new(model(3)).max_wait(),
        Some(policy::learned::DEFAULT_MAX_WAIT)
    );
    let mut off = LearnedPolicy::new(m.clone()).with_max_wait(None);
    off.score(&ctx(), &jobs, &mut out);
    assert_eq!(out[30], m.score_job(&jobs[30], &ctx(), &mut s) as f64);
    assert_eq!(
        policy::learned::guard_score(u64::MAX, Some(1)).map(f64::is_finite),
        Some(true)
    );
    assert_eq!(policy::learned::parse_duration("2d"), Some(172_800));
    assert_eq!(policy::learned::parse_duration("90"), Some(90));
    assert_eq!(policy::learned::parse_duration("3w"), None);
}

#[test]
fn learned_policy_loads_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model(5).save(&path).unwrap();
    let p = LearnedPolicy::load(&path).unwrap();
    assert_eq!(p.model(), &model(5));
    std::fs::write(&path, b"garbage").unwrap();
    let e = LearnedPolicy::load(&path).unwrap_err();
    assert!(matches!(e.kind(), ModelError::NotSafetensors(_)));
}

/// Runs `scripts/check-model.py` (Python's standard `safetensors` library,
/// numpy) on a model written here, and checks that Python sees the same
/// metadata and tensor shapes and computes the same scores from the same
/// raw features. Python is `$SLURM_RL_PYTHON` or `python3`.
#[test]
#[ignore = "needs python3 with safetensors and numpy (scripts/test installs them)"]
fn python_reads_model_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let m = model(11);
    m.save(&path).unwrap();
    let jobs: Vec<JobObs> = (0..64).map(job).collect();
    let raw: Vec<Vec<f32>> = jobs
        .iter()
        .map(|j| features_array(j, &ctx()).to_vec())
        .collect();
    let input = dir.path().join("raw.json");
    std::fs::write(&input, serde_json::to_string(&raw).unwrap()).unwrap();
    let python = std::env::var("SLURM_RL_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/check-model.py");
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg("--json")
        .arg("--forward")
        .arg(&input)
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{python} {script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["metadata"]["format"], "slurm-rl-model");
    assert_eq!(report["metadata"]["reward"], "-mean_bsld");
    assert_eq!(
        report["tensors"]["actor/l1/weight"]["shape"],
        serde_json::json!([32, 20])
    );
    assert_eq!(report["tensors"]["actor/l4/bias"]["dtype"], "float32");
    let scores = report["scores"].as_array().unwrap();
    assert_eq!(scores.len(), jobs.len());
    let mut s = m.scratch();
    for (j, py) in jobs.iter().zip(scores) {
        let rust = m.score_job(j, &ctx(), &mut s) as f64;
        let py = py.as_f64().unwrap();
        assert!(
            (rust - py).abs() <= 1e-4 * rust.abs().max(1.0),
            "rust {rust} vs python {py}"
        );
    }
}
