//! Reader for `sacct --parsable2` dumps: turns accounting rows into
//! [`Job`]s.
//!
//! This module owns the `--format` field list slurm-rl asks for, the
//! repair of damaged rows (unescaped `|` inside free-text fields, records
//! that span several lines), the folding of step rows into their job, and
//! the decoding of Slurm's value syntax (times, durations, TRES, memory,
//! states, job ids). It must not run `sacct` itself (the binary does) and
//! must not guess a cluster's shape. Every choice is documented in
//! `docs/trace-format.md`.
//!
//! Reading happens in three steps:
//! 1. physical lines are grouped into records: a record with fewer fields
//!    than the header continues on the next line (a newline inside a
//!    `SubmitLine`), unless that line starts a record of its own;
//! 2. a record with more fields than the header is re-aligned: the extra
//!    fields are given to free-text columns ([`FREE_TEXT_COLUMNS`]) so that
//!    as many typed columns as possible hold values of their type;
//! 3. rows are decoded; step rows (`123.batch`) are folded into their job
//!    after the whole file is read.

use super::{Job, JobState, Names, ParseError, ReadReport, Strictness, Trace, TraceError};
use chrono::TimeZone;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::path::Path;

/// The `--format` fields slurm-rl asks sacct for, in order.
///
/// Every field is typed (ids, names, times, counts, TRES): no free-text
/// column such as `JobName` or `SubmitLine` is asked for, so a dump made
/// with this list cannot contain an unescaped `|` or a line break inside a
/// field.
pub const FORMAT_FIELDS: &[&str] = &[
    "JobID",     // array task / het component / step syntax
    "JobIDRaw",  // the unique numeric id
    "Cluster",   // provenance
    "Partition", // where it ran
    "Account",   // fair-share input
    "Group",     // Unix group
    "User",      // user name
    "QOS",       // priority and limits input
    "Submit",    // arrival
    "Eligible",  // end of dependency / begin-time wait
    "Start",     // original start
    "End",       // original end (or cancel time)
    "Elapsed",   // run time without suspensions
    "Timelimit", // the user's estimate
    "State",     // final state
    "ExitCode",  // N:S
    "NNodes",    // nodes (allocated once started, requested before)
    "NCPUS",     // CPUs (allocated once started, requested before)
    "ReqCPUS",   // requested CPUs
    "ReqMem",    // requested memory (fallback when ReqTRES lacks mem)
    "ReqTRES",   // the request: cpu, mem, node, gres/gpu[:type]
    "AllocTRES", // the allocation: empty for jobs that never started
    "Priority",  // Slurm's own priority
];

/// Columns that hold free text and may therefore contain an unescaped `|`
/// (or a newline): extra fields of a too-long row are merged into these.
pub const FREE_TEXT_COLUMNS: &[&str] = &[
    "AdminComment",
    "Comment",
    "Constraints",
    "Container",
    "Extra",
    "JobName",
    "StdErr",
    "StdIn",
    "StdOut",
    "SubmitLine",
    "SystemComment",
    "WorkDir",
];

/// The `--format` argument for sacct: [`FORMAT_FIELDS`] joined by commas.
pub fn format_arg() -> String {
    FORMAT_FIELDS.join(",")
}

/// Options of the sacct reader.
#[derive(Debug, Clone)]
pub struct SacctOptions {
    /// Strict or lenient.
    pub strictness: Strictness,
    /// Zone the dump's local times are in (sacct prints times in the zone
    /// of the process that ran it). `None`: the zone named by the `TZ`
    /// environment variable, or UTC when `TZ` is unset or not a zone name;
    /// see [`resolve_timezone`].
    pub timezone: Option<chrono_tz::Tz>,
    /// Keep jobs cancelled while pending (default `true`): they stay in
    /// the trace as arrivals with `start = None` and `end` = the cancel
    /// time, when they left the queue. `false` drops them (counted in
    /// [`ReadReport::dropped`]).
    pub keep_cancelled_pending: bool,
}

impl Default for SacctOptions {
    fn default() -> Self {
        SacctOptions {
            strictness: Strictness::Strict,
            timezone: None,
            keep_cancelled_pending: true,
        }
    }
}

/// The zone used when [`SacctOptions::timezone`] is `None`: the `TZ`
/// environment variable when it names a zone (`Europe/Berlin`, a leading
/// `:` is ignored), otherwise UTC.
pub fn resolve_timezone(opt: Option<chrono_tz::Tz>) -> chrono_tz::Tz {
    opt.or_else(|| {
        std::env::var("TZ")
            .ok()
            .and_then(|s| s.trim_start_matches(':').parse().ok())
    })
    .unwrap_or(chrono_tz::UTC)
}

/// Reason recorded in [`ReadReport::dropped`] for jobs cancelled while
/// pending when [`SacctOptions::keep_cancelled_pending`] is false.
pub const DROP_CANCELLED_PENDING: &str = "cancelled while pending";
/// Reason recorded for earlier records of a job id seen again (dumps made
/// with `--duplicates`: the last record, the latest attempt, is kept).
pub const DROP_DUPLICATE: &str = "duplicate record of a job id (earlier attempt)";
/// Reason recorded for step rows whose job row is not in the dump.
pub const DROP_ORPHAN_STEP: &str = "step row without its job row";

/// Reads a `sacct --parsable2` dump.
pub fn read(path: &Path, opts: &SacctOptions) -> Result<(Trace, ReadReport), TraceError> {
    let io = |source| TraceError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    let (mut trace, report) =
        read_from(std::io::BufReader::new(file), &name, opts).map_err(|e| match e {
            TraceError::Io { source, .. } => io(source),
            other => other,
        })?;
    trace.meta.origin = Some(path.display().to_string());
    Ok((trace, report))
}

/// Reads a `sacct --parsable2` dump from any buffered reader; `file` names
/// it in errors (e.g. `sacct` for the output of a live run).
pub fn read_from(
    reader: impl BufRead,
    file: &str,
    opts: &SacctOptions,
) -> Result<(Trace, ReadReport), TraceError> {
    let tz = resolve_timezone(opts.timezone);
    let mut lines = Lines {
        reader,
        file,
        next_no: 0,
        peeked: None,
    };
    let mut report = ReadReport::default();
    let mut names = Names::default();
    let perr = |line: usize, field: &str, message: String| ParseError {
        file: file.to_owned(),
        line,
        field: field.to_owned(),
        message,
    };

    // Header, or FORMAT_FIELDS when the first line is data.
    let mut first_data: Option<(usize, String)> = None;
    let mut columns: Vec<String> = FORMAT_FIELDS.iter().map(|s| s.to_string()).collect();
    let mut header_line = 0;
    // `--parsable` (not `--parsable2`) ends every line with a `|`.
    let mut trailing_pipe = false;
    while let Some((no, line)) = lines.next()? {
        if line.trim().is_empty() {
            continue;
        }
        let trimmed = line.trim_end();
        let bare = trimmed.strip_suffix('|').unwrap_or(trimmed);
        if is_header(bare) {
            trailing_pipe = bare.len() < trimmed.len();
            columns = bare.split('|').map(str::to_owned).collect();
            header_line = no;
        } else {
            first_data = Some((no, line));
        }
        break;
    }
    let cols = Cols::new(&columns).map_err(|(f, m)| perr(header_line.max(1), &f, m))?;
    let kinds: Vec<ColKind> = columns.iter().map(|c| col_kind(c)).collect();
    let width = columns.len();

    let mut rows: Vec<Row> = Vec::new();
    let mut steps: BTreeMap<String, StepAgg> = BTreeMap::new();
    let mut clusters = BTreeSet::new();
    let mut pending = first_data;
    loop {
        let (no, mut rec) = match pending.take() {
            Some(x) => x,
            None => match lines.next()? {
                Some(x) => x,
                None => break,
            },
        };
        if rec.trim().is_empty() {
            continue;
        }
        // Concatenated dumps repeat their header line.
        if header_line > 0 && is_header(rec.trim_end().trim_end_matches('|')) {
            continue;
        }
        report.lines += 1;
        // Join continuation lines of a record cut by newlines in a field.
        let mut nfields = rec.split('|').count();
        while nfields < width {
            let Some(next) = lines.peek()? else { break };
            if starts_record(next, &cols, width) {
                break;
            }
            let (_, next) = lines.next()?.expect("peeked line");
            report.lines += 1;
            nfields += next.split('|').count() - 1;
            rec.push('\n');
            rec.push_str(&next);
        }
        let mut rec = rec.strip_suffix('\r').unwrap_or(&rec);
        if trailing_pipe && rec.split('|').count() > width {
            rec = rec.strip_suffix('|').unwrap_or(rec);
        }
        let result = align(rec, &kinds)
            .map_err(|m| perr(no, "(row)", m))
            .and_then(|vals| {
                decode_row(&vals, &columns, &cols, tz, &mut names).map_err(|(f, m)| perr(no, &f, m))
            });
        match result {
            Ok(Decoded::Job(row, cluster)) => {
                if let Some(c) = cluster {
                    clusters.insert(c);
                }
                rows.push(*row);
            }
            Ok(Decoded::Step(key, agg)) => steps.entry(key).or_default().merge(&agg),
            Err(e) => match opts.strictness {
                Strictness::Strict => return Err(e.into()),
                Strictness::Lenient => report.skipped.push(e),
            },
        }
    }

    let jobs = build_jobs(rows, steps, opts, &mut report);
    let mut trace = Trace {
        names,
        jobs,
        ..Default::default()
    };
    trace.meta.source = "sacct".to_owned();
    trace.meta.origin = Some(file.to_owned());
    if !clusters.is_empty() {
        trace.meta.cluster = Some(clusters.into_iter().collect::<Vec<_>>().join(","));
    }
    trace
        .meta
        .header
        .insert("timezone".to_owned(), tz.name().to_owned());
    trace.sort();
    Ok((trace, report))
}

// ---------------------------------------------------------------------------
// Step 1: physical lines to records.

struct Lines<'a, R> {
    reader: R,
    file: &'a str,
    next_no: usize,
    peeked: Option<Option<String>>,
}

impl<R: BufRead> Lines<'_, R> {
    fn read_raw(&mut self) -> Result<Option<String>, TraceError> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| TraceError::Io {
                path: self.file.to_owned(),
                source,
            })?;
        if n == 0 {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        // Accounting text is not always UTF-8 (job names, paths).
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }

    fn peek(&mut self) -> Result<Option<&str>, TraceError> {
        if self.peeked.is_none() {
            let l = self.read_raw()?;
            self.peeked = Some(l);
        }
        Ok(self.peeked.as_ref().and_then(|l| l.as_deref()))
    }

    /// The next physical line and its 1-based number.
    fn next(&mut self) -> Result<Option<(usize, String)>, TraceError> {
        let l = match self.peeked.take() {
            Some(l) => l,
            None => self.read_raw()?,
        };
        Ok(l.map(|l| {
            self.next_no += 1;
            (self.next_no, l)
        }))
    }
}

/// A header line: `|`-separated column names, one of them `JobID` or
/// `JobIDRaw`.
fn is_header(line: &str) -> bool {
    let mut has_id = false;
    for f in line.trim_end().split('|') {
        if f.is_empty() || !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return false;
        }
        if f.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            return false;
        }
        has_id |= f.eq_ignore_ascii_case("JobID") || f.eq_ignore_ascii_case("JobIDRaw");
    }
    has_id
}

/// Whether `line` starts a new record rather than continuing an
/// incomplete one: it is complete by itself, or the first column is a job
/// id and the line starts with one.
fn starts_record(line: &str, cols: &Cols, width: usize) -> bool {
    if line.split('|').count() >= width {
        return true;
    }
    if cols.jobid == Some(0) || cols.jobidraw == Some(0) {
        let first = line.split('|').next().unwrap_or("");
        return line.contains('|') && parse_jobid(first).is_ok();
    }
    false
}

// ---------------------------------------------------------------------------
// Step 2: re-aligning rows with unescaped `|`.

/// What a column holds, to score alignments.
#[derive(Clone, Copy, PartialEq, Debug)]
enum ColKind {
    Free,
    Any,
    Int,
    Duration,
    Time,
    Tres,
    ExitCode,
    State,
    JobId,
    Mem,
    Word,
}

fn col_kind(name: &str) -> ColKind {
    let n = name.to_ascii_lowercase();
    let is = |list: &[&str]| list.iter().any(|x| x.eq_ignore_ascii_case(&n));
    if FREE_TEXT_COLUMNS.iter().any(|x| x.eq_ignore_ascii_case(&n)) {
        ColKind::Free
    } else if is(&[
        "alloccpus",
        "allocnodes",
        "associd",
        "cputimeraw",
        "dbindex",
        "elapsedraw",
        "gid",
        "uid",
        "ncpus",
        "nnodes",
        "ntasks",
        "priority",
        "qosraw",
        "reqcpus",
        "reqnodes",
        "resvcpuraw",
        "consumedenergyraw",
        "wckeyid",
        "reservationid",
        "plannedcpuraw",
    ]) {
        ColKind::Int
    } else if is(&[
        "elapsed",
        "cputime",
        "timelimit",
        "totalcpu",
        "usercpu",
        "systemcpu",
        "suspended",
        "reserved",
        "resvcpu",
        "avecpu",
        "mincpu",
        "planned",
        "plannedcpu",
    ]) {
        ColKind::Duration
    } else if is(&["submit", "eligible", "start", "end"]) {
        ColKind::Time
    } else if is(&["exitcode", "derivedexitcode"]) {
        ColKind::ExitCode
    } else if is(&["alloctres", "reqtres"]) || n.starts_with("tresusage") {
        ColKind::Tres
    } else if n == "state" {
        ColKind::State
    } else if is(&["jobid", "jobidraw"]) {
        ColKind::JobId
    } else if n == "reqmem" {
        ColKind::Mem
    } else if is(&["cluster", "partition", "account", "user", "group", "qos"]) {
        ColKind::Word
    } else {
        ColKind::Any
    }
}

/// Whether `v` looks like a value of `kind` (a cheap shape test, not a
/// parse). Empty values fit every kind.
fn fits(kind: ColKind, v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match kind {
        ColKind::Free | ColKind::Any => true,
        ColKind::Int => digits(v),
        ColKind::Duration => parse_duration(v).is_ok() || parse_limit(v).is_ok(),
        ColKind::Time => {
            v == "Unknown"
                || v == "None"
                || (v.len() == 19 && v.as_bytes()[4] == b'-' && v.as_bytes()[13] == b':')
        }
        ColKind::Tres => v.split(',').all(|e| {
            e.split_once('=')
                .is_some_and(|(k, x)| !k.is_empty() && !x.is_empty() && !x.contains(' '))
        }),
        ColKind::ExitCode => v
            .split_once(':')
            .is_some_and(|(a, b)| digits(a) && digits(b)),
        ColKind::State => parse_state(v).is_ok(),
        ColKind::JobId => parse_jobid(v).is_ok(),
        ColKind::Mem => parse_reqmem(v).is_ok(),
        ColKind::Word => v
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.,@+".contains(c)),
    }
}

/// Most extra fields one row may have.
const MAX_EXTRA_FIELDS: usize = 1000;

/// Splits a record into exactly `kinds.len()` values. Extra fields (from
/// unescaped `|`) are merged into free-text columns, choosing the
/// placement under which the most typed columns hold values of their type
/// (ties: the later free-text column takes the extras).
fn align(rec: &str, kinds: &[ColKind]) -> Result<Vec<String>, String> {
    let fields: Vec<&str> = rec.split('|').collect();
    let h = kinds.len();
    let n = fields.len();
    if n == h {
        return Ok(fields.into_iter().map(str::to_owned).collect());
    }
    if n < h {
        return Err(format!(
            "expected {h} `|`-separated fields as in the header, found {n} (truncated record?)"
        ));
    }
    let extra = n - h;
    if extra > MAX_EXTRA_FIELDS {
        return Err(format!(
            "expected {h} fields, found {n}: too many stray `|` to re-align"
        ));
    }
    if !kinds.contains(&ColKind::Free) {
        return Err(format!(
            "expected {h} fields, found {n}, and no free-text column ({}) can hold the extra `|`",
            FREE_TEXT_COLUMNS.join(", ")
        ));
    }
    // best[i][e]: best score for columns i.. when e extras are used before i.
    const NONE: i64 = i64::MIN / 2;
    let w = extra + 1;
    let mut best = vec![NONE; (h + 1) * w];
    let mut take = vec![0usize; h * w];
    best[h * w + extra] = 0;
    for i in (0..h).rev() {
        for e in 0..=extra {
            let pos = i + e;
            if kinds[i] == ColKind::Free {
                // Prefer the smallest take: extras go to later columns.
                let mut b = NONE;
                let mut bt = 0;
                for t in 0..=(extra - e) {
                    let s = best[(i + 1) * w + e + t];
                    if s > b {
                        b = s;
                        bt = t;
                    }
                }
                best[i * w + e] = b;
                take[i * w + e] = bt;
            } else {
                let next = best[(i + 1) * w + e];
                if next == NONE {
                    continue;
                }
                let v = fields[pos];
                let s = if v.is_empty() || kinds[i] == ColKind::Any {
                    0
                } else if fits(kinds[i], v) {
                    1
                } else {
                    -2
                };
                best[i * w + e] = next + s;
            }
        }
    }
    if best[0] == NONE {
        return Err(format!("expected {h} fields, found {n}: cannot re-align"));
    }
    let mut out = Vec::with_capacity(h);
    let mut e = 0;
    for (i, k) in kinds.iter().enumerate() {
        let pos = i + e;
        if *k == ColKind::Free {
            let t = take[i * w + e];
            out.push(fields[pos..=pos + t].join("|"));
            e += t;
        } else {
            out.push(fields[pos].to_owned());
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Step 3: decoding rows.

/// Where the columns slurm-rl reads sit in a row.
#[derive(Default)]
struct Cols {
    jobid: Option<usize>,
    jobidraw: Option<usize>,
    cluster: Option<usize>,
    partition: Option<usize>,
    account: Option<usize>,
    group: Option<usize>,
    user: Option<usize>,
    qos: Option<usize>,
    submit: Option<usize>,
    eligible: Option<usize>,
    start: Option<usize>,
    end: Option<usize>,
    elapsed: Option<usize>,
    timelimit: Option<usize>,
    state: Option<usize>,
    exitcode: Option<usize>,
    nnodes: Option<usize>,
    ncpus: Option<usize>,
    reqcpus: Option<usize>,
    reqnodes: Option<usize>,
    reqmem: Option<usize>,
    reqtres: Option<usize>,
    alloctres: Option<usize>,
    priority: Option<usize>,
    nodelist: Option<usize>,
}

impl Cols {
    fn new(columns: &[String]) -> Result<Cols, (String, String)> {
        let find = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
        let c = Cols {
            jobid: find("JobID"),
            jobidraw: find("JobIDRaw"),
            cluster: find("Cluster"),
            partition: find("Partition"),
            account: find("Account"),
            group: find("Group"),
            user: find("User"),
            qos: find("QOS"),
            submit: find("Submit"),
            eligible: find("Eligible"),
            start: find("Start"),
            end: find("End"),
            elapsed: find("Elapsed"),
            timelimit: find("Timelimit"),
            state: find("State"),
            exitcode: find("ExitCode"),
            nnodes: find("NNodes"),
            ncpus: find("NCPUS"),
            reqcpus: find("ReqCPUS"),
            reqnodes: find("ReqNodes"),
            reqmem: find("ReqMem"),
            reqtres: find("ReqTRES"),
            alloctres: find("AllocTRES"),
            priority: find("Priority"),
            nodelist: find("NodeList"),
        };
        if c.jobid.is_none() && c.jobidraw.is_none() {
            return Err((
                "JobID".into(),
                "expected a JobID or JobIDRaw column in the header".into(),
            ));
        }
        if c.submit.is_none() {
            return Err((
                "Submit".into(),
                "expected a Submit column in the header".into(),
            ));
        }
        Ok(c)
    }
}

/// Parts of a `JobID` such as `123_4`, `123_[5-9%2]`, `123+1`, `123.batch`.
#[derive(Debug, PartialEq)]
struct JobIdParts {
    base: u64,
    array: ArrayPart,
    het: Option<u32>,
    step: Option<String>,
}

#[derive(Debug, PartialEq)]
enum ArrayPart {
    None,
    Task(u32),
    /// Pending tasks not yet split off: the indices.
    Pending(Vec<u32>),
}

/// Most tasks one pending array row may expand to (Slurm's own
/// `MaxArraySize` upper bound is 4000001).
const MAX_ARRAY_EXPANSION: usize = 4_000_001;

fn parse_jobid(s: &str) -> Result<JobIdParts, String> {
    let bad = || {
        format!(
            "expected a job id such as 123, 123_4, 123_[5-9%2], 123+1 or 123.batch, found {s:?}"
        )
    };
    let (main, step) = match s.split_once('.') {
        Some((m, st)) if !st.is_empty() => (m, Some(st.to_owned())),
        Some(_) => return Err(bad()),
        None => (s, None),
    };
    let (main, het) = match main.split_once('+') {
        Some((m, off)) => (m, Some(off.parse::<u32>().map_err(|_| bad())?)),
        None => (main, None),
    };
    let (base, array) = match main.split_once('_') {
        Some((b, a)) => {
            let arr = if let Some(inner) = a.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
                ArrayPart::Pending(
                    expand_array_range(inner).map_err(|m| format!("{}: {m}", bad()))?,
                )
            } else {
                ArrayPart::Task(a.parse().map_err(|_| bad())?)
            };
            (b, arr)
        }
        None => (main, ArrayPart::None),
    };
    if base.is_empty() || !base.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok(JobIdParts {
        base: base.parse().map_err(|_| bad())?,
        array,
        het,
        step,
    })
}

/// Expands `1-3,7,10-20:5%4` (the throttle after `%` is ignored).
fn expand_array_range(s: &str) -> Result<Vec<u32>, String> {
    let list = s.split_once('%').map_or(s, |(l, _)| l);
    let mut out = Vec::new();
    for item in list.split(',') {
        let (range, stride) = match item.split_once(':') {
            Some((r, st)) => (r, st.parse::<u32>().map_err(|_| "bad stride".to_owned())?),
            None => (item, 1),
        };
        if stride == 0 {
            return Err("stride 0".into());
        }
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a, b),
            None => (range, range),
        };
        let a: u32 = a.parse().map_err(|_| format!("bad index {a:?}"))?;
        let b: u32 = b.parse().map_err(|_| format!("bad index {b:?}"))?;
        if b < a {
            return Err(format!("range {a}-{b} runs backwards"));
        }
        let count = ((b - a) / stride) as usize + 1;
        if out.len() + count > MAX_ARRAY_EXPANSION {
            return Err(format!("more than {MAX_ARRAY_EXPANSION} tasks"));
        }
        out.extend((a..=b).step_by(stride as usize));
    }
    Ok(out)
}

/// A time field: `None` for `Unknown`, `None` or empty.
fn parse_time(s: &str, tz: chrono_tz::Tz) -> Result<Option<u64>, String> {
    if s.is_empty() || s == "Unknown" || s == "None" {
        return Ok(None);
    }
    let expected = || format!("expected a time YYYY-MM-DDTHH:MM:SS, Unknown or None, found {s:?}");
    let ndt = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S"))
        .map_err(|_| expected())?;
    let dt = match tz.from_local_datetime(&ndt) {
        chrono::LocalResult::Single(t) => t,
        // The repeated hour when clocks go back: take the first.
        chrono::LocalResult::Ambiguous(a, _) => a,
        chrono::LocalResult::None => {
            return Err(format!(
                "{s:?} does not exist in time zone {} (skipped by a daylight-saving change); wrong --timezone?",
                tz.name()
            ));
        }
    };
    u64::try_from(dt.timestamp())
        .map(Some)
        .map_err(|_| format!("expected a time after 1970, found {s:?}"))
}

/// A duration `[D-]HH:MM:SS`, `MM:SS` or `MM:SS.mmm` (milliseconds are
/// dropped), in seconds.
fn parse_duration(s: &str) -> Result<u64, String> {
    let bad = || format!("expected a duration [D-]HH:MM:SS or MM:SS[.mmm], found {s:?}");
    let num = |x: &str| -> Result<u64, String> {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse().map_err(|_| bad())
    };
    let (days, rest) = match s.split_once('-') {
        Some((d, r)) => (num(d)?, r),
        None => (0, s),
    };
    let rest = rest.split_once('.').map_or(rest, |(r, ms)| {
        if ms.bytes().all(|b| b.is_ascii_digit()) {
            r
        } else {
            "x"
        }
    });
    let parts: Vec<&str> = rest.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, sec] => (num(h)?, num(m)?, num(sec)?),
        [m, sec] if days == 0 => (0, num(m)?, num(sec)?),
        [h] if days > 0 => (num(h)?, 0, 0),
        _ => return Err(bad()),
    };
    if m >= 60 || sec >= 60 {
        return Err(bad());
    }
    Ok(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// A `Timelimit`: `None` for `UNLIMITED`, `Partition_Limit`, `INVALID` or
/// empty.
fn parse_limit(s: &str) -> Result<Option<u64>, String> {
    match s {
        "" | "UNLIMITED" | "Partition_Limit" | "INVALID" => Ok(None),
        _ => parse_duration(s).map(Some).map_err(|_| {
            format!("expected a time limit [D-]HH:MM:SS, UNLIMITED or Partition_Limit, found {s:?}")
        }),
    }
}

/// A job state: the first word (`CANCELLED by 1234` → `CANCELLED`).
fn parse_state(s: &str) -> Result<JobState, String> {
    let word = s.split_whitespace().next().unwrap_or("");
    let word = word.trim_end_matches('+');
    let st = match word {
        "COMPLETED" => JobState::Completed,
        "FAILED" => JobState::Failed,
        "CANCELLED" => JobState::Cancelled,
        "TIMEOUT" => JobState::Timeout,
        "NODE_FAIL" => JobState::NodeFail,
        "OUT_OF_MEMORY" => JobState::OutOfMemory,
        "PREEMPTED" => JobState::Preempted,
        "REQUEUED" => JobState::Requeued,
        "PENDING" => JobState::Pending,
        "RUNNING" => JobState::Running,
        w if !w.is_empty() && w.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
            JobState::Other
        }
        _ => {
            return Err(format!(
                "expected a Slurm job state such as COMPLETED or \"CANCELLED by 1234\", found {s:?}"
            ));
        }
    };
    Ok(st)
}

fn parse_exit(s: &str) -> Result<(i32, i32), String> {
    if s.is_empty() {
        return Ok((0, 0));
    }
    let bad = || format!("expected an exit code N:S such as 0:0 or 1:9, found {s:?}");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    Ok((a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?))
}

/// A memory size with an optional unit K/M/G/T/P (none = M), in MB
/// (Slurm's MB: 1 G = 1024 M).
fn parse_mem_mb(s: &str) -> Option<u64> {
    let (num, unit) = match s.as_bytes().last()? {
        b if b.is_ascii_digit() => (s, b'M'),
        &b => (&s[..s.len() - 1], b.to_ascii_uppercase()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let factor: f64 = match unit {
        b'K' => 1.0 / 1024.0,
        b'M' => 1.0,
        b'G' => 1024.0,
        b'T' => 1024.0 * 1024.0,
        b'P' => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    if !num.contains('.') && unit == b'M' {
        return num.parse().ok();
    }
    let v: f64 = num.parse().ok()?;
    Some((v * factor).ceil() as u64)
}

/// What a `ReqMem` value is relative to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MemPer {
    Job,
    Cpu,
    Node,
}

/// `ReqMem`: `4000M`, `16G` (Slurm >= 21.08: the job's total), or the
/// older `2800Mc` (per CPU) / `180000Mn` (per node).
fn parse_reqmem(s: &str) -> Result<(u64, MemPer), String> {
    let bad =
        || format!("expected a memory size such as 4000M, 16G, 2800Mc or 180000Mn, found {s:?}");
    let (body, per) = match s.as_bytes().last() {
        Some(b'c') => (&s[..s.len() - 1], MemPer::Cpu),
        Some(b'n') => (&s[..s.len() - 1], MemPer::Node),
        _ => (s, MemPer::Job),
    };
    parse_mem_mb(body).map(|mb| (mb, per)).ok_or_else(bad)
}

/// The TRES entries slurm-rl uses.
#[derive(Debug, Default, PartialEq)]
struct Tres {
    cpu: Option<u32>,
    node: Option<u32>,
    mem_mb: Option<u64>,
    /// `gres/gpu=N`.
    gpus: Option<u32>,
    /// `gres/gpu:TYPE=N`, in the order given.
    typed: Vec<(String, u32)>,
}

impl Tres {
    /// Total GPUs: the untyped count, else the sum of the typed ones.
    fn gpu_total(&self) -> Option<u32> {
        self.gpus
            .or_else(|| (!self.typed.is_empty()).then(|| self.typed.iter().map(|(_, n)| n).sum()))
    }
}

fn parse_tres(s: &str) -> Result<Tres, String> {
    let mut t = Tres::default();
    if s.is_empty() {
        return Ok(t);
    }
    for entry in s.split(',') {
        let bad = |what: &str| {
            format!(
                "expected TRES entries name=value such as cpu=4,mem=16G,gres/gpu:a100=2, found {entry:?}{what}"
            )
        };
        let (k, v) = entry.split_once('=').ok_or_else(|| bad(""))?;
        if k.is_empty() || v.is_empty() {
            return Err(bad(""));
        }
        let count = || v.parse::<u32>().map_err(|_| bad(" (not a count)"));
        match k {
            "cpu" => t.cpu = Some(count()?),
            "node" => t.node = Some(count()?),
            "mem" => t.mem_mb = Some(parse_mem_mb(v).ok_or_else(|| bad(" (not a size)"))?),
            "gres/gpu" => t.gpus = Some(count()?),
            _ => {
                if let Some(ty) = k.strip_prefix("gres/gpu:") {
                    t.typed.push((ty.to_owned(), count()?));
                }
            }
        }
    }
    Ok(t)
}

/// One decoded job row.
#[derive(Debug)]
struct Row {
    parts: JobIdParts,
    raw: Option<u64>,
    user: u32,
    group: u32,
    account: u32,
    partition: u32,
    qos: u32,
    submit: u64,
    eligible: Option<u64>,
    start: Option<u64>,
    end: Option<u64>,
    elapsed: Option<u64>,
    time_limit: Option<u64>,
    state: JobState,
    exit: (i32, i32),
    nnodes: Option<u32>,
    ncpus: Option<u32>,
    reqcpus: Option<u32>,
    reqnodes: Option<u32>,
    reqmem: Option<(u64, MemPer)>,
    req: Option<Tres>,
    alloc: Option<Tres>,
    priority: Option<u64>,
    /// `NodeList` is `None assigned`; `None` without a NodeList column.
    nodelist_none: Option<bool>,
    gpu_type: u32,
}

/// What step rows tell about their job.
#[derive(Debug, Default, Clone, PartialEq)]
struct StepAgg {
    count: usize,
    start: Option<u64>,
    end: Option<u64>,
    nodes: u32,
    cpus: u32,
    mem_mb: u64,
    gpus: u32,
}

impl StepAgg {
    fn merge(&mut self, o: &StepAgg) {
        self.count += o.count;
        self.start = match (self.start, o.start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.end = self.end.max(o.end);
        self.nodes = self.nodes.max(o.nodes);
        self.cpus = self.cpus.max(o.cpus);
        self.mem_mb = self.mem_mb.max(o.mem_mb);
        self.gpus = self.gpus.max(o.gpus);
    }
}

enum Decoded {
    Job(Box<Row>, Option<String>),
    /// Job key (the `JobID` before the `.`), what the step says.
    Step(String, StepAgg),
}

type FieldErr = (String, String);

fn decode_row(
    vals: &[String],
    columns: &[String],
    cols: &Cols,
    tz: chrono_tz::Tz,
    names: &mut Names,
) -> Result<Decoded, FieldErr> {
    let get = |c: Option<usize>| c.map(|i| vals[i].trim());
    let ferr = |c: Option<usize>, m: String| (c.map(|i| columns[i].clone()).unwrap_or_default(), m);
    let field = |c: Option<usize>| -> &str { get(c).unwrap_or("") };
    let opt_u32 = |c: Option<usize>| -> Result<Option<u32>, FieldErr> {
        match get(c) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ferr(c, format!("expected a non-negative integer, found {v:?}"))),
        }
    };
    let time = |c: Option<usize>| parse_time(field(c), tz).map_err(|m| ferr(c, m));

    let idcol = cols.jobid.or(cols.jobidraw);
    let parts = parse_jobid(field(idcol)).map_err(|m| ferr(idcol, m))?;
    let raw = match get(cols.jobidraw) {
        None | Some("") => None,
        Some(v) => {
            let p = parse_jobid(v).map_err(|m| ferr(cols.jobidraw, m))?;
            Some(p.base)
        }
    };
    let req = match get(cols.reqtres) {
        None => None,
        Some(v) => Some(parse_tres(v).map_err(|m| ferr(cols.reqtres, m))?),
    };
    let alloc = match get(cols.alloctres) {
        None => None,
        Some(v) => Some(parse_tres(v).map_err(|m| ferr(cols.alloctres, m))?),
    };
    let start = time(cols.start)?;
    let end = time(cols.end)?;
    let elapsed = match get(cols.elapsed) {
        None | Some("") => None,
        Some(v) => Some(parse_duration(v).map_err(|m| ferr(cols.elapsed, m))?),
    };
    let ncpus = opt_u32(cols.ncpus)?;
    // Node counts of pending jobs may be ranges (`1-4`): take the minimum.
    let nodes_of = |c: Option<usize>| -> Result<Option<u32>, FieldErr> {
        match get(c) {
            None | Some("") => Ok(None),
            Some(v) => v
                .split_once('-')
                .map_or(v, |(a, _)| a)
                .parse()
                .map(Some)
                .map_err(|_| {
                    ferr(
                        c,
                        format!("expected a node count such as 2 or 1-4, found {v:?}"),
                    )
                }),
        }
    };
    let nnodes = nodes_of(cols.nnodes)?;

    if parts.step.is_some() {
        let key = job_key(&parts);
        let a = alloc.unwrap_or_default();
        let agg = StepAgg {
            count: 1,
            start,
            end,
            nodes: a.node.or(nnodes).unwrap_or(0),
            cpus: a.cpu.or(ncpus).unwrap_or(0),
            mem_mb: a.mem_mb.unwrap_or(0),
            gpus: a.gpu_total().unwrap_or(0),
        };
        return Ok(Decoded::Step(key, agg));
    }

    let submit = time(cols.submit)?.ok_or_else(|| {
        ferr(
            cols.submit,
            format!(
                "expected the submit time YYYY-MM-DDTHH:MM:SS, found {:?}",
                field(cols.submit)
            ),
        )
    })?;
    let state = match get(cols.state) {
        None => JobState::Completed,
        Some(v) => parse_state(v).map_err(|m| ferr(cols.state, m))?,
    };
    // sacct shows a pending job's *expected* start; it has not started.
    let (start, end) = if state == JobState::Pending {
        (None, None)
    } else {
        (start, end)
    };
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err(ferr(
            cols.end,
            format!(
                "expected an end at or after Start ({:?}), found {:?}",
                field(cols.start),
                field(cols.end)
            ),
        ));
    }
    let time_limit = parse_limit(field(cols.timelimit)).map_err(|m| ferr(cols.timelimit, m))?;
    let exit = parse_exit(field(cols.exitcode)).map_err(|m| ferr(cols.exitcode, m))?;
    let reqmem = match get(cols.reqmem) {
        None | Some("") => None,
        Some(v) => Some(parse_reqmem(v).map_err(|m| ferr(cols.reqmem, m))?),
    };
    let priority = match get(cols.priority) {
        None | Some("") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ferr(
                cols.priority,
                format!("expected a non-negative integer, found {v:?}"),
            )
        })?),
    };
    let cluster = get(cols.cluster)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    // Everything that can fail comes before interning names.
    let eligible = time(cols.eligible)?;
    let reqcpus = opt_u32(cols.reqcpus)?;
    let reqnodes = nodes_of(cols.reqnodes)?;
    let gpu_type = req
        .as_ref()
        .and_then(|t| t.typed.first())
        .map(|(ty, _)| names.gpu_types.intern(ty))
        .unwrap_or(0);
    let row = Row {
        parts,
        raw,
        user: names.users.intern(field(cols.user)),
        group: names.groups.intern(field(cols.group)),
        account: names.accounts.intern(field(cols.account)),
        partition: names.partitions.intern(field(cols.partition)),
        qos: names.qos.intern(field(cols.qos)),
        submit,
        eligible,
        start,
        end,
        elapsed,
        time_limit,
        state,
        exit,
        nnodes,
        ncpus,
        reqcpus,
        reqnodes,
        reqmem,
        req,
        alloc,
        priority,
        nodelist_none: get(cols.nodelist).map(|v| v == "None assigned"),
        gpu_type,
    };
    Ok(Decoded::Job(Box::new(row), cluster))
}

/// A job that was cancelled before it started. Slurm records such jobs
/// either with `Start` = `Unknown`/`None`, or (newer versions) with
/// `Start` = `End` = the cancel time, `Elapsed` 0 and no allocation
/// (`AllocTRES` empty or `NodeList` `None assigned`; when the dump has
/// neither column, `Start` = `End` and `Elapsed` 0 suffice).
fn never_started(r: &Row) -> bool {
    if r.state != JobState::Cancelled {
        return false;
    }
    match r.start {
        None => true,
        Some(s) => {
            let no_alloc = match (r.nodelist_none, &r.alloc) {
                (None, None) => true,
                (nl, alloc) => {
                    nl == Some(true) || alloc.as_ref().is_some_and(|a| *a == Tres::default())
                }
            };
            r.end == Some(s) && r.elapsed.unwrap_or(0) == 0 && no_alloc
        }
    }
}

fn max_opt<T: Ord + Copy>(xs: &[Option<T>]) -> Option<T> {
    xs.iter().flatten().copied().max()
}

/// Turns decoded rows into jobs: fills from steps, expands pending array
/// ranges, drops what the options say.
fn build_jobs(
    rows: Vec<Row>,
    mut steps: BTreeMap<String, StepAgg>,
    opts: &SacctOptions,
    report: &mut ReadReport,
) -> Vec<Job> {
    // Ids that exist in Slurm; synthetic ids for pending array tasks start
    // above them.
    let max_id = rows
        .iter()
        .map(|r| {
            r.raw
                .unwrap_or(r.parts.base + u64::from(r.parts.het.unwrap_or(0)))
        })
        .max()
        .unwrap_or(0);
    let mut next_synthetic = max_id + 1;
    let mut by_id: BTreeMap<u64, usize> = BTreeMap::new();
    let mut jobs: Vec<Option<Job>> = Vec::new();
    let count_drop = |report: &mut ReadReport, why: &str| {
        *report.dropped.entry(why.to_owned()).or_insert(0) += 1;
    };

    for r in rows {
        let key = job_key(&r.parts);
        let agg = steps.remove(&key);
        let cancelled_pending = never_started(&r);
        if cancelled_pending && !opts.keep_cancelled_pending {
            count_drop(report, DROP_CANCELLED_PENDING);
            continue;
        }
        let req = r.req.as_ref();
        let alloc = if cancelled_pending {
            None
        } else {
            r.alloc.as_ref()
        };
        let req_cpus = req.and_then(|t| t.cpu).or(r.reqcpus);
        let req_nodes = req.and_then(|t| t.node).or(r.reqnodes);
        let mut nodes = max_opt(&[req_nodes, alloc.and_then(|t| t.node), r.nnodes]).unwrap_or(0);
        let mut cpus = max_opt(&[req_cpus, alloc.and_then(|t| t.cpu), r.ncpus]).unwrap_or(0);
        let req_mem = req.and_then(|t| t.mem_mb).or_else(|| {
            r.reqmem.map(|(mb, per)| match per {
                MemPer::Job => mb,
                MemPer::Cpu => mb * u64::from(req_cpus.or(r.ncpus).unwrap_or(1)),
                MemPer::Node => mb * u64::from(req_nodes.or(r.nnodes).unwrap_or(1)),
            })
        });
        let mut mem_mb = max_opt(&[req_mem, alloc.and_then(|t| t.mem_mb)]).unwrap_or(0);
        let mut gpus = max_opt(&[
            req.and_then(Tres::gpu_total),
            alloc.and_then(Tres::gpu_total),
        ])
        .unwrap_or(0);
        let mut start = if cancelled_pending { None } else { r.start };
        let mut end = r.end;
        if let Some(a) = &agg {
            if nodes == 0 {
                nodes = a.nodes;
            }
            if cpus == 0 {
                cpus = a.cpus;
            }
            if mem_mb == 0 {
                mem_mb = a.mem_mb;
            }
            if gpus == 0 {
                gpus = a.gpus;
            }
            if start.is_none() && !cancelled_pending && r.state != JobState::Pending {
                start = a.start;
            }
            if end.is_none() && r.state != JobState::Running && r.state != JobState::Pending {
                end = a.end;
            }
        }
        let run_time = match (start, r.elapsed) {
            (None, _) => 0,
            (Some(_), Some(e)) => e,
            (Some(s), None) => end.map_or(0, |e| e.saturating_sub(s)),
        };
        let template = Job {
            id: 0,
            array: None,
            het: r.parts.het.map(|o| (r.parts.base, o)),
            user: r.user,
            group: r.group,
            account: r.account,
            partition: r.partition,
            qos: r.qos,
            submit: r.submit,
            eligible: r.eligible.unwrap_or(r.submit).max(r.submit),
            start,
            end,
            nodes: nodes.max(1),
            cpus,
            mem_mb,
            gpus,
            gpu_type: r.gpu_type,
            time_limit: r.time_limit,
            run_time,
            state: r.state,
            exit_code: r.exit.0,
            exit_signal: r.exit.1,
            priority: r.priority,
        };
        let mut emit = |job: Job, report: &mut ReadReport| {
            if let Some(&i) = by_id.get(&job.id) {
                jobs[i] = None;
                count_drop(report, DROP_DUPLICATE);
            }
            by_id.insert(job.id, jobs.len());
            jobs.push(Some(job));
        };
        match &r.parts.array {
            ArrayPart::None => {
                let id = r
                    .raw
                    .unwrap_or(r.parts.base + u64::from(r.parts.het.unwrap_or(0)));
                emit(Job { id, ..template }, report);
            }
            ArrayPart::Task(t) => {
                let id = r.raw.unwrap_or_else(|| {
                    next_synthetic += 1;
                    next_synthetic - 1
                });
                emit(
                    Job {
                        id,
                        array: Some((r.parts.base, *t)),
                        ..template
                    },
                    report,
                );
            }
            ArrayPart::Pending(tasks) => {
                // The highest index keeps the raw id (the meta record Slurm
                // splits tasks off from); the others get ids above every
                // real id in the dump.
                let last = tasks.len().saturating_sub(1);
                for (k, &t) in tasks.iter().enumerate() {
                    let id = match (k == last, r.raw) {
                        (true, Some(raw)) => raw,
                        _ => {
                            next_synthetic += 1;
                            next_synthetic - 1
                        }
                    };
                    emit(
                        Job {
                            id,
                            array: Some((r.parts.base, t)),
                            ..template.clone()
                        },
                        report,
                    );
                }
            }
        }
    }
    for agg in steps.values() {
        *report
            .dropped
            .entry(DROP_ORPHAN_STEP.to_owned())
            .or_insert(0) += agg.count;
    }
    jobs.into_iter().flatten().collect()
}

/// The `JobID` text before a step suffix, as steps name their job.
fn job_key(p: &JobIdParts) -> String {
    let mut s = p.base.to_string();
    match &p.array {
        ArrayPart::None => {}
        ArrayPart::Task(t) => s.push_str(&format!("_{t}")),
        ArrayPart::Pending(_) => s.push_str("_["),
    }
    if let Some(h) = p.het {
        s.push_str(&format!("+{h}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_767_571_200; // 2026-01-05T00:00:00Z

    fn utc() -> SacctOptions {
        SacctOptions {
            timezone: Some(chrono_tz::UTC),
            ..Default::default()
        }
    }

    fn lenient() -> SacctOptions {
        SacctOptions {
            strictness: Strictness::Lenient,
            ..utc()
        }
    }

    fn read_str(s: &str, opts: &SacctOptions) -> Result<(Trace, ReadReport), TraceError> {
        read_from(s.as_bytes(), "t.log", opts)
    }

    fn parse_err(s: &str) -> ParseError {
        match read_str(s, &utc()) {
            Err(TraceError::Parse(e)) => e,
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    fn job(t: &Trace, id: u64) -> &Job {
        t.jobs
            .iter()
            .find(|j| j.id == id)
            .unwrap_or_else(|| panic!("job {id} missing"))
    }

    fn quirks() -> std::path::PathBuf {
        std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/sacct_quirks.log"
        ))
    }

    /// A header in FORMAT_FIELDS order and one row built from `over`
    /// (column name → value) on top of a plain completed job.
    fn one_row(over: &[(&str, &str)]) -> String {
        let mut vals: BTreeMap<&str, &str> = [
            ("JobID", "77"),
            ("JobIDRaw", "77"),
            ("Cluster", "c"),
            ("Partition", "p"),
            ("Account", "a"),
            ("Group", "g"),
            ("User", "u"),
            ("QOS", "q"),
            ("Submit", "2026-01-05T00:00:00"),
            ("Eligible", "2026-01-05T00:00:00"),
            ("Start", "2026-01-05T00:01:00"),
            ("End", "2026-01-05T00:11:00"),
            ("Elapsed", "00:10:00"),
            ("Timelimit", "01:00:00"),
            ("State", "COMPLETED"),
            ("ExitCode", "0:0"),
            ("NNodes", "1"),
            ("NCPUS", "4"),
            ("ReqCPUS", "4"),
            ("ReqMem", "4000M"),
            ("ReqTRES", "billing=4,cpu=4,mem=4000M,node=1"),
            ("AllocTRES", "billing=4,cpu=4,mem=4000M,node=1"),
            ("Priority", "10"),
        ]
        .into_iter()
        .collect();
        for (k, v) in over {
            assert!(vals.insert(k, v).is_some(), "unknown column {k}");
        }
        let row: Vec<&str> = FORMAT_FIELDS.iter().map(|f| vals[f]).collect();
        format!("{}\n{}\n", FORMAT_FIELDS.join("|"), row.join("|"))
    }

    fn one_job(over: &[(&str, &str)]) -> Job {
        let (t, _) = read_str(&one_row(over), &utc()).unwrap();
        assert_eq!(t.jobs.len(), 1);
        t.jobs[0].clone()
    }

    #[test]
    fn format_arg_is_the_typed_field_list() {
        assert_eq!(FORMAT_FIELDS.len(), 23);
        let arg = format_arg();
        assert!(arg.starts_with("JobID,JobIDRaw,Cluster,"));
        assert!(arg.ends_with(",AllocTRES,Priority"));
        for f in FORMAT_FIELDS {
            assert_ne!(col_kind(f), ColKind::Free, "{f} is free text");
        }
    }

    #[test]
    fn rows_without_header_use_format_fields_order() {
        let with = one_row(&[]);
        let without = with.lines().nth(1).unwrap().to_owned() + "\n";
        let (a, _) = read_str(&with, &utc()).unwrap();
        let (b, _) = read_str(&without, &utc()).unwrap();
        assert_eq!(a.jobs, b.jobs);
        assert_eq!(b.jobs[0].cpus, 4);
        assert!(is_header(&FORMAT_FIELDS.join("|")));
        assert!(!is_header(without.trim_end()));
    }

    #[test]
    fn quirks_file_plain_gpu_job_with_steps() {
        let (t, r) = read(&quirks(), &utc()).unwrap();
        assert_eq!(r.lines, 19);
        assert!(r.skipped.is_empty());
        // 15 job rows; the pending range 1010_[2-4] expands to 3 tasks.
        assert_eq!(t.jobs.len(), 17);
        assert_eq!(r.dropped.get(DROP_ORPHAN_STEP), Some(&1));
        assert_eq!(t.meta.cluster.as_deref(), Some("tiny"));
        assert_eq!(t.meta.header["timezone"], "UTC");
        let j = job(&t, 1000);
        assert_eq!(j.submit, T0 + 10 * 3600);
        assert_eq!(j.start, Some(T0 + 10 * 3600 + 300));
        assert_eq!(j.end, Some(T0 + 11 * 3600 + 300));
        assert_eq!(j.run_time, 3600);
        assert_eq!(j.time_limit, Some(7200));
        assert_eq!((j.nodes, j.cpus, j.mem_mb, j.gpus), (1, 8, 32 * 1024, 2));
        assert_eq!(t.names.gpu_types.name(j.gpu_type), "a100");
        assert_eq!(t.names.users.name(j.user), "alice");
        assert_eq!(t.names.partitions.name(j.partition), "gpu");
        assert_eq!(t.names.qos.name(j.qos), "normal");
        assert_eq!(j.priority, Some(4242));
        assert_eq!(j.state, JobState::Completed);
        // Sorted by (submit, id).
        assert!(
            t.jobs
                .windows(2)
                .all(|w| (w[0].submit, w[0].id) <= (w[1].submit, w[1].id))
        );
    }

    #[test]
    fn quirks_file_arrays_and_het() {
        let (t, _) = read(&quirks(), &utc()).unwrap();
        let a0 = job(&t, 1002);
        assert_eq!(a0.array, Some((1001, 0)));
        assert_eq!(a0.state, JobState::Failed);
        assert_eq!((a0.exit_code, a0.exit_signal), (1, 0));
        // 1000Mc × 4 CPUs (ReqTRES has no mem).
        assert_eq!(a0.mem_mb, 4000);
        let a1 = job(&t, 1001);
        assert_eq!(a1.array, Some((1001, 1)));
        assert_eq!(a1.state, JobState::Timeout);
        assert_eq!(a1.run_time, 1802);
        assert_eq!(a1.exit_signal, 15);
        let running = job(&t, 1011);
        assert_eq!(running.state, JobState::Running);
        assert_eq!(running.end, None);
        assert_eq!(running.run_time, 300);
        // Pending range: task 4 keeps the raw id, 2 and 3 get ids above
        // every real id (max real id is 1999's job? no: orphan steps are
        // not jobs, so 1037).
        let pend: Vec<&Job> = t
            .jobs
            .iter()
            .filter(|j| j.array.map(|a| a.0) == Some(1010) && j.state == JobState::Pending)
            .collect();
        assert_eq!(pend.len(), 3);
        let mut tasks: Vec<(u32, u64)> = pend.iter().map(|j| (j.array.unwrap().1, j.id)).collect();
        tasks.sort();
        assert_eq!(tasks, vec![(2, 1038), (3, 1039), (4, 1010)]);
        for j in pend {
            assert_eq!(j.start, None);
            assert_eq!(j.end, None);
            assert_eq!(
                j.eligible, j.submit,
                "Eligible Unknown falls back to submit"
            );
            assert_eq!((j.cpus, j.mem_mb), (2, 2048));
        }
        let h0 = job(&t, 1020);
        let h1 = job(&t, 1021);
        assert_eq!(h0.het, Some((1020, 0)));
        assert_eq!(h1.het, Some((1020, 1)));
        assert_eq!((h0.nodes, h0.cpus, h0.mem_mb), (2, 64, 64000));
        assert_eq!(h0.time_limit, Some(86_400));
        // Untyped GPU request: any type, even though v100 was allocated.
        assert_eq!((h1.gpus, h1.gpu_type), (1, 0));
    }

    #[test]
    fn quirks_file_states_memory_and_cancelled_pending() {
        let (t, r) = read(&quirks(), &utc()).unwrap();
        assert!(!r.dropped.contains_key(DROP_CANCELLED_PENDING));
        let old = job(&t, 1030);
        assert!(old.cancelled_pending());
        assert_eq!(old.end, Some(T0 + 12 * 3600));
        assert_eq!((old.run_time, old.time_limit), (0, None));
        let new = job(&t, 1031);
        assert!(
            new.cancelled_pending(),
            "Start = End, Elapsed 0, no AllocTRES"
        );
        assert_eq!(new.end, Some(T0 + 12 * 3600 + 60));
        assert_eq!(new.time_limit, None);
        let ran = job(&t, 1032);
        assert_eq!(ran.state, JobState::Cancelled);
        assert!(!ran.cancelled_pending());
        assert_eq!(ran.run_time, 120);
        let nf = job(&t, 1033);
        assert_eq!(nf.state, JobState::NodeFail);
        assert_eq!(nf.mem_mb, 360_000, "180000Mn × 2 nodes");
        let oom = job(&t, 1034);
        assert_eq!(
            (oom.state, oom.mem_mb, oom.exit_signal),
            (JobState::OutOfMemory, 1, 125)
        );
        let pre = job(&t, 1035);
        assert_eq!((pre.state, pre.mem_mb), (JobState::Preempted, 1024 * 1024));
        assert_eq!(job(&t, 1036).state, JobState::Other);
        assert_eq!(job(&t, 1037).state, JobState::Requeued);

        let drop_opts = SacctOptions {
            keep_cancelled_pending: false,
            ..utc()
        };
        let (t2, r2) = read(&quirks(), &drop_opts).unwrap();
        assert_eq!(t2.jobs.len(), t.jobs.len() - 2);
        assert_eq!(r2.dropped[DROP_CANCELLED_PENDING], 2);
        assert!(t2.jobs.iter().all(|j| j.id != 1030 && j.id != 1031));
        assert!(t2.jobs.iter().any(|j| j.id == 1032));
    }

    #[test]
    fn steps_fill_what_the_job_row_lacks() {
        let hdr = FORMAT_FIELDS.join("|");
        let s = format!(
            "{hdr}\n\
             5|5|c|p|a|g|u|q|2026-01-05T00:00:00|2026-01-05T00:00:00|Unknown|Unknown||UNLIMITED|COMPLETED|0:0|||||||\n\
             5.batch|5.batch|c||a||||2026-01-05T00:01:00|2026-01-05T00:01:00|2026-01-05T00:01:00|2026-01-05T00:03:00|00:02:00||COMPLETED|0:0|1|6|6|||cpu=6,gres/gpu=1,mem=600M,node=1|\n\
             5.0|5.0|c||a||||2026-01-05T00:01:10|2026-01-05T00:01:10|2026-01-05T00:01:10|2026-01-05T00:04:00|00:02:50||COMPLETED|0:0|2|12|12|||cpu=12,mem=1200M,node=2|\n"
        );
        let (t, _) = read_str(&s, &utc()).unwrap();
        let j = &t.jobs[0];
        assert_eq!(j.start, Some(T0 + 60));
        assert_eq!(j.end, Some(T0 + 240));
        assert_eq!(j.run_time, 180, "End − Start when Elapsed is empty");
        assert_eq!((j.nodes, j.cpus, j.mem_mb, j.gpus), (2, 12, 1200, 1));
    }

    #[test]
    fn allocation_larger_than_request_wins() {
        // An exclusive job: 16 CPUs requested, 576 allocated.
        let j = one_job(&[
            ("NNodes", "16"),
            ("NCPUS", "576"),
            ("ReqCPUS", "16"),
            ("ReqTRES", "billing=16,cpu=16,mem=16G,node=16"),
            ("AllocTRES", "billing=576,cpu=576,mem=576G,node=16"),
        ]);
        assert_eq!((j.nodes, j.cpus, j.mem_mb), (16, 576, 576 * 1024));
    }

    #[test]
    fn reqmem_forms() {
        let no_tres = |m: &str| {
            one_job(&[
                ("ReqMem", m),
                ("NNodes", "2"),
                ("ReqTRES", "billing=8,cpu=8,node=2"),
                ("AllocTRES", ""),
                ("NCPUS", "8"),
                ("ReqCPUS", "8"),
            ])
            .mem_mb
        };
        assert_eq!(no_tres("2800Mc"), 2800 * 8);
        assert_eq!(no_tres("4000Mn"), 8000);
        assert_eq!(no_tres("2Gn"), 4096);
        assert_eq!(no_tres("4000M"), 4000);
        assert_eq!(no_tres("16G"), 16384);
        assert_eq!(no_tres("0n"), 0);
        assert_eq!(parse_reqmem("1.5G"), Ok((1536, MemPer::Job)));
        assert_eq!(parse_reqmem("512K"), Ok((1, MemPer::Job)));
        assert!(parse_reqmem("lots").is_err());
    }

    #[test]
    fn tres_values() {
        let t = parse_tres("billing=4,cpu=4,gres/gpu:a100=2,gres/gpu=2,mem=16G,node=1").unwrap();
        assert_eq!(
            (t.cpu, t.node, t.mem_mb, t.gpus),
            (Some(4), Some(1), Some(16384), Some(2))
        );
        assert_eq!(t.typed, vec![("a100".to_owned(), 2)]);
        let t = parse_tres("cpu=2,gres/gpu:a100=1,gres/gpu:v100=3,mem=1T").unwrap();
        assert_eq!(t.gpu_total(), Some(4));
        assert_eq!(t.mem_mb, Some(1 << 20));
        assert_eq!(parse_tres("mem=2048K").unwrap().mem_mb, Some(2));
        assert_eq!(parse_tres("mem=1.5G").unwrap().mem_mb, Some(1536));
        assert!(parse_tres("cpu").is_err());
        assert!(parse_tres("cpu=four").is_err());
        assert!(parse_tres("mem=12Q").is_err());
        let j = one_job(&[
            (
                "ReqTRES",
                "billing=4,cpu=4,gres/gpu:h100=4,gres/gpu=4,mem=16G,node=1",
            ),
            ("AllocTRES", ""),
        ]);
        assert_eq!(j.gpus, 4);
        assert!(j.gpu_type != 0);
    }

    #[test]
    fn durations_and_limits() {
        assert_eq!(parse_duration("00:00:00"), Ok(0));
        assert_eq!(parse_duration("23:33:25"), Ok(84_805));
        assert_eq!(
            parse_duration("1-11:48:50"),
            Ok(86_400 + 11 * 3600 + 48 * 60 + 50)
        );
        assert_eq!(parse_duration("120-00:14:40"), Ok(120 * 86_400 + 880));
        assert_eq!(parse_duration("03:04"), Ok(184));
        assert_eq!(parse_duration("00:01.277"), Ok(1));
        assert_eq!(parse_duration("2-03"), Ok(2 * 86_400 + 3 * 3600));
        for bad in [
            "",
            "1:2:3:4",
            "ab:cd",
            "00:61",
            "-01:00:00",
            "1-",
            "00:00.x",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_limit("UNLIMITED"), Ok(None));
        assert_eq!(parse_limit("Partition_Limit"), Ok(None));
        assert_eq!(parse_limit(""), Ok(None));
        assert_eq!(parse_limit("3-00:00:00"), Ok(Some(259_200)));
        assert_eq!(one_job(&[("Timelimit", "UNLIMITED")]).time_limit, None);
        assert_eq!(one_job(&[("Elapsed", "10:00")]).run_time, 600);
    }

    #[test]
    fn states_and_exit_codes() {
        let cases = [
            ("COMPLETED", JobState::Completed),
            ("FAILED", JobState::Failed),
            ("CANCELLED by 1234", JobState::Cancelled),
            ("CANCELLED+", JobState::Cancelled),
            ("TIMEOUT", JobState::Timeout),
            ("NODE_FAIL", JobState::NodeFail),
            ("OUT_OF_MEMORY", JobState::OutOfMemory),
            ("PREEMPTED", JobState::Preempted),
            ("REQUEUED", JobState::Requeued),
            ("PENDING", JobState::Pending),
            ("RUNNING", JobState::Running),
            ("DEADLINE", JobState::Other),
            ("SUSPENDED", JobState::Other),
        ];
        for (s, st) in cases {
            assert_eq!(parse_state(s), Ok(st), "{s}");
        }
        assert!(parse_state("done").is_err());
        assert!(parse_state("").is_err());
        assert_eq!(parse_exit("0:15"), Ok((0, 15)));
        assert_eq!(parse_exit("2:0"), Ok((2, 0)));
        assert!(parse_exit("2").is_err());
        let e = parse_err(&one_row(&[("State", "finished")]));
        assert_eq!((e.line, e.field.as_str()), (2, "State"));
        let e = parse_err(&one_row(&[("ExitCode", "x:1")]));
        assert_eq!(e.field, "ExitCode");
    }

    #[test]
    fn job_ids() {
        let p = parse_jobid("123_4").unwrap();
        assert_eq!(
            (p.base, &p.array, p.het, &p.step),
            (123, &ArrayPart::Task(4), None, &None)
        );
        let p = parse_jobid("123+1.batch").unwrap();
        assert_eq!((p.het, p.step.as_deref()), (Some(1), Some("batch")));
        let p = parse_jobid("123_[1-3,7,10-14:2%4]").unwrap();
        assert_eq!(p.array, ArrayPart::Pending(vec![1, 2, 3, 7, 10, 12, 14]));
        assert_eq!(
            parse_jobid("9.extern").unwrap().step.as_deref(),
            Some("extern")
        );
        for bad in ["", "abc", "12_", "12_[3-1]", "12+x", "12.", "_3"] {
            assert!(parse_jobid(bad).is_err(), "{bad:?}");
        }
        // Without JobIDRaw, a het component's id is leader + offset.
        let s = "JobID|Submit|NCPUS\n50+0|2026-01-05T00:00:00|1\n50+1|2026-01-05T00:00:00|2\n";
        let (t, _) = read_str(s, &utc()).unwrap();
        assert_eq!(
            t.jobs.iter().map(|j| (j.id, j.het)).collect::<Vec<_>>(),
            vec![(50, Some((50, 0))), (51, Some((50, 1)))]
        );
    }

    #[test]
    fn times_in_a_zone_and_missing_values() {
        let berlin = SacctOptions {
            timezone: Some(chrono_tz::Europe::Berlin),
            ..Default::default()
        };
        let (t, _) = read_str(
            &one_row(&[("Submit", "2021-12-10T14:23:28"), ("Eligible", "Unknown")]),
            &berlin,
        )
        .unwrap();
        assert_eq!(t.jobs[0].submit, 1_639_142_608, "CET is UTC+1");
        assert_eq!(t.jobs[0].eligible, t.jobs[0].submit);
        assert_eq!(t.meta.header["timezone"], "Europe/Berlin");
        // The repeated hour when clocks go back: the first (CEST) instant.
        assert_eq!(
            parse_time("2021-10-31T02:30:00", chrono_tz::Europe::Berlin),
            Ok(Some(1_635_640_200))
        );
        // The skipped hour does not exist.
        let gap = read_str(&one_row(&[("Submit", "2021-03-28T02:30:00")]), &berlin);
        match gap {
            Err(TraceError::Parse(e)) => {
                assert_eq!(e.field, "Submit");
                assert!(e.message.contains("does not exist"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse_time("None", chrono_tz::UTC), Ok(None));
        assert_eq!(parse_time("Unknown", chrono_tz::UTC), Ok(None));
        assert_eq!(parse_time("", chrono_tz::UTC), Ok(None));
        let j = one_job(&[("Priority", ""), ("Timelimit", ""), ("ExitCode", "")]);
        assert_eq!((j.priority, j.time_limit, j.exit_code), (None, None, 0));
        assert_eq!(
            resolve_timezone(Some(chrono_tz::Asia::Tokyo)),
            chrono_tz::Asia::Tokyo
        );
    }

    #[test]
    fn malformed_values_name_line_and_field() {
        let e = parse_err(&one_row(&[("Start", "2026-13-45T00:00:00")]));
        assert_eq!(
            (e.file.as_str(), e.line, e.field.as_str()),
            ("t.log", 2, "Start")
        );
        assert!(e.message.contains("YYYY-MM-DDTHH:MM:SS"), "{e}");
        let e = parse_err(&one_row(&[("ReqTRES", "cpu=4,mem")]));
        assert_eq!((e.line, e.field.as_str()), (2, "ReqTRES"));
        assert!(
            e.to_string()
                .starts_with("t.log:2: field `ReqTRES`: expected TRES entries"),
            "{e}"
        );
        let e = parse_err(&one_row(&[("NCPUS", "abc")]));
        assert_eq!(
            e.to_string(),
            "t.log:2: field `NCPUS`: expected a non-negative integer, found \"abc\""
        );
        let e = parse_err(&one_row(&[("Elapsed", "1 hour")]));
        assert_eq!(e.field, "Elapsed");
        let e = parse_err(&one_row(&[("Submit", "Unknown")]));
        assert_eq!(e.field, "Submit");
        let e = parse_err(&one_row(&[("JobID", "x12")]));
        assert_eq!(e.field, "JobID");
        let e = parse_err(&one_row(&[("ReqMem", "4000Q")]));
        assert_eq!(e.field, "ReqMem");
        let e = parse_err(&one_row(&[("Priority", "-3")]));
        assert_eq!(e.field, "Priority");
        let e = parse_err("JobID|State\n1|COMPLETED\n");
        assert_eq!((e.line, e.field.as_str()), (1, "Submit"));
    }

    #[test]
    fn lenient_skips_and_reports_strict_stops_at_first() {
        let good = one_row(&[]);
        let row = good.lines().nth(1).unwrap();
        let bad1 = row.replace("|4|4|", "|x|4|");
        let bad2 = row
            .replacen("77|77", "78|78", 1)
            .replace("00:10:00", "later");
        let ok3 = row.replacen("77|77", "79|79", 1);
        let s = format!(
            "{}\n{bad1}\n{row}\n{bad2}\n{ok3}\n",
            FORMAT_FIELDS.join("|")
        );
        let e = parse_err(&s);
        assert_eq!((e.line, e.field.as_str()), (2, "NCPUS"));
        let (t, r) = read_str(&s, &lenient()).unwrap();
        assert_eq!(
            t.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![77, 79]
        );
        assert_eq!(r.lines, 4);
        assert_eq!(
            r.skipped
                .iter()
                .map(|e| (e.line, e.field.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "NCPUS"), (4, "Elapsed")]
        );
    }

    #[test]
    fn parsable_trailing_pipe_and_node_ranges() {
        let s = "JobID|Submit|NNodes|State|\n1|2026-01-05T00:00:00|2-4|PENDING|\n";
        let (t, _) = read_str(s, &utc()).unwrap();
        assert_eq!((t.jobs[0].nodes, t.jobs[0].state), (2, JobState::Pending));
        let e = parse_err("JobID|Submit|NNodes\n1|2026-01-05T00:00:00|many\n");
        assert_eq!(e.field, "NNodes");
    }

    #[test]
    fn cancelled_pending_without_allocation_columns() {
        // Neither AllocTRES nor NodeList: Start = End and Elapsed 0 suffice.
        let s = "JobID|Submit|Start|End|Elapsed|State\n\
                 1|2026-01-05T00:00:00|2026-01-05T00:05:00|2026-01-05T00:05:00|00:00:00|CANCELLED by 3\n\
                 2|2026-01-05T00:00:00|2026-01-05T00:05:00|2026-01-05T00:05:09|00:00:09|CANCELLED by 3\n";
        let (t, _) = read_str(s, &utc()).unwrap();
        assert!(job(&t, 1).cancelled_pending());
        assert_eq!(job(&t, 1).end, Some(T0 + 300));
        assert!(!job(&t, 2).cancelled_pending());
        // NodeList names nodes: it ran (for 0 s).
        let s = "JobID|Submit|Start|End|Elapsed|State|NodeList\n\
                 1|2026-01-05T00:00:00|2026-01-05T00:05:00|2026-01-05T00:05:00|00:00:00|CANCELLED by 3|n01\n\
                 2|2026-01-05T00:00:00|2026-01-05T00:05:00|2026-01-05T00:05:00|00:00:00|CANCELLED by 3|None assigned\n";
        let (t, _) = read_str(s, &utc()).unwrap();
        assert!(!job(&t, 1).cancelled_pending());
        assert!(job(&t, 2).cancelled_pending());
    }

    #[test]
    fn pending_jobs_have_no_start_and_end_before_start_is_an_error() {
        let j = one_job(&[("State", "PENDING"), ("End", "Unknown"), ("AllocTRES", "")]);
        assert_eq!((j.start, j.end, j.run_time), (None, None, 0));
        let e = parse_err(&one_row(&[("End", "2026-01-05T00:00:30")]));
        assert_eq!((e.line, e.field.as_str()), (2, "End"));
    }

    #[test]
    fn concatenated_dumps_repeat_the_header() {
        let a = one_row(&[]);
        let b = one_row(&[("JobID", "78"), ("JobIDRaw", "78")]);
        let (t, r) = read_str(&format!("{a}{b}"), &utc()).unwrap();
        assert_eq!(
            t.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![77, 78]
        );
        assert_eq!(r.lines, 2);
    }

    #[test]
    fn crlf_line_ends() {
        let s = one_row(&[]).replace('\n', "\r\n");
        let (t, _) = read_str(&s, &utc()).unwrap();
        assert_eq!((t.jobs[0].priority, t.jobs[0].cpus), (Some(10), 4));
    }

    #[test]
    fn bad_rows_add_no_names() {
        let s = one_row(&[
            ("User", "ghost"),
            ("Eligible", "soon"),
            ("ReqTRES", "cpu=4,gres/gpu:phantom=1"),
        ]);
        let (t, r) = read_str(&s, &lenient()).unwrap();
        assert_eq!((t.jobs.len(), r.skipped.len()), (0, 1));
        assert_eq!(r.skipped[0].field, "Eligible");
        assert_eq!(t.names.users.get("ghost"), None);
        assert_eq!(t.names.gpu_types.get("phantom"), None);
    }

    #[test]
    fn duplicate_records_keep_the_last() {
        let row = one_row(&[]);
        let first = row.lines().nth(1).unwrap().replace("COMPLETED", "REQUEUED");
        let s = format!("{row}{first}\n");
        // The REQUEUED record comes last, so it wins.
        let (t, r) = read_str(&s, &utc()).unwrap();
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(t.jobs[0].state, JobState::Requeued);
        assert_eq!(r.dropped[DROP_DUPLICATE], 1);
    }

    #[test]
    fn stray_pipes_go_to_free_text_columns() {
        let hdr = "JobID|JobName|NCPUS|Submit|Start|Comment|Elapsed|WorkDir";
        let s = format!(
            "{hdr}\n\
             1|a|b|c|8|2026-01-05T00:00:00|2026-01-05T00:00:00|x|y|00:01:00|/home/u\n\
             2|plain|2|2026-01-05T00:00:00|2026-01-05T00:00:00||00:02:00|/w|x\n"
        );
        let (t, r) = read_str(&s, &utc()).unwrap();
        assert!(r.skipped.is_empty());
        assert_eq!(t.jobs[0].cpus, 8);
        assert_eq!(t.jobs[0].run_time, 60);
        assert_eq!(t.jobs[1].run_time, 120);
        let kinds: Vec<ColKind> = hdr.split('|').map(col_kind).collect();
        let v = align(
            "1|a|b|c|8|2026-01-05T00:00:00|2026-01-05T00:00:00|x|y|00:01:00|/home/u",
            &kinds,
        )
        .unwrap();
        assert_eq!(
            v,
            vec![
                "1",
                "a|b|c",
                "8",
                "2026-01-05T00:00:00",
                "2026-01-05T00:00:00",
                "x|y",
                "00:01:00",
                "/home/u"
            ]
        );
        // No free-text column: an extra field cannot be placed.
        let e = parse_err("JobID|Submit|NCPUS\n1|2026-01-05T00:00:00|4|5\n");
        assert_eq!((e.line, e.field.as_str()), (2, "(row)"));
        assert!(e.message.contains("no free-text column"));
    }

    #[test]
    fn multi_line_records_are_joined() {
        let s = "JobID|SubmitLine|NCPUS|Submit\n\
                 1|sbatch --wrap='a\n\
                 b\n\
                 \n\
                 c'|4|2026-01-05T00:00:00\n\
                 2|sbatch x|2|2026-01-05T00:00:00\n\
                 3|cut\n";
        let (t, r) = read_str(s, &lenient()).unwrap();
        assert_eq!(
            t.jobs.iter().map(|j| (j.id, j.cpus)).collect::<Vec<_>>(),
            vec![(1, 4), (2, 2)]
        );
        assert_eq!(r.lines, 6);
        // The truncated last record is reported at the line it starts on.
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(
            (r.skipped[0].line, r.skipped[0].field.as_str()),
            (7, "(row)")
        );
        // A short record followed by a line that starts a record is not
        // joined with it.
        let s = "JobID|SubmitLine|NCPUS|Submit\n1|cut\n2|sbatch x|2|2026-01-05T00:00:00\n";
        let (t, r) = read_str(s, &lenient()).unwrap();
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(r.skipped[0].line, 2);
    }

    #[test]
    fn fixture_sacct_simple() {
        let (t, r) = read(&crate::testdata::trace("sacct_simple.log"), &utc()).unwrap();
        assert_eq!((t.jobs.len(), r.lines, r.skipped.len()), (4, 4, 0));
        let j1 = job(&t, 1);
        assert_eq!(j1.submit, 1_639_146_208); // 2021-12-10T14:23:28
        assert_eq!(j1.run_time, 84_805); // 23:33:25
        assert_eq!(j1.end, Some(1_639_146_208 + 84_805));
        assert_eq!((j1.nodes, j1.cpus, j1.mem_mb), (1, 32, 500 * 1024));
        assert_eq!(j1.time_limit, Some(3 * 86_400));
        assert_eq!(t.names.accounts.name(j1.account), "account001");
        // Row 2 has `job_0||0002` in JobName: realigned, NTasks empty.
        let j2 = job(&t, 2);
        assert_eq!((j2.cpus, j2.mem_mb, j2.run_time), (32, 187_000, 12_688));
        let j3 = job(&t, 3);
        assert_eq!((j3.nodes, j3.cpus, j3.run_time), (2, 18, 2009));
        assert_eq!(j3.start, Some(1_639_146_208 + 3));
        let j4 = job(&t, 4);
        assert_eq!(
            (j4.nodes, j4.cpus, j4.run_time, j4.state),
            (2, 18, 2003, JobState::Completed)
        );
        assert_eq!(t.meta.cluster.as_deref(), Some("ubhpc"));
    }

    #[test]
    fn fixture_dump2101() {
        let path = crate::testdata::trace("sacct_dump2101.log");
        // Line 16 is the tail of a record whose head is missing.
        match read(&path, &utc()) {
            Err(TraceError::Parse(e)) => {
                assert_eq!((e.line, e.field.as_str()), (16, "(row)"));
                assert!(e.message.contains("found 74"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        let (t, r) = read(&path, &lenient()).unwrap();
        assert_eq!(r.lines, 15);
        assert_eq!(r.skipped.len(), 1);
        assert_eq!(t.jobs.len(), 12);
        assert_eq!(
            r.dropped,
            BTreeMap::new(),
            "steps 4822203.batch/.extern fold into 4822203"
        );
        // Array task cancelled while held: Start = End = cancel time.
        let a = job(&t, 4_745_200);
        assert_eq!(a.array, Some((4_744_528, 255)));
        assert_eq!(a.submit, 1_608_329_536);
        assert_eq!(a.eligible, 1_608_329_536 + 121);
        assert!(a.cancelled_pending());
        assert_eq!(a.end, Some(1_609_942_155));
        assert_eq!((a.cpus, a.mem_mb), (12, 12 * 2800));
        assert_eq!(a.time_limit, Some(2 * 86_400));
        assert_eq!(a.priority, Some(0));
        // The last task of an array keeps the array's own id.
        assert_eq!(job(&t, 4_810_966).array, Some((4_810_966, 400)));
        let big = job(&t, 4_822_203);
        assert_eq!(
            (big.state, big.cpus, big.mem_mb),
            (JobState::Completed, 25, 550_000)
        );
        assert_eq!(big.run_time, 86_400 + 11 * 3600 + 48 * 60 + 50);
        assert_eq!(big.time_limit, Some(86_400 + 16 * 3600));
        // Rows with `|` in Constraints and JobName are realigned.
        for id in 4_830_973..=4_830_977 {
            let j = job(&t, id);
            assert_eq!(
                (j.state, j.cpus, j.mem_mb, j.run_time),
                (JobState::Timeout, 40, 180_000, 259_222),
                "job {id}"
            );
            assert_eq!(j.priority, Some(197_655));
            assert_eq!(t.names.qos.name(j.qos), "mrisupport");
        }
    }

    #[test]
    fn fixture_dump2101_row_with_pipes_in_two_columns() {
        let text = std::fs::read_to_string(crate::testdata::trace("sacct_dump2101.log")).unwrap();
        let mut lines = text.lines();
        let hdr: Vec<&str> = lines.next().unwrap().split('|').collect();
        let kinds: Vec<ColKind> = hdr.iter().map(|c| col_kind(c)).collect();
        let row = text.lines().nth(13).unwrap(); // line 14: job 4830976
        assert_eq!(row.split('|').count(), 111);
        let v = align(row, &kinds).unwrap();
        let col = |n: &str| v[hdr.iter().position(|c| *c == n).unwrap()].as_str();
        assert_eq!(col("Constraints"), "cpu-a|cpu-b|gpu");
        assert_eq!(col("JobName"), "Job| Name |003");
        assert_eq!(col("JobIDRaw"), "4830976");
        assert_eq!(col("Layout"), "");
        assert_eq!(col("NCPUS"), "40");
        assert_eq!(col("WorkDir"), "/projects/academic/account005/user005");
    }

    #[test]
    fn fixture_dump2110() {
        let (t, r) = read(&crate::testdata::trace("sacct_dump2110.log"), &utc()).unwrap();
        assert_eq!((r.lines, r.skipped.len()), (7, 0));
        // Five rows of job 7957382 (variants of one record): the last is kept.
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(r.dropped[DROP_DUPLICATE], 4);
        let j = &t.jobs[0];
        assert_eq!(j.id, 7_957_382);
        assert_eq!(j.state, JobState::Cancelled);
        assert!(!j.cancelled_pending(), "it ran 56 s");
        assert_eq!((j.run_time, j.cpus, j.mem_mb, j.nodes), (56, 2, 4000, 1));
        assert_eq!(j.time_limit, Some(86_400));
        assert_eq!(t.names.partitions.name(j.partition), "partition001");
        assert_eq!(t.names.groups.name(j.group), "group-001");
        assert_eq!(t.meta.cluster.as_deref(), Some("cluster001"));
    }

    #[test]
    fn fixture_submitline_multiline() {
        let (t, r) = read(
            &crate::testdata::trace("sacct_submitline_multiline.log"),
            &utc(),
        )
        .unwrap();
        // 17 physical data lines; lines 8-12 are one record.
        assert_eq!((r.lines, r.skipped.len()), (17, 0));
        assert_eq!(
            t.jobs.iter().map(|j| j.id).collect::<Vec<_>>(),
            vec![7_957_382, 9_067_954]
        );
        assert!(!r.dropped.contains_key(DROP_ORPHAN_STEP));
        let j = job(&t, 9_067_954);
        assert_eq!(j.submit, 1_659_117_478);
        assert_eq!(j.start, Some(1_659_268_355));
        assert_eq!(j.run_time, 2 * 3600 + 40 * 60);
        assert_eq!(j.time_limit, Some(5 * 3600));
        // Exclusive: 16 CPUs and 16G asked, 16 whole nodes held.
        assert_eq!((j.nodes, j.cpus, j.mem_mb), (16, 576, 576 * 1024));
        assert_eq!(t.names.users.name(j.user), "tonykew");
        assert_eq!(j.priority, Some(219_333));
    }

    #[test]
    fn fixture_multiline_record_becomes_one_row() {
        let text =
            std::fs::read_to_string(crate::testdata::trace("sacct_submitline_multiline.log"))
                .unwrap();
        let mut it = Lines {
            reader: text.as_bytes(),
            file: "f",
            next_no: 0,
            peeked: None,
        };
        let (_, hdr) = it.next().unwrap().unwrap();
        let columns: Vec<String> = hdr.split('|').map(str::to_owned).collect();
        let cols = Cols::new(&columns).unwrap();
        let kinds: Vec<ColKind> = columns.iter().map(|c| col_kind(c)).collect();
        // Skip to line 8, the start of the multi-line record.
        for _ in 0..6 {
            it.next().unwrap();
        }
        let (no, first) = it.next().unwrap().unwrap();
        assert_eq!(no, 8);
        let next = it.peek().unwrap().unwrap().to_owned();
        assert!(!starts_record(&next, &cols, columns.len()));
        let mut rec = first;
        while rec.split('|').count() < columns.len() {
            rec.push('\n');
            rec.push_str(&it.next().unwrap().unwrap().1);
        }
        assert_eq!(it.next_no, 12);
        let v = align(&rec, &kinds).unwrap();
        let col = |n: &str| v[columns.iter().position(|c| c == n).unwrap()].clone();
        assert_eq!(col("JobID"), "9067954.1");
        assert!(
            col("SubmitLine").contains("\n   fi"),
            "{}",
            col("SubmitLine")
        );
        assert_eq!(col("State"), "COMPLETED");
    }
}
