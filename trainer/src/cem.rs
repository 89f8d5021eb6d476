//! The cross-entropy method (CEM) over a weight vector: the search stage
//! that `slurm-rl train` runs on a linear actor (`--linear --cem-iters N`)
//! and `slurm-rl rlscheduler-train` on a linear actor or on every weight and
//! bias of an MLP actor.
//!
//! Each iteration draws `--cem-pop` weight vectors from a diagonal Gaussian
//! (the first one is its mean), costs each one, and refits the Gaussian to
//! the `--cem-elite` cheapest (standard deviations floored at 0.01). The
//! cost is the caller's: a mean bounded slowdown of the greedy policy on
//! training windows.

use anyhow::Result;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The CEM's options, shared by both training commands.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct CemArgs {
    /// Cross-entropy-method iterations on the actor's weights (0: none; `train`
    /// needs --linear, `rlscheduler-train` also searches every weight and
    /// bias of an MLP actor). `train` runs them before its first PPO
    /// update, `rlscheduler-train` after the imitation; the result is
    /// validated like an update and PPO goes on from it (docs/training.md).
    #[arg(long, default_value_t = 0)]
    pub cem_iters: usize,
    /// Candidates per CEM iteration.
    #[arg(long, default_value_t = 24)]
    pub cem_pop: usize,
    /// Best candidates that set the next CEM distribution.
    #[arg(long, default_value_t = 6)]
    pub cem_elite: usize,
    /// Initial standard deviation of every CEM weight.
    #[arg(long, default_value_t = 1.0)]
    pub cem_std: f64,
}

impl CemArgs {
    /// Rejects a population or an elite that cannot work.
    pub fn check(&self) -> Result<()> {
        if self.cem_iters > 0
            && (self.cem_pop < 2 || self.cem_elite == 0 || self.cem_elite > self.cem_pop)
        {
            anyhow::bail!("--cem-pop must be ≥ 2 and --cem-elite in 1..=--cem-pop");
        }
        if !(self.cem_std.is_finite() && self.cem_std > 0.0) {
            anyhow::bail!("--cem-std must be a positive number");
        }
        Ok(())
    }
}

/// What a search found.
#[derive(Debug, Clone)]
pub struct Found {
    /// The cheapest weights seen.
    pub weights: Vec<f64>,
    /// Their cost.
    pub cost: f64,
    /// One row per iteration: iteration (from 1), best cost so far, mean
    /// cost of the elite.
    pub log: Vec<[f64; 3]>,
}

/// `start`, a linear model (one layer), with that layer's weights replaced
/// by `w`; everything else (bias, features, reward, training summary) kept.
pub fn with_weights(start: &policy::Model, w: &[f64]) -> Result<policy::Model> {
    let mut layer = start.mlp().layers()[0].clone();
    layer.weight = w.iter().map(|&x| x as f32).collect();
    let mlp = policy::nn::Mlp::new(start.mlp().architecture().clone(), vec![layer])
        .map_err(anyhow::Error::msg)?;
    with_mlp(start, mlp)
}

/// `start` with its network replaced by `mlp`; features, reward and
/// training summary and max-wait guard kept.
fn with_mlp(start: &policy::Model, mlp: policy::nn::Mlp) -> Result<policy::Model> {
    Ok(policy::Model::new(
        mlp,
        start.spec().clone(),
        start.reward.clone(),
        start.training.clone(),
        chrono::Utc::now().to_rfc3339(),
    )?
    .with_max_wait(start.max_wait))
}

/// Every weight and bias of `mlp`, layer by layer (input side first), each
/// layer's row-major weights before its biases: the vector the CEM searches
/// for an MLP actor.
pub fn params(mlp: &policy::nn::Mlp) -> Vec<f64> {
    mlp.layers()
        .iter()
        .flat_map(|l| l.weight.iter().chain(&l.bias))
        .map(|&x| f64::from(x))
        .collect()
}

/// The network of architecture `arch` whose [`params`] are `p` (rounded
/// to f32).
pub fn mlp_with_params(arch: &policy::nn::Architecture, p: &[f64]) -> Result<policy::nn::Mlp> {
    let sizes = arch.layer_sizes();
    let want: usize = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    if p.len() != want {
        anyhow::bail!("{} parameters for a network of {want}", p.len());
    }
    let mut at = 0;
    let mut take = |n: usize| {
        at += n;
        p[at - n..at]
            .iter()
            .map(|&x| x as f32)
            .collect::<Vec<f32>>()
    };
    let layers = sizes
        .windows(2)
        .map(|w| policy::nn::Linear {
            inputs: w[0],
            outputs: w[1],
            weight: take(w[0] * w[1]),
            bias: take(w[1]),
        })
        .collect();
    policy::nn::Mlp::new(arch.clone(), layers).map_err(anyhow::Error::msg)
}

/// `start` with every weight and bias replaced by `p` (see [`params`]);
/// architecture, features, reward and training summary kept.
pub fn with_params(start: &policy::Model, p: &[f64]) -> Result<policy::Model> {
    with_mlp(start, mlp_with_params(start.architecture(), p)?)
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = rng.r#gen::<f64>().max(1e-300);
    let u2: f64 = rng.r#gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Runs `a.cem_iters` iterations from the mean `init`, minimizing `cost`.
pub fn search(
    init: &[f64],
    a: &CemArgs,
    rng: &mut ChaCha8Rng,
    mut cost: impl FnMut(&[f64]) -> Result<f64>,
) -> Result<Found> {
    let mut mu = init.to_vec();
    let mut sd = vec![a.cem_std; init.len()];
    let mut best = (cost(&mu)?, mu.clone());
    let mut log = Vec::with_capacity(a.cem_iters);
    for it in 1..=a.cem_iters {
        let mut pop: Vec<(f64, Vec<f64>)> = Vec::with_capacity(a.cem_pop);
        for k in 0..a.cem_pop {
            let w: Vec<f64> = if k == 0 {
                mu.clone()
            } else {
                mu.iter()
                    .zip(&sd)
                    .map(|(&m, &s)| m + s * normal(rng))
                    .collect()
            };
            pop.push((cost(&w)?, w));
        }
        pop.sort_by(|x, y| x.0.total_cmp(&y.0));
        if pop[0].0 < best.0 {
            best = pop[0].clone();
        }
        let elite = &pop[..a.cem_elite];
        let n = elite.len() as f64;
        for d in 0..mu.len() {
            let m = elite.iter().map(|e| e.1[d]).sum::<f64>() / n;
            let v = elite.iter().map(|e| (e.1[d] - m).powi(2)).sum::<f64>() / n;
            mu[d] = m;
            sd[d] = v.sqrt().max(0.01);
        }
        let elite_mean = elite.iter().map(|e| e.0).sum::<f64>() / n;
        tracing::info!(it, best = best.0, elite_mean, "cem");
        log.push([it as f64, best.0, elite_mean]);
    }
    Ok(Found {
        weights: best.1,
        cost: best.0,
        log,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn finds_the_minimum_of_a_quadratic_and_never_forgets_the_best() {
        let a = CemArgs {
            cem_iters: 30,
            cem_pop: 40,
            cem_elite: 10,
            cem_std: 2.0,
        };
        let target = [1.5, -2.0, 0.25];
        let mut calls = 0;
        let found = search(&[0.0; 3], &a, &mut ChaCha8Rng::seed_from_u64(1), |w| {
            calls += 1;
            Ok(w.iter().zip(&target).map(|(x, t)| (x - t).powi(2)).sum())
        })
        .unwrap();
        assert_eq!(calls, 1 + 30 * 40);
        assert!(found.cost < 1e-3, "cost {}", found.cost);
        for (w, t) in found.weights.iter().zip(target) {
            assert!((w - t).abs() < 0.05, "{w} vs {t}");
        }
        assert_eq!(found.log.len(), 30);
        assert!(found.log.windows(2).all(|w| w[1][1] <= w[0][1]));
        assert_eq!(found.log.last().unwrap()[1], found.cost);
    }

    #[test]
    fn params_round_trip_through_an_mlp() {
        let arch = policy::nn::Architecture {
            inputs: policy::features::N_FEATURES,
            hidden: vec![3],
            activation: policy::nn::Activation::Relu,
        };
        let m = policy::Model::random(arch, policy::features::FeatureSpec::current_identity(), 7)
            .unwrap();
        let p = params(m.mlp());
        assert_eq!(p.len(), 20 * 3 + 3 + 3 + 1);
        let back = with_params(&m, &p).unwrap();
        assert_eq!(back.mlp(), m.mlp());
        assert!(with_params(&m, &p[1..]).is_err());
    }

    #[test]
    fn bad_options_are_rejected() {
        let ok = CemArgs {
            cem_iters: 1,
            cem_pop: 4,
            cem_elite: 2,
            cem_std: 1.0,
        };
        assert!(ok.check().is_ok());
        for bad in [
            CemArgs {
                cem_pop: 1,
                ..ok.clone()
            },
            CemArgs {
                cem_elite: 0,
                ..ok.clone()
            },
            CemArgs {
                cem_elite: 5,
                ..ok.clone()
            },
            CemArgs {
                cem_std: 0.0,
                ..ok.clone()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
