//! The normalized trace format: JSON Lines, one header object then one
//! object per job, with names written out as strings.
//!
//! This module owns the wire layout (private `*Wire` structs), its version
//! check and its field-by-field error messages. It must not clean or
//! reinterpret jobs: what [`write()`] is given is what [`read`] gives back.
//! The schema is documented in `docs/trace-format.md`.

use super::{
    Interner, Job, JobState, Names, ParseError, ReadReport, Strictness, Trace, TraceError,
    TraceMeta,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Write};
use std::path::Path;

/// Format name in the header line.
pub const FORMAT: &str = "slurm-rl-trace";
/// Current schema version.
pub const VERSION: u32 = 1;

/// The first line of a trace file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderWire {
    format: String,
    version: u32,
    source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cluster: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    header: BTreeMap<String, String>,
    /// Number of job lines that follow; lets the reader detect truncation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jobs: Option<usize>,
    /// The name tables in id order, so ids survive a round trip.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    names: Option<NamesWire>,
}

/// Name tables without the implicit empty name at id 0.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NamesWire {
    #[serde(default)]
    users: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    partitions: Vec<String>,
    #[serde(default)]
    qos: Vec<String>,
    #[serde(default)]
    gpu_types: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ArrayWire {
    job: u64,
    task: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HetWire {
    leader: u64,
    offset: u32,
}

/// One job line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobWire {
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    array: Option<ArrayWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    het: Option<HetWire>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    partition: Option<String>,
    #[serde(default)]
    qos: Option<String>,
    submit: u64,
    #[serde(default)]
    eligible: Option<u64>,
    #[serde(default)]
    start: Option<u64>,
    #[serde(default)]
    end: Option<u64>,
    nodes: u32,
    cpus: u32,
    #[serde(default)]
    mem_mb: u64,
    #[serde(default)]
    gpus: u32,
    #[serde(default)]
    gpu_type: Option<String>,
    #[serde(default)]
    time_limit: Option<u64>,
    #[serde(default)]
    run_time: u64,
    state: JobState,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    exit_signal: i32,
    #[serde(default)]
    priority: Option<u64>,
}

/// What a field of [`JobWire`] holds, for error messages.
#[derive(Clone, Copy)]
enum Kind {
    U64,
    U32,
    I32,
    Str,
    State,
    Array,
    Het,
}

/// Every job field, whether it must be present, and its kind.
const JOB_FIELDS: &[(&str, bool, Kind)] = &[
    ("id", true, Kind::U64),
    ("array", false, Kind::Array),
    ("het", false, Kind::Het),
    ("user", false, Kind::Str),
    ("group", false, Kind::Str),
    ("account", false, Kind::Str),
    ("partition", false, Kind::Str),
    ("qos", false, Kind::Str),
    ("submit", true, Kind::U64),
    ("eligible", false, Kind::U64),
    ("start", false, Kind::U64),
    ("end", false, Kind::U64),
    ("nodes", true, Kind::U32),
    ("cpus", true, Kind::U32),
    ("mem_mb", false, Kind::U64),
    ("gpus", false, Kind::U32),
    ("gpu_type", false, Kind::Str),
    ("time_limit", false, Kind::U64),
    ("run_time", false, Kind::U64),
    ("state", true, Kind::State),
    ("exit_code", false, Kind::I32),
    ("exit_signal", false, Kind::I32),
    ("priority", false, Kind::U64),
];

const STATES: &[&str] = &[
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "PREEMPTED",
    "REQUEUED",
    "PENDING",
    "RUNNING",
    "OTHER",
];

fn name_opt(table: &Interner, id: u32) -> Option<String> {
    Some(table.name(id).to_owned())
}

fn table_wire(t: &Interner) -> Vec<String> {
    (1..t.len()).map(|i| t.name(i as u32).to_owned()).collect()
}

fn job_to_wire(j: &Job, names: &Names) -> JobWire {
    JobWire {
        id: j.id,
        array: j.array.map(|(job, task)| ArrayWire { job, task }),
        het: j.het.map(|(leader, offset)| HetWire { leader, offset }),
        user: name_opt(&names.users, j.user),
        group: name_opt(&names.groups, j.group),
        account: name_opt(&names.accounts, j.account),
        partition: name_opt(&names.partitions, j.partition),
        qos: name_opt(&names.qos, j.qos),
        submit: j.submit,
        eligible: Some(j.eligible),
        start: j.start,
        end: j.end,
        nodes: j.nodes,
        cpus: j.cpus,
        mem_mb: j.mem_mb,
        gpus: j.gpus,
        gpu_type: (j.gpu_type != 0).then(|| names.gpu_types.name(j.gpu_type).to_owned()),
        time_limit: j.time_limit,
        run_time: j.run_time,
        state: j.state,
        exit_code: j.exit_code,
        exit_signal: j.exit_signal,
        priority: j.priority,
    }
}

fn io_err(path: &Path, source: std::io::Error) -> TraceError {
    TraceError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `trace` to `path` atomically.
///
/// Jobs are written in the order they have in `trace.jobs` (normally sorted
/// by (submit, id)); the header carries the name tables so that [`read`]
/// gives back an identical [`Trace`].
pub fn write(path: &Path, trace: &Trace) -> Result<(), TraceError> {
    crate::io::atomic_write(path, |w| write_to(w, trace)).map_err(|e| io_err(path, e))
}

/// Writes `trace` as JSON Lines to any writer (no atomicity).
pub fn write_to(w: &mut dyn Write, trace: &Trace) -> std::io::Result<()> {
    let n = &trace.names;
    let header = HeaderWire {
        format: FORMAT.to_owned(),
        version: VERSION,
        source: trace.meta.source.clone(),
        origin: trace.meta.origin.clone(),
        cluster: trace.meta.cluster.clone(),
        header: trace.meta.header.clone(),
        jobs: Some(trace.jobs.len()),
        names: Some(NamesWire {
            users: table_wire(&n.users),
            groups: table_wire(&n.groups),
            accounts: table_wire(&n.accounts),
            partitions: table_wire(&n.partitions),
            qos: table_wire(&n.qos),
            gpu_types: table_wire(&n.gpu_types),
        }),
    };
    serde_json::to_writer(&mut *w, &header)?;
    w.write_all(b"\n")?;
    for j in &trace.jobs {
        serde_json::to_writer(&mut *w, &job_to_wire(j, n))?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Reads a normalized trace.
///
/// The header must name format [`FORMAT`] and version [`VERSION`]; any
/// header problem is an error whatever the strictness. Under
/// [`Strictness::Lenient`] bad job lines are skipped and listed in the
/// report.
pub fn read(path: &Path, strictness: Strictness) -> Result<(Trace, ReadReport), TraceError> {
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    read_from(std::io::BufReader::new(file), &name, strictness).map_err(|e| match e {
        TraceError::Io { source, .. } => io_err(path, source),
        other => other,
    })
}

/// Reads a normalized trace from any buffered reader; `file` names it in
/// errors.
pub fn read_from(
    reader: impl BufRead,
    file: &str,
    strictness: Strictness,
) -> Result<(Trace, ReadReport), TraceError> {
    let perr = |line: usize, field: &str, message: String| ParseError {
        file: file.to_owned(),
        line,
        field: field.to_owned(),
        message,
    };
    let mut lines = reader.lines().enumerate();
    let mut trace = Trace::default();
    let mut report = ReadReport::default();

    // Header.
    let mut expected_jobs = None;
    let mut header_seen = false;
    for (i, line) in lines.by_ref() {
        let line = line.map_err(|e| io_err(Path::new(file), e))?;
        if line.trim().is_empty() {
            continue;
        }
        let h = parse_header(&line).map_err(|(field, msg)| perr(i + 1, &field, msg))?;
        trace.meta = TraceMeta {
            source: h.source,
            origin: h.origin,
            cluster: h.cluster,
            header: h.header,
        };
        if let Some(nw) = h.names {
            let fill = |t: &mut Interner, v: &[String]| {
                for s in v {
                    t.intern(s);
                }
            };
            let n = &mut trace.names;
            fill(&mut n.users, &nw.users);
            fill(&mut n.groups, &nw.groups);
            fill(&mut n.accounts, &nw.accounts);
            fill(&mut n.partitions, &nw.partitions);
            fill(&mut n.qos, &nw.qos);
            fill(&mut n.gpu_types, &nw.gpu_types);
        }
        expected_jobs = h.jobs;
        header_seen = true;
        break;
    }
    if !header_seen {
        return Err(perr(1, "format", format!("empty file: expected a header line {{\"format\":\"{FORMAT}\",\"version\":{VERSION},…}}")).into());
    }

    let mut ids = BTreeSet::new();
    let mut last_line = 1;
    for (i, line) in lines {
        let line = line.map_err(|e| io_err(Path::new(file), e))?;
        let lineno = i + 1;
        last_line = lineno;
        if line.trim().is_empty() {
            continue;
        }
        report.lines += 1;
        let parsed = parse_job(&line, &mut trace.names).and_then(|j| {
            if ids.insert(j.id) {
                Ok(j)
            } else {
                Err((
                    "id".to_owned(),
                    format!("expected a unique job id, found {} again", j.id),
                ))
            }
        });
        match parsed {
            Ok(j) => trace.jobs.push(j),
            Err((field, msg)) => {
                let e = perr(lineno, &field, msg);
                match strictness {
                    Strictness::Strict => return Err(e.into()),
                    Strictness::Lenient => report.skipped.push(e),
                }
            }
        }
    }
    if let Some(n) = expected_jobs
        && n != report.lines
    {
        return Err(perr(
            last_line,
            "jobs",
            format!(
                "header announces {n} job lines, found {} (truncated or edited file?)",
                report.lines
            ),
        )
        .into());
    }
    trace.sort();
    Ok((trace, report))
}

fn parse_header(line: &str) -> Result<HeaderWire, (String, String)> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
        (
            "format".to_owned(),
            format!("expected a JSON header object: {e}"),
        )
    })?;
    let obj = v.as_object().ok_or_else(|| {
        (
            "format".to_owned(),
            format!("expected a JSON header object, found {}", short(&v)),
        )
    })?;
    match obj.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => {
            return Err((
                "format".to_owned(),
                format!("expected \"{FORMAT}\", found \"{other}\": not a slurm-rl trace"),
            ));
        }
        None => {
            return Err((
                "format".to_owned(),
                format!("expected \"{FORMAT}\" in the first line: not a slurm-rl trace"),
            ));
        }
    }
    match obj.get("version").and_then(|f| f.as_u64()) {
        Some(v) if v == u64::from(VERSION) => {}
        Some(v) => {
            return Err((
                "version".to_owned(),
                format!(
                    "expected version {VERSION}, found {v}: this slurm-rl reads version {VERSION} only"
                ),
            ));
        }
        None => {
            return Err((
                "version".to_owned(),
                format!(
                    "expected the integer {VERSION}, found {}",
                    obj.get("version")
                        .map(short)
                        .unwrap_or_else(|| "nothing".to_owned())
                ),
            ));
        }
    }
    serde_json::from_value::<HeaderWire>(v.clone())
        .map_err(|e| ("header".to_owned(), e.to_string()))
}

/// A short rendering of a JSON value for messages.
fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

fn parse_job(line: &str, names: &mut Names) -> Result<Job, (String, String)> {
    let w: JobWire = match serde_json::from_str(line) {
        Ok(w) => w,
        Err(e) => return Err(diagnose(line, &e)),
    };
    let eligible = w.eligible.unwrap_or(w.submit);
    if eligible < w.submit {
        return Err((
            "eligible".to_owned(),
            format!("expected a time >= submit ({}), found {eligible}", w.submit),
        ));
    }
    if let (Some(s), Some(e)) = (w.start, w.end)
        && e < s
    {
        return Err((
            "end".to_owned(),
            format!("expected a time >= start ({s}), found {e}"),
        ));
    }
    let intern = |t: &mut Interner, s: Option<String>| s.map(|s| t.intern(&s)).unwrap_or(0);
    Ok(Job {
        id: w.id,
        array: w.array.map(|a| (a.job, a.task)),
        het: w.het.map(|h| (h.leader, h.offset)),
        user: intern(&mut names.users, w.user),
        group: intern(&mut names.groups, w.group),
        account: intern(&mut names.accounts, w.account),
        partition: intern(&mut names.partitions, w.partition),
        qos: intern(&mut names.qos, w.qos),
        submit: w.submit,
        eligible,
        start: w.start,
        end: w.end,
        nodes: w.nodes,
        cpus: w.cpus,
        mem_mb: w.mem_mb,
        gpus: w.gpus,
        gpu_type: intern(&mut names.gpu_types, w.gpu_type),
        time_limit: w.time_limit,
        run_time: w.run_time,
        state: w.state,
        exit_code: w.exit_code,
        exit_signal: w.exit_signal,
        priority: w.priority,
    })
}

/// Turns a serde error on a job line into (field, "expected …, found …")
/// by checking the line field by field.
fn diagnose(line: &str, err: &serde_json::Error) -> (String, String) {
    let v: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return ("(json)".to_owned(), format!("expected a JSON object: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return (
            "(json)".to_owned(),
            format!("expected a JSON object, found {}", short(&v)),
        );
    };
    for key in obj.keys() {
        if !JOB_FIELDS.iter().any(|(n, _, _)| n == key) {
            return (
                key.clone(),
                "unknown field (the schema is in docs/trace-format.md)".to_owned(),
            );
        }
    }
    for &(name, required, kind) in JOB_FIELDS {
        match obj.get(name) {
            None | Some(serde_json::Value::Null) => {
                if required {
                    return (
                        name.to_owned(),
                        format!("expected {}, found nothing", expected(kind)),
                    );
                }
            }
            Some(val) => {
                if !fits(kind, val) {
                    return (
                        name.to_owned(),
                        format!("expected {}, found {}", expected(kind), short(val)),
                    );
                }
            }
        }
    }
    ("(job)".to_owned(), err.to_string())
}

fn expected(kind: Kind) -> String {
    match kind {
        Kind::U64 => "a non-negative integer".to_owned(),
        Kind::U32 => "a non-negative integer below 2^32".to_owned(),
        Kind::I32 => "a 32-bit integer".to_owned(),
        Kind::Str => "a string".to_owned(),
        Kind::State => format!("one of {}", STATES.join(", ")),
        Kind::Array => "an object {\"job\": <id>, \"task\": <index>}".to_owned(),
        Kind::Het => "an object {\"leader\": <id>, \"offset\": <index>}".to_owned(),
    }
}

fn fits(kind: Kind, v: &serde_json::Value) -> bool {
    let pair = |a: &str, b: &str, bmax: u64| {
        v.as_object().is_some_and(|o| {
            o.len() == 2
                && o.get(a).and_then(|x| x.as_u64()).is_some()
                && o.get(b).and_then(|x| x.as_u64()).is_some_and(|x| x <= bmax)
        })
    };
    match kind {
        Kind::U64 => v.as_u64().is_some(),
        Kind::U32 => v.as_u64().is_some_and(|x| x <= u64::from(u32::MAX)),
        Kind::I32 => v.as_i64().is_some_and(|x| i32::try_from(x).is_ok()),
        Kind::Str => v.is_string(),
        Kind::State => v.as_str().is_some_and(|s| STATES.contains(&s)),
        Kind::Array => pair("job", "task", u64::from(u32::MAX)),
        Kind::Het => pair("leader", "offset", u64::from(u32::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        let mut t = Trace {
            meta: TraceMeta {
                source: "sacct".into(),
                origin: Some("dump.log".into()),
                cluster: Some("ub-hpc".into()),
                header: [("timezone".to_owned(), "UTC".to_owned())].into(),
            },
            ..Default::default()
        };
        // Intern a name no job uses: ids must still survive the round trip.
        t.names.users.intern("nobody");
        let alice = t.names.users.intern("alice");
        let gpu = t.names.gpu_types.intern("a100");
        let part = t.names.partitions.intern("gpu");
        t.jobs.push(Job {
            id: 7,
            user: alice,
            partition: part,
            submit: 100,
            eligible: 110,
            start: Some(200),
            end: Some(260),
            nodes: 1,
            cpus: 8,
            mem_mb: 16384,
            gpus: 2,
            gpu_type: gpu,
            time_limit: Some(3600),
            run_time: 60,
            state: JobState::Completed,
            priority: Some(12345),
            ..Default::default()
        });
        t.jobs.push(Job {
            id: 9,
            array: Some((8, 3)),
            het: Some((9, 0)),
            submit: 150,
            eligible: 150,
            nodes: 2,
            cpus: 4,
            state: JobState::Cancelled,
            end: Some(170),
            exit_code: 1,
            exit_signal: 15,
            ..Default::default()
        });
        t
    }

    fn write_str(t: &Trace) -> String {
        let mut buf = Vec::new();
        write_to(&mut buf, t).unwrap();
        String::from_utf8(buf).unwrap()
    }

    fn read_str(s: &str, st: Strictness) -> Result<(Trace, ReadReport), TraceError> {
        read_from(s.as_bytes(), "trace.jsonl", st)
    }

    fn parse_err(s: &str) -> ParseError {
        match read_str(s, Strictness::Strict) {
            Err(TraceError::Parse(e)) => e,
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    const HDR: &str = r#"{"format":"slurm-rl-trace","version":1,"source":"test"}"#;

    #[test]
    fn round_trip_through_file_is_identical() {
        let t = sample();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.jsonl");
        write(&p, &t).unwrap();
        let (back, report) = read(&p, Strictness::Strict).unwrap();
        assert_eq!(back, t);
        assert_eq!(report.lines, 2);
        assert!(report.skipped.is_empty());
    }

    #[test]
    fn written_lines_are_human_readable() {
        let s = write_str(&sample());
        let mut lines = s.lines();
        let h: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(h["format"], "slurm-rl-trace");
        assert_eq!(h["version"], 1);
        assert_eq!(h["jobs"], 2);
        let j: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(j["user"], "alice");
        assert_eq!(j["partition"], "gpu");
        assert_eq!(j["gpu_type"], "a100");
        assert_eq!(j["state"], "COMPLETED");
        assert_eq!(j["mem_mb"], 16384);
        assert!(j.get("array").is_none());
        let j2: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(j2["array"]["job"], 8);
        assert_eq!(j2["array"]["task"], 3);
        assert_eq!(j2["start"], serde_json::Value::Null);
        assert_eq!(j2["gpu_type"], serde_json::Value::Null);
        assert_eq!(j2["state"], "CANCELLED");
    }

    #[test]
    fn minimal_job_line_without_header_tables() {
        let s = format!(
            "{HDR}\n{}\n",
            r#"{"id":3,"submit":10,"nodes":1,"cpus":2,"state":"NODE_FAIL","user":"bob","gpu_type":null}"#
        );
        let (t, _) = read_str(&s, Strictness::Strict).unwrap();
        assert_eq!(t.jobs.len(), 1);
        let j = &t.jobs[0];
        assert_eq!(j.eligible, 10);
        assert_eq!(j.state, JobState::NodeFail);
        assert_eq!(t.names.users.name(j.user), "bob");
        assert_eq!(j.gpu_type, 0);
        assert_eq!(j.time_limit, None);
    }

    #[test]
    fn bad_field_names_line_and_field() {
        let good = r#"{"id":1,"submit":10,"nodes":1,"cpus":2,"state":"COMPLETED"}"#;
        let bad = r#"{"id":2,"submit":10,"nodes":1,"cpus":"abc","state":"COMPLETED"}"#;
        let e = parse_err(&format!("{HDR}\n{good}\n\n{bad}\n"));
        assert_eq!(e.line, 4);
        assert_eq!(e.field, "cpus");
        assert_eq!(
            e.to_string(),
            "trace.jsonl:4: field `cpus`: expected a non-negative integer below 2^32, found \"abc\""
        );
    }

    #[test]
    fn bad_state_unknown_field_missing_field() {
        let e = parse_err(&format!(
            "{HDR}\n{}\n",
            r#"{"id":2,"submit":10,"nodes":1,"cpus":1,"state":"Done"}"#
        ));
        assert_eq!(e.field, "state");
        assert!(e.message.contains("COMPLETED"), "{e}");
        let e = parse_err(&format!(
            "{HDR}\n{}\n",
            r#"{"id":2,"submit":10,"nodes":1,"cpus":1,"state":"FAILED","colour":"red"}"#
        ));
        assert_eq!(e.field, "colour");
        let e = parse_err(&format!(
            "{HDR}\n{}\n",
            r#"{"id":2,"nodes":1,"cpus":1,"state":"FAILED"}"#
        ));
        assert_eq!(e.field, "submit");
        assert!(e.message.contains("found nothing"));
        let e = parse_err(&format!("{HDR}\n{{\"id\":2,\n"));
        assert_eq!((e.line, e.field.as_str()), (2, "(json)"));
    }

    #[test]
    fn wrong_format_or_version_is_a_clear_error() {
        let e = parse_err(r#"{"format":"other","version":1,"source":"x"}"#);
        assert_eq!((e.line, e.field.as_str()), (1, "format"));
        assert!(e.message.contains("not a slurm-rl trace"));
        let e = parse_err(r#"{"format":"slurm-rl-trace","version":2,"source":"x"}"#);
        assert_eq!(e.field, "version");
        assert!(e.message.contains("found 2"));
        let e = parse_err("JobID|JobIDRaw\n1|1\n");
        assert_eq!(e.field, "format");
        let e = parse_err("");
        assert!(e.message.contains("empty file"));
    }

    #[test]
    fn lenient_skips_bad_lines_strict_stops() {
        let s = format!(
            "{HDR}\n{}\n{}\n{}\n",
            r#"{"id":1,"submit":10,"nodes":1,"cpus":2,"state":"COMPLETED"}"#,
            r#"{"id":2,"submit":-5,"nodes":1,"cpus":2,"state":"COMPLETED"}"#,
            r#"{"id":1,"submit":12,"nodes":1,"cpus":2,"state":"COMPLETED"}"#,
        );
        let (t, r) = read_str(&s, Strictness::Lenient).unwrap();
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(r.lines, 3);
        assert_eq!(r.skipped.len(), 2);
        assert_eq!(
            (r.skipped[0].line, r.skipped[0].field.as_str()),
            (3, "submit")
        );
        assert_eq!((r.skipped[1].line, r.skipped[1].field.as_str()), (4, "id"));
        let e = parse_err(&s);
        assert_eq!(e.line, 3);
    }

    #[test]
    fn truncated_file_is_detected() {
        let s = write_str(&sample());
        let cut: String = s.lines().take(2).map(|l| format!("{l}\n")).collect();
        let e = parse_err(&cut);
        assert_eq!(e.field, "jobs");
        assert!(e.message.contains("announces 2"));
    }

    #[test]
    fn end_before_start_is_rejected() {
        let e = parse_err(&format!(
            "{HDR}\n{}\n",
            r#"{"id":2,"submit":10,"start":50,"end":40,"nodes":1,"cpus":1,"state":"FAILED"}"#
        ));
        assert_eq!(e.field, "end");
    }

    #[test]
    fn documented_example_is_a_valid_trace() {
        let doc = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../docs/trace-format.md"
        ));
        let start = doc.find("```json\n").expect("example block") + 8;
        let len = doc[start..].find("```").unwrap();
        let (t, r) = read_str(&doc[start..start + len], Strictness::Strict).unwrap();
        assert_eq!((t.jobs.len(), r.lines), (2, 2));
        assert_eq!(t.jobs[1].array, Some((1010, 2)));
        assert_eq!(t.names.gpu_types.name(t.jobs[0].gpu_type), "a100");
        // Writing it back gives the same lines.
        assert_eq!(write_str(&t), doc[start..start + len]);
    }

    #[test]
    fn unsorted_input_comes_back_sorted() {
        let s = format!(
            "{HDR}\n{}\n{}\n",
            r#"{"id":5,"submit":20,"nodes":1,"cpus":1,"state":"FAILED"}"#,
            r#"{"id":6,"submit":10,"nodes":1,"cpus":1,"state":"FAILED"}"#,
        );
        let (t, _) = read_str(&s, Strictness::Strict).unwrap();
        assert_eq!(t.jobs.iter().map(|j| j.id).collect::<Vec<_>>(), vec![6, 5]);
    }
}
