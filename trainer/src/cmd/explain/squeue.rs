//! The live queue snapshot of `slurm-rl explain --squeue`.

use super::Snapshot;
use anyhow::{Result, bail};

/// Reads the pending queue from the running cluster.
pub(super) fn snapshot() -> Result<Snapshot> {
    bail!("--squeue is not available in this build yet; use --trace")
}
