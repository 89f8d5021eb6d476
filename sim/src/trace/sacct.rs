//! `sacct --parsable2` reader, API contract; the trace-io owner fills in
//! the bodies.

use super::{ReadReport, Strictness, Trace, TraceError};
use std::path::Path;

/// The `--format` fields slurm-rl asks sacct for, in order.
pub const FORMAT_FIELDS: &[&str] = &["JobID"];

/// Options of the sacct reader.
#[derive(Debug, Clone, Default)]
pub struct SacctOptions {
    /// Strict or lenient.
    pub strictness: Strictness,
}

/// Reads a `sacct --parsable2` dump.
pub fn read(path: &Path, opts: &SacctOptions) -> Result<(Trace, ReadReport), TraceError> {
    let _ = opts;
    Err(TraceError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other("sacct reader not built yet"),
    })
}
