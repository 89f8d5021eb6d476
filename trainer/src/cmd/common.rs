//! Loaders shared by the subcommands: traces by file type, clusters by file
//! type.
//!
//! This file only picks a reader and reports what it skipped; it must not
//! parse anything itself.

use anyhow::{Context, bail};
use sim::cluster::Cluster;
use sim::trace::{Strictness, Trace, jsonl, sacct, swf};
use std::path::Path;

/// Loads a trace, picking the reader by name and content: `.jsonl` (or a
/// file whose first byte is `{`) is slurm-rl's own format, `.swf` and
/// `.swf.gz` are SWF, anything else is read as a `sacct --parsable2` dump
/// (times in `$TZ`, or UTC). Bad lines are an error unless `lenient`, in
/// which case they are skipped with a warning.
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
                ..Default::default()
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

/// `--load-factor`'s parser: a finite number above 0.
pub fn load_factor_arg(v: &str) -> Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!(
            "`{v}`: expected a number above 0 (1 = the trace as recorded, 1.25 = 25% more load)"
        )),
    }
}

/// Applies `--load-factor` to a loaded trace: arrivals `factor` times as
/// fast ([`Trace::compress_arrivals`]); 1 leaves it as recorded.
pub fn apply_load_factor(trace: &mut Trace, factor: f64) -> anyhow::Result<()> {
    if factor != 1.0 {
        trace.compress_arrivals(factor)?;
    }
    Ok(())
}

/// Writes `bytes` over `path` atomically (`sim::io::atomic_write`: a
/// temporary file, fsync, rename, directory fsync).
pub fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    sim::io::atomic_write(path, |w| w.write_all(bytes))
        .with_context(|| format!("writing {}", path.display()))
}

/// Writes `value` as pretty JSON with a final newline, atomically
/// (`sim::io::atomic_write`: a temporary file, then a rename).
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    sim::io::atomic_write(path, |w| {
        serde_json::to_writer_pretty(&mut *w, value).map_err(std::io::Error::other)?;
        writeln!(w)
    })
    .with_context(|| format!("writing {}", path.display()))
}

fn starts_with_brace(path: &Path) -> bool {
    use std::io::Read;
    let mut buf = [0u8; 1];
    std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut buf))
        .is_ok_and(|n| n == 1 && buf[0] == b'{')
}

/// The cluster from `--cluster` (a `.toml` cluster file, or a `slurm.conf`
/// with its `gres.conf` beside it), or, without one, derived from the SWF
/// header the trace carries.
///
/// An SWF-derived cluster has one partition, so the SWF partition numbers
/// of the jobs are cleared (they go to that default partition); warnings
/// about `slurm.conf` settings the simulator does not model are logged.
pub fn load_cluster(
    path: Option<&Path>,
    trace: &mut Trace,
    trace_path: &Path,
) -> anyhow::Result<Cluster> {
    match path {
        Some(p) => {
            let is_toml = p
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml"));
            if is_toml {
                sim::cluster::file::read(p)
                    .with_context(|| format!("reading cluster {}", p.display()))
            } else {
                let (c, warnings) = sim::cluster::slurmconf::read_with_warnings(p)
                    .with_context(|| format!("reading cluster {}", p.display()))?;
                for w in &warnings {
                    tracing::warn!("{w}");
                }
                Ok(c)
            }
        }
        None if !trace.meta.header.is_empty() => {
            let c = Cluster::from_swf_header(&trace.meta.header).with_context(|| {
                format!(
                    "deriving the cluster from the SWF header of {} (or pass --cluster)",
                    trace_path.display()
                )
            })?;
            for j in &mut trace.jobs {
                j.partition = 0;
            }
            Ok(c)
        }
        None => bail!(
            "{}: --cluster is required for a trace that was not read from SWF (give a .toml cluster file or a slurm.conf)",
            trace_path.display()
        ),
    }
}

/// [`sim::eval::evaluate`] with a progress bar on stderr (one tick per run
/// of a policy on a sequence; `unit` names a sequence in the message, e.g.
/// "seq" or "window"), cleared when it ends.
pub fn evaluate_with_progress(
    input: &sim::eval::EvalInput<'_>,
    specs: &[sim::eval::PolicySpec<'_>],
    reference: Option<&str>,
    unit: &str,
) -> Result<sim::eval::Report, sim::eval::EvalError> {
    let pb = indicatif::ProgressBar::with_draw_target(
        Some((specs.len() * input.starts.len()) as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs ({elapsed}, eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    let report = sim::eval::evaluate(input, specs, reference, &mut |p| {
        pb.set_position(p.done as u64);
        pb.set_message(format!("{} {unit} {}", p.policy, p.sequence));
    });
    pb.finish_and_clear();
    report
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
