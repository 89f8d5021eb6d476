//! Reader for a real `slurm.conf` (+ `gres.conf` beside it), API contract;
//! the cluster owner fills in the bodies.

use super::{Cluster, ClusterError};
use std::path::Path;

/// Reads `slurm.conf` and, if present, the `gres.conf` in the same directory.
pub fn read(slurm_conf: &Path) -> Result<Cluster, ClusterError> {
    Err(ClusterError::Invalid(format!("{}: slurm.conf reader not built yet", slurm_conf.display())))
}
