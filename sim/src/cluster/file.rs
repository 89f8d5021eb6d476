//! slurm-rl's cluster file (TOML), API contract; the cluster owner fills in
//! the bodies.

use super::{Cluster, ClusterError};
use std::path::Path;

/// Reads a cluster TOML file.
pub fn read(path: &Path) -> Result<Cluster, ClusterError> {
    Err(ClusterError::Invalid(format!("{}: cluster file reader not built yet", path.display())))
}

/// Writes a cluster TOML file atomically.
pub fn write(path: &Path, cluster: &Cluster) -> Result<(), ClusterError> {
    let _ = cluster;
    Err(ClusterError::Invalid(format!("{}: cluster file writer not built yet", path.display())))
}
