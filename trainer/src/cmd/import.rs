//! `slurm-rl import`: turn Slurm accounting (a `sacct` dump, or a live
//! `sacct` run) or an SWF trace into slurm-rl's normalized trace file, and
//! say on stderr what was read, skipped and dropped.
//!
//! This file owns the command line, running `sacct`, and the summary. It
//! must not parse accounting text itself: the readers in `sim::trace` do.

use anyhow::{Context, bail};
use sim::trace::sacct::{self, SacctOptions};
use sim::trace::swf::{self, SwfOptions};
use sim::trace::{ReadReport, Strictness, Trace, jsonl};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Import sources.
#[derive(clap::Subcommand, Debug)]
pub enum ImportCommand {
    /// Read Slurm accounting: a `sacct --parsable2` dump, or run sacct.
    ///
    /// Give a FILE to read a dump, or --start and --end to run sacct on
    /// this host. Use --help for the exact sacct field list.
    #[command(after_long_help = sacct_long_help())]
    Sacct(SacctArgs),
    /// Read a Standard Workload Format trace (.swf or .swf.gz).
    Swf(SwfArgs),
}

/// `slurm-rl import sacct`.
#[derive(clap::Args, Debug)]
pub struct SacctArgs {
    /// A `sacct --parsable2` dump (with or without its header line).
    #[arg(required_unless_present = "start", conflicts_with_all = ["start", "end", "cluster"])]
    pub file: Option<PathBuf>,
    /// Run sacct for jobs pending or running from this day or time
    /// (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], in --timezone).
    #[arg(long, requires = "end", value_parser = parse_when)]
    pub start: Option<String>,
    /// Run sacct up to this day or time (same forms as --start).
    #[arg(long, requires = "start", value_parser = parse_when)]
    pub end: Option<String>,
    /// Cluster to ask (sacct -M).
    #[arg(short = 'M', long = "cluster", value_name = "CLUSTER")]
    pub cluster: Option<String>,
    /// Output trace file (JSON Lines, see docs/trace-format.md).
    #[arg(short, long, value_name = "OUT.jsonl")]
    pub output: PathBuf,
    /// Zone the dump's times are in (e.g. Europe/Berlin). Default: $TZ
    /// if it names a zone, else UTC. A live run uses this zone (UTC if
    /// not given) for sacct, --start and --end.
    #[arg(long, value_name = "ZONE", value_parser = parse_tz)]
    pub timezone: Option<chrono_tz::Tz>,
    /// Skip bad lines (listed in the summary) instead of stopping at the
    /// first one.
    #[arg(long)]
    pub lenient: bool,
    /// Drop jobs cancelled before they started (default: keep them as
    /// arrivals that leave the queue at their cancel time).
    #[arg(long)]
    pub drop_cancelled_pending: bool,
    /// The sacct program to run.
    #[arg(long, value_name = "PROGRAM", default_value = "sacct")]
    pub sacct: PathBuf,
}

/// `slurm-rl import swf`.
#[derive(clap::Args, Debug)]
pub struct SwfArgs {
    /// The SWF file (.swf, or gzip-compressed .swf.gz).
    pub file: PathBuf,
    /// Output trace file (JSON Lines).
    #[arg(short, long, value_name = "OUT.jsonl")]
    pub output: PathBuf,
    /// Skip bad lines instead of stopping at the first one.
    #[arg(long)]
    pub lenient: bool,
}

fn parse_tz(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse().map_err(|_| {
        format!("unknown time zone {s:?}: expected an IANA name such as UTC or Europe/Berlin")
    })
}

fn parse_when(s: &str) -> Result<String, String> {
    let ok = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S").is_ok()
        || chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").is_ok();
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS], found {s:?}"
        ))
    }
}

/// The sacct arguments slurm-rl uses for a live run.
pub fn sacct_command_args(start: &str, end: &str, cluster: Option<&str>) -> Vec<String> {
    let mut a: Vec<String> = [
        "--allusers",
        "--allocations",
        "--parsable2",
        "--noconvert",
        "--starttime",
        start,
        "--endtime",
        end,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!("--format={}", sacct::format_arg()));
    if let Some(c) = cluster {
        a.push("-M".to_owned());
        a.push(c.to_owned());
    }
    a
}

fn sacct_long_help() -> String {
    format!(
        "\
FIELDS
  slurm-rl asks sacct for these fields (all typed, no free text, so a dump
  cannot hold a stray `|` or line break):

    F={fields}

  To make a dump on the cluster and import it elsewhere:

    sacct --allusers --allocations --parsable2 --noconvert \\
          --starttime 2026-01-01 --endtime 2026-02-01 --format=$F > dump.log
    slurm-rl import sacct dump.log --timezone Europe/Berlin -o hist.jsonl

  Dumps with other columns (e.g. `--format=ALL`) are read too when they
  start with their header line: columns are found by name, and a `|`
  inside JobName, SubmitLine, Comment, Constraints, WorkDir … is repaired.
  Without a header the fields above, in this order, are assumed.

WHAT IS KEPT
  One job per allocation; step rows (123.batch, 123.0) only fill what the
  job row lacks. Array tasks (123_4) keep their JobIDRaw; a pending range
  (123_[5-9%2]) becomes one pending job per task (the throttle is not
  kept). Het job components (123+1) are separate jobs. When a dump holds a
  job id twice (--duplicates), the last record is kept.
  Resources are the job's footprint: the larger of request and
  allocation (an --exclusive job holds whole nodes).

CANCELLED WHILE PENDING
  Jobs cancelled before they started stay in the trace by default: they
  arrived and waited, so they shaped the queue. They have no start, and
  their end is the cancel time, when they left the queue.
  --drop-cancelled-pending removes them (counted in the summary).

TIME ZONES
  sacct prints local times in the zone of the process that ran it. Give
  that zone with --timezone (default: $TZ if it names a zone, else UTC).
  A live run sets TZ for sacct to --timezone (UTC if not given), so
  --start/--end and the output agree. The trace stores Unix seconds (UTC).
  In the hour repeated when clocks go back, the earlier instant is taken.

LIVE RUN
  slurm-rl import sacct --start 2026-01-01 --end 2026-02-01 -o hist.jsonl
  runs sacct with TZ set to the zone and these arguments:
    {live} --format=$F [-M CLUSTER]
  It selects every job pending or running at any time in the window, one
  row per job (--allocations: no step rows), and only the last record of
  a requeued job (no --duplicates). Where the cluster sets
  PrivateData=jobs, only operators and admins see all users' jobs.

EXAMPLES
  slurm-rl import sacct dump.log -o hist.jsonl
  slurm-rl import sacct dump.log --timezone Europe/Berlin --lenient -o hist.jsonl
  slurm-rl import sacct --start 2026-01-01 --end 2026-02-01 -M mycluster -o hist.jsonl
  slurm-rl import swf SDSC-SP2-1998-4.2-cln.swf.gz -o sdsc.jsonl",
        fields = sacct::format_arg(),
        live = sacct_command_args("2026-01-01", "2026-02-01", None)
            .iter()
            .filter(|a| !a.starts_with("--format"))
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Runs the import.
pub fn run(c: ImportCommand) -> anyhow::Result<()> {
    let (trace, report, from, output) = match c {
        ImportCommand::Sacct(a) => {
            let opts = SacctOptions {
                strictness: strictness(a.lenient),
                timezone: a.timezone,
                keep_cancelled_pending: !a.drop_cancelled_pending,
            };
            let (t, r, from) = match (&a.file, &a.start, &a.end) {
                (Some(f), _, _) => {
                    let (t, r) = sacct::read(f, &opts)
                        .with_context(|| format!("reading sacct dump {}", f.display()))?;
                    (t, r, f.display().to_string())
                }
                (None, Some(s), Some(e)) => run_sacct(&a, s, e, opts)?,
                _ => bail!("give a sacct dump FILE, or --start and --end to run sacct"),
            };
            (t, r, from, a.output)
        }
        ImportCommand::Swf(a) => {
            let opts = SwfOptions {
                strictness: strictness(a.lenient),
                ..Default::default()
            };
            let (t, r) = swf::read(&a.file, &opts)
                .with_context(|| format!("reading SWF trace {}", a.file.display()))?;
            (t, r, a.file.display().to_string(), a.output)
        }
    };
    jsonl::write(&output, &trace).with_context(|| format!("writing {}", output.display()))?;
    eprint!("{}", summary(&trace, &report, &from, &output));
    Ok(())
}

fn strictness(lenient: bool) -> Strictness {
    if lenient {
        Strictness::Lenient
    } else {
        Strictness::Strict
    }
}

/// Runs sacct and reads its output as it arrives.
pub(crate) fn run_sacct(
    a: &SacctArgs,
    start: &str,
    end: &str,
    mut opts: SacctOptions,
) -> anyhow::Result<(Trace, ReadReport, String)> {
    let tz = opts.timezone.unwrap_or(chrono_tz::UTC);
    opts.timezone = Some(tz);
    let args = sacct_command_args(start, end, a.cluster.as_deref());
    let shown = format!("{} {}", a.sacct.display(), args.join(" "));
    tracing::info!("running TZ={} {shown}", tz.name());
    let mut child = Command::new(&a.sacct)
        .args(&args)
        .env("TZ", tz.name())
        .env("SLURM_TIME_FORMAT", "standard")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "{} not found: run this on a host with Slurm's client commands, pass \
                     --sacct PROGRAM, or make a dump on the cluster and import the file \
                     (see `slurm-rl import sacct --help`)",
                    a.sacct.display()
                )
            } else {
                anyhow::Error::new(e).context(format!("starting {}", a.sacct.display()))
            }
        })?;
    let mut stderr = child.stderr.take().expect("piped stderr");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().expect("piped stdout");
    let parsed = sacct::read_from(std::io::BufReader::new(stdout), "sacct", &opts);
    // Stop sacct when its output is bad; its exit status then says nothing.
    let killed = parsed.is_err();
    if killed {
        let _ = child.kill();
    }
    let status = child.wait().context("waiting for sacct")?;
    let err_text = err_thread.join().unwrap_or_default();
    if !status.success() && !killed {
        bail!(
            "`{shown}` failed ({status}):\n{}",
            if err_text.trim().is_empty() {
                "(no error output)"
            } else {
                err_text.trim_end()
            }
        );
    }
    let (mut t, r) = parsed.with_context(|| format!("reading the output of `{shown}`"))?;
    if !err_text.trim().is_empty() {
        tracing::warn!("sacct said: {}", err_text.trim_end());
    }
    t.meta.origin = Some(shown.clone());
    Ok((t, r, shown))
}

/// The import summary printed on stderr.
pub fn summary(trace: &Trace, report: &ReadReport, from: &str, output: &Path) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "imported {} jobs from {from} ({} lines read) into {}",
        trace.jobs.len(),
        report.lines,
        output.display()
    );
    if let Some(tz) = trace.meta.header.get("timezone") {
        let _ = writeln!(s, "  times read in zone {tz}");
    }
    if let (Some(first), Some(last)) = (
        trace.jobs.iter().map(|j| j.submit).min(),
        trace
            .jobs
            .iter()
            .map(|j| j.end.unwrap_or(j.submit).max(j.submit))
            .max(),
    ) {
        let _ = writeln!(
            s,
            "  span: first submit {} .. last event {} ({:.1} days)",
            utc(first),
            utc(last),
            (last - first) as f64 / 86_400.0
        );
    } else {
        let _ = writeln!(s, "  warning: no jobs (wrong dates, cluster or file?)");
    }
    if !report.skipped.is_empty() {
        let _ = writeln!(s, "  skipped {} bad lines:", report.skipped.len());
        for e in report.skipped.iter().take(5) {
            let _ = writeln!(s, "    {e}");
        }
        if report.skipped.len() > 5 {
            let _ = writeln!(s, "    … and {} more", report.skipped.len() - 5);
        }
    }
    for (why, n) in &report.dropped {
        let _ = writeln!(s, "  dropped {n}: {why}");
    }
    s
}

fn utc(t: u64) -> String {
    i64::try_from(t)
        .ok()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        c: ImportCommand,
    }

    fn parse(args: &[&str]) -> Result<ImportCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("import").chain(args.iter().copied())).map(|c| c.c)
    }

    #[test]
    fn sacct_file_args() {
        let c = parse(&[
            "sacct",
            "dump.log",
            "-o",
            "out.jsonl",
            "--timezone",
            "Europe/Berlin",
            "--lenient",
            "--drop-cancelled-pending",
        ])
        .unwrap();
        let ImportCommand::Sacct(a) = c else {
            panic!("not sacct")
        };
        assert_eq!(a.file.as_deref(), Some(Path::new("dump.log")));
        assert_eq!(a.timezone, Some(chrono_tz::Europe::Berlin));
        assert!(a.lenient && a.drop_cancelled_pending);
        assert_eq!(a.sacct, Path::new("sacct"));
    }

    #[test]
    fn sacct_live_args_and_conflicts() {
        let c = parse(&[
            "sacct",
            "--start",
            "2026-01-01",
            "--end",
            "2026-02-01",
            "-M",
            "c1",
            "-o",
            "o.jsonl",
        ])
        .unwrap();
        let ImportCommand::Sacct(a) = c else {
            panic!("not sacct")
        };
        assert_eq!(a.start.as_deref(), Some("2026-01-01"));
        assert_eq!(a.cluster.as_deref(), Some("c1"));
        assert!(a.file.is_none());
        // A file and a live run at once, no source at all, half a window,
        // a bad date or zone: all refused.
        assert!(
            parse(&[
                "sacct",
                "d.log",
                "--start",
                "2026-01-01",
                "--end",
                "2026-02-01",
                "-o",
                "o"
            ])
            .is_err()
        );
        assert!(parse(&["sacct", "-o", "o"]).is_err());
        assert!(parse(&["sacct", "--start", "2026-01-01", "-o", "o"]).is_err());
        assert!(
            parse(&[
                "sacct",
                "--start",
                "Jan 1",
                "--end",
                "2026-02-01",
                "-o",
                "o"
            ])
            .is_err()
        );
        assert!(parse(&["sacct", "d.log", "--timezone", "Mars/Olympus", "-o", "o"]).is_err());
        assert!(parse(&["sacct", "d.log"]).is_err(), "-o is required");
        assert!(parse(&["swf", "x.swf", "-o", "o.jsonl", "--lenient"]).is_ok());
    }

    #[test]
    fn live_command_uses_the_format_fields() {
        let a = sacct_command_args("2026-01-01", "2026-02-01", Some("c1"));
        assert!(a.contains(&"--parsable2".to_owned()));
        assert!(a.contains(&"--noconvert".to_owned()));
        assert!(a.contains(&"--allusers".to_owned()));
        assert!(!a.iter().any(|x| x == "--duplicates"));
        assert!(a.contains(&format!("--format={}", sacct::format_arg())));
        assert_eq!(&a[a.len() - 2..], ["-M", "c1"]);
    }

    #[test]
    fn long_help_lists_every_field() {
        let h = sacct_long_help();
        assert!(h.contains(&sacct::format_arg()));
        assert!(h.contains("--drop-cancelled-pending"));
        assert!(h.contains("--timezone"));
    }

    #[test]
    fn summary_reports_counts_skips_drops_and_span() {
        let mut t = Trace::default();
        t.meta.header.insert("timezone".into(), "UTC".into());
        t.jobs.push(sim::trace::Job {
            id: 1,
            submit: 86_400,
            end: Some(3 * 86_400),
            ..Default::default()
        });
        let mut r = ReadReport {
            lines: 9,
            ..Default::default()
        };
        for line in 2..9 {
            r.skipped.push(sim::trace::ParseError {
                file: "d.log".into(),
                line,
                field: "NCPUS".into(),
                message: "expected a non-negative integer".into(),
            });
        }
        r.dropped.insert("cancelled while pending".into(), 3);
        let s = summary(&t, &r, "d.log", Path::new("o.jsonl"));
        assert!(
            s.starts_with("imported 1 jobs from d.log (9 lines read) into o.jsonl\n"),
            "{s}"
        );
        assert!(s.contains("times read in zone UTC"));
        assert!(
            s.contains("1970-01-02T00:00:00Z .. last event 1970-01-04T00:00:00Z (2.0 days)"),
            "{s}"
        );
        assert!(s.contains("skipped 7 bad lines"));
        assert!(s.contains("d.log:2: field `NCPUS`"));
        assert!(!s.contains("d.log:7:"), "only the first five are listed");
        assert!(s.contains("and 2 more"));
        assert!(s.contains("dropped 3: cancelled while pending"));
    }
}
