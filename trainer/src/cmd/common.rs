//! Loaders shared by the subcommands: traces by file type, clusters by file
//! type.
//!
//! This file only picks a reader and reports what it skipped; it must not
//! parse anything itself.

use anyhow::Context;
use sim::trace::{Strictness, Trace, jsonl, sacct, swf};
use std::path::Path;

/// Loads a trace, picking the reader by name and content: `.jsonl` (or a
/// file whose first byte is `{`) is slurm-rl's own format, `.swf` and
/// `.swf.gz` are SWF, anything else is read as a `sacct --parsable2` dump
/// (times in `$TZ`, or UTC). Bad lines are an error unless `lenient`, in
/// which case they are skipped with a warning.
#[allow(dead_code, reason = "used by simulate and evaluate")]
pub fn load_trace(path: &Path, lenient: bool) -> anyhow::Result<Trace> {
    let strictness = if lenient {
        Strictness::Lenient
    } else {
        Strictness::Strict
    };
    let name = path.to_string_lossy().to_ascii_lowercase();
    let (trace, report) = if name.ends_with(".swf") || name.ends_with(".swf.gz") {
        swf::read(
            path,
            &swf::SwfOptions {
                strictness,
                keep_unrunnable: false,
            },
        )
    } else if name.ends_with(".jsonl") || starts_with_brace(path) {
        jsonl::read(path, strictness)
    } else {
        let opts = sacct::SacctOptions {
            strictness,
            ..Default::default()
        };
        sacct::read(path, &opts)
    }
    .with_context(|| format!("loading trace {}", path.display()))?;
    if let Some(first) = report.skipped.first() {
        tracing::warn!(
            "{}: skipped {} bad lines, the first: {first}",
            path.display(),
            report.skipped.len()
        );
    }
    Ok(trace)
}

#[allow(dead_code, reason = "used by load_trace")]
fn starts_with_brace(path: &Path) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .is_ok_and(|n| n == 1 && buf[0] == b'{')
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIRKS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../sim/tests/data/sacct_quirks.log"
    );

    #[test]
    fn picks_reader_by_name_and_content() {
        let sacct_trace = load_trace(Path::new(QUIRKS), false).unwrap();
        assert_eq!(sacct_trace.meta.source, "sacct");
        assert_eq!(sacct_trace.jobs.len(), 17);
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("t.jsonl");
        jsonl::write(&named, &sacct_trace).unwrap();
        assert_eq!(load_trace(&named, false).unwrap(), sacct_trace);
        // Content wins when the name says nothing.
        let unnamed = dir.path().join("t.trace");
        std::fs::copy(&named, &unnamed).unwrap();
        assert_eq!(load_trace(&unnamed, false).unwrap(), sacct_trace);
        let err = load_trace(&dir.path().join("missing.jsonl"), false).unwrap_err();
        assert!(format!("{err:#}").contains("missing.jsonl"));
    }
}
