//! A diagnostic for the Slurm-faithful target (docs/results.md): how far a
//! simple per-job score, applied the way the plugin applies a model (scores
//! at submit and every `PriorityCalcPeriod`, then Slurm's main scheduler and
//! sched/backfill), can cut the mean bounded slowdown against `slurm` while
//! the p99 wait stays within 1.1× of `slurm`'s. It trains nothing that ships.
//!
//! The score of a pending job (higher runs first) is
//! `p0·ln(1+l) + p1·ln(1+c) + p2·ln(1+w) + p3·ln(1+w/l) + p4·fits +
//! p5·ln(1+w/(log2(max(c,2))·l)) + p6·c/C`, with l the time limit, c the
//! CPUs, C the cluster's, w the wait so far and fits 1 when the job fits on
//! the idle CPUs. `p = 0,0,0,0,0,1,0` ranks as UNICEP does (a monotone
//! transform of its score), refreshed at the plugin's instants only.
//!
//! Windows follow docs/results.md's protocol: K = 256 jobs from an empty
//! cluster. `test` is the 30 test windows (starts evenly spaced over the
//! last 20 % of the trace): searching there measures what is *reachable*
//! on the test set, never a way to choose a model. `train` is 30 windows
//! evenly spaced over the first 70 %, and the best score found there is
//! then measured on the test windows.
//!
//! ```sh
//! cargo run --release -p sim --example slurm_score_search -- eval TRACE p0,p1,p2,p3,p4,p5,p6
//! cargo run --release -p sim --example slurm_score_search -- search TRACE test|train ITERS SEED [linear]
//! ```
//!
//! `linear` fixes p5 at 0 and starts from 0: the rest is a linear function
//! of features the `policy` crate has (`log_time_limit`, `log_cpus`,
//! `log_wait`, `log_wait_ratio`, `fits_now`, `cpu_frac`).

use policy::{JobObs, Policy, QueueContext};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use sim::cluster::Cluster;
use sim::engine::{self, SimConfig};
use sim::metrics;
use sim::trace::{Trace, swf};

const NP: usize = 7;
const K: usize = 256;
const WINDOWS: usize = 30;
const P99_BOUND: f64 = 1.1;

struct Linear([f64; NP]);

impl Policy for Linear {
    fn name(&self) -> &str {
        "linear"
    }
    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        let p = &self.0;
        let total = ctx.total_cpus.max(1) as f64;
        for (o, j) in out.iter_mut().zip(jobs) {
            let l = j.time_limit.max(1) as f64;
            let c = f64::from(j.cpus);
            let w = j.wait as f64;
            let unicep = w / (c.max(2.0).log2() * l);
            *o = p[0] * l.ln_1p()
                + p[1] * c.ln_1p()
                + p[2] * w.ln_1p()
                + p[3] * (w / l).ln_1p()
                + p[4] * f64::from(u8::from(j.fits_now))
                + p[5] * unicep.ln_1p()
                + p[6] * c / total;
        }
    }
}

/// Mean bsld and mean p99 wait over the windows.
fn measure(
    trace: &Trace,
    cluster: &Cluster,
    starts: &[usize],
    make: &dyn Fn() -> Box<dyn Policy>,
) -> (f64, f64) {
    let (mut bsld, mut p99) = (0.0, 0.0);
    for (s, &start) in starts.iter().enumerate() {
        let jobs = &trace.jobs[start..start + K];
        let cfg = SimConfig {
            seed: s as u64,
            ..SimConfig::default()
        };
        let mut p = make();
        let r = engine::simulate(jobs, &trace.names, cluster, p.as_mut(), &cfg)
            .expect("the window simulates");
        let m = metrics::compute(jobs, &r.outcomes, cluster.total_cpus(), 0);
        bsld += m.bsld_mean;
        p99 += m.wait_p99;
    }
    let n = starts.len() as f64;
    (bsld / n, p99 / n)
}

fn evenly(lo: usize, hi: usize) -> Vec<usize> {
    (0..WINDOWS)
        .map(|i| lo + i * (hi - lo - K) / (WINDOWS - 1))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: slurm_score_search eval TRACE p0,..,p6 | search TRACE test|train ITERS SEED [linear]";
    let (cmd, path) = match args.as_slice() {
        [c, p, ..] => (c.as_str(), p),
        _ => panic!("{usage}"),
    };
    let (mut trace, _) = swf::read(path.as_ref(), &swf::SwfOptions::default()).expect("trace");
    let cluster = Cluster::from_swf_header(&trace.meta.header).expect("cluster from the header");
    for j in &mut trace.jobs {
        j.partition = 0;
    }
    let n = trace.jobs.len();
    let test = evenly(n * 8 / 10, n);
    let slurm = || sim::baselines::by_name("slurm").expect("slurm");
    let (s_bsld, s_p99) = measure(&trace, &cluster, &test, &slurm);
    println!(
        "jobs {n}; test windows from {}: slurm bsld {s_bsld:.3}, p99 {s_p99:.0} s",
        test[0]
    );
    let report = |label: &str, p: &[f64; NP]| {
        let q = *p;
        let (b, w) = measure(&trace, &cluster, &test, &move || Box::new(Linear(q)));
        println!(
            "{label}: test bsld {b:.3} ({:+.1} % vs slurm), p99 {:.3}× slurm's  p={}",
            100.0 * (b / s_bsld - 1.0),
            w / s_p99,
            p.map(|x| format!("{x:.3}")).join(",")
        );
    };
    match (cmd, &args[2..]) {
        ("eval", [p]) => {
            let v: Vec<f64> = p.split(',').map(|x| x.parse().expect("number")).collect();
            report("eval", &v.try_into().expect("seven numbers"));
        }
        ("search", [set, iters, seed, rest @ ..]) => {
            let linear = match rest {
                [] => false,
                [l] if l == "linear" => true,
                _ => panic!("{usage}"),
            };
            let windows = match set.as_str() {
                "test" => test.clone(),
                "train" => evenly(0, n * 7 / 10),
                _ => panic!("{usage}"),
            };
            let (ref_bsld, ref_p99) = measure(&trace, &cluster, &windows, &slurm);
            let cost = |p: &[f64; NP]| {
                let q = *p;
                let (b, w) = measure(&trace, &cluster, &windows, &move || Box::new(Linear(q)));
                let over = (w / ref_p99 - P99_BOUND).max(0.0);
                (b / ref_bsld + 10.0 * over, b, w / ref_p99)
            };
            let iters: usize = iters.parse().expect("ITERS");
            let mut rng = ChaCha8Rng::seed_from_u64(seed.parse().expect("SEED"));
            let mut mean = [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
            let mut sd = [1.0; NP];
            if linear {
                (mean[5], sd[5]) = (0.0, 0.0);
            }
            let mut best = (cost(&mean), mean);
            println!("start: cost {:.4}", best.0.0);
            for it in 0..iters {
                let mut pop: Vec<(f64, [f64; NP])> = (0..24)
                    .map(|_| {
                        let mut p = [0.0; NP];
                        for i in 0..NP {
                            p[i] = Normal::new(mean[i], sd[i])
                                .expect("sd > 0")
                                .sample(&mut rng);
                        }
                        (cost(&p).0, p)
                    })
                    .collect();
                pop.sort_by(|a, b| a.0.total_cmp(&b.0));
                let elite = &pop[..6];
                for i in 0..NP {
                    let m = elite.iter().map(|e| e.1[i]).sum::<f64>() / 6.0;
                    let v = elite.iter().map(|e| (e.1[i] - m).powi(2)).sum::<f64>() / 6.0;
                    mean[i] = m;
                    sd[i] = if linear && i == 5 {
                        0.0
                    } else {
                        v.sqrt().max(0.02)
                    };
                }
                if pop[0].0 < best.0.0 {
                    best = (cost(&pop[0].1), pop[0].1);
                }
                let (c, b, r) = best.0;
                println!("iter {it}: best cost {c:.4} (bsld {b:.3}, p99 ratio {r:.3})");
            }
            report(&format!("best on {set}"), &best.1);
        }
        _ => panic!("{usage}"),
    }
}
