//! A model whose order is known in advance, and the site factors the plugin
//! gives with it, for the slurmctld end-to-end test (`tests/e2e_plugin.sh`).
//! It writes a linear model (no hidden layer) that scores a job by one
//! feature times a weight, and prints the `sprio` SITE value
//! (`site_factor − NICE_OFFSET`) that the plugin's own code
//! ([`State::build`], [`State::factors`]) computes for a job, so the test
//! compares slurmctld against the plugin's logic rather than a copy of it.
//! Not a trained policy; it must not be used outside tests.
//!
//! Usage:
//!   e2e_model write PATH FEATURE WEIGHT [MAX_WAIT]
//!   e2e_model site PARAMS time_limit=S [cpus=N gpus=N nodes=N mem_mb=M wait=S]...
//!
//! `write` records MAX_WAIT (e.g. `30d`) as the model's max-wait guard.
//! `site` prints one line per job, in argument order; each job is one
//! argument of comma-separated `key=value` items. PARAMS is the
//! `PrioritySiteFactorParameters` string (with `model=PATH`).

use policy::features::{FEATURE_NAMES, FeatureSpec, N_FEATURES};
use policy::nn::{Activation, Architecture, Linear, Mlp};
use policy::{JobObs, Model, QueueContext};
use site_factor_rl::factor::NICE_OFFSET;
use site_factor_rl::host::{Level, TestHost};
use site_factor_rl::state::State;

fn die(msg: &str) -> ! {
    eprintln!("e2e_model: {msg}");
    std::process::exit(2);
}

fn write(path: &str, feature: &str, weight: &str, max_wait: Option<&str>) {
    let max_wait = max_wait.map(|v| {
        policy::learned::parse_duration(v)
            .filter(|&w| w > 0)
            .unwrap_or_else(|| die(&format!("MAX_WAIT '{v}': expected a positive duration")))
    });
    let Some(k) = FEATURE_NAMES.iter().position(|n| *n == feature) else {
        die(&format!(
            "unknown feature '{feature}'; expected one of {FEATURE_NAMES:?}"
        ));
    };
    let w: f32 = weight
        .parse()
        .unwrap_or_else(|e| die(&format!("WEIGHT '{weight}': {e}")));
    let mut weights = vec![0.0f32; N_FEATURES];
    weights[k] = w;
    let arch = Architecture {
        inputs: N_FEATURES,
        hidden: vec![],
        activation: Activation::Relu,
    };
    let layer = Linear {
        inputs: N_FEATURES,
        outputs: 1,
        weight: weights,
        bias: vec![0.0],
    };
    let mlp = Mlp::new(arch, vec![layer]).unwrap_or_else(|e| die(&e));
    let training = serde_json::json!({ "e2e_model": format!("{w} * {feature}") });
    let r = Model::new(
        mlp,
        FeatureSpec::current_identity(),
        "e2e-test".to_string(),
        training,
        "1970-01-01T00:00:00Z".to_string(),
    )
    .and_then(|m| m.with_max_wait(max_wait).save(path));
    if let Err(e) = r {
        die(&format!("{path}: {e}"));
    }
}

fn job(spec: &str) -> JobObs {
    let mut j = JobObs {
        nodes: 1,
        cpus: 1,
        fairshare: 1.0,
        ..JobObs::default()
    };
    for kv in spec.split(',').filter(|s| !s.is_empty()) {
        let Some((k, v)) = kv.split_once('=') else {
            die(&format!("job item '{kv}': expected key=value"));
        };
        let n: u64 = v
            .parse()
            .unwrap_or_else(|e| die(&format!("job item '{kv}': {e}")));
        match k {
            "time_limit" => j.time_limit = n,
            "cpus" => j.cpus = n as u32,
            "gpus" => j.gpus = n as u32,
            "nodes" => j.nodes = n as u32,
            "mem_mb" => j.mem_mb = n,
            "wait" => j.wait = n,
            _ => die(&format!(
                "job item '{kv}': unknown key; expected time_limit, cpus, gpus, nodes, mem_mb or wait"
            )),
        }
    }
    j
}

fn site(params: &str, jobs: &[String]) {
    let host = TestHost::new(0, Some(params));
    let state = State::build(&host, Some(params));
    for e in host.messages(Level::Error) {
        eprintln!("{e}");
    }
    if state.is_neutral() {
        die("the parameters give a neutral state (no usable model)");
    }
    let obs: Vec<JobObs> = jobs.iter().map(|s| job(s)).collect();
    let (mut scores, mut out) = (Vec::new(), Vec::new());
    state.factors(&QueueContext::default(), &obs, &mut scores, &mut out);
    for f in out {
        println!("{}", i64::from(f) - i64::from(NICE_OFFSET));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") if (4..=5).contains(&args.len()) => write(
            &args[1],
            &args[2],
            &args[3],
            args.get(4).map(String::as_str),
        ),
        Some("site") if args.len() >= 3 => site(&args[1], &args[2..]),
        _ => die(
            "usage: e2e_model write PATH FEATURE WEIGHT [MAX_WAIT] | e2e_model site PARAMS JOB... (JOB: time_limit=S,cpus=N,...)",
        ),
    }
}
