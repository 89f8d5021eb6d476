//! Where the development traces live, for tests and benchmarks.
//!
//! The traces are not in the repository: they sit in `shared/traces/`
//! beside the checkout. `SLURM_RL_TRACES` overrides the location.

use std::path::PathBuf;

/// The directory holding the development traces.
///
/// # Panics
/// When the directory does not exist: tests that need the traces must fail
/// loudly rather than pass without them.
pub fn traces_dir() -> PathBuf {
    let dir = std::env::var_os("SLURM_RL_TRACES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/traces")));
    assert!(
        dir.is_dir(),
        "development traces not found at {}: check out shared/ beside the repository or set SLURM_RL_TRACES",
        dir.display()
    );
    dir
}

/// The path of one development trace, e.g. `trace("lublin_256.swf")`.
pub fn trace(name: &str) -> PathBuf {
    traces_dir().join(name)
}
