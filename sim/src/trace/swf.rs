//! Standard Workload Format reader, API contract; the SWF owner fills in
//! the bodies.

use super::{ReadReport, Strictness, Trace, TraceError};
use std::path::Path;

/// Options of the SWF reader.
#[derive(Debug, Clone, Default)]
pub struct SwfOptions {
    /// Strict or lenient.
    pub strictness: Strictness,
}

/// Reads an `.swf` or `.swf.gz` file. Header values land in `trace.meta.header`.
pub fn read(path: &Path, opts: &SwfOptions) -> Result<(Trace, ReadReport), TraceError> {
    let _ = opts;
    Err(TraceError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other("swf reader not built yet"),
    })
}
