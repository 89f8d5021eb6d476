//! Writes a trace as a `sacct --parsable2` dump with exactly the fields of
//! [`super::sacct::FORMAT_FIELDS`], so that `slurm-rl import sacct` reads it
//! back.
//!
//! Its use is to turn a simulated schedule into the accounting history a
//! real cluster would have (the demo does this), and to test the reader
//! against a writer. It must not invent data: fields a job lacks are
//! written the way sacct writes them (`Unknown`, empty).

use super::sacct::FORMAT_FIELDS;
use super::{Job, JobState, Trace, TraceError};
use chrono::TimeZone;
use std::io::Write;
use std::path::Path;

/// Writes `trace` atomically to `path` as a dump with a header line, times
/// in `tz` (read it back with the same `--timezone`).
pub fn write(path: &Path, trace: &Trace, tz: chrono_tz::Tz) -> Result<(), TraceError> {
    crate::io::atomic_write(path, |w| write_to(w, trace, tz)).map_err(|source| TraceError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the dump to `w`.
pub fn write_to(w: &mut dyn Write, trace: &Trace, tz: chrono_tz::Tz) -> std::io::Result<()> {
    writeln!(w, "{}", FORMAT_FIELDS.join("|"))?;
    let cluster = trace.meta.cluster.as_deref().unwrap_or("");
    for j in &trace.jobs {
        let fields = row(j, trace, cluster, tz);
        debug_assert_eq!(fields.len(), FORMAT_FIELDS.len());
        writeln!(w, "{}", fields.join("|"))?;
    }
    Ok(())
}

fn time(t: Option<u64>, tz: chrono_tz::Tz) -> String {
    match t.and_then(|t| tz.timestamp_opt(t as i64, 0).single()) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S").to_string(),
        None => "Unknown".into(),
    }
}

fn duration(s: u64) -> String {
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{sec:02}")
    } else {
        format!("{h:02}:{m:02}:{sec:02}")
    }
}

fn state(s: JobState) -> &'static str {
    match s {
        JobState::Completed => "COMPLETED",
        JobState::Failed => "FAILED",
        JobState::Cancelled => "CANCELLED",
        JobState::Timeout => "TIMEOUT",
        JobState::NodeFail => "NODE_FAIL",
        JobState::OutOfMemory => "OUT_OF_MEMORY",
        JobState::Preempted => "PREEMPTED",
        JobState::Requeued => "REQUEUED",
        JobState::Pending => "PENDING",
        JobState::Running => "RUNNING",
        JobState::Other => "BOOT_FAIL",
    }
}

fn tres(j: &Job, trace: &Trace) -> String {
    let mut t = format!("billing={},cpu={}", j.cpus, j.cpus);
    if j.gpus > 0 {
        let ty = trace.names.gpu_types.name(j.gpu_type);
        if !ty.is_empty() {
            t.push_str(&format!(",gres/gpu:{ty}={}", j.gpus));
        }
        t.push_str(&format!(",gres/gpu={}", j.gpus));
    }
    if j.mem_mb > 0 {
        t.push_str(&format!(",mem={}M", j.mem_mb));
    }
    t.push_str(&format!(",node={}", j.nodes.max(1)));
    t
}

fn row(j: &Job, trace: &Trace, cluster: &str, tz: chrono_tz::Tz) -> Vec<String> {
    let n = &trace.names;
    let req = tres(j, trace);
    let started = j.start.is_some();
    vec![
        j.id.to_string(),
        j.id.to_string(),
        cluster.to_string(),
        n.partitions.name(j.partition).to_string(),
        n.accounts.name(j.account).to_string(),
        n.groups.name(j.group).to_string(),
        n.users.name(j.user).to_string(),
        n.qos.name(j.qos).to_string(),
        time(Some(j.submit), tz),
        time(Some(j.eligible), tz),
        time(j.start, tz),
        time(j.end, tz),
        duration(if started { j.run_time } else { 0 }),
        j.time_limit.map_or("UNLIMITED".into(), duration),
        state(j.state).to_string(),
        format!("{}:{}", j.exit_code, j.exit_signal),
        j.nodes.max(1).to_string(),
        j.cpus.to_string(),
        j.cpus.to_string(),
        if j.mem_mb > 0 {
            format!("{}M", j.mem_mb)
        } else {
            "0".into()
        },
        req.clone(),
        if started { req } else { String::new() },
        j.priority.map_or(String::new(), |p| p.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::sacct::{SacctOptions, read_from};

    fn sample() -> Trace {
        let mut t = Trace::default();
        let user = t.names.users.intern("alice");
        let part = t.names.partitions.intern("gpu");
        let a100 = t.names.gpu_types.intern("a100");
        t.jobs.push(Job {
            id: 7,
            user,
            partition: part,
            submit: 1_700_000_000,
            eligible: 1_700_000_010,
            start: Some(1_700_000_100),
            end: Some(1_700_090_100),
            nodes: 2,
            cpus: 16,
            mem_mb: 64_000,
            gpus: 8,
            gpu_type: a100,
            time_limit: Some(2 * 86_400),
            run_time: 90_000,
            state: JobState::Timeout,
            exit_code: 0,
            exit_signal: 15,
            priority: Some(4242),
            ..Job::default()
        });
        t.jobs.push(Job {
            id: 8,
            user,
            partition: part,
            submit: 1_700_000_050,
            eligible: 1_700_000_050,
            end: Some(1_700_000_500),
            nodes: 1,
            cpus: 1,
            state: JobState::Cancelled,
            ..Job::default()
        });
        t
    }

    #[test]
    fn dump_reads_back_as_the_same_jobs() {
        let t = sample();
        let tz = chrono_tz::Europe::Berlin;
        let mut buf = Vec::new();
        write_to(&mut buf, &t, tz).unwrap();
        let opts = SacctOptions {
            timezone: Some(tz),
            ..SacctOptions::default()
        };
        let (back, report) = read_from(&buf[..], "dump", &opts).unwrap();
        assert!(report.skipped.is_empty());
        assert_eq!(back.jobs.len(), 2);
        for (a, b) in t.jobs.iter().zip(&back.jobs) {
            assert_eq!(a.id, b.id);
            assert_eq!(
                (a.submit, a.eligible, a.start, a.end),
                (b.submit, b.eligible, b.start, b.end)
            );
            assert_eq!(
                (a.nodes, a.cpus, a.mem_mb, a.gpus),
                (b.nodes, b.cpus, b.mem_mb, b.gpus)
            );
            assert_eq!(
                (a.time_limit, a.run_time, a.state),
                (b.time_limit, b.run_time, b.state)
            );
            assert_eq!(
                (a.exit_code, a.exit_signal, a.priority),
                (b.exit_code, b.exit_signal, b.priority)
            );
            assert_eq!(t.names.users.name(a.user), back.names.users.name(b.user));
            assert_eq!(
                t.names.gpu_types.name(a.gpu_type),
                back.names.gpu_types.name(b.gpu_type)
            );
        }
        assert!(back.jobs[1].cancelled_pending());
    }

    #[test]
    fn durations_use_sacct_syntax() {
        assert_eq!(duration(59), "00:00:59");
        assert_eq!(duration(90_061), "1-01:01:01");
    }
}
