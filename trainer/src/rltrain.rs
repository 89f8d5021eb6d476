//! `slurm-rl rlscheduler-train`: PPO in the RLScheduler-style environment
//! ([`crate::rlenv`]), to set a learned policy beside RLScheduler's table
//! under its own protocol.
//!
//! The action distribution is RLScheduler's: a categorical softmax over the
//! scores of the visible jobs (the per-job actor MLP of the model file),
//! i.e. `ppo::plackett_luce` with depth 1. The reward is RLScheduler's
//! (−mean bounded slowdown at the end of a window, 0 before). What differs
//! from `ppo::train` (the Slurm-faithful trainer) is the baseline: windows
//! differ in load by two orders of magnitude, so instead of a learned
//! critic each update runs `--group` episodes on each of
//! `--windows-per-update` random training windows and a decision's
//! advantage is its episode's return normalized within its window's group
//! (a group baseline, as in GRPO/RLOO). The PPO clipped objective, the
//! entropy bonus and gradient clipping are `ppo`'s own functions.
//!
//! Rollouts use the plain-Rust forward pass (`policy::nn::Mlp`) on a copy of
//! the actor; the update runs in tch. Every `--val-every` updates the greedy
//! policy is measured on the validation windows and the best one is kept
//! (`model.safetensors`). An optional warm start (`--imitate KEY`,
//! `--imitate-updates N`) first fits the actor to a heuristic's choices by
//! maximum likelihood on the same machinery; it is off by default. An
//! optional cross-entropy-method stage (`--cem-iters`) then searches the
//! actor's weights (a linear actor's weights, or every weight and bias of an
//! MLP) directly on the mean bounded slowdown of spread 1024-job windows
//! before PPO.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use policy::Model;
use policy::features::{FeatureSpec, N_FEATURES};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::rlsched::{self, CompatJob, Key};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Tensor, nn};

use crate::ppo::{ActivationArg, Agent, clipped_policy_loss, plackett_luce};
use crate::rlenv::{self, MAX_QUEUE_SIZE, RlEnv, RlEnvConfig, RlObservation, Split};

const AFTER_LONG_HELP: &str = "\
Trains one model for one trace and one backfill setting (RLScheduler trained
per trace). With --windows held-out (the default), training windows
(--jobs-per-episode jobs, 256 as RLScheduler) never overlap the ten test
windows of RLScheduler's table (1024 jobs from 1981, 2756, 4299, 8850, 3316,
2714, 5228, 7762, 4022, 7085) nor the --val-windows validation windows, which
are cut from the end of the largest gap between test windows. With --windows
whole, as RLScheduler trains, training windows start anywhere in the trace
(test-window jobs included) and the validation windows (--val-len jobs) are
spread evenly over it; the test windows themselves are never run.
--slice N (RLScheduler's batch_job_slice, needs --windows whole) draws every
training, CEM and validation window from the first N jobs instead: the
RLScheduler SDSC-SP2 model was trained with 10000, the stretch its test
windows are drawn from, so its training windows overlap them.

--cem-iters N adds a cross-entropy-method search on the actor's weights
(with --linear, the linear weights; without, every weight and bias of the
MLP) between the imitation and PPO (needs --windows whole).

--algo dqn trains by deep Q-learning instead (double DQN with a dueling head
whose advantage stream is the model's per-job network; the --dqn-* options;
docs/training.md): the same model file, curves.csv with one row per
validation. --imitate and --cem-iters are PPO's only.

Outputs in --out: model.safetensors (the best greedy policy on validation),
curves.csv (per update), report.json (arguments, split, wall time,
decisions/s, validation figures of the model and of FCFS, SJF and F1).
Evaluate it under the exact protocol with
  slurm-rl rlscheduler --trace FILE --model yes:DIR/model.safetensors

Examples:
  slurm-rl rlscheduler-train --trace lublin_256.swf --backfill no --out runs/l1-no
  slurm-rl rlscheduler-train --trace SDSC-SP2-1998-4.2-cln.swf.gz --backfill yes \\
      --out runs/sdsc-yes --total-updates 80 --learning-rate 3e-3
  slurm-rl rlscheduler-train --trace lublin_256.swf --backfill yes --out runs/l1-yes \\
      --windows whole --linear --imitate auto --imitate-updates 10 --cem-iters 12 \\
      --total-updates 30 --val-windows 16 --val-len 1024 --learning-rate 1e-3 --ent-coef 0
  slurm-rl rlscheduler-train --algo dqn --trace lublin_256.swf --backfill no --out runs/l1-dqn \\
      --val-windows 4 --learning-rate 3e-4";

/// Backfill of the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backfill {
    /// No backfilling.
    No,
    /// RLScheduler's simplified backfilling.
    Yes,
}

/// Where training and validation windows come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Windows {
    /// Training windows avoid the ten test windows; validation windows are
    /// cut from the largest gap between test windows.
    HeldOut,
    /// RLScheduler's own protocol: training windows anywhere in the trace
    /// (so they can hold test-window jobs); validation windows spread
    /// evenly over the whole trace.
    Whole,
}

/// The learning algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algo {
    /// PPO with a group baseline (this module).
    Ppo,
    /// Double DQN with n-step returns ([`crate::dqn`]; the --dqn-* options).
    Dqn,
}

/// `slurm-rl rlscheduler-train` options.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct Args {
    /// An SWF trace (.swf or .swf.gz), loaded under RLScheduler's rules.
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The learning algorithm: PPO (the --total-updates … options) or deep
    /// Q-learning (the --dqn-* options). Both learn the same per-job network
    /// and write the same model file.
    #[arg(long, value_enum, default_value_t = Algo::Ppo)]
    pub algo: Algo,
    /// Backfilling of the environment.
    #[arg(long, value_enum)]
    pub backfill: Backfill,
    /// Output directory.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of tch, the windows and the sampling.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// PPO updates.
    #[arg(long, default_value_t = 60)]
    pub total_updates: usize,
    /// Random training windows per update.
    #[arg(long, default_value_t = 4)]
    pub windows_per_update: usize,
    /// Episodes per window (the group of the baseline; at least 2).
    #[arg(long, default_value_t = 4)]
    pub group: usize,
    /// Jobs per training window.
    #[arg(long, default_value_t = 256)]
    pub jobs_per_episode: usize,
    /// Where the training and validation windows lie.
    #[arg(long, value_enum, default_value_t = Windows::HeldOut)]
    pub windows: Windows,
    /// RLScheduler's `batch_job_slice` (only with --windows whole): draw
    /// every training, CEM and validation window from the first N jobs of
    /// the loaded trace.
    #[arg(long, value_name = "N")]
    pub slice: Option<usize>,
    /// Validation windows.
    #[arg(long, default_value_t = 2)]
    pub val_windows: usize,
    /// Jobs per validation window (default: --jobs-per-episode; only with
    /// --windows whole).
    #[arg(long)]
    pub val_len: Option<usize>,
    /// Validate every this many updates (and after the last).
    #[arg(long, default_value_t = 5)]
    pub val_every: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub anneal_lr: bool,
    /// Epochs over the rollout per update.
    #[arg(long, default_value_t = 3)]
    pub update_epochs: usize,
    /// Decisions per minibatch (minibatches hold decisions with similar
    /// queue lengths, to pad little).
    #[arg(long, default_value_t = 1024)]
    pub minibatch_size: usize,
    /// PPO clipping coefficient.
    #[arg(long, default_value_t = 0.2)]
    pub clip_coef: f64,
    /// Entropy bonus coefficient.
    #[arg(long, default_value_t = 0.01)]
    pub ent_coef: f64,
    /// Maximum global gradient norm.
    #[arg(long, default_value_t = 0.5)]
    pub max_grad_norm: f64,
    /// Hidden widths of the actor.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 16])]
    pub hidden: Vec<usize>,
    /// A linear actor (no hidden layer; overrides --hidden): the score is a
    /// weighted sum of the normalized features.
    #[arg(long)]
    pub linear: bool,
    /// Hidden activation.
    #[arg(long, value_enum, default_value_t = ActivationArg::Relu)]
    pub activation: ActivationArg,
    /// Scale of the actor's initial output layer.
    #[arg(long, default_value_t = 1.0)]
    pub actor_out_gain: f64,
    /// Warm start: imitate this heuristic (fcfs, sjf, f1, …) first; `auto`:
    /// the best of fcfs, sjf and f1 on the validation windows.
    #[arg(long, value_name = "KEY")]
    pub imitate: Option<String>,
    /// Updates of imitation before PPO (with --imitate).
    #[arg(long, default_value_t = 0)]
    pub imitate_updates: usize,
    /// The CEM stage (`--cem-iters`; needs --windows whole):
    /// after the imitation and before PPO.
    #[command(flatten)]
    #[serde(flatten)]
    pub cem: crate::cem::CemArgs,
    /// Windows that score a CEM candidate (spread evenly over the training
    /// starts, from a random offset).
    #[arg(long, default_value_t = 32)]
    pub cem_windows: usize,
    /// Jobs per CEM window.
    #[arg(long, default_value_t = 1024)]
    pub cem_len: usize,
    /// The DQN's options (with --algo dqn).
    #[command(flatten)]
    #[serde(flatten)]
    pub dqn: crate::dqn::DqnArgs,
    /// Training windows scheduled by F1 to fit the feature normalization.
    #[arg(long, default_value_t = 4)]
    pub norm_windows: usize,
    /// Threads of libtorch.
    #[arg(long, default_value_t = 1)]
    pub threads: i32,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// One decision: features with the chosen job in row 0.
struct Record {
    features: Vec<f32>,
    n: usize,
    logp: f32,
    episode: usize,
}

fn pad(records: &[Record], idx: &[usize]) -> (Tensor, Tensor, Tensor) {
    let l = idx.iter().map(|&i| records[i].n).max().unwrap_or(1).max(1);
    let b = idx.len();
    let mut x = vec![0.0f32; b * l * N_FEATURES];
    let mut valid = vec![false; b * l];
    for (row, &i) in idx.iter().enumerate() {
        let r = &records[i];
        let off = row * l * N_FEATURES;
        x[off..off + r.features.len()].copy_from_slice(&r.features);
        valid[row * l..row * l + r.n].fill(true);
    }
    (
        Tensor::from_slice(&x).view([b as i64, l as i64, N_FEATURES as i64]),
        Tensor::from_slice(&valid).view([b as i64, l as i64]),
        Tensor::ones([b as i64], (Kind::Int64, Device::Cpu)),
    )
}

/// The heuristic's choice among the visible jobs (ties to the earlier row).
pub fn key_choice(key: Key, now: i64, jobs: &[CompatJob]) -> usize {
    let k = |j: &CompatJob| match key {
        Key::Sjf => (j.request as f64, j.submit as f64),
        _ => (key.value(now, j), 0.0),
    };
    let mut best = 0;
    for i in 1..jobs.len() {
        if k(&jobs[i]) < k(&jobs[best]) {
            best = i;
        }
    }
    best
}

/// What one training run produced.
pub struct Outcome {
    /// The kept model (best on validation).
    pub model: Model,
    /// Its validation mean bounded slowdown.
    pub best_val: f64,
    /// The update it came from.
    pub best_update: usize,
    /// One row per update: update, decisions, train bsld, val bsld,
    /// entropy, approx KL, clipfrac, decisions/s.
    pub curves: Vec<[f64; 8]>,
    /// Training decisions in all.
    pub decisions: u64,
    /// Wall time, seconds.
    pub wall_s: f64,
    /// Validation window starts.
    pub val_starts: Vec<usize>,
    /// Heuristics on the validation windows: (name, mean bsld).
    pub val_heuristics: Vec<(String, f64)>,
    /// Training jobs (outside test and validation windows).
    pub train_jobs: usize,
    /// The heuristic imitated first, if any.
    pub imitated: Option<String>,
    /// The CEM's window starts (empty without the CEM).
    pub cem_starts: Vec<usize>,
    /// One row per CEM iteration: iteration, best mean bsld on the CEM
    /// windows so far, mean of the elite, validation bsld of the result.
    pub cem_log: Vec<[f64; 4]>,
}

/// What both trainers (PPO in [`train`], DQN in [`crate::dqn`]) start
/// from.
pub(crate) struct Setup {
    /// Seeded from `--seed` (after the normalizer's windows were drawn).
    pub rng: ChaCha8Rng,
    /// The jobs that whole-trace windows are drawn from (the trace, or its
    /// `--slice`).
    pub pool: usize,
    /// Training and validation windows.
    pub split: Split,
    /// Jobs per validation window.
    pub val_len: usize,
    /// The features and their normalization, fitted on F1's schedules.
    pub spec: FeatureSpec,
    /// The environment over training windows.
    pub env: RlEnv,
    /// FCFS, SJF and F1 on the validation windows: (name, mean bsld).
    pub val_heuristics: Vec<(String, f64)>,
}

/// Checks the window options, seeds tch and the generator, draws the
/// split, fits the feature normalizer and runs the heuristics on the
/// validation windows.
pub(crate) fn setup(a: &Args, trace: &Arc<rlsched::CompatTrace>) -> Result<Setup> {
    if a.val_len.is_some() && a.windows != Windows::Whole {
        bail!("--val-len needs --windows whole");
    }
    if a.slice.is_some() && a.windows != Windows::Whole {
        bail!("--slice needs --windows whole");
    }
    let pool = a
        .slice
        .map_or(trace.jobs.len(), |n| n.min(trace.jobs.len()));
    tch::set_num_threads(a.threads.max(1));
    tch::manual_seed(a.seed as i64);
    let mut rng = ChaCha8Rng::seed_from_u64(a.seed);
    let len = a.jobs_per_episode;
    let backfill = a.backfill == Backfill::Yes;
    let val_len = a.val_len.unwrap_or(len);
    let split = match a.windows {
        Windows::HeldOut => Split::new(
            trace.jobs.len(),
            &rlsched::TABLE_STARTS,
            rlsched::WINDOW_LEN,
            len,
            a.val_windows,
        )?,
        Windows::Whole => Split::whole(pool, len, a.val_windows, val_len)?,
    };
    let norm_starts: Vec<usize> = (0..a.norm_windows.max(1))
        .map(|_| split.sample(&mut rng))
        .collect();
    let normalizer = rlenv::fit_normalizer(trace, &norm_starts, len, backfill, MAX_QUEUE_SIZE)?;
    let spec = FeatureSpec::current(normalizer.clone());
    let cfg = RlEnvConfig {
        backfill,
        jobs_per_episode: len,
        max_visible: MAX_QUEUE_SIZE,
        max_decisions: None,
    };
    let env = RlEnv::new(trace.clone(), cfg, normalizer, split.clone());
    // The heuristics on the validation windows, for the report.
    let mut val_heuristics = Vec::new();
    for key in [Key::Fcfs, Key::Sjf, Key::F1] {
        let mut s = 0.0;
        for &v in &split.val_starts {
            s += rlsched::run_window(trace, v, val_len, key, backfill)?.mean_bsld;
        }
        val_heuristics.push((
            key.name().to_string(),
            s / split.val_starts.len().max(1) as f64,
        ));
    }

    Ok(Setup {
        rng,
        pool,
        split,
        val_len,
        spec,
        env,
        val_heuristics,
    })
}

/// Trains as `a` says on `trace`.
pub fn train(a: &Args, trace: Arc<rlsched::CompatTrace>) -> Result<Outcome> {
    if a.group < 2
        || a.windows_per_update == 0
        || (a.total_updates == 0 && a.cem.cem_iters == 0)
        || a.update_epochs == 0
    {
        bail!(
            "--group must be ≥ 2; --windows-per-update and --update-epochs ≥ 1; --total-updates ≥ 1 unless --cem-iters is set"
        );
    }
    a.cem.check()?;
    if a.cem.cem_iters > 0 {
        if a.windows != Windows::Whole {
            bail!("--cem-iters needs --windows whole");
        }
        if a.cem_windows == 0 {
            bail!("--cem-windows must be ≥ 1");
        }
    }
    let imitate = match a.imitate.as_deref() {
        None => None,
        // Resolved below, once the validation windows are known.
        Some("auto") => Some(Key::Fcfs),
        Some(k) => Some(
            Key::ALL
                .into_iter()
                .find(|x| x.name() == k)
                .with_context(|| format!("unknown --imitate key `{k}`"))?,
        ),
    };
    let Setup {
        mut rng,
        pool,
        split,
        val_len,
        spec,
        mut env,
        val_heuristics,
    } = setup(a, &trace)?;
    let hidden: Vec<usize> = if a.linear {
        Vec::new()
    } else {
        a.hidden.clone()
    };
    let mut agent = Agent::new(Device::Cpu, &hidden, a.activation.into(), a.actor_out_gain);
    // The CEM's windows: spread over the pool (the trace, or its --slice)
    // from a seeded offset.
    let cem_starts = if a.cem.cem_iters > 0 {
        Split::whole(pool, a.cem_len, 0, a.cem_len)?.spread(a.cem_windows, &mut rng)
    } else {
        Vec::new()
    };
    let mut opt = nn::Adam::default().build(&agent.vs, a.learning_rate)?;
    let reward = "rlscheduler: -mean bsld of the window at its end".to_string();
    let meta = |update: usize, decisions: u64| {
        serde_json::json!({
            "algorithm": "PPO (categorical over visible jobs, group baseline) in the RLScheduler-style environment",
            "environment": "rlscheduler",
            "trace": a.trace.display().to_string(),
            "backfill": a.backfill,
            "update": update,
            "decisions": decisions,
            "val_starts": split.val_starts,
            "args": a,
        })
    };

    // `--imitate auto`: the heuristic with the lowest validation bsld.
    let imitate = match (a.imitate.as_deref(), imitate) {
        (Some("auto"), Some(_)) => {
            let (name, _) = val_heuristics
                .iter()
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .expect("three heuristics");
            Key::ALL.into_iter().find(|k| k.name() == name)
        }
        (_, k) => k,
    };
    let imitated = imitate.map(|k| k.name().to_string());
    let pb = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new(a.total_updates as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} updates ({elapsed}, eta {eta}) {msg}",
            )
            .expect("valid template"),
        );
        pb
    };
    let t0 = Instant::now();
    let mut decisions: u64 = 0;
    let mut curves = Vec::new();
    let mut best: Option<(f64, usize, Model)> = None;
    let mut scores: Vec<f32> = Vec::new();
    let mut cem_log: Vec<[f64; 4]> = Vec::new();
    // Imitation (if any), then the CEM (if any), then PPO. The CEM's result
    // is validated like an update and can be the kept model.
    let cem_at = a.imitate_updates.min(a.total_updates);
    let mut cem_stage = |agent: &mut Agent,
                         env: &mut RlEnv,
                         rng: &mut ChaCha8Rng,
                         decisions: u64,
                         best: &mut Option<(f64, usize, Model)>|
     -> Result<()> {
        let start = agent.to_model(spec.clone(), reward.clone(), meta(cem_at, decisions))?;
        let (m, log) = cem(env, &start, &cem_starts, a, rng)?;
        agent.load_actor(&m)?;
        let v = rlenv::evaluate_model(env, &m, &split.val_starts, val_len)?;
        let v = v.iter().sum::<f64>() / v.len().max(1) as f64;
        tracing::info!(val = v, "after the CEM");
        cem_log.extend(log.into_iter().map(|[i, b, e]| [i, b, e, v]));
        if best.as_ref().is_none_or(|b| v < b.0) {
            *best = Some((v, cem_at, m));
        }
        Ok(())
    };
    for update in 1..=a.total_updates {
        if a.cem.cem_iters > 0 && update == cem_at + 1 {
            cem_stage(&mut agent, &mut env, &mut rng, decisions, &mut best)?;
        }
        let t_up = Instant::now();
        let lr = if a.anneal_lr {
            a.learning_rate * (1.0 - (update - 1) as f64 / a.total_updates as f64)
        } else {
            a.learning_rate
        };
        opt.set_lr(lr);
        let model = agent.to_model(spec.clone(), reward.clone(), meta(update - 1, decisions))?;
        let mlp = model.mlp();
        let imitating = imitate.filter(|_| update <= a.imitate_updates);

        // --- rollout: groups of episodes on random training windows ---
        let mut records: Vec<Record> = Vec::new();
        let mut returns: Vec<f64> = Vec::new();
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let n_groups = if imitating.is_some() {
            1
        } else {
            a.windows_per_update
        };
        let per_group = if imitating.is_some() {
            a.windows_per_update
        } else {
            a.group
        };
        let mut rollout_decisions = 0u64;
        for _ in 0..n_groups {
            let g0 = returns.len();
            let window_seed: u64 = rng.r#gen();
            for _ in 0..per_group {
                // The group shares its window; imitation draws one per episode.
                let seed = if imitating.is_some() {
                    rng.r#gen()
                } else {
                    window_seed
                };
                let episode = returns.len();
                let mut obs: RlObservation = env.reset(seed)?;
                loop {
                    let n = obs.n();
                    let action = if n == 1 {
                        0
                    } else {
                        scores.resize(n, 0.0);
                        mlp.score_batch(&obs.features, &mut scores)
                            .map_err(|e| anyhow::anyhow!("{e}"))?;
                        let action = match imitating {
                            Some(key) => key_choice(key, 0, &obs.jobs),
                            None => {
                                // Gumbel-max: a draw from softmax(scores).
                                let mut best = (f64::NEG_INFINITY, 0);
                                for (i, &s) in scores.iter().enumerate() {
                                    let u: f64 = rng.r#gen::<f64>().clamp(1e-12, 1.0 - 1e-12);
                                    let v = s as f64 - (-u.ln()).ln();
                                    if v > best.0 {
                                        best = (v, i);
                                    }
                                }
                                best.1
                            }
                        };
                        let m = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
                        let lse = m + scores.iter().map(|&s| (s - m).exp()).sum::<f32>().ln();
                        let mut f = obs.features.clone();
                        if action != 0 {
                            for c in 0..N_FEATURES {
                                f.swap(c, action * N_FEATURES + c);
                            }
                        }
                        records.push(Record {
                            features: f,
                            n,
                            logp: scores[action] - lse,
                            episode,
                        });
                        action
                    };
                    let step = env.step(action)?;
                    rollout_decisions += 1;
                    if step.terminated || step.truncated {
                        returns.push(step.reward);
                        break;
                    }
                    obs = step.obs;
                }
            }
            groups.push((g0, returns.len()));
        }
        decisions += rollout_decisions;
        let rollout_s = t_up.elapsed().as_secs_f64();
        let train_bsld = -returns.iter().sum::<f64>() / returns.len() as f64;

        // --- advantages: return normalized within its window's group ---
        let mut adv_ep = vec![0.0f32; returns.len()];
        for &(g0, g1) in &groups {
            let r = &returns[g0..g1];
            let mean = r.iter().sum::<f64>() / r.len() as f64;
            let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / r.len() as f64;
            let std = var.sqrt();
            for (e, &x) in (g0..g1).zip(r) {
                // Relative spread below 1e-6 of the mean: no signal.
                adv_ep[e] = if std > 1e-6 * mean.abs().max(1.0) {
                    ((x - mean) / std) as f32
                } else {
                    0.0
                };
            }
        }

        // --- PPO epochs (or imitation) over minibatches of similar n ---
        let mut idx: Vec<usize> = (0..records.len()).collect();
        idx.sort_by_key(|&i| records[i].n);
        let mut chunks: Vec<Vec<usize>> = idx
            .chunks(a.minibatch_size.max(1))
            .map(|c| c.to_vec())
            .collect();
        let (mut ent_l, mut kl, mut clipfrac, mut n_mb) = (0.0, 0.0, 0.0, 0.0);
        let epochs = a.update_epochs;
        for _ in 0..epochs {
            chunks.shuffle(&mut rng);
            for mb in &chunks {
                let (x, valid, depth) = pad(&records, mb);
                let s = agent.scores(&x);
                let (new_logp, entropy) = plackett_luce(&s, &valid, &depth);
                let ent = entropy.mean(Kind::Float);
                let loss = if imitating.is_some() {
                    -new_logp.mean(Kind::Float)
                } else {
                    let old = Tensor::from_slice(
                        &mb.iter().map(|&i| records[i].logp).collect::<Vec<f32>>(),
                    );
                    let adv = Tensor::from_slice(
                        &mb.iter()
                            .map(|&i| adv_ep[records[i].episode])
                            .collect::<Vec<f32>>(),
                    );
                    let pl = clipped_policy_loss(&new_logp, &old, &adv, a.clip_coef);
                    kl += pl.approx_kl;
                    clipfrac += pl.clipfrac;
                    pl.loss - a.ent_coef * &ent
                };
                opt.zero_grad();
                loss.backward();
                opt.clip_grad_norm(a.max_grad_norm);
                opt.step();
                ent_l += ent.double_value(&[]);
                n_mb += 1.0;
            }
        }
        let n_mb = f64::max(n_mb, 1.0);

        // --- validation, keep the best ---
        let val = if update % a.val_every.max(1) == 0 || update == a.total_updates {
            let m = agent.to_model(spec.clone(), reward.clone(), meta(update, decisions))?;
            let v = rlenv::evaluate_model(&mut env, &m, &split.val_starts, val_len)?;
            let v = v.iter().sum::<f64>() / v.len().max(1) as f64;
            if best.as_ref().is_none_or(|b| v < b.0) {
                best = Some((v, update, m));
            }
            v
        } else {
            f64::NAN
        };
        let sps = rollout_decisions as f64 / rollout_s.max(1e-9);
        curves.push([
            update as f64,
            decisions as f64,
            train_bsld,
            val,
            ent_l / n_mb,
            kl / n_mb,
            clipfrac / n_mb,
            sps,
        ]);
        tracing::info!(update, train_bsld, val, sps, "update");
        pb.set_message(format!(
            "train bsld {train_bsld:.1} val {val:.1} best {:.1} ent {:.2} dec/s {sps:.0}",
            best.as_ref().map_or(f64::NAN, |b| b.0),
            ent_l / n_mb
        ));
        pb.inc(1);
    }
    pb.finish_and_clear();
    if a.cem.cem_iters > 0 && cem_at == a.total_updates {
        cem_stage(&mut agent, &mut env, &mut rng, decisions, &mut best)?;
    }
    let (best_val, best_update, model) = best.expect("the last update or the CEM validates");
    Ok(Outcome {
        model,
        best_val,
        best_update,
        curves,
        decisions,
        wall_s: t0.elapsed().as_secs_f64(),
        val_starts: split.val_starts.clone(),
        val_heuristics,
        train_jobs: split.train_jobs,
        imitated,
        cem_starts,
        cem_log,
    })
}

/// The CEM ([`crate::cem`]) on the actor `start`, each candidate costed by
/// the greedy policy's mean bounded slowdown on `starts` (windows of
/// `--cem-len` jobs). A linear actor searches its weights (its bias cannot
/// change the order); an MLP searches every weight and bias
/// ([`crate::cem::params`]). Returns the best model seen and one row per
/// iteration: iteration, best so far, mean of the elite.
fn cem(
    env: &mut RlEnv,
    start: &Model,
    starts: &[usize],
    a: &Args,
    rng: &mut ChaCha8Rng,
) -> Result<(Model, Vec<[f64; 3]>)> {
    let linear = start.mlp().layers().len() == 1;
    if linear {
        let init = &start.mlp().layers()[0];
        let dim = init.weight.len();
        let mu: Vec<f64> = init.weight.iter().map(|&x| x as f64).collect();
        let found = crate::cem::search(&mu, &a.cem, rng, |w| {
            let mut sum = 0.0;
            for &s in starts {
                let (bsld, _, _) = rlenv::run_greedy(env, s, a.cem_len, &mut |obs, scores| {
                    scores.clear();
                    scores.extend(obs.features.chunks(dim).map(|row| {
                        row.iter().zip(w).map(|(&x, &c)| x as f64 * c).sum::<f64>() as f32
                    }));
                })?;
                sum += bsld;
            }
            Ok(sum / starts.len() as f64)
        })?;
        return Ok((crate::cem::with_weights(start, &found.weights)?, found.log));
    }
    let arch = start.architecture().clone();
    let found = crate::cem::search(&crate::cem::params(start.mlp()), &a.cem, rng, |p| {
        let mlp = crate::cem::mlp_with_params(&arch, p)?;
        let v = rlenv::evaluate_mlp(env, &mlp, starts, a.cem_len)?;
        Ok(v.iter().sum::<f64>() / starts.len() as f64)
    })?;
    Ok((crate::cem::with_params(start, &found.weights)?, found.log))
}

/// Runs the subcommand: trains, writes model, curves and report.
pub fn run(a: Args) -> Result<()> {
    let trace = Arc::new(
        rlsched::load(&a.trace)
            .with_context(|| format!("loading {} under RLScheduler's rules", a.trace.display()))?,
    );
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let (out, header) = match a.algo {
        Algo::Ppo => (
            train(&a, trace.clone())?,
            "update,decisions,train_bsld,val_bsld,entropy,approx_kl,clipfrac,decisions_per_s",
        ),
        Algo::Dqn => (crate::dqn::train(&a, trace.clone())?, crate::dqn::CURVES),
    };
    out.model
        .save(a.out.join("model.safetensors"))
        .context("writing model.safetensors")?;
    crate::ppo::write_csv(&a.out.join("curves.csv"), header, &out.curves)?;
    let report = serde_json::json!({
        "args": a,
        "trace_jobs": trace.jobs.len(),
        "train_jobs": out.train_jobs,
        "windows": a.windows,
        "val_starts": out.val_starts,
        "val_len": a.val_len.unwrap_or(a.jobs_per_episode),
        "cem_starts": out.cem_starts,
        "cem": out.cem_log.iter().map(|r| serde_json::json!({"iteration": r[0], "best_bsld": r[1], "elite_mean_bsld": r[2], "val_bsld_after": r[3]})).collect::<Vec<_>>(),
        "test_starts": rlsched::TABLE_STARTS,
        "imitated": out.imitated,
        "best_update": out.best_update,
        "best_update_counts": match a.algo {
            Algo::Ppo => "PPO updates",
            Algo::Dqn => "DQN decisions",
        },
        "best_val_bsld": out.best_val,
        "val_heuristics_bsld": out.val_heuristics.iter().map(|(k, v)| (k.clone(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "decisions": out.decisions,
        "wall_s": out.wall_s,
        "decisions_per_s_overall": out.decisions as f64 / out.wall_s.max(1e-9),
    });
    let rep = a.out.join("report.json");
    sim::io::atomic_write(&rep, |w| {
        w.write_all(serde_json::to_string_pretty(&report)?.as_bytes())
    })
    .with_context(|| format!("writing {}", rep.display()))?;
    println!(
        "best validation bsld {:.2} ({} {}; FCFS/SJF/F1 on the same windows: {}) in {:.0} s, {} decisions; model in {}",
        out.best_val,
        match a.algo {
            Algo::Ppo => "update",
            Algo::Dqn => "after decisions:",
        },
        out.best_update,
        out.val_heuristics
            .iter()
            .map(|(k, v)| format!("{k} {v:.2}"))
            .collect::<Vec<_>>()
            .join(", "),
        out.wall_s,
        out.decisions,
        a.out.join("model.safetensors").display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy trace on 4 nodes where picking short jobs first clearly wins:
    /// bursts of one long (2000 s) and eight short (20 s) 4-node jobs, the
    /// long one third to sixth (the first two are committed before the
    /// others arrive).
    fn toy() -> Arc<rlsched::CompatTrace> {
        let mut jobs = Vec::new();
        let mut t = 0;
        let mut id = 1;
        for burst in 0..120 {
            for k in 0..9 {
                let (run, procs) = if k == 2 + burst % 4 {
                    (2000, 4)
                } else {
                    (20, 4)
                };
                jobs.push(CompatJob {
                    index: jobs.len(),
                    id,
                    submit: t + k,
                    run,
                    request: run,
                    procs,
                });
                id += 1;
            }
            t += 2300;
        }
        Arc::new(rlsched::CompatTrace {
            file: "toy".into(),
            jobs,
            max_nodes: 4,
            max_procs: 4,
            dropped_run_zero: 0,
        })
    }

    /// The arguments the toy-trace tests share (a one-thread, quiet run on
    /// 45-job whole-trace windows without backfilling); each test changes
    /// what it is about with struct update syntax.
    fn toy_args(out: &std::path::Path, len: usize) -> Args {
        Args {
            trace: "toy".into(),
            algo: Algo::Ppo,
            backfill: Backfill::No,
            out: out.into(),
            seed: 1,
            total_updates: 0,
            windows_per_update: 2,
            group: 2,
            jobs_per_episode: len,
            windows: Windows::Whole,
            slice: None,
            val_windows: 2,
            val_len: None,
            val_every: 1,
            learning_rate: 1e-3,
            anneal_lr: false,
            update_epochs: 1,
            minibatch_size: 256,
            clip_coef: 0.2,
            ent_coef: 0.0,
            max_grad_norm: 0.5,
            hidden: vec![8],
            linear: false,
            activation: ActivationArg::Relu,
            actor_out_gain: 0.01,
            imitate: None,
            imitate_updates: 0,
            cem: crate::cem::CemArgs {
                cem_iters: 0,
                cem_pop: 24,
                cem_elite: 6,
                cem_std: 1.0,
            },
            cem_windows: 32,
            cem_len: 1024,
            dqn: crate::dqn::DqnArgs::default(),
            norm_windows: 1,
            threads: 1,
            quiet: true,
        }
    }

    /// The greedy mean bounded slowdown of `model` over the `len`-job
    /// windows at `starts` (default environment otherwise).
    fn mean_bsld_of(
        trace: &Arc<rlsched::CompatTrace>,
        split: Split,
        model: &policy::Model,
        starts: &[usize],
        len: usize,
    ) -> f64 {
        let cfg = RlEnvConfig {
            jobs_per_episode: len,
            ..RlEnvConfig::default()
        };
        let normalizer = model.spec().normalizer.clone();
        let mut env = RlEnv::new(trace.clone(), cfg, normalizer, split);
        let got = rlenv::evaluate_model(&mut env, model, starts, len).unwrap();
        got.iter().sum::<f64>() / got.len() as f64
    }

    /// A heuristic's mean bounded slowdown over the windows at `starts`
    /// (no backfilling).
    fn key_mean(trace: &rlsched::CompatTrace, starts: &[usize], len: usize, key: Key) -> f64 {
        starts
            .iter()
            .map(|&s| {
                rlsched::run_window(trace, s, len, key, false)
                    .unwrap()
                    .mean_bsld
            })
            .sum::<f64>()
            / starts.len() as f64
    }

    #[test]
    fn a_few_ppo_updates_beat_fcfs_on_a_toy_trace_where_sjf_wins() {
        let trace = toy();
        let len = 45;
        let starts = [0usize, 225, 450, 675];
        let (fcfs, sjf) = (
            key_mean(&trace, &starts, len, Key::Fcfs),
            key_mean(&trace, &starts, len, Key::Sjf),
        );
        assert!(sjf < 0.5 * fcfs, "the toy must favour SJF: {sjf} vs {fcfs}");
        let dir = tempfile::tempdir().unwrap();
        let a = Args {
            seed: 3,
            total_updates: 12,
            group: 4,
            windows: Windows::HeldOut,
            val_windows: 1,
            val_every: 4,
            learning_rate: 1e-2,
            update_epochs: 2,
            ..toy_args(dir.path(), len)
        };
        // The toy has no table windows: nothing is held out but validation.
        let out = train(&a, trace.clone()).unwrap();
        let split = Split::new(trace.jobs.len(), &[], 0, len, 1).unwrap();
        let got = mean_bsld_of(&trace, split, &out.model, &starts, len);
        assert!(
            got < 0.6 * fcfs,
            "learned {got:.2} should beat FCFS {fcfs:.2} clearly (SJF {sjf:.2})"
        );
    }

    #[test]
    fn dqn_beats_fcfs_on_a_toy_trace_where_sjf_wins() {
        let trace = toy();
        let len = 45;
        let starts = [0usize, 225, 450, 675];
        let fcfs = key_mean(&trace, &starts, len, Key::Fcfs);
        let dir = tempfile::tempdir().unwrap();
        let a = Args {
            algo: Algo::Dqn,
            seed: 2,
            windows: Windows::HeldOut,
            val_windows: 1,
            learning_rate: 1e-3,
            dqn: crate::dqn::DqnArgs {
                dqn_steps: 6_000,
                dqn_learning_starts: 500,
                dqn_train_every: 2,
                dqn_batch: 32,
                dqn_n_step: 8,
                dqn_target_every: 100,
                dqn_val_every: 1_500,
                ..crate::dqn::DqnArgs::default()
            },
            ..toy_args(dir.path(), len)
        };
        let out = crate::dqn::train(&a, trace.clone()).unwrap();
        assert_eq!(out.curves.len(), 4, "a row per validation");
        assert!(out.decisions >= 6_000);
        let split = Split::new(trace.jobs.len(), &[], 0, len, 1).unwrap();
        let got = mean_bsld_of(&trace, split, &out.model, &starts, len);
        assert!(
            got < 0.6 * fcfs,
            "DQN {got:.2} should beat FCFS {fcfs:.2} clearly"
        );
    }

    #[test]
    fn the_cem_on_a_linear_actor_beats_fcfs_on_the_toy_trace() {
        let trace = toy();
        let len = 45;
        let starts = [0usize, 225, 450, 675];
        let fcfs = key_mean(&trace, &starts, len, Key::Fcfs);
        let dir = tempfile::tempdir().unwrap();
        let a = Args {
            seed: 5,
            linear: true,
            cem: crate::cem::CemArgs {
                cem_iters: 4,
                cem_pop: 8,
                cem_elite: 2,
                cem_std: 1.0,
            },
            cem_windows: 3,
            cem_len: len,
            ..toy_args(dir.path(), len)
        };
        let out = train(&a, trace.clone()).unwrap();
        assert!(out.model.mlp().architecture().hidden.is_empty());
        assert_eq!(out.cem_log.len(), 4);
        // The best-so-far column never rises.
        assert!(out.cem_log.windows(2).all(|w| w[1][1] <= w[0][1]));
        let split = Split::whole(trace.jobs.len(), len, 0, len).unwrap();
        let got = mean_bsld_of(&trace, split, &out.model, &starts, len);
        assert!(got < 0.6 * fcfs, "CEM {got:.2} vs FCFS {fcfs:.2}");
        // The CEM needs whole-trace windows.
        let bad = Args {
            windows: Windows::HeldOut,
            ..a.clone()
        };
        assert!(train(&bad, trace.clone()).is_err());
        // Without --linear the CEM searches the MLP actor (here from a
        // random one: no imitation) and keeps its architecture.
        let mlp = train(
            &Args {
                linear: false,
                cem: crate::cem::CemArgs {
                    cem_iters: 2,
                    cem_std: 0.3,
                    ..a.cem.clone()
                },
                ..a.clone()
            },
            trace,
        )
        .unwrap();
        assert_eq!(mlp.model.mlp().architecture().hidden, vec![8]);
        assert_eq!(mlp.cem_log.len(), 2);
    }

    /// The CEM on an MLP actor returns the best candidate it costed, so a
    /// warm start can only improve on the search windows, and the returned
    /// model scores exactly the logged best there (the f32 round trip of
    /// its parameters changes nothing).
    #[test]
    fn the_cem_on_an_mlp_never_returns_worse_than_its_warm_start() {
        let trace = toy();
        let len = 45;
        let starts = [0usize, 225, 450, 675];
        let dir = tempfile::tempdir().unwrap();
        let a = Args {
            actor_out_gain: 1.0,
            cem: crate::cem::CemArgs {
                cem_iters: 3,
                cem_pop: 8,
                cem_elite: 2,
                cem_std: 0.5,
            },
            cem_windows: starts.len(),
            cem_len: len,
            ..toy_args(dir.path(), len)
        };
        let split = Split::whole(trace.jobs.len(), len, 0, len).unwrap();
        let cfg = RlEnvConfig {
            jobs_per_episode: len,
            ..RlEnvConfig::default()
        };
        let arch = policy::nn::Architecture {
            inputs: N_FEATURES,
            hidden: vec![8],
            activation: policy::nn::Activation::Relu,
        };
        for seed in [1u64, 2, 3] {
            let start = Model::random(arch.clone(), FeatureSpec::current_identity(), seed).unwrap();
            let mut env = RlEnv::new(
                trace.clone(),
                cfg.clone(),
                start.spec().normalizer.clone(),
                split.clone(),
            );
            let mean = |env: &mut RlEnv, m: &Model| {
                let v = rlenv::evaluate_model(env, m, &starts, len).unwrap();
                v.iter().sum::<f64>() / v.len() as f64
            };
            let before = mean(&mut env, &start);
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let (found, log) = cem(&mut env, &start, &starts, &a, &mut rng).unwrap();
            let after = mean(&mut env, &found);
            assert!(after <= before, "seed {seed}: {after} after vs {before}");
            assert_eq!(after, log.last().unwrap()[1], "seed {seed}");
            assert!(log.windows(2).all(|w| w[1][1] <= w[0][1]));
            assert_eq!(found.architecture(), start.architecture());
        }
    }

    /// `--slice N` draws the validation and CEM windows from the first N
    /// jobs only (RLScheduler's `batch_job_slice`), and needs whole-trace
    /// windows.
    #[test]
    fn a_slice_keeps_every_window_in_the_first_jobs() {
        let trace = toy();
        let len = 45;
        let dir = tempfile::tempdir().unwrap();
        let a = Args {
            slice: Some(300),
            linear: true,
            val_windows: 3,
            cem: crate::cem::CemArgs {
                cem_iters: 1,
                cem_pop: 4,
                cem_elite: 2,
                cem_std: 1.0,
            },
            cem_windows: 4,
            cem_len: len,
            ..toy_args(dir.path(), len)
        };
        let out = train(&a, trace.clone()).unwrap();
        assert_eq!(out.val_starts, vec![0, 127, 255]);
        assert_eq!(out.cem_starts.len(), 4);
        assert!(
            out.cem_starts.iter().all(|&s| s + len <= 300),
            "{:?}",
            out.cem_starts
        );
        // Without the slice the same run spreads them over all 1080 jobs.
        let whole = train(
            &Args {
                slice: None,
                ..a.clone()
            },
            trace.clone(),
        )
        .unwrap();
        assert_eq!(*whole.val_starts.last().unwrap(), 1080 - len);
        let held_out = Args {
            windows: Windows::HeldOut,
            cem: crate::cem::CemArgs {
                cem_iters: 0,
                ..a.cem.clone()
            },
            total_updates: 1,
            ..a
        };
        assert!(train(&held_out, trace).is_err());
    }
}
