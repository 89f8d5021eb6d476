//! A diagnostic for RLScheduler's table (docs/results.md): what a simple
//! score function of the quantities a policy sees can reach under
//! RLScheduler's protocol (`sim::rlsched`), and what F1 loses without its
//! absolute-submit-time term. It trains nothing that ships.
//!
//! The score of a visible job (the first 128 of the queue in submit order,
//! as the learned models see it) is minimized:
//! `p0·ln(1+r) + p1·ln(1+n) + p2·ln(1+w) + p3·ln(1+w/max(r,1)) + p4·fits
//!  + p5·(n/N)·ln(1+r) + p6·(n/N)`, with r the request, n the processors,
//! N the machine's, w the wait and fits 1 when the job fits now.
//! `p = 0,0,0,0,0,1,0` is F1 without its `870·log10(submit)` term.
//!
//! ```sh
//! # FCFS, SJF and F1 on 1024-job windows every 512 jobs (where the load is)
//! cargo run --release -p sim --example rlsched_score_search -- sweep TRACE BF
//! # the score on the ten test windows
//! cargo run --release -p sim --example rlsched_score_search -- eval TRACE BF p0,p1,p2,p3,p4,p5,p6
//! # cross-entropy method over p (24 candidates, 6 elite) on windows of 1024
//! # jobs that start every STRIDE jobs of the whole trace, or on the ten test
//! # windows themselves (`test`: a diagnostic of what is reachable, never a
//! # way to choose a model); `linear` fixes p5 at 0 (a linear model of the
//! # features can express the rest)
//! cargo run --release -p sim --example rlsched_score_search -- search TRACE BF STRIDE|test ITERS SEED [linear]
//! # the same CEM over the weights of a scoring network on the policy
//! # features, normalized as MODEL (a linear model file from
//! # `slurm-rl rlscheduler-train --linear`) normalizes them: LIN_ITERS
//! # iterations on the linear weights from MODEL's, then that linear score
//! # embedded exactly in a HIDDEN-unit ReLU network (two units carry +z and
//! # -z, the others start at 0) and ITERS iterations on all its weights,
//! # every one with standard deviation STD (HIDDEN 0: linear only)
//! cargo run --release -p sim --example rlsched_score_search -- mlp TRACE BF STRIDE|test ITERS SEED MODEL HIDDEN STD LIN_ITERS
//! ```

use policy::features::{Normalizer, features_array};
use policy::nn::{Activation, Architecture, Linear, Mlp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::rlsched::{self, CompatTrace, Key, PickContext, Queue};

const NP: usize = 7;
const VISIBLE: usize = 128;

fn ln1p(x: f64) -> f64 {
    (1.0 + x.max(0.0)).ln()
}

fn window(trace: &CompatTrace, start: usize, p: &[f64; NP], backfill: bool) -> f64 {
    let total = trace.max_procs as f64;
    let mut picker = |ctx: &PickContext, q: &mut Queue<'_>| {
        q.sort_by_key(|j| (j.submit, j.index));
        let mut best = (f64::INFINITY, 0);
        for (i, j) in q[..q.len().min(VISIBLE)].iter().enumerate() {
            let w = (ctx.now - j.submit).max(0) as f64;
            let r = j.request.max(0) as f64;
            let n = j.procs as f64;
            let fits = (n / ctx.procs_per_node).ceil() as i64 <= ctx.free_nodes;
            let k = p[0] * ln1p(r)
                + p[1] * ln1p(n)
                + p[2] * ln1p(w)
                + p[3] * ln1p(w / r.max(1.0))
                + p[4] * f64::from(u8::from(fits))
                + p[5] * (n / total) * ln1p(r)
                + p[6] * (n / total);
            if k < best.0 {
                best = (k, i);
            }
        }
        best.1
    };
    rlsched::run_window_with(trace, start, rlsched::WINDOW_LEN, &mut picker, backfill)
        .expect("window inside the trace")
        .mean_bsld
}

fn mean_over(trace: &CompatTrace, starts: &[usize], p: &[f64; NP], backfill: bool) -> Vec<f64> {
    starts
        .iter()
        .map(|&s| window(trace, s, p, backfill))
        .collect()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// The network of `arch` whose weights and biases, layer by layer, are `p`.
fn mlp_from(arch: &Architecture, p: &[f64]) -> Mlp {
    let sizes = arch.layer_sizes();
    let mut at = 0;
    let mut layers = Vec::new();
    for k in 0..arch.n_layers() {
        let (i, o) = (sizes[k], sizes[k + 1]);
        let mut take = |n: usize| {
            at += n;
            p[at - n..at]
                .iter()
                .map(|&x| x as f32)
                .collect::<Vec<f32>>()
        };
        let weight = take(i * o);
        let bias = take(o);
        layers.push(Linear {
            inputs: i,
            outputs: o,
            weight,
            bias,
        });
    }
    Mlp::new(arch.clone(), layers).expect("shapes from the architecture")
}

/// The greedy policy of `mlp` (highest score of the first 128 jobs in
/// submit order, the first on ties), as `slurm-rl rlscheduler --model`
/// runs it.
fn window_mlp(
    trace: &CompatTrace,
    start: usize,
    mlp: &Mlp,
    norm: &Normalizer,
    backfill: bool,
) -> f64 {
    let (mut feats, mut scores, mut scratch) = (Vec::new(), Vec::new(), mlp.scratch());
    let mut picker = |ctx: &PickContext, q: &mut Queue<'_>| {
        q.sort_by_key(|j| (j.submit, j.index));
        let n = q.len().min(VISIBLE);
        let qctx = rlsched::queue_context(ctx, q.len());
        feats.clear();
        for j in &q[..n] {
            let mut f = features_array(&rlsched::job_obs(ctx, j), &qctx);
            norm.apply(&mut f);
            feats.extend_from_slice(&f);
        }
        scores.resize(n, 0.0);
        mlp.score_batch_with(&feats, &mut scores, &mut scratch)
            .expect("rows of the network's width");
        let mut best = 0;
        for (i, &s) in scores.iter().enumerate() {
            if s > scores[best] {
                best = i;
            }
        }
        best
    };
    rlsched::run_window_with(trace, start, rlsched::WINDOW_LEN, &mut picker, backfill)
        .expect("window inside the trace")
        .mean_bsld
}

/// CEM (24 candidates, 6 elite, the mean among them, the best kept) from
/// `mu` with standard deviation `std`; returns the best cost and weights.
fn cem(
    mu0: Vec<f64>,
    std: f64,
    iters: usize,
    rng: &mut ChaCha8Rng,
    cost: &mut dyn FnMut(&[f64]) -> f64,
) -> (f64, Vec<f64>) {
    let mut mu = mu0;
    let mut sd = vec![std; mu.len()];
    let mut best = (cost(&mu), mu.clone());
    println!("start {:.2}", best.0);
    for it in 1..=iters {
        let mut pop: Vec<(f64, Vec<f64>)> = (0..24)
            .map(|k| {
                let p: Vec<f64> = if k == 0 {
                    mu.clone()
                } else {
                    mu.iter()
                        .zip(&sd)
                        .map(|(m, s)| m + s * normal(rng))
                        .collect()
                };
                (cost(&p), p)
            })
            .collect();
        pop.sort_by(|x, y| x.0.total_cmp(&y.0));
        if pop[0].0 < best.0 {
            best = pop[0].clone();
        }
        for d in 0..mu.len() {
            let m = pop[..6].iter().map(|e| e.1[d]).sum::<f64>() / 6.0;
            let v = pop[..6].iter().map(|e| (e.1[d] - m).powi(2)).sum::<f64>() / 6.0;
            mu[d] = m;
            sd[d] = v.sqrt().max(0.01);
        }
        let elite = pop[..6].iter().map(|e| e.0).sum::<f64>() / 6.0;
        println!("iteration {it}: best {:.2} elite mean {elite:.2}", best.0);
    }
    best
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(1e-300);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = "usage: rlsched_score_search sweep TRACE no|yes | eval TRACE no|yes P | search TRACE no|yes STRIDE|test ITERS SEED [linear] | mlp TRACE no|yes STRIDE|test ITERS SEED MODEL HIDDEN STD LIN_ITERS";
    if a.len() < 4 {
        eprintln!("{usage}");
        std::process::exit(2);
    }
    let trace = rlsched::load(a[2].as_ref()).unwrap_or_else(|e| panic!("{}: {e}", a[2]));
    let backfill = a[3] == "yes";
    let test = rlsched::TABLE_STARTS;
    match a[1].as_str() {
        "sweep" => {
            println!("start fcfs sjf f1");
            for s in (0..=trace.jobs.len() - rlsched::WINDOW_LEN).step_by(512) {
                let b: Vec<String> = [Key::Fcfs, Key::Sjf, Key::F1]
                    .iter()
                    .map(|&k| {
                        let r = rlsched::run_window(&trace, s, rlsched::WINDOW_LEN, k, backfill);
                        format!("{:.1}", r.expect("window inside the trace").mean_bsld)
                    })
                    .collect();
                println!("{s} {}", b.join(" "));
            }
        }
        "eval" if a.len() >= 5 => {
            let p: Vec<f64> = a[4]
                .split(',')
                .map(|x| x.parse().expect("a number"))
                .collect();
            let p: [f64; NP] = p.try_into().expect("seven parameters");
            let v = mean_over(&trace, &test, &p, backfill);
            println!(
                "test {:.2} windows {:?}",
                mean(&v),
                v.iter().map(|x| x.round()).collect::<Vec<_>>()
            );
        }
        "search" if a.len() >= 7 => {
            let starts = search_windows(&a[4], &test, trace.jobs.len());
            let iters: usize = a[5].parse().expect("iterations");
            let mut rng = ChaCha8Rng::seed_from_u64(a[6].parse().expect("a seed"));
            let linear = a.get(7).is_some_and(|x| x == "linear");
            let mut mu = [0.0f64; NP];
            if linear {
                (mu[0], mu[6]) = (0.3, 1.0);
            } else {
                mu[5] = 1.0;
            }
            let mut sd = [1.0f64; NP];
            let mut best = (mean(&mean_over(&trace, &starts, &mu, backfill)), mu);
            for it in 1..=iters {
                let mut pop: Vec<(f64, [f64; NP])> = (0..24)
                    .map(|_| {
                        let mut p = [0.0; NP];
                        for k in 0..NP {
                            p[k] = if linear && k == 5 {
                                0.0
                            } else {
                                mu[k] + sd[k] * normal(&mut rng)
                            };
                        }
                        (mean(&mean_over(&trace, &starts, &p, backfill)), p)
                    })
                    .collect();
                pop.sort_by(|x, y| x.0.total_cmp(&y.0));
                if pop[0].0 < best.0 {
                    best = pop[0];
                }
                for k in 0..NP {
                    let m = pop[..6].iter().map(|e| e.1[k]).sum::<f64>() / 6.0;
                    let v = pop[..6].iter().map(|e| (e.1[k] - m).powi(2)).sum::<f64>() / 6.0;
                    mu[k] = m;
                    sd[k] = v.sqrt() + 0.02;
                }
                println!(
                    "iteration {it}: best {:.2} on {} windows",
                    best.0,
                    starts.len()
                );
            }
            let v = mean_over(&trace, &test, &best.1, backfill);
            println!(
                "best {:.2} on the search windows; test {:.2} windows {:?}; p {:?}",
                best.0,
                mean(&v),
                v.iter().map(|x| x.round()).collect::<Vec<_>>(),
                best.1
            );
        }
        "mlp" if a.len() >= 11 => {
            let starts = search_windows(&a[4], &test, trace.jobs.len());
            let iters: usize = a[5].parse().expect("iterations");
            let mut rng = ChaCha8Rng::seed_from_u64(a[6].parse().expect("a seed"));
            let model = policy::Model::load(&a[7]).unwrap_or_else(|e| panic!("{}: {e}", a[7]));
            let hidden: usize = a[8].parse().expect("hidden units");
            let std: f64 = a[9].parse().expect("a standard deviation");
            let lin_iters: usize = a[10].parse().expect("linear iterations");
            let norm = model.spec().normalizer.clone();
            let start = &model.mlp().layers()[0];
            assert_eq!(model.mlp().layers().len(), 1, "MODEL must be linear");
            let d = start.inputs;
            let t0 = std::time::Instant::now();
            let lin = Architecture {
                inputs: d,
                hidden: Vec::new(),
                activation: Activation::Relu,
            };
            let mut w: Vec<f64> = start.weight.iter().map(|&x| f64::from(x)).collect();
            w.push(0.0);
            let run = |arch: &Architecture, p: &[f64], starts: &[usize]| {
                let m = mlp_from(arch, p);
                starts
                    .iter()
                    .map(|&s| window_mlp(&trace, s, &m, &norm, backfill))
                    .collect::<Vec<f64>>()
            };
            let report = |what: &str, arch: &Architecture, p: &[f64], t: f64| {
                let v = run(arch, p, &test);
                println!(
                    "{what}: best {t:.2} on the search windows; test {:.2} windows {:?} ({:.0} s)",
                    mean(&v),
                    v.iter().map(|x| x.round()).collect::<Vec<_>>(),
                    t0.elapsed().as_secs_f64()
                );
            };
            let (t, w) = cem(w, 1.0, lin_iters, &mut rng, &mut |p| {
                mean(&run(&lin, p, &starts))
            });
            report("linear", &lin, &w, t);
            if hidden >= 2 {
                let arch = Architecture {
                    inputs: d,
                    hidden: vec![hidden],
                    activation: Activation::Relu,
                };
                // relu(z) - relu(-z) = z: the linear score, exactly.
                let mut p = vec![0.0; hidden * d + hidden + hidden + 1];
                for k in 0..d {
                    p[k] = w[k];
                    p[d + k] = -w[k];
                }
                let out = hidden * d + hidden;
                (p[out], p[out + 1]) = (1.0, -1.0);
                let (t, p) = cem(p, std, iters, &mut rng, &mut |p| {
                    mean(&run(&arch, p, &starts))
                });
                report("mlp", &arch, &p, t);
            }
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}

/// The windows a search runs on: the ten test windows (`test`), or one
/// every `stride` jobs of the whole trace.
fn search_windows(arg: &str, test: &[usize], jobs: usize) -> Vec<usize> {
    if arg == "test" {
        test.to_vec()
    } else {
        let stride: usize = arg.parse().expect("a stride");
        (0..=jobs - rlsched::WINDOW_LEN).step_by(stride).collect()
    }
}
