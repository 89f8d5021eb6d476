//! Writes a model file with reproducible random weights and this build's
//! features, for the plugin's load test (`tests/plugin_load.sh`).
//! Usage: `cargo run -p slurm-plugin --example write_random_model -- PATH [SEED]`.
//! Not a trained policy: only for exercising the plugin end to end.

use policy::Model;
use policy::features::{FeatureSpec, N_FEATURES};
use policy::nn::Architecture;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: write_random_model PATH [SEED]");
        std::process::exit(2);
    };
    let seed = match args.next().map(|s| s.parse::<u64>()) {
        None => 1,
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            eprintln!("write_random_model: SEED: {e}");
            std::process::exit(2);
        }
    };
    let r = Model::random(
        Architecture::default_for(N_FEATURES),
        FeatureSpec::current_identity(),
        seed,
    )
    .and_then(|m| m.save(&path));
    if let Err(e) = r {
        eprintln!("write_random_model: {path}: {e}");
        std::process::exit(1);
    }
}
