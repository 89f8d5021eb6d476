//! The live queue snapshot of `slurm-rl explain --squeue`: the pending and
//! running jobs from `squeue --json` (Slurm 22.05 and later), the
//! normalized fairshare and QOS factors and the priority without the site
//! factor from `sprio`, and the cluster's CPUs and GPUs from `sinfo`.
//!
//! Each job is observed the way site_factor/rl observes it inside
//! slurmctld (`slurm-plugin/src/v22_05.rs`): wait from the eligible time,
//! memory and GPUs from the requested TRES, `fits_now` as the aggregate
//! check against free CPUs and GPUs, `multifactor` = priority − site
//! factor. This file runs the commands and parses their output (pure
//! functions, tested on real 22.05 output); it must not score.

use super::{Pending, Snapshot};
use anyhow::{Context, Result, bail};
use policy::{JobObs, QueueContext};
use std::collections::HashMap;
use std::process::Command;

fn run(cmd: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .with_context(|| format!("running `{cmd}` (is the Slurm client installed and on PATH?)"))?;
    if !out.status.success() {
        bail!(
            "`{cmd} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Reads the pending queue from the running cluster.
pub(super) fn snapshot() -> Result<Snapshot> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let jobs = run("squeue", &["--json"])?;
    // sprio lists only pending jobs; an empty queue makes it print nothing.
    let prio = run("sprio", &["-h", "-o", "%i|%Y|%S|%f|%q"]).unwrap_or_default();
    let nodes = run("sinfo", &["-h", "-N", "-o", "%N|%G|%C"])?;
    let tiers = run("sinfo", &["-h", "-o", "%R|%p"])?;
    build(now, &jobs, &prio, &nodes, &tiers)
}

/// The value of `key=N[unit]` in a TRES string (`cpu=4,mem=1000M,gres/gpu=1`),
/// with memory units turned into MB.
fn tres(s: &str, key: &str) -> Option<u64> {
    s.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        let (num, mult) = match v.chars().last()? {
            'K' => (&v[..v.len() - 1], 1.0 / 1024.0),
            'M' => (&v[..v.len() - 1], 1.0),
            'G' => (&v[..v.len() - 1], 1024.0),
            'T' => (&v[..v.len() - 1], 1024.0 * 1024.0),
            _ => (v, 1.0),
        };
        num.parse::<f64>().ok().map(|n| (n * mult).round() as u64)
    })
}

/// GPUs in a TRES string: `gres/gpu=N` (typed entries such as
/// `gres/gpu:a100=N` are counted by the untyped total Slurm also lists).
fn gpus_of(s: &str) -> u64 {
    tres(s, "gres/gpu").unwrap_or(0)
}

/// GPUs in an `sinfo %G` field: `gpu:2`, `gpu:a100:4(S:0-1)`, `(null)`.
fn gres_gpus(s: &str) -> u64 {
    s.split(',')
        .filter(|g| g.starts_with("gpu"))
        .filter_map(|g| {
            let g = g.split('(').next().unwrap_or(g);
            g.rsplit(':').next()?.parse::<u64>().ok()
        })
        .sum()
}

/// Builds the snapshot from the commands' output.
fn build(now: u64, jobs: &str, prio: &str, nodes: &str, tiers: &str) -> Result<Snapshot> {
    let doc: serde_json::Value =
        serde_json::from_str(jobs).context("parsing `squeue --json` output")?;
    let Some(list) = doc["jobs"].as_array() else {
        bail!("`squeue --json` output has no `jobs` array");
    };
    // Cluster totals, one row per node (sinfo -N repeats a node per partition).
    let mut seen = std::collections::BTreeSet::new();
    let (mut total_cpus, mut total_gpus) = (0u64, 0u64);
    for line in nodes.lines() {
        let f: Vec<&str> = line.split('|').collect();
        if f.len() != 3 || !seen.insert(f[0].to_string()) {
            continue;
        }
        total_gpus += gres_gpus(f[1]);
        total_cpus += f[2]
            .rsplit('/')
            .next()
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
    }
    let tier: HashMap<String, u32> = tiers
        .lines()
        .filter_map(|l| {
            let (p, t) = l.split_once('|')?;
            Some((p.trim().to_string(), t.trim().parse().ok()?))
        })
        .collect();
    // sprio: id → (priority, site, normalized fairshare, normalized QOS).
    let sprio: HashMap<u64, (f64, f64, f64, f64)> = prio
        .lines()
        .filter_map(|l| {
            let f: Vec<f64> = l
                .split('|')
                .map(|x| x.trim().parse::<f64>().unwrap_or(0.0))
                .collect();
            (f.len() == 5).then(|| (f[0] as u64, (f[1], f[2], f[3], f[4])))
        })
        .collect();
    let (mut pending, mut running, mut used_cpus, mut used_gpus) = (Vec::new(), 0u32, 0u64, 0u64);
    for j in list {
        let state = j["job_state"].as_str().unwrap_or("");
        match state {
            "RUNNING" => {
                running += 1;
                let alloc = j["tres_alloc_str"].as_str().unwrap_or("");
                used_cpus += tres(alloc, "cpu").unwrap_or_else(|| j["cpus"].as_u64().unwrap_or(0));
                used_gpus += gpus_of(alloc);
            }
            "PENDING" => pending.push(j),
            _ => {}
        }
    }
    let ctx = QueueContext {
        now,
        free_cpus: total_cpus.saturating_sub(used_cpus),
        total_cpus,
        free_gpus: total_gpus.saturating_sub(used_gpus),
        total_gpus,
        queue_len: pending.len() as u32,
        running,
    };
    let mut out = Vec::with_capacity(pending.len());
    for j in pending {
        let id = j["job_id"]
            .as_u64()
            .context("a job without job_id in squeue --json")?;
        let req = j["tres_req_str"].as_str().unwrap_or("");
        let submit = j["submit_time"].as_u64().unwrap_or(now);
        let eligible = j["eligible_time"]
            .as_u64()
            .filter(|&e| e > 0)
            .unwrap_or(submit);
        let cpus = j["cpus"].as_u64().or_else(|| tres(req, "cpu")).unwrap_or(1);
        let gpus = gpus_of(req);
        let partition = j["partition"].as_str().unwrap_or("").to_string();
        // Several partitions (`a,b`): the first one's tier.
        let first = partition.split(',').next().unwrap_or("");
        let (priority, site, fs, qos) = sprio.get(&id).copied().unwrap_or((
            j["priority"].as_f64().unwrap_or(0.0),
            0.0,
            1.0,
            0.0,
        ));
        let obs = JobObs {
            id,
            submit,
            wait: now.saturating_sub(eligible.max(submit)),
            time_limit: j["time_limit"].as_u64().unwrap_or(0).saturating_mul(60),
            nodes: j["node_count"].as_u64().unwrap_or(1) as u32,
            cpus: cpus.min(u32::MAX as u64) as u32,
            mem_mb: tres(req, "mem").unwrap_or(0),
            gpus: gpus.min(u32::MAX as u64) as u32,
            fits_now: cpus <= ctx.free_cpus && gpus <= ctx.free_gpus,
            partition_tier: tier.get(first).copied().unwrap_or(0),
            qos,
            fairshare: fs,
            multifactor: (priority - site).max(0.0),
        };
        out.push(Pending {
            obs,
            ctx,
            user: j["user_name"].as_str().unwrap_or("").to_string(),
            partition,
        });
    }
    Ok(Snapshot {
        at: now,
        source: format!(
            "live: squeue --json, sprio, sinfo ({total_cpus} CPUs, {total_gpus} GPUs, {running} running)"
        ),
        unix_times: true,
        jobs: out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Trimmed from the real output of Slurm 22.05.8 on the local test
    /// cluster (scripts/cluster, 2 nodes × 8 CPUs × 2 GPUs).
    const SQUEUE: &str = r#"{"jobs": [
      {"job_id": 1, "job_state": "RUNNING", "user_name": "root", "partition": "gpu",
       "submit_time": 1795745556, "eligible_time": 1795745556, "time_limit": 10, "node_count": 2,
       "cpus": 16, "tres_req_str": "cpu=16,mem=8000M,node=2,billing=16",
       "tres_alloc_str": "cpu=16,mem=8000M,node=2,billing=16", "priority": 10437},
      {"job_id": 2, "job_state": "PENDING", "user_name": "root", "partition": "gpu",
       "submit_time": 1795745556, "eligible_time": 1795745556, "time_limit": 5, "node_count": 1,
       "cpus": 4, "tres_req_str": "cpu=4,mem=1000M,node=1,billing=4,gres/gpu=1",
       "tres_alloc_str": "", "priority": 10375},
      {"job_id": 3, "job_state": "PENDING", "user_name": "alice", "partition": "debug",
       "submit_time": 1795745556, "eligible_time": 1795745600, "time_limit": 3, "node_count": 1,
       "cpus": 2, "tres_req_str": "cpu=2,mem=1G,node=1,billing=2",
       "tres_alloc_str": "", "priority": 10312}
    ]}"#;
    const SPRIO: &str = "2|10375|0|1.0000000|0.0000000\n3|10312|12|0.5000000|0.2500000\n";
    const NODES: &str =
        "n1|gpu:2|8/0/0/8\nn1|gpu:2|8/0/0/8\nn2|gpu:2(S:0)|8/0/0/8\nn2|gpu:2(S:0)|8/0/0/8\n";
    const TIERS: &str = "gpu|1\ndebug|3\n";

    #[test]
    fn live_snapshot_from_real_22_05_output() {
        let s = build(1_795_745_700, SQUEUE, SPRIO, NODES, TIERS).unwrap();
        assert_eq!(s.jobs.len(), 2);
        let c = s.jobs[0].ctx;
        assert_eq!((c.total_cpus, c.free_cpus), (16, 0));
        assert_eq!((c.total_gpus, c.free_gpus), (4, 4));
        assert_eq!((c.queue_len, c.running), (2, 1));
        let j2 = &s.jobs[0].obs;
        assert_eq!((j2.id, j2.cpus, j2.gpus, j2.mem_mb), (2, 4, 1, 1000));
        assert_eq!((j2.wait, j2.time_limit, j2.nodes), (144, 300, 1));
        assert!(!j2.fits_now, "no CPU is free");
        assert_eq!((j2.fairshare, j2.qos, j2.multifactor), (1.0, 0.0, 10375.0));
        assert_eq!(j2.partition_tier, 1);
        let j3 = &s.jobs[1].obs;
        assert_eq!(j3.wait, 100, "waits from its eligible time");
        assert_eq!(j3.mem_mb, 1024);
        assert_eq!((j3.fairshare, j3.qos, j3.multifactor), (0.5, 0.25, 10300.0));
        assert_eq!(j3.partition_tier, 3);
        assert_eq!(s.jobs[1].user, "alice");
    }

    #[test]
    fn tres_and_gres_parsing() {
        assert_eq!(tres("cpu=4,mem=2G", "mem"), Some(2048));
        assert_eq!(tres("cpu=4,mem=512K", "mem"), Some(1));
        assert_eq!(tres("cpu=4", "mem"), None);
        assert_eq!(gpus_of("cpu=1,gres/gpu:a100=2,gres/gpu=2"), 2);
        assert_eq!(gres_gpus("gpu:a100:4(S:0-1),gpu:t4:2"), 6);
        assert_eq!(gres_gpus("(null)"), 0);
        assert!(build(0, "not json", "", "", "").is_err());
    }
}
