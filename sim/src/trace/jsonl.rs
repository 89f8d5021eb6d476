//! The normalized trace format (JSON Lines), API contract; the trace-io
//! owner fills in the bodies.

use super::{ReadReport, Strictness, Trace, TraceError};
use std::path::Path;

/// Format name in the header line.
pub const FORMAT: &str = "slurm-rl-trace";
/// Current schema version.
pub const VERSION: u32 = 1;

/// Writes `trace` to `path` atomically.
pub fn write(path: &Path, trace: &Trace) -> Result<(), TraceError> {
    let _ = (path, trace);
    Err(TraceError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other("jsonl writer not built yet"),
    })
}

/// Reads a normalized trace.
pub fn read(path: &Path, strictness: Strictness) -> Result<(Trace, ReadReport), TraceError> {
    let _ = strictness;
    Err(TraceError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other("jsonl reader not built yet"),
    })
}
