//! Replay benchmarks of the simulator: SDSC-SP2 and HPC2N with Slurm-style
//! backfill, a synthetic GPU workload, and the cost's growth with queue
//! length. It also measures peak heap use per job with a counting
//! allocator.
//!
//! This file owns only measurement. It reads the SWF traces with a minimal
//! private parser (fields 2 submit, 4 run, 8 requested procs falling back
//! to 5, 9 requested time, 12 user) so that it does not depend on the SWF
//! reader; it must not be used as a trace reader elsewhere.
//!
//! Run: `cargo bench -p sim --bench replay`. The first lines printed are
//! the headline figures (jobs/s, best of several runs, and bytes/job).

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use criterion::Criterion;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::baselines;
use sim::cluster::{Cluster, Node, Partition, PriorityConfig, SchedConfig};
use sim::engine::{SimConfig, simulate};
use sim::trace::{Job, Names};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to `System`, which upholds the GlobalAlloc
// contract; the counters are plain atomics and never affect the pointers.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout, forwarded to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Minimal private SWF loader (see the module doc).
fn load_swf(name: &str) -> (Vec<Job>, Names) {
    let path = sim::testdata::trace(name);
    let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    flate2::read::GzDecoder::new(f)
        .read_to_string(&mut text)
        .expect("gzip");
    let mut names = Names::default();
    let mut jobs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            continue;
        }
        let v: Vec<i64> = line
            .split_whitespace()
            .map(|x| x.parse::<f64>().expect("number") as i64)
            .collect();
        let procs = if v[7] > 0 { v[7] } else { v[4] };
        let user = names.users.intern(&v[11].to_string());
        jobs.push(Job {
            id: v[0] as u64,
            submit: v[1].max(0) as u64,
            eligible: v[1].max(0) as u64,
            cpus: procs.max(1) as u32,
            run_time: v[3].max(0) as u64,
            time_limit: (v[8] > 0).then_some(v[8] as u64),
            user,
            ..Job::default()
        });
    }
    jobs.sort_by_key(|j| (j.submit, j.id));
    (jobs, names)
}

fn one_partition_cluster(name: &str, nodes: Vec<Node>) -> Cluster {
    let n = nodes.len() as u32;
    Cluster {
        name: name.into(),
        nodes,
        partitions: vec![Partition {
            name: "batch".into(),
            nodes: (0..n).collect(),
            priority_tier: 1,
            priority_job_factor: 1,
            max_time: None,
            default_time: None,
            default: true,
            exclusive: false,
        }],
        priority: PriorityConfig::default(),
        sched: SchedConfig::default(),
    }
}

fn cpu_cluster(name: &str, n: usize) -> Cluster {
    let nodes = (0..n)
        .map(|i| Node {
            name: format!("n{i}"),
            cpus: 1,
            mem_mb: 0,
            gpus: 0,
            gpu_type: String::new(),
            features: vec![],
        })
        .collect();
    one_partition_cluster(name, nodes)
}

/// 5,000 GPU jobs on 32 nodes of 64 CPUs, 512 GB and 8 GPUs.
fn gpu_workload() -> (Vec<Job>, Names, Cluster) {
    let nodes = (0..32)
        .map(|i| Node {
            name: format!("g{i:02}"),
            cpus: 64,
            mem_mb: 512_000,
            gpus: 8,
            gpu_type: "a100".into(),
            features: vec![],
        })
        .collect();
    let cluster = one_partition_cluster("gpu", nodes);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut names = Names::default();
    let mut t = 0u64;
    let jobs = (0..5000u64)
        .map(|id| {
            t += rng.gen_range(0..550);
            let gpus = [1, 1, 1, 2, 2, 4, 8, 8, 16, 32][rng.gen_range(0..10)];
            let limit = 600 * rng.gen_range(1..=48u64);
            let run = rng.gen_range(1..=limit + limit / 5);
            let user = names.users.intern(&format!("u{}", rng.gen_range(0..40)));
            Job {
                id: id + 1,
                submit: t,
                eligible: t,
                cpus: gpus * 8,
                gpus,
                nodes: if gpus > 8 { gpus / 8 } else { 0 },
                mem_mb: gpus as u64 * 60_000,
                run_time: run,
                time_limit: Some(limit),
                user,
                ..Job::default()
            }
        })
        .collect();
    (jobs, names, cluster)
}

fn sim_once(
    jobs: &[Job],
    names: &Names,
    cluster: &Cluster,
    policy: &str,
) -> sim::engine::SimResult {
    let mut p = baselines::by_name(policy).expect("policy");
    simulate(jobs, names, cluster, p.as_mut(), &SimConfig::default()).expect("simulation")
}

/// Best-of-`reps` wall time, jobs/s, and the stats of the last run.
fn measure(label: &str, jobs: &[Job], names: &Names, cluster: &Cluster, policy: &str, reps: usize) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        let r = sim_once(jobs, names, cluster, policy);
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(r);
    }
    let r = last.unwrap();
    let backfilled = r.outcomes.iter().filter(|o| o.backfilled).count();
    // Mean queue length by Little's law: total waiting time / time span.
    let waited: u64 = jobs
        .iter()
        .zip(&r.outcomes)
        .filter_map(|(j, o)| o.start.map(|s| s.saturating_sub(j.submit.max(j.eligible))))
        .sum();
    let span = r.outcomes.iter().map(|o| o.end).max().unwrap_or(0)
        - jobs.first().map(|j| j.submit).unwrap_or(0);
    // A fingerprint of the schedule, to check that optimisations keep it.
    let mut h: u64 = 0xcbf29ce484222325;
    for o in &r.outcomes {
        for x in [
            o.start.unwrap_or(u64::MAX),
            o.end,
            o.kind as u64,
            o.backfilled as u64,
        ] {
            h = (h ^ x).wrapping_mul(0x100000001b3);
        }
    }
    println!(
        "{label:<28} {policy:<7} {:>7} jobs  {:>8.4} s  {:>10.0} jobs/s  mean_queue={:.1} schedule={h:016x} events={} main_passes={} bf_cycles={} bf_reused={} bf_sweeps={} bf_bounded={} backfilled={}",
        jobs.len(),
        best,
        jobs.len() as f64 / best,
        waited as f64 / span.max(1) as f64,
        r.stats.events,
        r.stats.main_passes,
        r.stats.bf_cycles,
        r.stats.bf_reused,
        r.stats.bf_sweeps,
        r.stats.bf_bounded,
        backfilled
    );
}

/// Peak heap bytes per job used by one simulation beyond its input.
fn bytes_per_job(jobs: &[Job], names: &Names, cluster: &Cluster, policy: &str) -> f64 {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = sim_once(jobs, names, cluster, policy);
    let peak = PEAK.load(Ordering::Relaxed);
    drop(r);
    (peak - base) as f64 / jobs.len() as f64
}

/// Submit times compressed by `factor` (>1 = more load, longer queues).
fn compressed(jobs: &[Job], factor: f64) -> Vec<Job> {
    let t0 = jobs.first().map(|j| j.submit).unwrap_or(0);
    jobs.iter()
        .map(|j| {
            let s = t0 + ((j.submit - t0) as f64 / factor) as u64;
            Job {
                submit: s,
                eligible: s,
                ..j.clone()
            }
        })
        .collect()
}

fn main() {
    let (sdsc, sdsc_names) = load_swf("SDSC-SP2-1998-4.2-cln.swf.gz");
    let (hpc2n, hpc2n_names) = load_swf("HPC2N-2002-2.2-cln.swf.gz");
    let sdsc_c = cpu_cluster("sdsc-sp2", 128);
    let hpc2n_c = cpu_cluster("hpc2n", 240);
    let (gpu, gpu_names, gpu_c) = gpu_workload();

    if let Ok(p) = std::env::var("REPLAY_PROFILE") {
        // One run under policy `p`, for profilers: REPLAY_CASE = sdsc
        // (default; REPLAY_LOAD scales its
        // arrival rate), sdsc-nobf, hpc2n or gpu.
        match std::env::var("REPLAY_CASE").as_deref().unwrap_or("sdsc") {
            "gpu" => measure("synthetic GPU 32x8", &gpu, &gpu_names, &gpu_c, &p, 1),
            "hpc2n" => measure("HPC2N 240x1", &hpc2n, &hpc2n_names, &hpc2n_c, &p, 1),
            "sdsc-nobf" => {
                let mut c = sdsc_c.clone();
                c.sched.backfill = false;
                measure("SDSC-SP2 128x1 no backfill", &sdsc, &sdsc_names, &c, &p, 1)
            }
            _ => {
                let load: f64 = std::env::var("REPLAY_LOAD")
                    .ok()
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(1.0);
                let jobs = compressed(&sdsc, load);
                measure("SDSC-SP2 128x1", &jobs, &sdsc_names, &sdsc_c, &p, 1)
            }
        }
        return;
    }
    println!("== headline (best of 3, one core) ==");
    for policy in ["slurm", "fcfs", "wfp3"] {
        measure("SDSC-SP2 128x1", &sdsc, &sdsc_names, &sdsc_c, policy, 3);
    }
    let mut no_bf = sdsc_c.clone();
    no_bf.sched.backfill = false;
    measure(
        "SDSC-SP2 128x1 no backfill",
        &sdsc,
        &sdsc_names,
        &no_bf,
        "slurm",
        3,
    );
    for policy in ["slurm", "fcfs"] {
        measure("HPC2N 240x1", &hpc2n, &hpc2n_names, &hpc2n_c, policy, 1);
        measure("synthetic GPU 32x8", &gpu, &gpu_names, &gpu_c, policy, 3);
    }
    println!("== queue length (SDSC-SP2, arrivals sped up) ==");
    for factor in [0.5, 0.75, 1.0, 1.25, 1.5] {
        let jobs = compressed(&sdsc, factor);
        measure(
            &format!("SDSC-SP2 load x{factor}"),
            &jobs,
            &sdsc_names,
            &sdsc_c,
            "slurm",
            1,
        );
    }
    println!("== peak heap beyond the input ==");
    for (label, jobs, names, c) in [
        ("SDSC-SP2", &sdsc, &sdsc_names, &sdsc_c),
        ("HPC2N", &hpc2n, &hpc2n_names, &hpc2n_c),
        ("synthetic GPU", &gpu, &gpu_names, &gpu_c),
    ] {
        println!(
            "{label:<16} {:>7.1} bytes/job",
            bytes_per_job(jobs, names, c, "slurm")
        );
    }

    let mut c = Criterion::default().configure_from_args().sample_size(10);
    c.bench_function("replay/sdsc-sp2/slurm", |b| {
        b.iter(|| sim_once(&sdsc, &sdsc_names, &sdsc_c, "slurm"))
    });
    c.bench_function("replay/gpu-5k/slurm", |b| {
        b.iter(|| sim_once(&gpu, &gpu_names, &gpu_c, "slurm"))
    });
    c.final_summary();
}
