//! Standard Workload Format (SWF v2.2) reader: turns a Parallel Workloads
//! Archive log (`.swf`, or gzip-compressed `.swf.gz`) into a [`Trace`].
//!
//! This module owns the SWF field table, the header parser, the mapping of
//! an SWF record onto [`Job`] and the default cleaning rules (which jobs are
//! dropped, and why). It must not schedule anything, and it must not apply
//! RLScheduler's loading rules: those differ on purpose and live in
//! [`crate::rlsched`], which only borrows the line splitter from here.
//!
//! # Mapping (one SWF record → one [`Job`])
//! | `Job` field | from SWF |
//! |---|---|
//! | `id` | field 1 (job number) |
//! | `submit`, `eligible` | `UnixStartTime` header (0 when absent) + field 2 |
//! | `start` | `submit` + field 3 (wait) when wait ≥ 0; `None` for a cancelled job (status 5) whose run time is missing (it never ran) |
//! | `end` | `start` + run time; for a cancelled job that never ran, `submit` + wait (when it left the queue) |
//! | `cpus` | field 8 (requested processors) when > 0, else field 5 (allocated processors), the usual PWA convention |
//! | `nodes` | 0: SWF has no node request; the simulator may place the CPUs on any nodes |
//! | `time_limit` | field 9 (requested time) when > 0; else the run time (field 4) when [`SwfOptions::limit_from_run_time`] (the default, as RLScheduler does for traces without estimates: a perfect estimate), else `None` |
//! | `run_time` | field 4; a missing run time (−1) becomes 0 (such jobs are dropped by default, see below) |
//! | `mem_mb` | field 10 (KB per processor) × `cpus` / 1024, rounded up, when ≥ 0; else 0 (unknown) |
//! | `user`, `group` | `u<N>`, `g<N>` from fields 12, 13; the empty name when −1 |
//! | `partition` | `p<N>` from field 16; the empty name when −1 |
//! | `qos` | `q<N>` from field 15 (queue number); the empty name when −1 |
//! | `account` | the empty name (SWF has no accounts) |
//! | `state` | field 11: 1 and 3 → Completed, 0 and 4 → Failed, 5 → Cancelled, anything else (−1, 2, …) → Other |
//! | `gpus`, `gpu_type`, `exit_code`, `priority`, `array`, `het` | 0 / `None` |
//!
//! # Cleaning
//! The archive's `-cln` files are already cleaned by the archive: flurries
//! (short bursts of very many jobs by one user, which dominate any
//! statistic they fall into) and other anomalies were removed, and the
//! header's `Note:` lines list the filters (for example
//! `user=374 and (job>=14969 and job<=28552) (11740 jobs removed)` in
//! SDSC-SP2). We do not clean further. By default we drop only the jobs a
//! simulator cannot run, each counted under its reason in
//! [`ReadReport::dropped`]: submit time missing ([`REASON_NO_SUBMIT`],
//! always dropped), no processor count ([`REASON_NO_PROCS`]), run time
//! missing ([`REASON_RUN_MISSING`]) and run time 0 ([`REASON_RUN_ZERO`]).
//! [`SwfOptions::keep_unrunnable`] keeps the last three kinds.
//!
//! Fields are integers, except the time and memory fields (2, 3, 4, 6, 7, 9,
//! 10, 18), which the format allows to be decimal; those are rounded to whole
//! seconds / KB. Header lines start with `;`; `; Key: value` lines land in
//! `trace.meta.header` (a repeated key, like `Queue:` or `Note:`, has its
//! values joined by newlines, and an indented continuation line is appended
//! to the key before it).

use super::{
    Job, JobState, NameId, Names, ParseError, ReadReport, Strictness, Trace, TraceError, TraceMeta,
};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Options of the SWF reader.
#[derive(Debug, Clone)]
pub struct SwfOptions {
    /// Strict (the first bad line is an error) or lenient (bad lines are
    /// skipped and listed in [`ReadReport::skipped`]).
    pub strictness: Strictness,
    /// Keep jobs that a simulator cannot run (missing or zero run time, no
    /// processor count) instead of dropping them. Default: drop them.
    pub keep_unrunnable: bool,
    /// When a job has no requested time (field 9 is −1), use its run time
    /// as its time limit (a perfect estimate) rather than no limit.
    /// Without an estimate, backfill can plan nothing and SJF-like
    /// policies see all jobs as equal. Default: true.
    pub limit_from_run_time: bool,
}

impl Default for SwfOptions {
    fn default() -> Self {
        SwfOptions {
            strictness: Strictness::default(),
            keep_unrunnable: false,
            limit_from_run_time: true,
        }
    }
}

/// Names of the 18 SWF fields, as the format's definition calls them.
pub const FIELD_NAMES: [&str; 18] = [
    "job number",
    "submit time",
    "wait time",
    "run time",
    "allocated processors",
    "average CPU time",
    "used memory",
    "requested processors",
    "requested time",
    "requested memory",
    "status",
    "user",
    "group",
    "executable",
    "queue",
    "partition",
    "preceding job",
    "think time",
];

/// Drop reason: field 2 is missing (negative).
pub const REASON_NO_SUBMIT: &str = "submit time missing";
/// Drop reason: fields 5 and 8 are both missing or ≤ 0.
pub const REASON_NO_PROCS: &str = "no processor count (fields 5 and 8 ≤ 0)";
/// Drop reason: field 4 is missing (−1), usually a job cancelled while pending.
pub const REASON_RUN_MISSING: &str = "run time missing (-1)";
/// Drop reason: field 4 is 0.
pub const REASON_RUN_ZERO: &str = "run time 0";

/// Whether a field may hold a decimal number (time and memory fields).
const DECIMAL: [bool; 18] = [
    false, true, true, true, false, true, true, false, true, true, false, false, false, false,
    false, false, false, true,
];

/// The field label used in errors, e.g. `5 (allocated processors)`.
pub(crate) fn field_label(index: usize) -> String {
    format!("{} ({})", index + 1, FIELD_NAMES[index])
}

/// The name used for `path` in error messages: its file name.
pub(crate) fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Reads a whole file, decompressing it when it starts with the gzip magic
/// bytes (whatever its name).
pub(crate) fn load_bytes(path: &Path) -> Result<Vec<u8>, TraceError> {
    let io = |source| TraceError::Io {
        path: path.display().to_string(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(raw.len().saturating_mul(7));
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// One line of an SWF file, as [`for_each_line`] hands it out.
pub(crate) enum Line<'a> {
    /// A `;` line, without the `;` and trimmed.
    Header(&'a str),
    /// A job record, split on whitespace (any number of fields).
    Record(&'a [&'a str]),
    /// A line that is not a `;` line and not valid UTF-8.
    BadUtf8,
}

/// Calls `f(line_number, line)` for every non-empty line of an SWF file
/// (`.swf` or gzip). Shared by this reader and RLScheduler's loader, whose
/// rules differ but whose line splitting is the same.
///
/// An error returned by `f` stops the walk.
pub(crate) fn for_each_line<E>(
    data: &[u8],
    mut f: impl FnMut(usize, Line<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut fields: Vec<&str> = Vec::with_capacity(18);
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            // Header lines may carry Latin-1 names; only records must be UTF-8.
            if raw.trim_ascii_start().starts_with(b";") {
                continue;
            }
            f(line_no, Line::BadUtf8)?;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        if let Some(rest) = text.strip_prefix(';') {
            f(line_no, Line::Header(rest.trim()))?;
            continue;
        }
        fields.clear();
        fields.extend(text.split_ascii_whitespace());
        // Re-borrow so the closure cannot keep the buffer beyond this call.
        let slice: &[&str] = &fields;
        f(line_no, Line::Record(slice))?;
    }
    Ok(())
}

/// Parses one field; `Err` holds the message of a [`ParseError`].
fn parse_field(index: usize, token: &str) -> Result<i64, String> {
    if let Ok(v) = token.parse::<i64>() {
        return Ok(v);
    }
    if DECIMAL[index] {
        match token.parse::<f64>() {
            Ok(v) if v.is_finite() && v.abs() < 9.0e15 => Ok(v.round() as i64),
            _ => Err(format!("expected a number, found {token:?}")),
        }
    } else {
        Err(format!("expected an integer, found {token:?}"))
    }
}

/// Parses all 18 fields of a record.
fn parse_record(fields: &[&str]) -> Result<[i64; 18], (usize, String)> {
    if fields.len() != 18 {
        return Err((
            usize::MAX,
            format!(
                "expected 18 whitespace-separated fields, found {}",
                fields.len()
            ),
        ));
    }
    let mut out = [0i64; 18];
    for (i, tok) in fields.iter().enumerate() {
        out[i] = parse_field(i, tok).map_err(|m| (i, m))?;
    }
    if out[0] < 0 {
        return Err((
            0,
            format!("expected a non-negative job number, found {}", out[0]),
        ));
    }
    Ok(out)
}

/// Whether `key` looks like an SWF header key (`MaxNodes`, `UnixStartTime`).
fn is_header_key(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Adds one header line to `header`; `last` is the key of the previous line.
fn add_header(text: &str, last: &mut Option<String>, header: &mut BTreeMap<String, String>) {
    if text.is_empty() {
        *last = None;
        return;
    }
    if let Some((key, value)) = text.split_once(':')
        && is_header_key(key)
    {
        let value = value.trim();
        header
            .entry(key.to_owned())
            .and_modify(|e| {
                e.push('\n');
                e.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
        *last = Some(key.to_owned());
        return;
    }
    if let Some(key) = last
        && let Some(e) = header.get_mut(key.as_str())
    {
        if !e.is_empty() {
            e.push('\n');
        }
        e.push_str(text);
    }
}

/// Interns `<prefix><n>` with a cache keyed by the number.
fn intern_num(
    table: &mut super::Interner,
    cache: &mut BTreeMap<i64, NameId>,
    prefix: char,
    n: i64,
) -> NameId {
    if n < 0 {
        return 0;
    }
    *cache
        .entry(n)
        .or_insert_with(|| table.intern(&format!("{prefix}{n}")))
}

/// Per-name-table caches, so a repeated number is formatted once.
#[derive(Default)]
struct Caches {
    users: BTreeMap<i64, NameId>,
    groups: BTreeMap<i64, NameId>,
    partitions: BTreeMap<i64, NameId>,
    qos: BTreeMap<i64, NameId>,
}

/// Maps a parsed record onto a [`Job`] (submit still relative), or names
/// the reason it is dropped.
fn to_job(
    f: &[i64; 18],
    opts: &SwfOptions,
    names: &mut Names,
    caches: &mut Caches,
) -> Result<Job, &'static str> {
    let (submit, wait, run, alloc, req_procs, req_time, req_mem, status) =
        (f[1], f[2], f[3], f[4], f[7], f[8], f[9], f[10]);
    if submit < 0 {
        return Err(REASON_NO_SUBMIT);
    }
    let cpus = if req_procs > 0 { req_procs } else { alloc };
    if !opts.keep_unrunnable {
        if cpus <= 0 {
            return Err(REASON_NO_PROCS);
        }
        if run < 0 {
            return Err(REASON_RUN_MISSING);
        }
        if run == 0 {
            return Err(REASON_RUN_ZERO);
        }
    }
    let cpus = cpus.clamp(0, u32::MAX as i64) as u64;
    let submit = submit as u64;
    let state = match status {
        1 | 3 => JobState::Completed,
        0 | 4 => JobState::Failed,
        5 => JobState::Cancelled,
        _ => JobState::Other,
    };
    let never_ran = state == JobState::Cancelled && run < 0;
    let (start, end) = if wait < 0 {
        (None, None)
    } else if never_ran {
        (None, Some(submit + wait as u64))
    } else {
        let start = submit + wait as u64;
        (Some(start), (run >= 0).then(|| start + run as u64))
    };
    let mem_mb = if req_mem >= 0 {
        (req_mem as u64).saturating_mul(cpus).div_ceil(1024)
    } else {
        0
    };
    Ok(Job {
        id: f[0] as u64,
        user: intern_num(&mut names.users, &mut caches.users, 'u', f[11]),
        group: intern_num(&mut names.groups, &mut caches.groups, 'g', f[12]),
        partition: intern_num(&mut names.partitions, &mut caches.partitions, 'p', f[15]),
        qos: intern_num(&mut names.qos, &mut caches.qos, 'q', f[14]),
        submit,
        eligible: submit,
        start,
        end,
        nodes: 0,
        cpus: cpus as u32,
        mem_mb,
        time_limit: if req_time > 0 {
            Some(req_time as u64)
        } else if opts.limit_from_run_time && run > 0 {
            Some(run as u64)
        } else {
            None
        },
        run_time: run.max(0) as u64,
        state,
        ..Job::default()
    })
}

/// Reads an `.swf` or `.swf.gz` file. Header values land in
/// `trace.meta.header`; jobs come out sorted by (submit, id).
///
/// Errors name the file, the line and the field, e.g.
/// ``SDSC.swf:1234: field `5 (allocated processors)`: expected an integer, found "x"``.
/// A record without exactly 18 fields, a non-numeric field, a duplicate job
/// number and a malformed `UnixStartTime` are errors (skipped and listed
/// under [`Strictness::Lenient`]).
pub fn read(path: &Path, opts: &SwfOptions) -> Result<(Trace, ReadReport), TraceError> {
    let data = load_bytes(path)?;
    let file = file_label(path);
    let perr = |line: usize, field: String, message: String| ParseError {
        file: file.clone(),
        line,
        field,
        message,
    };
    let lenient = opts.strictness == Strictness::Lenient;

    let mut report = ReadReport::default();
    let mut header = BTreeMap::new();
    let mut last_key = None;
    let mut start_time_line = 0usize;
    let mut names = Names::default();
    let mut caches = Caches::default();
    // (job, line) with submit still relative to UnixStartTime.
    let mut jobs: Vec<(Job, usize)> = Vec::new();

    let skip_or_fail = |report: &mut ReadReport, e: ParseError| -> Result<(), TraceError> {
        if lenient {
            report.skipped.push(e);
            Ok(())
        } else {
            Err(e.into())
        }
    };

    for_each_line(&data, |line, l| {
        match l {
            Line::BadUtf8 => {
                report.lines += 1;
                let e = perr(line, "record".into(), "not valid UTF-8".into());
                skip_or_fail(&mut report, e)?;
            }
            Line::Header(text) => {
                if text.starts_with("UnixStartTime:") {
                    start_time_line = line;
                }
                add_header(text, &mut last_key, &mut header);
            }
            Line::Record(fields) => {
                report.lines += 1;
                match parse_record(fields) {
                    Err((i, message)) => {
                        let field = if i == usize::MAX {
                            "record".to_owned()
                        } else {
                            field_label(i)
                        };
                        skip_or_fail(&mut report, perr(line, field, message))?;
                    }
                    Ok(f) => match to_job(&f, opts, &mut names, &mut caches) {
                        Ok(job) => jobs.push((job, line)),
                        Err(reason) => *report.dropped.entry(reason.to_owned()).or_default() += 1,
                    },
                }
            }
        }
        Ok::<(), TraceError>(())
    })?;

    let base = match header.get("UnixStartTime") {
        None => 0,
        Some(v) => match v.lines().next().unwrap_or("").trim().parse::<u64>() {
            Ok(t) => t,
            Err(_) => {
                let e = perr(
                    start_time_line,
                    "UnixStartTime".into(),
                    format!("expected Unix seconds, found {v:?}"),
                );
                skip_or_fail(&mut report, e)?;
                0
            }
        },
    };

    // Job numbers must be unique: find repeats in line order.
    let mut by_id: Vec<(u64, usize, usize)> = jobs
        .iter()
        .enumerate()
        .map(|(k, (j, line))| (j.id, *line, k))
        .collect();
    by_id.sort_unstable();
    let mut dup = vec![false; jobs.len()];
    for w in by_id.windows(2) {
        if w[0].0 == w[1].0 {
            let first = by_id.iter().find(|x| x.0 == w[1].0).map_or(w[0].1, |x| x.1);
            let e = perr(
                w[1].1,
                field_label(0),
                format!("duplicate job number {} (first on line {first})", w[1].0),
            );
            skip_or_fail(&mut report, e)?;
            dup[w[1].2] = true;
        }
    }

    let mut out: Vec<Job> = jobs
        .into_iter()
        .zip(dup)
        .filter(|(_, d)| !d)
        .map(|((mut j, _), _)| {
            j.submit += base;
            j.eligible += base;
            j.start = j.start.map(|s| s + base);
            j.end = j.end.map(|s| s + base);
            j
        })
        .collect();
    out.sort_by_key(|j| (j.submit, j.id));
    report.skipped.sort_by_key(|e| e.line);

    let trace = Trace {
        meta: TraceMeta {
            source: "swf".into(),
            origin: Some(file),
            cluster: None,
            header,
        },
        names,
        jobs: out,
    };
    Ok((trace, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write_tmp(name: &str, content: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(content.as_bytes())
            .unwrap();
        (dir, path)
    }

    const GOOD: &str = "\
; Version: 2.2
; UnixStartTime: 1000
; MaxNodes: 8
; Note: first
;       continued
; Note: second
   1   10   5  100  4 90.5 -1  -1  200  2048  1  3  2  7  1  2 -1 -1
   2    0  -1   50  2  -1  -1   3   -1    -1  0 -1 -1 -1 -1 -1 -1 -1
   3    0   7   -1  2  -1  -1   2  100    -1  5  1  1 -1  0 -1 -1 -1
   4    5   0    0  1  -1  -1   1  100    -1  1  1  1 -1  0 -1 -1 -1
";

    #[test]
    fn maps_fields_and_header() {
        let (_d, p) = write_tmp("good.swf", GOOD);
        let (t, r) = read(&p, &SwfOptions::default()).unwrap();
        assert_eq!(r.lines, 4);
        assert_eq!(t.meta.header["MaxNodes"], "8");
        assert_eq!(t.meta.header["Note"], "first\ncontinued\nsecond");
        assert_eq!(t.jobs.len(), 2, "jobs 3 and 4 are dropped");
        assert_eq!(r.dropped[REASON_RUN_MISSING], 1);
        assert_eq!(r.dropped[REASON_RUN_ZERO], 1);
        // Sorted by (submit, id): job 2 (submit 1000) before job 1 (1010).
        let j2 = &t.jobs[0];
        assert_eq!((j2.id, j2.submit, j2.start, j2.end), (2, 1000, None, None));
        assert_eq!(j2.cpus, 3, "requested processors win over allocated");
        assert_eq!(
            j2.time_limit,
            Some(50),
            "no request: the run time is the limit"
        );
        assert_eq!(j2.mem_mb, 0);
        assert_eq!(j2.state, JobState::Failed);
        assert_eq!((j2.user, j2.group, j2.partition, j2.qos), (0, 0, 0, 0));
        let j1 = &t.jobs[1];
        assert_eq!(j1.submit, 1010);
        assert_eq!(j1.start, Some(1015));
        assert_eq!(j1.end, Some(1115));
        assert_eq!(j1.cpus, 4, "allocated processors when none requested");
        assert_eq!(j1.time_limit, Some(200));
        assert_eq!(j1.mem_mb, 8, "2048 KB per proc x 4 procs = 8 MB");
        assert_eq!(t.names.users.name(j1.user), "u3");
        assert_eq!(t.names.groups.name(j1.group), "g2");
        assert_eq!(t.names.qos.name(j1.qos), "q1");
        assert_eq!(t.names.partitions.name(j1.partition), "p2");
        assert_eq!(j1.state, JobState::Completed);
    }

    #[test]
    fn missing_request_stays_unlimited_when_asked() {
        let (_d, p) = write_tmp("good.swf", GOOD);
        let opts = SwfOptions {
            limit_from_run_time: false,
            ..SwfOptions::default()
        };
        let (t, _) = read(&p, &opts).unwrap();
        let j2 = t.jobs.iter().find(|j| j.id == 2).unwrap();
        assert_eq!(j2.time_limit, None);
        let j1 = t.jobs.iter().find(|j| j.id == 1).unwrap();
        assert_eq!(
            j1.time_limit,
            Some(200),
            "a real request is kept either way"
        );
    }

    #[test]
    fn keep_unrunnable_keeps_cancelled_pending() {
        let (_d, p) = write_tmp("good.swf", GOOD);
        let opts = SwfOptions {
            keep_unrunnable: true,
            ..SwfOptions::default()
        };
        let (t, r) = read(&p, &opts).unwrap();
        assert!(r.dropped.is_empty());
        assert_eq!(t.jobs.len(), 4);
        let j3 = t.jobs.iter().find(|j| j.id == 3).unwrap();
        assert!(j3.cancelled_pending());
        assert_eq!(j3.end, Some(1007));
        assert_eq!(j3.run_time, 0);
    }

    #[test]
    fn bad_integer_names_line_and_field() {
        let bad = GOOD.replace("   2    0  -1   50  2 ", "   2    0  -1   50  x ");
        let (_d, p) = write_tmp("SDSC.swf", &bad);
        let err = read(&p, &SwfOptions::default()).unwrap_err();
        let TraceError::Parse(e) = err else {
            panic!("expected a parse error, got {err}")
        };
        assert_eq!(e.file, "SDSC.swf");
        assert_eq!(e.line, 8);
        assert_eq!(e.field, "5 (allocated processors)");
        assert_eq!(e.message, "expected an integer, found \"x\"");
        assert!(
            e.to_string()
                .starts_with("SDSC.swf:8: field `5 (allocated processors)`")
        );
    }

    #[test]
    fn wrong_field_count_is_an_error_and_lenient_skips_it() {
        let bad = format!("{GOOD}   9 1 2 3\n");
        let (_d, p) = write_tmp("short.swf", &bad);
        let err = read(&p, &SwfOptions::default()).unwrap_err();
        let TraceError::Parse(e) = err else {
            panic!("expected a parse error")
        };
        assert_eq!(e.line, 11);
        assert!(e.message.contains("found 4"), "{}", e.message);
        let opts = SwfOptions {
            strictness: Strictness::Lenient,
            ..SwfOptions::default()
        };
        let (t, r) = read(&p, &opts).unwrap();
        assert_eq!(t.jobs.len(), 2);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(r.skipped[0].line, 11);
        assert_eq!(r.lines, 5);
    }

    #[test]
    fn decimal_allowed_only_in_time_and_memory_fields() {
        let ok = GOOD.replace("   1   10   5  100", "   1   10   5  99.6");
        let (_d, p) = write_tmp("dec.swf", &ok);
        let (t, _) = read(&p, &SwfOptions::default()).unwrap();
        assert_eq!(t.jobs.iter().find(|j| j.id == 1).unwrap().run_time, 100);
        let bad = GOOD.replace("100  4 90.5", "100  4.5 90.5");
        let (_d2, p2) = write_tmp("dec2.swf", &bad);
        let TraceError::Parse(e) = read(&p2, &SwfOptions::default()).unwrap_err() else {
            panic!("expected a parse error")
        };
        assert_eq!((e.line, e.field.as_str()), (7, "5 (allocated processors)"));
    }

    #[test]
    fn duplicate_job_number_is_an_error() {
        let bad = format!("{GOOD}   1   20   5  100  4 -1 -1 -1 200 -1 1 3 2 7 1 2 -1 -1\n");
        let (_d, p) = write_tmp("dup.swf", &bad);
        let TraceError::Parse(e) = read(&p, &SwfOptions::default()).unwrap_err() else {
            panic!("expected a parse error")
        };
        assert_eq!(e.line, 11);
        assert!(e.message.contains("first on line 7"), "{}", e.message);
    }

    #[test]
    fn bad_unix_start_time_is_an_error() {
        let bad = GOOD.replace("UnixStartTime: 1000", "UnixStartTime: soon");
        let (_d, p) = write_tmp("t.swf", &bad);
        let TraceError::Parse(e) = read(&p, &SwfOptions::default()).unwrap_err() else {
            panic!("expected a parse error")
        };
        assert_eq!((e.line, e.field.as_str()), (2, "UnixStartTime"));
    }

    #[test]
    fn reads_gzip_by_magic_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.swf.gz");
        let f = std::fs::File::create(&path).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        enc.write_all(GOOD.as_bytes()).unwrap();
        enc.finish().unwrap();
        let (t, _) = read(&path, &SwfOptions::default()).unwrap();
        assert_eq!(t.jobs.len(), 2);
    }

    #[test]
    fn missing_file_is_an_io_error_naming_it() {
        let err = read(Path::new("/nonexistent/x.swf"), &SwfOptions::default()).unwrap_err();
        assert!(matches!(err, TraceError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/x.swf"));
    }

    fn real(name: &str) -> (Trace, ReadReport) {
        read(&crate::testdata::trace(name), &SwfOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn real_lublin_traces_keep_every_job() {
        for name in ["lublin_256.swf", "lublin_256_new2.swf", "lublin-aaroh.swf"] {
            let (t, r) = real(name);
            assert_eq!(r.lines, 10_000, "{name}");
            assert_eq!(t.jobs.len(), 10_000, "{name}: nothing dropped");
            assert!(r.dropped.is_empty() && r.skipped.is_empty(), "{name}");
            assert_eq!(t.meta.header["MaxNodes"], "256", "{name}");
            assert_eq!(t.meta.header["MaxJobs"], "10000", "{name}");
            assert!(!t.meta.header.contains_key("UnixStartTime"));
            assert!(
                t.jobs
                    .windows(2)
                    .all(|w| (w[0].submit, w[0].id) <= (w[1].submit, w[1].id))
            );
        }
        // lublin_256.swf, last line: "10000 7711701 -1 13929 3 -1 ... 1 -1 -1 -1 0 -1 -1 -1".
        let (t, _) = real("lublin_256.swf");
        let j = t.jobs.iter().find(|j| j.id == 10_000).unwrap();
        assert_eq!((j.submit, j.start, j.end), (7_711_701, None, None));
        assert_eq!(
            (j.run_time, j.cpus, j.time_limit, j.mem_mb),
            (13_929, 3, Some(13_929), 0),
            "no requested time: the run time is the limit"
        );
        assert_eq!((j.state, j.user), (JobState::Completed, 0));
        assert_eq!(t.names.qos.name(j.qos), "q0");
    }

    #[test]
    fn real_sdsc_sp2_counts_header_and_records() {
        let (t, r) = real("SDSC-SP2-1998-4.2-cln.swf.gz");
        assert_eq!(r.lines, 59_715, "MANIFEST job count");
        assert_eq!(r.dropped[REASON_RUN_MISSING], 5_671);
        assert_eq!(r.dropped[REASON_RUN_ZERO], 10);
        assert_eq!(r.dropped.values().sum::<usize>(), 5_681);
        assert_eq!(t.jobs.len(), 59_715 - 5_681);
        let h = &t.meta.header;
        assert_eq!(h["MaxNodes"], "128");
        assert_eq!(h["MaxProcs"], "128");
        assert_eq!(h["MaxJobs"], "73496");
        assert_eq!(h["MaxRecords"], "59715");
        assert_eq!(h["UnixStartTime"], "893466664");
        assert_eq!(h["TimeZoneString"], "US/Pacific");
        assert_eq!(h["Queue"].lines().count(), 7);
        assert!(h["Note"].contains("user=374 and (job>=14969 and job<=28552)"));
        // "   11   566129      5  28826    1  27758    -1    1  28800    -1  5 153  75 18180  3 -1 -1 -1"
        let j = t.jobs.iter().find(|j| j.id == 11).unwrap();
        assert_eq!(j.submit, 893_466_664 + 566_129);
        assert_eq!(j.start, Some(893_466_664 + 566_129 + 5));
        assert_eq!(j.end, Some(893_466_664 + 566_129 + 5 + 28_826));
        assert_eq!(
            (j.run_time, j.cpus, j.time_limit),
            (28_826, 1, Some(28_800))
        );
        assert_eq!(j.state, JobState::Cancelled);
        assert_eq!(t.names.users.name(j.user), "u153");
        assert_eq!(t.names.groups.name(j.group), "g75");
        assert_eq!(t.names.qos.name(j.qos), "q3");
        assert_eq!(j.partition, 0);
        // Last line: "73496 63582293 14 6605 1 6479 -1 1 7200 -1 1 252 91 53276 3 -1 -1 -1"
        let j = t.jobs.last().unwrap();
        assert_eq!(j.id, 73_496);
        assert_eq!(
            (j.submit, j.run_time, j.cpus),
            (893_466_664 + 63_582_293, 6_605, 1)
        );
        // Job 19 (run time -1, status 5) is dropped by default.
        assert!(t.jobs.iter().all(|j| j.id != 19));
    }

    #[test]
    fn real_hpc2n_counts_header_and_records() {
        let (t, r) = real("HPC2N-2002-2.2-cln.swf.gz");
        assert_eq!(r.lines, 202_871, "MANIFEST job count");
        assert_eq!(t.jobs.len(), 202_871, "nothing dropped");
        assert!(r.dropped.is_empty());
        let h = &t.meta.header;
        assert_eq!(
            (h["MaxNodes"].as_str(), h["MaxProcs"].as_str()),
            ("240", "240")
        );
        assert_eq!(h["UnixStartTime"], "1027839845");
        assert_eq!(h["TimeZoneString"], "Europe/Stockholm");
        assert_eq!(h["Partition"], "1  DEFAULT\n2  ALL");
        // "527371 109583573 3318 31 6 31.69 409600 6 18000 409600 1 59 1 -1 -1 1 -1 -1"
        let j = t.jobs.last().unwrap();
        assert_eq!(j.id, 527_371);
        assert_eq!(j.submit, 1_027_839_845 + 109_583_573);
        assert_eq!(j.start, Some(j.submit + 3_318));
        assert_eq!(j.end, Some(j.submit + 3_318 + 31));
        assert_eq!((j.cpus, j.time_limit, j.mem_mb), (6, Some(18_000), 2_400));
        assert_eq!(t.names.users.name(j.user), "u59");
        assert_eq!(t.names.partitions.name(j.partition), "p1");
        assert_eq!(j.qos, 0, "queue -1");
        assert_eq!(j.state, JobState::Completed);
        // Status -1 (878 jobs) maps to Other.
        assert_eq!(
            t.jobs.iter().filter(|j| j.state == JobState::Other).count(),
            878
        );
    }
}
