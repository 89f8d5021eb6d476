//! `slurm-rl replay`: submit a trace to a running Slurm cluster as `sbatch`
//! sleep jobs, at the trace's submit times divided by a compression factor,
//! wait until they have all ended, and write a manifest (trace id ↔ Slurm
//! job id, the plan, how late each submission was, and how Slurm started
//! each job) for `slurm-rl fidelity`.
//!
//! This file owns the submission plan, running `sbatch`, `squeue` and
//! `sacct`, and the manifest. It must not compare anything with the
//! simulator (`cmd::fidelity` does) or parse accounting records (`slurm-rl
//! import sacct` does).

use super::common::load_trace;
use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};
use sim::cluster::Cluster;
use sim::trace::Trace;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const LONG_ABOUT: &str = "\
Replays a workload on a real (test) Slurm cluster: every job becomes
`sbatch --wrap 'sleep S'` with the job's CPUs, nodes and GPUs, submitted at
its trace submit time divided by --compress (time zero = the first job).
With --compress 60, an hour of trace takes a minute; a job that ran 30 min
sleeps 30 s.

How trace fields become sbatch options:
  submit time   round(submit / F) s after the first job, on the whole
                second of the wall clock
  run time      round(run / F) s, at least --min-run; a job that would
                reach its (compressed) limit runs 2 s less than the limit
                (slurmctld enforces limits only every 30 s)
  time limit    -t ceil(limit / F / 60) minutes (Slurm's unit), at least 1
  CPUs, nodes   -N n --ntasks-per-node=1 -c ceil(cpus / n), where n is the
                trace's node count, or the fewest nodes of the cluster
                that hold the CPUs and GPUs
  GPUs          --gres=gpu:ceil(gpus / n)
  memory        not requested: the cluster's DefMemPerCPU applies
  partition     -p the trace's partition when the cluster has it, else the
                default partition
  job name      t<trace id> (sacct returns it)
Jobs that never started in the trace (cancelled while pending), or that
cannot fit the cluster, are left out and counted.

Whole seconds. sacct records submit, start and end times in whole
seconds, and so does the simulator that the replay is compared with. So
that the recorded times are the ones that ordered Slurm's decisions:
  - time zero is a multiple of 30 s of the Unix epoch (it waits up to
    30 s): cons_tres's will-run test groups running jobs' ends in windows
    aligned there, so every replay of a workload meets them alike;
  - submissions go out at the start of a wall-clock second;
  - each job asks squeue for its own start time (Slurm's whole second)
    and sleeps until start + run time + 10 ms, so it ends at the start of
    a second too, before that second's scheduling passes, as the
    simulator orders them.
--unaligned submits at the exact compressed times, at once, and runs
`sleep S`: ends and submissions then fall anywhere in a second, and which
side of a backfill cycle they fell on is not in the accounting.

Keep the compressed run times long compared with the scheduler's
intervals (sched_interval, bf_interval, PriorityCalcPeriod in slurm.conf)
and with slurmctld's own latency; docs/fidelity.md explains the choices.

When every job has ended, the command asks sacct how each was started
(its Flags field: SchedSubmit, SchedMain or SchedBackfill) and writes
OUT/manifest.json. Then read the outcome with `slurm-rl import sacct`
(the manifest prints the exact command) and compare with
`slurm-rl fidelity`.";

const AFTER_LONG_HELP: &str = "\
Examples:
  eval \"$(scripts/cluster env)\"
  slurm-rl replay --trace small.jsonl --compress 60 --out run1
  slurm-rl import sacct --start 2026-11-27T01:00:00 --end 2026-11-27T01:10:00 -o run1/real.jsonl
  slurm-rl fidelity --manifest run1/manifest.json --real run1/real.jsonl --cluster $SLURM_CONF";

/// Arguments.
#[derive(clap::Args, Debug)]
#[command(before_long_help = LONG_ABOUT, after_long_help = AFTER_LONG_HELP, help_template = super::simulate::HELP_TEMPLATE)]
pub struct Args {
    /// The workload (.jsonl, .swf/.swf.gz or an sacct dump).
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// Time-compression factor F: trace seconds per real second.
    #[arg(long, default_value_t = 60.0)]
    pub compress: f64,
    /// The cluster's slurm.conf [default: $SLURM_CONF].
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Directory for manifest.json and submitted.jsonl (created).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replay at most this many jobs (the first by submit time).
    #[arg(long)]
    pub max_jobs: Option<usize>,
    /// Shortest sleep, in seconds, after compression.
    #[arg(long, default_value_t = 5)]
    pub min_run: u64,
    /// Give up waiting for the jobs to end after this many seconds.
    #[arg(long, default_value_t = 3600)]
    pub timeout: u64,
    /// Print the sbatch command lines and write the plan, submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The sbatch program.
    #[arg(long, default_value = "sbatch")]
    pub sbatch: PathBuf,
    /// The squeue program.
    #[arg(long, default_value = "squeue")]
    pub squeue: PathBuf,
    /// The sacct program.
    #[arg(long, default_value = "sacct")]
    pub sacct: PathBuf,
    /// Submit at the exact compressed times and run plain `sleep S`,
    /// instead of on whole seconds (see above).
    #[arg(long)]
    pub unaligned: bool,
}

/// Where in a second the replay puts its submissions and job ends.
#[derive(Debug, Clone, PartialEq)]
pub enum Timing {
    /// Submissions at the start of a wall-clock second; every job ends
    /// just after the whole second `start + sleep`, with its start asked
    /// from this squeue program on the compute node.
    Aligned {
        /// The squeue program the job runs.
        squeue: String,
    },
    /// Submissions at the exact compressed times, `sleep S`.
    Unaligned,
}

/// How long after the whole second an aligned job ends: its end (slurmctld's
/// `_job_complete`, then the epilog-complete RPC) lands early in that
/// second, before the backfill cycle in most seconds.
const END_OFFSET_NS: u64 = 10_000_000;

impl Timing {
    /// The batch script (`--wrap`) of a job that runs `sleep` seconds.
    ///
    /// Aligned: the script asks squeue for the job's start time in epoch
    /// seconds (`SLURM_TIME_FORMAT=%s`; Slurm 22.05 has no
    /// `SLURM_JOB_START_TIME`) and sleeps until that second plus `sleep`
    /// plus 10 ms, in POSIX sh with 64-bit arithmetic (dash, bash). When
    /// squeue gives no number it falls back to `sleep S`.
    pub fn wrap(&self, sleep: u64) -> String {
        match self {
            Timing::Unaligned => format!("sleep {sleep}"),
            Timing::Aligned { squeue } => format!(
                "s=$(SLURM_TIME_FORMAT=%s {squeue} -h -j \"$SLURM_JOB_ID\" -o %S 2>/dev/null); \
                 case \"$s\" in ''|*[!0-9]*) exec sleep {sleep};; esac; \
                 w=$(( (s + {sleep}) * 1000000000 + {END_OFFSET_NS} - $(date +%s%N) )); \
                 [ \"$w\" -gt 0 ] || exit 0; \
                 exec sleep $((w / 1000000000)).$(printf %09d $((w % 1000000000)))",
                squeue = shell_quote(squeue),
            ),
        }
    }
}

/// cons_tres's will-run test (when a blocked job could start) groups the
/// running jobs' ends in windows aligned on multiples of 30 s of the Unix
/// epoch, so the same workload can be planned differently depending on
/// where its time zero falls against them.
const WILL_RUN_WINDOW: u64 = 30;

/// Time zero of an aligned replay asked for at `now` (Unix seconds): the
/// next multiple of [`WILL_RUN_WINDOW`], so that every replay of a workload
/// meets slurmctld's will-run windows in the same place.
fn aligned_start(now: f64) -> f64 {
    let w = WILL_RUN_WINDOW as f64;
    (now / w).floor() * w + w
}

/// The wall clock in Unix seconds (0 before the epoch).
fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `s` quoted for sh when it holds anything but safe characters.
fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// One planned submission.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Planned {
    /// The job's id in the trace.
    pub trace_id: u64,
    /// Seconds after the replay's start at which it is submitted.
    pub at: f64,
    /// Seconds it sleeps.
    pub sleep: u64,
    /// Time limit, minutes.
    pub limit_min: u64,
    /// Nodes (-N).
    pub nodes: u32,
    /// CPUs per node (-c, one task per node).
    pub cpus_per_node: u32,
    /// GPUs per node (--gres=gpu:N), 0 for none.
    pub gpus_per_node: u32,
    /// Partition, empty for the cluster's default.
    pub partition: String,
}

impl Planned {
    /// The sbatch arguments (without the program).
    pub fn sbatch_args(&self, timing: &Timing) -> Vec<String> {
        let mut v = vec![
            "--parsable".to_string(),
            format!("--job-name=t{}", self.trace_id),
            "--output=/dev/null".into(),
            "--error=/dev/null".into(),
            format!("--time={}", self.limit_min),
            format!("--nodes={}", self.nodes),
            "--ntasks-per-node=1".into(),
            format!("--cpus-per-task={}", self.cpus_per_node),
        ];
        if self.gpus_per_node > 0 {
            v.push(format!("--gres=gpu:{}", self.gpus_per_node));
        }
        if !self.partition.is_empty() {
            v.push(format!("--partition={}", self.partition));
        }
        v.push(format!("--wrap={}", timing.wrap(self.sleep)));
        v
    }
}

/// One submitted job, in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Submitted {
    /// The plan.
    #[serde(flatten)]
    pub plan: Planned,
    /// The Slurm job id sbatch returned.
    pub slurm_id: u64,
    /// Seconds after the replay's start at which sbatch returned.
    pub submitted_at: f64,
    /// sacct's Flags: SchedSubmit, SchedMain or SchedBackfill (empty when
    /// sacct did not say).
    pub sched_flags: String,
}

/// What `replay` writes to OUT/manifest.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The trace that was replayed.
    pub trace: String,
    /// The compression factor.
    pub compress: f64,
    /// Whether submissions and ends were put on whole seconds (false for
    /// `--unaligned` and for manifests written before the option existed).
    #[serde(default)]
    pub aligned: bool,
    /// The cluster's slurm.conf.
    pub cluster: String,
    /// Wall-clock start and end of the replay (UTC, RFC 3339).
    pub started_utc: String,
    /// When the last job had ended.
    pub ended_utc: String,
    /// Trace jobs left out, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Median and maximum of (submitted_at − at), seconds: how late the
    /// submissions were (sbatch's own latency and the machine's load).
    pub submit_lag_median: f64,
    /// See `submit_lag_median`.
    pub submit_lag_max: f64,
    /// The command that imports the replay's accounting.
    pub import_command: String,
    /// The jobs.
    pub jobs: Vec<Submitted>,
}

impl Manifest {
    /// Reads a manifest written by `replay`.
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading manifest {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a replay manifest (written by `slurm-rl replay`)",
                path.display()
            )
        })
    }
}

/// The fewest nodes (at least `min`) over which `cpus` and `gpus` can be
/// spread evenly on nodes of `node_cpus` CPUs and `node_gpus` GPUs, or
/// `None` when even every node is not enough.
fn nodes_needed(
    cpus: u32,
    gpus: u32,
    min: u32,
    node_cpus: u32,
    node_gpus: u32,
    n_nodes: u32,
) -> Option<u32> {
    (min.max(1)..=n_nodes)
        .find(|&n| cpus.div_ceil(n) <= node_cpus && (gpus == 0 || gpus.div_ceil(n) <= node_gpus))
}

/// The submission plan for `trace` on `cluster`, and the jobs left out by
/// reason. With `whole_seconds`, submit times are rounded to whole seconds.
pub fn plan(
    trace: &Trace,
    cluster: &Cluster,
    compress: f64,
    min_run: u64,
    max_jobs: Option<usize>,
    whole_seconds: bool,
) -> Result<(Vec<Planned>, BTreeMap<String, usize>)> {
    ensure!(
        compress.is_finite() && compress > 0.0,
        "--compress must be a positive number, found {compress}"
    );
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut order: Vec<usize> = (0..trace.jobs.len()).collect();
    order.sort_by_key(|&i| (trace.jobs[i].submit, i));
    let t0 = order.first().map(|&i| trace.jobs[i].submit).unwrap_or(0);
    let mut out = Vec::new();
    for i in order {
        if max_jobs.is_some_and(|m| out.len() >= m) {
            break;
        }
        let j = &trace.jobs[i];
        if j.start.is_none() && j.cancelled_pending() {
            *skipped.entry("cancelled while pending".into()).or_default() += 1;
            continue;
        }
        let part_name = trace.names.partitions.name(j.partition).to_string();
        let part = cluster
            .partition(&part_name)
            .or_else(|| cluster.default_partition());
        let Some(p) = part else {
            bail!("the cluster has no default partition and no partition `{part_name}`");
        };
        let p = &cluster.partitions[p];
        let node_cpus = p
            .nodes
            .iter()
            .map(|&n| cluster.nodes[n as usize].cpus)
            .min()
            .unwrap_or(0);
        let node_gpus = p
            .nodes
            .iter()
            .map(|&n| cluster.nodes[n as usize].gpus)
            .min()
            .unwrap_or(0);
        let cpus = j.cpus.max(1);
        let Some(nodes) = nodes_needed(
            cpus,
            j.gpus,
            j.nodes,
            node_cpus,
            node_gpus,
            p.nodes.len() as u32,
        ) else {
            *skipped
                .entry("larger than the partition".into())
                .or_default() += 1;
            continue;
        };
        let limit_s = j.time_limit.or(p.default_time).or(p.max_time);
        let limit_min = match limit_s {
            Some(l) => ((l as f64 / compress / 60.0).ceil() as u64).max(1),
            None => 60,
        };
        let limit_min = match p.max_time {
            Some(m) => limit_min.min((m / 60).max(1)),
            None => limit_min,
        };
        let mut sleep = ((j.run_time as f64 / compress).round() as u64).max(min_run);
        // slurmctld checks limits about every 30 s, so a job at its limit
        // would run on for up to 30 s: end it just before.
        sleep = sleep.min(limit_min * 60 - 2);
        let at = (j.submit - t0) as f64 / compress;
        out.push(Planned {
            trace_id: j.id,
            at: if whole_seconds { at.round() } else { at },
            sleep,
            limit_min,
            nodes,
            cpus_per_node: cpus.div_ceil(nodes),
            gpus_per_node: j.gpus.div_ceil(nodes),
            partition: if cluster.partition(&part_name).is_some() {
                part_name
            } else {
                String::new()
            },
        });
    }
    Ok((out, skipped))
}

/// Runs `cmd`, returning stdout; fails with stderr on a non-zero exit.
fn output(cmd: &mut Command) -> Result<String> {
    let o = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !o.status.success() {
        bail!(
            "{:?} failed ({}): {}",
            cmd.get_program(),
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The job id in `sbatch --parsable`'s output (`ID` or `ID;CLUSTER`).
fn parse_job_id(s: &str) -> Result<u64> {
    let first = s.trim().split(';').next().unwrap_or("");
    first
        .parse()
        .with_context(|| format!("sbatch printed `{}`, expected a job id", s.trim()))
}

/// Median of a non-empty list.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    sim::metrics::median(&v)
}

/// Runs the command.
pub fn run(a: Args) -> Result<()> {
    let conf = match &a.cluster {
        Some(p) => p.clone(),
        None => PathBuf::from(std::env::var_os("SLURM_CONF").context(
            "--cluster not given and SLURM_CONF not set (eval \"$(scripts/cluster env)\")",
        )?),
    };
    let mut trace = load_trace(&a.trace, false)?;
    let cluster = super::common::load_cluster(Some(&conf), &mut trace, &a.trace)?;
    let timing = if a.unaligned {
        Timing::Unaligned
    } else {
        Timing::Aligned {
            squeue: a.squeue.display().to_string(),
        }
    };
    let (plan, skipped) = plan(
        &trace,
        &cluster,
        a.compress,
        a.min_run,
        a.max_jobs,
        !a.unaligned,
    )?;
    ensure!(!plan.is_empty(), "{}: no job to replay", a.trace.display());
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let span = plan.last().map(|p| p.at).unwrap_or(0.0);
    eprintln!(
        "replaying {} jobs of {} over {:.0} s of submissions (compression {}); left out: {:?}",
        plan.len(),
        a.trace.display(),
        span,
        a.compress,
        skipped
    );
    if a.dry_run {
        for p in &plan {
            println!(
                "at {:8.1} s: {} {}",
                p.at,
                a.sbatch.display(),
                p.sbatch_args(&timing).join(" ")
            );
        }
        return Ok(());
    }

    // Time zero: the next multiple of 30 s of the wall clock when aligned.
    // Submissions are timed on the wall clock (slurmctld's clock), not on
    // a monotonic one that may drift from it over a long replay.
    let start = if a.unaligned {
        unix_now()
    } else {
        let w = unix_now();
        let s = aligned_start(w);
        if s > w + 1.0 {
            eprintln!(
                "waiting {:.0} s for a multiple of {WILL_RUN_WINDOW} s (slurmctld's will-run window)",
                s - w
            );
        }
        std::thread::sleep(Duration::from_secs_f64(s - w));
        s
    };
    let started_utc = chrono::Utc::now();
    let t0 = Instant::now();
    let pb = indicatif::ProgressBar::with_draw_target(
        Some(plan.len() as u64),
        indicatif::ProgressDrawTarget::stderr(),
    );
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} ({elapsed}, lag {prefix})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    pb.set_message("submitting");
    let mut subs: Vec<Submitted> = Vec::with_capacity(plan.len());
    for p in &plan {
        let now = unix_now() - start;
        if p.at > now {
            std::thread::sleep(Duration::from_secs_f64(p.at - now));
        }
        let out = output(Command::new(&a.sbatch).args(p.sbatch_args(&timing)))
            .with_context(|| format!("submitting trace job {}", p.trace_id))?;
        let id = parse_job_id(&out)?;
        let at = unix_now() - start;
        pb.set_prefix(format!("{:.1} s", at - p.at));
        pb.inc(1);
        subs.push(Submitted {
            plan: p.clone(),
            slurm_id: id,
            submitted_at: at,
            sched_flags: String::new(),
        });
    }
    pb.finish_and_clear();

    // Wait until none of our jobs is pending, running or completing.
    let ours: BTreeSet<u64> = subs.iter().map(|s| s.slurm_id).collect();
    let spin = super::simulate::spinner(format!("waiting for {} jobs to end", ours.len()));
    loop {
        let q = output(Command::new(&a.squeue).args(["-h", "-o", "%A"]))?;
        let left = q
            .lines()
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .filter(|id| ours.contains(id))
            .count();
        if left == 0 {
            break;
        }
        spin.set_message(format!("waiting for {left} of {} jobs to end", ours.len()));
        ensure!(
            t0.elapsed().as_secs() < a.timeout,
            "{left} jobs still queued or running after --timeout {} s",
            a.timeout
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    let ended_utc = chrono::Utc::now();

    // How each job was started, from accounting (slurmdbd may lag a little).
    let ids: Vec<String> = ours.iter().map(|i| i.to_string()).collect();
    let mut flags: BTreeMap<u64, String> = BTreeMap::new();
    for _ in 0..30 {
        let o = output(Command::new(&a.sacct).args([
            "-X",
            "-n",
            "-P",
            "--format=JobIDRaw,Flags,State",
            "-j",
            &ids.join(","),
        ]))?;
        for l in o.lines() {
            let f: Vec<&str> = l.split('|').collect();
            if let (Some(id), Some(fl), Some(st)) = (f.first(), f.get(1), f.get(2))
                && let Ok(id) = id.parse::<u64>()
                && !st.starts_with("PENDING")
                && !st.starts_with("RUNNING")
            {
                flags.insert(id, fl.to_string());
            }
        }
        if flags.len() == ours.len() {
            break;
        }
        spin.set_message(format!(
            "waiting for accounting ({} of {} jobs recorded)",
            flags.len(),
            ours.len()
        ));
        std::thread::sleep(Duration::from_secs(2));
    }
    spin.finish_and_clear();
    for s in &mut subs {
        s.sched_flags = flags.get(&s.slurm_id).cloned().unwrap_or_default();
    }
    let missing = subs.iter().filter(|s| s.sched_flags.is_empty()).count();
    if missing > 0 {
        eprintln!("warning: sacct did not report how {missing} jobs were started");
    }

    let lags: Vec<f64> = subs.iter().map(|s| s.submitted_at - s.plan.at).collect();
    let fmt = "%Y-%m-%dT%H:%M:%S";
    // sacct's window is inclusive by second; widen it by a minute each way.
    let import_command = format!(
        "slurm-rl import sacct --timezone UTC --start {} --end {} -o {}",
        (started_utc - chrono::Duration::seconds(60)).format(fmt),
        (ended_utc + chrono::Duration::seconds(60)).format(fmt),
        a.out.join("real.jsonl").display()
    );
    let m = Manifest {
        trace: a.trace.display().to_string(),
        compress: a.compress,
        aligned: !a.unaligned,
        cluster: conf.display().to_string(),
        started_utc: started_utc.to_rfc3339(),
        ended_utc: ended_utc.to_rfc3339(),
        skipped,
        submit_lag_median: median(lags.clone()),
        submit_lag_max: lags.iter().copied().fold(0.0, f64::max),
        import_command: import_command.clone(),
        jobs: subs,
    };
    let path = a.out.join("manifest.json");
    super::common::write_json(&path, &m)?;
    eprintln!(
        "replayed {} jobs in {:.0} s (submission lag median {:.2} s, max {:.2} s); manifest {}",
        m.jobs.len(),
        t0.elapsed().as_secs_f64(),
        m.submit_lag_median,
        m.submit_lag_max,
        path.display()
    );
    println!("{import_command}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::trace::{Job, JobState};

    fn cluster() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "name = \"t\"\n[[nodes]]\nname = \"n[1-4]\"\ncpus = 8\nmem_mb = 8000\ngpus = 4\n\
             [[partitions]]\nname = \"gpu\"\nnodes = \"n[1-4]\"\ndefault = true\nmax_time = \"120\"\n",
        )
        .unwrap();
        sim::cluster::file::read(&p).unwrap()
    }

    #[test]
    fn plan_compresses_times_and_lays_out_jobs_on_nodes() {
        let mut t = Trace::default();
        let mk = |id, submit, cpus, gpus, limit, run| Job {
            id,
            submit,
            eligible: submit,
            start: Some(submit),
            cpus,
            gpus,
            time_limit: Some(limit),
            run_time: run,
            state: JobState::Completed,
            ..Default::default()
        };
        t.jobs.push(mk(7, 1000, 4, 1, 3600, 1800));
        t.jobs.push(mk(8, 1600, 12, 6, 600, 5000)); // runs past its limit
        t.jobs.push(mk(9, 1700, 40, 0, 600, 60)); // larger than the cluster
        let (p, skipped) = plan(&t, &cluster(), 60.0, 5, None, false).unwrap();
        assert_eq!(skipped.get("larger than the partition"), Some(&1));
        assert_eq!(p.len(), 2);
        assert_eq!((p[0].at, p[0].sleep, p[0].limit_min), (0.0, 30, 1));
        assert_eq!(
            (p[0].nodes, p[0].cpus_per_node, p[0].gpus_per_node),
            (1, 4, 1)
        );
        assert_eq!(p[1].at, 10.0);
        assert_eq!(p[1].sleep, 58, "ends 2 s before its one-minute limit");
        assert_eq!(
            (p[1].nodes, p[1].cpus_per_node, p[1].gpus_per_node),
            (2, 6, 3)
        );
        let args = p[1].sbatch_args(&Timing::Unaligned);
        assert!(args.contains(&"--job-name=t8".to_string()), "{args:?}");
        assert!(args.contains(&"--gres=gpu:3".to_string()), "{args:?}");
        assert_eq!(args.last().unwrap(), "--wrap=sleep 58");
    }

    #[test]
    fn whole_seconds_round_submit_times() {
        let mut t = Trace::default();
        for (id, submit) in [(1, 1000), (2, 1029), (3, 1031), (4, 1100)] {
            t.jobs.push(Job {
                id,
                submit,
                eligible: submit,
                start: Some(submit),
                cpus: 1,
                time_limit: Some(600),
                run_time: 300,
                state: JobState::Completed,
                ..Default::default()
            });
        }
        let at = |whole| -> Vec<f64> {
            let (p, _) = plan(&t, &cluster(), 60.0, 5, None, whole).unwrap();
            p.iter().map(|p| p.at).collect()
        };
        assert_eq!(at(true), [0.0, 0.0, 1.0, 2.0]);
        assert_eq!(at(false), [0.0, 29.0 / 60.0, 31.0 / 60.0, 100.0 / 60.0]);
    }

    /// Runs an aligned job script under `sh` with a fake squeue that
    /// prints `start`, and returns how long it slept (its `sleep`'s
    /// argument, echoed by a fake `sleep`).
    fn aligned_sleep(start: &str, sleep: u64) -> String {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path();
        let fake = |name: &str, body: &str| {
            let p = bin.join(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        fake("squeue", &format!("echo '{start}'"));
        fake("sleep", "echo \"$1\"");
        let squeue = bin.join("squeue").display().to_string();
        let script = Timing::Aligned { squeue }.wrap(sleep);
        let out = Command::new("sh")
            .arg("-c")
            .arg(&script)
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("SLURM_JOB_ID", "7")
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {out:?}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn an_aligned_job_sleeps_until_just_after_its_whole_second_end() {
        let now = unix_now();
        // Started (by Slurm's clock) one second ago, runs 30 s: it sleeps
        // what is left until that second + 30 s + 10 ms.
        let start = now.floor() as u64 - 1;
        let slept: f64 = aligned_sleep(&start.to_string(), 30).parse().unwrap();
        let want = (start + 30) as f64 + 0.01 - now;
        assert!((slept - want).abs() < 0.5, "slept {slept}, want {want}");
        assert!(slept < 30.0, "{slept}");
        // squeue gave nothing usable: plain sleep.
        assert_eq!(aligned_sleep("", 30), "30");
        assert_eq!(aligned_sleep("N/A", 30), "30");
        // Launched after its end was due: no sleep.
        assert_eq!(aligned_sleep(&(start - 100).to_string(), 30), "");
    }

    #[test]
    fn aligned_replays_start_on_the_next_multiple_of_30_s() {
        assert_eq!(aligned_start(1_795_839_608.4), 1_795_839_630.0);
        assert_eq!(aligned_start(1_795_839_600.0), 1_795_839_630.0);
        assert_eq!(aligned_start(1_795_839_629.99), 1_795_839_630.0);
    }

    #[test]
    fn squeue_paths_are_quoted_for_the_job_script() {
        assert_eq!(shell_quote("/usr/bin/squeue"), "/usr/bin/squeue");
        assert_eq!(shell_quote("my squeue"), "'my squeue'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
    }

    #[test]
    fn job_ids_from_sbatch_parsable() {
        assert_eq!(parse_job_id("123\n").unwrap(), 123);
        assert_eq!(parse_job_id("45;slurmrl\n").unwrap(), 45);
        assert!(parse_job_id("Submitted batch job 5").is_err());
    }
}
