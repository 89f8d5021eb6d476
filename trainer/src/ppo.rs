//! Proximal Policy Optimization for the priority-scoring policy, written to
//! read top to bottom like cleanrl's `ppo.py`:
//!
//! 1. [`Args`]: every hyperparameter, documented; derived sizes once;
//! 2. rollout under `no_grad`: whole episodes of [`crate::env::Env`];
//! 3. [`gae`];
//! 4. several epochs over shuffled minibatches;
//! 5. [`clipped_policy_loss`], [`clipped_value_loss`] and the entropy,
//!    gradient clipping, optional target-KL stop;
//! 6. logging (CSV with stable metric names, progress bar), checkpoints,
//!    validation.
//!
//! Sections are marked `ALGO` (the algorithm) or `PLUMBING` (files, seeds,
//! devices, logging).
//!
//! **The action and its probability.** At a decision the actor scores every
//! observed job with the same per-job MLP the plugin runs
//! ([`policy::nn::Mlp`]). The action is a ranking drawn from the
//! Plackett–Luce distribution with weights `exp(score)`, sampled with the
//! Gumbel trick: add independent Gumbel(0, 1) noise to the scores and sort;
//! the noisy scores are what the simulator receives, so Slurm schedules in
//! the sampled order. The log-probability is that of the first
//! `min(--rank-depth, n)` picks ([`plackett_luce`],
//! [`policy::nn::plackett_luce_log_prob`]); the entropy bonus is the sum of
//! the entropies of those picks along the sampled order (an unbiased
//! estimate of the ranking's entropy). At deployment the plugin uses the
//! scores without noise, i.e. the mode of the first pick.
//!
//! **The critic** maps each job's features through its own MLP
//! (`critic/l{i}`), mean-pools over the observed jobs and reads out one value
//! (`critic/out`): a permutation-invariant value of the queue.
//!
//! Parameter names are the model file's (`actor/l{i}/weight|bias`), so the
//! export ([`Agent::to_model`]) is a rename-free copy. This module must not
//! touch the simulator's internals; it talks to `env` only.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use policy::Model;
use policy::features::{FeatureSpec, N_FEATURES, Normalizer};
use policy::nn::{Activation, Architecture, Linear, Mlp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::baselines::Aging;
use sim::cluster::Cluster;
use sim::engine::{CancelledPending, SimConfig};
use sim::trace::Trace;
use tch::{Device, Kind, Tensor, nn};

use crate::env::{Env, EnvConfig, RewardConfig, RewardKind};

// ---------------------------------------------------------------------------
// 1. Arguments                                                    (PLUMBING)
// ---------------------------------------------------------------------------

/// Where the networks run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceArg {
    /// The CPU (threads from `SLURM_CPUS_PER_TASK` when set).
    Cpu,
    /// The first CUDA device.
    Cuda,
}

/// The actor's initial weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InitArg {
    /// PyTorch's default initialization (with `--actor-out-gain`).
    Random,
    /// Fitted to Slurm's multifactor order before PPO starts.
    Slurm,
    /// Fitted to UNICEP's order (`wait / (log2(cpus) · time limit)`, a
    /// published heuristic that favours long waits and short, narrow jobs)
    /// before PPO starts.
    Unicep,
    /// Fitted to the aging order `(wait + B) / (limit^P · cpus^Q)`
    /// (`--aging-offset B`, `--aging-time-power P`, `--aging-cpu-power Q`)
    /// before PPO starts: short, narrow jobs first, while every job's
    /// priority keeps rising with its wait, so none is left behind for good.
    Aging,
}

/// Activation of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActivationArg {
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
}

impl From<ActivationArg> for Activation {
    fn from(a: ActivationArg) -> Self {
        match a {
            ActivationArg::Relu => Activation::Relu,
            ActivationArg::Tanh => Activation::Tanh,
        }
    }
}

/// `slurm-rl train` options: data, environment and PPO hyperparameters.
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
#[command(after_long_help = crate::cmd::train::AFTER_LONG_HELP)]
pub struct Args {
    // --- data ---
    /// The workload: any trace `slurm-rl import` reads (.swf/.swf.gz,
    /// .jsonl, an sacct --parsable2 dump).
    #[arg(long, value_name = "FILE")]
    pub trace: PathBuf,
    /// The cluster: a .toml cluster file or a slurm.conf (optional for SWF
    /// traces: derived from the header).
    #[arg(long, value_name = "FILE")]
    pub cluster: Option<PathBuf>,
    /// Output directory: model.safetensors, curves.csv, curves.png,
    /// report.md, checkpoints.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Skip malformed trace lines instead of failing.
    #[arg(long)]
    pub lenient: bool,
    /// Fraction of the trace's jobs (the latest ones, by submit time) held
    /// out for validation; training windows come from the jobs before them.
    #[arg(long, default_value_t = 0.2)]
    pub val_fraction: f64,
    /// Fraction of the trace's jobs (the very latest) reserved as a test
    /// set for `slurm-rl evaluate`: neither trained nor validated on. The
    /// validation jobs come just before them.
    #[arg(long, default_value_t = 0.0)]
    pub test_fraction: f64,
    /// Write the validated model with the lowest validation bsld (among
    /// those whose validation p99 wait is at most --guard-p99-ratio times
    /// slurm's, when that is set) as model.safetensors, instead of the last.
    /// The deployed policy is deterministic, so the sampled training curve
    /// can hide a worse deterministic policy; this picks by the deployed one.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub keep_best: bool,
    /// The p99 bound of --keep-best, as a multiple of slurm's validation p99
    /// wait (default: --guard-p99-ratio). Lets the reward's guard aim lower
    /// (e.g. 1.0) than the bound a model must meet (e.g. 1.1).
    #[arg(long)]
    pub keep_best_p99_ratio: Option<f64>,
    /// The max-wait guard the model is trained, selected and shipped with
    /// (the plugin's `max_wait=`: seconds, or with suffix s, m, h, d): a job
    /// that has waited this long outranks every job that has not, oldest
    /// first. The rollouts, the CEM stage and validation apply it (guarded
    /// jobs are not the policy's choice and are left out of its
    /// log-probability), and the model file records it, so the plugin uses
    /// it unless `PrioritySiteFactorParameters` sets `max_wait`. Default:
    /// none recorded, and the plugin's default guard (7d) applied.
    #[arg(long, value_name = "DURATION", value_parser = crate::cmd::evaluate::duration_arg)]
    pub max_wait: Option<u64>,
    /// Validation windows (evenly spaced over the held-out jobs).
    #[arg(long, default_value_t = 5)]
    pub val_sequences: usize,
    /// Also validate on --val-sequences windows of this many jobs (e.g.
    /// 1024) over the same held-out jobs. Queues grow longer in longer
    /// windows, and that is where a policy's tail shows: --keep-best then
    /// needs the p99 bound on both window lengths, and among those models
    /// keeps the one whose worse bsld ratio to slurm's (of the two lengths)
    /// is lowest.
    #[arg(long, value_name = "JOBS")]
    pub val_long_jobs: Option<usize>,
    /// Measure `sched/val_bsld` every this many updates (0: only at the end).
    #[arg(long, default_value_t = 10)]
    pub val_every: usize,
    /// Training windows replayed with Slurm's multifactor order to fit the
    /// feature normalization (mean/std stored in the model file).
    #[arg(long, default_value_t = 4)]
    pub norm_windows: usize,

    // --- environment ---
    /// Jobs per episode (the sequence length K).
    #[arg(long, default_value_t = 256)]
    pub jobs_per_episode: usize,
    /// Cut episodes after this many decisions (`truncated`, value bootstrapped).
    #[arg(long)]
    pub max_decisions: Option<usize>,
    /// Backfill scheduler beside the main scheduler.
    #[arg(long, value_enum, default_value_t = crate::cmd::simulate::BackfillArg::Slurm)]
    pub backfill: crate::cmd::simulate::BackfillArg,
    /// What the reward measures.
    #[arg(long, value_enum, default_value_t = RewardKind::Bsld)]
    pub reward: RewardKind,
    /// Weights `w_bsld,w_wait,w_util` of `--reward mix`.
    #[arg(long, value_delimiter = ',', num_args = 3, default_values_t = [1.0, 0.0, 0.0])]
    pub reward_weights: Vec<f64>,
    /// p99-wait guard: terminal penalty when the window's p99 wait exceeds
    /// this many seconds.
    #[arg(long)]
    pub guard_p99_wait: Option<u64>,
    /// p99-wait guard relative to Slurm: penalize a window whose p99 wait
    /// exceeds this many times that of the `slurm` baseline on the same
    /// window (e.g. 1.1; replays the window once more per episode). With
    /// --guard-p99-wait too, the smaller threshold counts.
    #[arg(long)]
    pub guard_p99_ratio: Option<f64>,
    /// Weight of the guard penalty, per hour above the threshold (spread
    /// over the decisions made while the starved jobs waited).
    #[arg(long, default_value_t = 1.0)]
    pub guard_coef: f64,

    // --- PPO ---
    /// Seed of tch, the simulator, the episode windows and the shuffler
    /// (plus `SLURM_ARRAY_TASK_ID` when set, unless `--sweep` uses it).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the networks run.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    /// Number of PPO updates.
    #[arg(long, default_value_t = 100)]
    pub total_updates: usize,
    /// Whole episodes collected per update (the rollout).
    #[arg(long, default_value_t = 4)]
    pub episodes_per_update: usize,
    /// Adam learning rate (1e-3: with 3e-4 the policy barely moved in 30
    /// updates on lublin_256; see docs/training.md).
    #[arg(long, default_value_t = 1e-3)]
    pub learning_rate: f64,
    /// Anneal the learning rate linearly to 0 over the updates.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub anneal_lr: bool,
    /// Discount factor.
    #[arg(long, default_value_t = 0.99)]
    pub gamma: f64,
    /// GAE λ.
    #[arg(long, default_value_t = 0.95)]
    pub gae_lambda: f64,
    /// Minibatches per epoch.
    #[arg(long, default_value_t = 4)]
    pub num_minibatches: usize,
    /// Epochs over the rollout per update.
    #[arg(long, default_value_t = 4)]
    pub update_epochs: usize,
    /// Normalize advantages per minibatch.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub norm_adv: bool,
    /// PPO clipping coefficient ε.
    #[arg(long, default_value_t = 0.2)]
    pub clip_coef: f64,
    /// Clip the value loss too (cleanrl's `clip_vloss`).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub clip_vloss: bool,
    /// Entropy bonus coefficient.
    #[arg(long, default_value_t = 0.01)]
    pub ent_coef: f64,
    /// Value loss coefficient.
    #[arg(long, default_value_t = 0.5)]
    pub vf_coef: f64,
    /// Maximum global gradient norm.
    #[arg(long, default_value_t = 0.5)]
    pub max_grad_norm: f64,
    /// Stop the epochs early when the approximate KL exceeds this.
    #[arg(long)]
    pub target_kl: Option<f64>,
    /// Picks of the sampled ranking whose probability PPO optimizes (the
    /// first `min(this, n)`; the main scheduler and backfill look at the head
    /// of the queue first).
    #[arg(long, default_value_t = 16)]
    pub rank_depth: usize,
    /// Hidden layer widths of the actor and the critic.
    #[arg(long, value_delimiter = ',', default_values_t = [32usize, 16, 8])]
    pub hidden: Vec<usize>,
    /// Hidden activation.
    #[arg(long, value_enum, default_value_t = ActivationArg::Relu)]
    pub activation: ActivationArg,
    /// Initial actor: `random` (PyTorch's init, near-uniform rankings),
    /// `slurm` (fitted to rank like Slurm's multifactor priority), `unicep`
    /// (like the UNICEP heuristic) or `aging` (like `(wait + B) / (limit^P ·
    /// cpus^Q)`, see --aging-offset); PPO then moves away from that order.
    /// A fitted warm start is validated as update 0, so --keep-best writes
    /// it unless an update beats it.
    #[arg(long, value_enum, default_value_t = InitArg::Random)]
    pub init: InitArg,
    /// With `--init slurm|unicep|aging`: the fitted scores are this many
    /// times the baseline's standardized score (larger = sharper sampled
    /// rankings).
    #[arg(long, default_value_t = 2.0)]
    pub init_gain: f64,
    /// With `--init aging`: the offset B added to the wait, in seconds or
    /// with a unit (`1h`). Until a job has waited about B, its size decides
    /// its place; after that, its wait does.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::cmd::evaluate::duration_arg)]
    pub aging_offset: u64,
    /// With `--init aging`: the power P of the time limit (0 = ignore it).
    #[arg(long, default_value_t = 0.8)]
    pub aging_time_power: f64,
    /// With `--init aging`: the power Q of the requested CPUs (0 = ignore
    /// them).
    #[arg(long, default_value_t = 0.15)]
    pub aging_cpu_power: f64,
    /// Scale of the actor's initial output layer (cleanrl uses 0.01: near-
    /// uniform first rankings; larger values start from sharper rankings).
    #[arg(long, default_value_t = 0.01)]
    pub actor_out_gain: f64,
    /// A linear actor and critic (no hidden layer; overrides --hidden): the
    /// score is a weighted sum of the normalized features.
    #[arg(long)]
    pub linear: bool,
    /// The CEM stage (`--cem-iters`; needs --linear): after --init, before
    /// the first PPO update, a search on the actor's weights for the lowest
    /// mean bounded slowdown of the deterministic (deployed) policy on
    /// --cem-windows training windows, relative to slurm's on the same
    /// windows, plus 10 × the excess of its p99 wait over the --keep-best
    /// bound (×slurm's). Its result is validated like an update (update 0)
    /// and PPO starts from it.
    #[command(flatten)]
    #[serde(flatten)]
    pub cem: crate::cem::CemArgs,
    /// Training windows (evenly spaced over the training jobs) that cost a
    /// CEM candidate.
    #[arg(long, default_value_t = 30)]
    pub cem_windows: usize,

    // --- plumbing ---
    /// Write a checkpoint every this many updates (0: never).
    #[arg(long, default_value_t = 10)]
    pub checkpoint_every: usize,
    /// Resume from `DIR/checkpoint-NNNNN.safetensors` (weights and Adam's
    /// moments; its `.json` sidecar holds the update count and the
    /// normalization).
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Start from the actor weights and the feature normalization of this
    /// model file (fine-tuning, e.g. by `slurm-rl retrain`); --hidden and
    /// --activation must match its architecture. The critic starts fresh.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_model: Option<PathBuf>,
    /// No progress bar (logs and CSV only).
    #[arg(long)]
    pub quiet: bool,
    // --- sweep (cmd/sweep.rs) ---
    #[command(flatten)]
    pub sweep: Box<crate::cmd::sweep::SweepArgs>,
}

impl Args {
    fn reward_config(&self) -> Result<RewardConfig> {
        let w = &self.reward_weights;
        if w.len() != 3 {
            bail!(
                "--reward-weights takes 3 numbers (bsld, wait, util), got {}",
                w.len()
            );
        }
        Ok(RewardConfig {
            kind: self.reward,
            weights: [w[0], w[1], w[2]],
            guard_p99_wait: self.guard_p99_wait,
            guard_p99_ratio: self.guard_p99_ratio,
            guard_coef: self.guard_coef,
        })
    }

    fn check(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.val_fraction) {
            bail!(
                "--val-fraction must be in [0, 1), got {}",
                self.val_fraction
            );
        }
        if !(0.0..1.0).contains(&self.test_fraction)
            || self.val_fraction + self.test_fraction >= 1.0
        {
            bail!(
                "--test-fraction must be in [0, 1) and leave training jobs beside --val-fraction, got {}",
                self.test_fraction
            );
        }
        for (name, v) in [
            ("--jobs-per-episode", self.jobs_per_episode),
            ("--episodes-per-update", self.episodes_per_update),
            ("--num-minibatches", self.num_minibatches),
            ("--update-epochs", self.update_epochs),
            ("--rank-depth", self.rank_depth),
        ] {
            if v == 0 {
                bail!("{name} must be at least 1");
            }
        }
        if self.val_long_jobs == Some(0) {
            bail!("--val-long-jobs must be at least 1");
        }
        if self.total_updates == 0 && self.cem.cem_iters == 0 && self.init == InitArg::Random {
            bail!("--total-updates must be at least 1 (or 0 with --cem-iters or --init)");
        }
        if self.max_wait == Some(0) {
            bail!(
                "--max-wait must be positive: a model file cannot turn the guard off (the plugin's max_wait=0 does)"
            );
        }
        if !self.linear && (self.hidden.is_empty() || self.hidden.contains(&0)) {
            bail!("--hidden needs at least one non-zero width");
        }
        self.cem.check()?;
        if self.cem.cem_iters > 0 && !(self.linear && self.cem_windows > 0) {
            bail!("--cem-iters needs --linear and --cem-windows ≥ 1");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// The agent                                                  (ALGO: networks)
// ---------------------------------------------------------------------------

/// Actor and critic, with parameters named as in the model file.
pub struct Agent {
    /// All parameters.
    pub vs: nn::VarStore,
    actor: Vec<(Tensor, Tensor)>,
    critic: Vec<(Tensor, Tensor)>,
    critic_out: (Tensor, Tensor),
    activation: Activation,
    hidden: Vec<usize>,
}

fn layer(
    root: &nn::Path<'_>,
    name: &str,
    inputs: usize,
    outputs: usize,
    gain: f64,
) -> (Tensor, Tensor) {
    // PyTorch's nn.Linear default: U(±1/sqrt(fan_in)), scaled by `gain`.
    let b = gain / (inputs as f64).sqrt();
    let init = nn::Init::Uniform { lo: -b, up: b };
    let w = root.var(
        &format!("{name}/weight"),
        &[outputs as i64, inputs as i64],
        init,
    );
    let bias = root.var(&format!("{name}/bias"), &[outputs as i64], init);
    (w, bias)
}

impl Agent {
    /// A fresh agent: actor `N_FEATURES → hidden… → 1` (`actor/l1`…), critic
    /// `N_FEATURES → hidden…` (`critic/l1`…) then `critic/out`. The actor's
    /// last layer starts smaller (cleanrl's 0.01 gain), so the first
    /// rankings are close to uniform; `out_gain` sets that factor.
    pub fn new(device: Device, hidden: &[usize], activation: Activation, out_gain: f64) -> Self {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut sizes = vec![N_FEATURES];
        sizes.extend_from_slice(hidden);
        sizes.push(1);
        let n = sizes.len() - 1;
        let actor = (1..=n)
            .map(|i| {
                let gain = if i == n { out_gain } else { 1.0 };
                layer(&root, &format!("actor/l{i}"), sizes[i - 1], sizes[i], gain)
            })
            .collect();
        let critic = (1..n)
            .map(|i| layer(&root, &format!("critic/l{i}"), sizes[i - 1], sizes[i], 1.0))
            .collect();
        let critic_out = layer(&root, "critic/out", sizes[n - 1], 1, 1.0);
        Agent {
            vs,
            actor,
            critic,
            critic_out,
            activation,
            hidden: hidden.to_vec(),
        }
    }

    fn act(&self, x: Tensor) -> Tensor {
        match self.activation {
            Activation::Relu => x.relu(),
            Activation::Tanh => x.tanh(),
        }
    }

    /// Copies a model file's weights into the actor (fine-tuning start);
    /// the architectures must be equal.
    pub fn load_actor(&mut self, model: &Model) -> Result<()> {
        if *model.architecture() != self.architecture() {
            bail!(
                "the model's architecture {:?} differs from --hidden/--activation {:?}",
                model.architecture(),
                self.architecture()
            );
        }
        tch::no_grad(|| {
            for ((w, b), l) in self.actor.iter_mut().zip(model.mlp().layers()) {
                let dev = w.device();
                w.copy_(
                    &Tensor::from_slice(&l.weight)
                        .view([l.outputs as i64, l.inputs as i64])
                        .to_device(dev),
                );
                b.copy_(&Tensor::from_slice(&l.bias).to_device(dev));
            }
        });
        Ok(())
    }

    /// Actor scores: `[..., N_FEATURES] → [...]`.
    pub fn scores(&self, x: &Tensor) -> Tensor {
        let last = self.actor.len() - 1;
        let mut h = x.shallow_clone();
        for (i, (w, b)) in self.actor.iter().enumerate() {
            h = h.linear(w, Some(b));
            if i < last {
                h = self.act(h);
            }
        }
        h.squeeze_dim(-1)
    }

    /// Critic values: `x [B, L, N_FEATURES]`, `valid [B, L]` (bool) → `[B]`.
    pub fn value(&self, x: &Tensor, valid: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for (w, b) in &self.critic {
            h = self.act(h.linear(w, Some(b)));
        }
        let m = valid.to_kind(Kind::Float).unsqueeze(-1);
        let pooled = (h * &m).sum_dim_intlist(1, false, Kind::Float)
            / m.sum_dim_intlist(1, false, Kind::Float).clamp_min(1.0);
        pooled
            .linear(&self.critic_out.0, Some(&self.critic_out.1))
            .squeeze_dim(-1)
    }

    /// The architecture of the actor, as the model file records it.
    pub fn architecture(&self) -> Architecture {
        Architecture {
            inputs: N_FEATURES,
            hidden: self.hidden.clone(),
            activation: self.activation,
        }
    }

    /// The actor as the plain-Rust MLP the plugin runs (a copy of the
    /// current weights).
    pub fn actor_mlp(&self) -> Result<Mlp> {
        let flat = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(Vec::<f32>::try_from(
                t.detach()
                    .to_device(Device::Cpu)
                    .to_kind(Kind::Float)
                    .flatten(0, -1),
            )?)
        };
        let layers = self
            .actor
            .iter()
            .map(|(w, b)| {
                let s = w.size();
                Ok(Linear {
                    inputs: s[1] as usize,
                    outputs: s[0] as usize,
                    weight: flat(w)?,
                    bias: flat(b)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Mlp::new(self.architecture(), layers).map_err(anyhow::Error::msg)
    }

    /// Copies the actor into a [`policy::Model`] (tensor for tensor: the
    /// names are the model file's).
    pub fn to_model(
        &self,
        spec: FeatureSpec,
        reward: String,
        training: serde_json::Value,
    ) -> Result<Model> {
        let mlp = self.actor_mlp()?;
        Ok(Model::new(
            mlp,
            spec,
            reward,
            training,
            chrono::Utc::now().to_rfc3339(),
        )?)
    }
}

// ---------------------------------------------------------------------------
// Pure functions of the algorithm                                      (ALGO)
// ---------------------------------------------------------------------------

/// Samples a Plackett–Luce ranking with the Gumbel trick: returns the noisy
/// scores (what the simulator receives) and the order (indices, best first).
pub fn sample_ranking(scores: &[f32], rng: &mut impl Rng) -> (Vec<f64>, Vec<usize>) {
    let noisy: Vec<f64> = scores
        .iter()
        .map(|&s| {
            let u: f64 = rng.r#gen::<f64>().clamp(1e-12, 1.0 - 1e-12);
            s as f64 - (-u.ln()).ln()
        })
        .collect();
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| noisy[b].total_cmp(&noisy[a]).then(a.cmp(&b)));
    (noisy, order)
}

/// Generalized advantage estimation over a buffer of whole episodes laid end
/// to end. For step `t` the next value is 0 when `terminated[t]`,
/// `bootstrap[t]` (the value of the observation the episode was cut at) when
/// `truncated[t]` or `t` is the buffer's last step, else `values[t + 1]`; the
/// recursion restarts at every episode end. Returns `(advantages, returns)`.
pub fn gae(
    rewards: &[f32],
    values: &[f32],
    terminated: &[bool],
    truncated: &[bool],
    bootstrap: &[f32],
    gamma: f32,
    lambda: f32,
) -> (Vec<f32>, Vec<f32>) {
    let n = rewards.len();
    let mut adv = vec![0.0f32; n];
    let mut last = 0.0f32;
    for t in (0..n).rev() {
        let end = terminated[t] || truncated[t] || t + 1 == n;
        let next_value = if terminated[t] {
            0.0
        } else if end {
            bootstrap[t]
        } else {
            values[t + 1]
        };
        let delta = rewards[t] + gamma * next_value - values[t];
        last = delta + if end { 0.0 } else { gamma * lambda * last };
        adv[t] = last;
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// Plackett–Luce log-probability and entropy of sampled rankings, batched.
///
/// `scores [B, L]` are in each row's sampled order (position 0 was picked
/// first); `valid [B, L]` (bool) marks the row's `n_b` real jobs (a
/// prefix); `depth [B]` (i64, `0 ≤ d_b ≤ n_b`) how many picks count (a
/// row with depth 0 has log p = 0 and entropy 0: no choice was made). Returns
/// `log p [B] = Σ_{k<d} (s_k − ln Σ_{j≥k} e^{s_j})` and the entropy
/// `[B] = Σ_{k<d} H(softmax over the jobs not yet picked)`.
pub fn plackett_luce(scores: &Tensor, valid: &Tensor, depth: &Tensor) -> (Tensor, Tensor) {
    let (_, l) = scores.size2().expect("scores is [B, L]");
    let dev = scores.device();
    let d = depth.max().int64_value(&[]).clamp(1, l);
    let invalid = valid.logical_not();
    // Padding gets a huge finite negative score: e^(−1e9) = 0 without NaNs.
    let s = scores.masked_fill(&invalid, -1e9);
    let lse = s.flip([1]).logcumsumexp(1).flip([1]).narrow(1, 0, d); // [B, d]
    let k = Tensor::arange(d, (Kind::Int64, dev));
    let take = k.unsqueeze(0).lt_tensor(&depth.unsqueeze(1)); // [B, d]
    let not_take = take.logical_not();
    let logp = (s.narrow(1, 0, d) - &lse)
        .masked_fill(&not_take, 0.0)
        .sum_dim_intlist(1, false, Kind::Float);
    // Entropy of pick k: over j ≥ k, valid.
    let j = Tensor::arange(l, (Kind::Int64, dev));
    let allowed = j
        .view([1, 1, l])
        .ge_tensor(&k.view([1, d, 1]))
        .logical_and(&valid.unsqueeze(1)); // [B, d, L]
    let lp = (s.unsqueeze(1) - lse.unsqueeze(2)).masked_fill(&allowed.logical_not(), -1e9);
    let h = -(lp.exp() * lp.masked_fill(&allowed.logical_not(), 0.0)).sum_dim_intlist(
        2,
        false,
        Kind::Float,
    ); // [B, d]
    let entropy = h
        .masked_fill(&not_take, 0.0)
        .sum_dim_intlist(1, false, Kind::Float);
    (logp, entropy)
}

/// The clipped surrogate (to minimize), with diagnostics.
pub struct PolicyLoss {
    /// `mean(max(−A·r, −A·clip(r, 1 ± ε)))`.
    pub loss: Tensor,
    /// `mean(−log r)` (the naive KL estimate).
    pub old_approx_kl: f64,
    /// `mean((r − 1) − log r)` (Schulman's low-variance KL estimate).
    pub approx_kl: f64,
    /// Fraction of samples with `|r − 1| > ε`.
    pub clipfrac: f64,
}

/// PPO's clipped policy loss for log-probabilities under the new and the
/// old policy and (already normalized, if wanted) advantages.
pub fn clipped_policy_loss(
    new_logp: &Tensor,
    old_logp: &Tensor,
    adv: &Tensor,
    clip_coef: f64,
) -> PolicyLoss {
    let logratio = new_logp - old_logp;
    let ratio = logratio.exp();
    let (old_approx_kl, approx_kl, clipfrac) = tch::no_grad(|| {
        (
            (-&logratio).mean(Kind::Float).double_value(&[]),
            ((&ratio - 1.0) - &logratio)
                .mean(Kind::Float)
                .double_value(&[]),
            (&ratio - 1.0)
                .abs()
                .gt(clip_coef)
                .to_kind(Kind::Float)
                .mean(Kind::Float)
                .double_value(&[]),
        )
    });
    let pg1 = -adv * &ratio;
    let pg2 = -adv * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef);
    PolicyLoss {
        loss: pg1.maximum(&pg2).mean(Kind::Float),
        old_approx_kl,
        approx_kl,
        clipfrac,
    }
}

/// The value loss `½·mean((V − R)²)`, or with `clip` cleanrl's clipped form
/// `½·mean(max((V − R)², (V_old + clip(V − V_old, ±ε) − R)²))`.
pub fn clipped_value_loss(
    new_v: &Tensor,
    old_v: &Tensor,
    returns: &Tensor,
    clip_coef: f64,
    clip: bool,
) -> Tensor {
    let unclipped = (new_v - returns).square();
    if !clip {
        return 0.5 * unclipped.mean(Kind::Float);
    }
    let v_clipped = old_v + (new_v - old_v).clamp(-clip_coef, clip_coef);
    let clipped = (v_clipped - returns).square();
    0.5 * unclipped.maximum(&clipped).mean(Kind::Float)
}

// ---------------------------------------------------------------------------
// The rollout buffer                                               (PLUMBING)
// ---------------------------------------------------------------------------

/// One decision, stored with its jobs in the sampled order.
struct Record {
    /// `n × N_FEATURES`: the `choices` jobs the policy ranked, in the
    /// sampled order, then the jobs past the max-wait guard.
    features: Vec<f32>,
    n: usize,
    /// Jobs the policy ranked (rows `0..choices`); the critic sees all `n`.
    choices: usize,
    depth: usize,
    logp: f32,
    value: f32,
    reward: f32,
    terminated: bool,
    truncated: bool,
    /// V(next observation) when truncated.
    bootstrap: f32,
}

/// Records `idx` padded into tensors.
struct Padded {
    /// `[B, L, F]` features.
    x: Tensor,
    /// `[B, L]` (bool): the row's `n` jobs (the critic's input).
    valid: Tensor,
    /// `[B, L]` (bool): the row's `choices` jobs (the policy's ranking).
    choices: Tensor,
    /// `[B]` (i64): picks that count.
    depth: Tensor,
}

/// Pads records `idx` into [`Padded`].
fn pad(records: &[Record], idx: &[usize], device: Device) -> Padded {
    let l = idx.iter().map(|&i| records[i].n).max().unwrap_or(1).max(1);
    let b = idx.len();
    let mut x = vec![0.0f32; b * l * N_FEATURES];
    let mut valid = vec![false; b * l];
    let mut choices = vec![false; b * l];
    let mut depth = vec![0i64; b];
    for (row, &i) in idx.iter().enumerate() {
        let r = &records[i];
        let off = row * l * N_FEATURES;
        x[off..off + r.features.len()].copy_from_slice(&r.features);
        valid[row * l..row * l + r.n].fill(true);
        choices[row * l..row * l + r.choices].fill(true);
        depth[row] = r.depth as i64;
    }
    let mask = |m: &[bool]| {
        Tensor::from_slice(m)
            .view([b as i64, l as i64])
            .to_device(device)
    };
    Padded {
        x: Tensor::from_slice(&x)
            .view([b as i64, l as i64, N_FEATURES as i64])
            .to_device(device),
        valid: mask(&valid),
        choices: mask(&choices),
        depth: Tensor::from_slice(&depth).to_device(device),
    }
}

/// Critic values of records `idx` (no gradient), in chunks.
fn values_of(agent: &Agent, records: &[Record], idx: &[usize], device: Device) -> Vec<f32> {
    let mut out = Vec::with_capacity(idx.len());
    for chunk in idx.chunks(256) {
        let Padded { x, valid, .. } = pad(records, chunk, device);
        let v = tch::no_grad(|| agent.value(&x, &valid)).to_device(Device::Cpu);
        out.extend(Vec::<f32>::try_from(v).expect("a 1-d f32 tensor"));
    }
    out
}

// ---------------------------------------------------------------------------
// Training                                                 (ALGO + PLUMBING)
// ---------------------------------------------------------------------------

/// The stable metric names of `curves.csv`, in column order.
pub const METRICS: &[&str] = &[
    "update",
    "global_step",
    "charts/learning_rate",
    "charts/SPS",
    "charts/episodes",
    "losses/value_loss",
    "losses/policy_loss",
    "losses/entropy",
    "losses/old_approx_kl",
    "losses/approx_kl",
    "losses/clipfrac",
    "losses/explained_variance",
    "sched/episode_return",
    "sched/bsld",
    "sched/wait_mean",
    "sched/decisions_per_episode",
    "sched/val_bsld",
    "sched/val_bsld_slurm",
    "sched/val_wait_p99",
    "sched/val_wait_p99_slurm",
    "sched/val_long_bsld",
    "sched/val_long_bsld_slurm",
    "sched/val_long_wait_p99",
    "sched/val_long_wait_p99_slurm",
];

/// A model on the validation windows.
struct Validated {
    /// Mean bsld and mean p99 wait on the `--jobs-per-episode` windows.
    bsld: f64,
    p99: f64,
    /// The same on the `--val-long-jobs` windows (NaN without them).
    long_bsld: f64,
    long_p99: f64,
    /// Whether the p99 wait is within the --keep-best bound (on both
    /// window lengths with --val-long-jobs).
    p99_ok: bool,
    /// What --keep-best minimizes among models alike in `p99_ok`: the mean
    /// bsld, or with --val-long-jobs the larger of the two bsld ratios to
    /// slurm's.
    rank: f64,
}

/// What a training run produced.
pub struct Outcome {
    /// The final model (also written to `DIR/model.safetensors`).
    pub model: Model,
    /// One row per update, columns [`METRICS`] (NaN = not measured).
    pub curves: Vec<Vec<f64>>,
    /// Index range of the training jobs and of the validation jobs.
    pub split: ((usize, usize), (usize, usize)),
    /// Start indices of the validation windows.
    pub val_starts: Vec<usize>,
    /// Start indices of the `--val-long-jobs` windows (empty without it).
    pub val_long_starts: Vec<usize>,
    /// The update whose model was written (see `--keep-best`).
    pub chosen_update: usize,
    /// Decisions taken in all.
    pub global_step: u64,
    /// Wall time of training, seconds.
    pub wall_s: f64,
    /// The seed actually used.
    pub seed: u64,
    /// The CEM stage, one row per iteration: iteration, best cost so far,
    /// mean cost of the elite (cost 1 = slurm's bsld); empty without it.
    pub cem_log: Vec<[f64; 3]>,
}

/// The feature spec with normalization fitted on raw features that the
/// plugin would compute while Slurm's multifactor schedules `windows`.
fn fit_normalizer(
    trace: &Trace,
    cluster: &Cluster,
    windows: &[usize],
    k: usize,
    sim: &SimConfig,
) -> Result<(Normalizer, Vec<Vec<f32>>)> {
    struct Recorder {
        inner: Box<dyn policy::Policy>,
        rows: Vec<Vec<f32>>,
    }
    impl policy::Policy for Recorder {
        fn name(&self) -> &str {
            "recorder"
        }
        fn score(&mut self, ctx: &policy::QueueContext, jobs: &[policy::JobObs], out: &mut [f64]) {
            for j in jobs {
                if self.rows.len() < 200_000 {
                    self.rows
                        .push(policy::features::features_array(j, ctx).to_vec());
                }
            }
            self.inner.score(ctx, jobs, out);
        }
    }
    let mut rec = Recorder {
        inner: sim::baselines::by_name("slurm").expect("the slurm baseline exists"),
        rows: Vec::new(),
    };
    for &s in windows {
        sim::engine::simulate(&trace.jobs[s..s + k], &trace.names, cluster, &mut rec, sim)?;
    }
    Ok((Normalizer::fit(&rec.rows)?, rec.rows))
}

/// The order a fitted warm start (`--init`, all but `random`) ranks jobs by.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WarmStart {
    Slurm,
    Unicep,
    Aging(Aging),
}

impl WarmStart {
    /// The warm start `args` ask for; `None` for `--init random`.
    fn of(args: &Args) -> Option<WarmStart> {
        Some(match args.init {
            InitArg::Random => return None,
            InitArg::Slurm => WarmStart::Slurm,
            InitArg::Unicep => WarmStart::Unicep,
            InitArg::Aging => WarmStart::Aging(Aging {
                offset: args.aging_offset as f64,
                time_power: args.aging_time_power,
                cpu_power: args.aging_cpu_power,
            }),
        })
    }
}

/// `--init slurm|unicep|aging`: fits the actor so that its scores rank jobs as
/// the named baseline does: a regression of the score on `gain` times a
/// standardized, order-preserving form of the baseline's score, over the
/// feature rows seen while fitting the normalization. For `slurm` that is
/// the `multifactor_slog` feature; for `unicep` (`wait / (log2(max(cpus,
/// 2)) · limit)`) it is `ln(1 + wait) − ln(log2(max(cpus, 2))) − ln(1 +
/// limit)`, and for `aging` [`Aging::log_score`], both from the raw
/// features. PPO then starts from that order instead of an arbitrary one.
/// Returns the final mean squared error.
fn init_actor(
    agent: &Agent,
    warm: WarmStart,
    normalizer: &Normalizer,
    raw_rows: &[Vec<f32>],
    gain: f64,
    rng: &mut ChaCha8Rng,
    device: Device,
) -> Result<f64> {
    let col = |name: &str| {
        policy::features::FEATURE_NAMES
            .iter()
            .position(|n| *n == name)
            .with_context(|| format!("the feature set has no {name}"))
    };
    let (mf, lw, ll, lc) = (
        col("multifactor_slog")?,
        col("log_wait")?,
        col("log_time_limit")?,
        col("log_cpus")?,
    );
    if raw_rows.is_empty() {
        bail!("--init: no feature rows were recorded");
    }
    // The raw features hold ln(1 + x); this recovers x.
    let unlog = |v: f32| ((v as f64).exp() - 1.0).max(0.0);
    let raw_target = |r: &[f32]| -> f64 {
        match warm {
            WarmStart::Unicep => {
                let cpus = unlog(r[lc]);
                r[lw] as f64 - cpus.round().max(2.0).log2().ln() - r[ll] as f64
            }
            WarmStart::Aging(a) => a.log_score(unlog(r[lw]), unlog(r[ll]), unlog(r[lc])),
            WarmStart::Slurm => r[mf] as f64,
        }
    };
    let t: Vec<f64> = raw_rows.iter().map(|r| raw_target(r)).collect();
    let mean = t.iter().sum::<f64>() / t.len() as f64;
    let sd = (t.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / t.len() as f64)
        .sqrt()
        .max(1e-6);
    let rows: Vec<(Vec<f32>, f32)> = raw_rows
        .iter()
        .zip(&t)
        .map(|(r, &y)| {
            let mut x = r.clone();
            normalizer.apply(&mut x);
            (x, (gain * (y - mean) / sd) as f32)
        })
        .collect();
    let mut opt = crate::adam::Adam::new(&agent.vs, 3e-3);
    let mut loss_v = f64::NAN;
    for _ in 0..600 {
        let batch: Vec<&(Vec<f32>, f32)> = (0..512)
            .map(|_| &rows[rng.gen_range(0..rows.len())])
            .collect();
        let flat: Vec<f32> = batch.iter().flat_map(|r| r.0.iter().copied()).collect();
        let target: Vec<f32> = batch.iter().map(|r| r.1).collect();
        let x = Tensor::from_slice(&flat)
            .view([batch.len() as i64, N_FEATURES as i64])
            .to_device(device);
        let y = Tensor::from_slice(&target).to_device(device);
        let loss = (agent.scores(&x) - y).square().mean(Kind::Float);
        opt.zero_grad();
        loss.backward();
        opt.step();
        loss_v = loss.double_value(&[]);
    }
    Ok(loss_v)
}

/// Mean bounded slowdown and mean p99 wait of `policy` over the validation
/// windows.
fn validate(
    trace: &Trace,
    cluster: &Cluster,
    sim: &SimConfig,
    k: usize,
    starts: &[usize],
    spec: sim::eval::PolicySpec<'_>,
) -> Result<(f64, f64)> {
    let input = sim::eval::EvalInput {
        trace,
        cluster,
        sim,
        jobs_per_sequence: k,
        starts,
    };
    let report = sim::eval::evaluate(&input, &[spec], None, &mut |_| {})?;
    let mean = |m: &str| {
        report.policies[0]
            .summary_of(m)
            .map(|s| s.mean)
            .unwrap_or(f64::NAN)
    };
    Ok((mean("bsld_mean"), mean("wait_p99")))
}

/// The sidecar of a checkpoint.
#[derive(serde::Serialize, serde::Deserialize)]
struct CheckpointMeta {
    update: usize,
    global_step: u64,
    normalizer: Normalizer,
    /// Adam steps taken (its moments are in the checkpoint file).
    #[serde(default)]
    adam_steps: i64,
}

/// Writes `rows` under `header` as CSV, atomically; a non-finite value is
/// an empty cell.
pub(crate) fn write_csv<R: AsRef<[f64]>>(path: &Path, header: &str, rows: &[R]) -> Result<()> {
    sim::io::atomic_write(path, |w| {
        writeln!(w, "{header}")?;
        for r in rows {
            let cells: Vec<String> = r
                .as_ref()
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        format!("{v}")
                    } else {
                        String::new()
                    }
                })
                .collect();
            writeln!(w, "{}", cells.join(","))?;
        }
        Ok(())
    })
    .with_context(|| format!("writing {}", path.display()))
}

/// Trains on `trace` and `cluster` as `args` say; writes checkpoints,
/// `curves.csv` and `model.safetensors` into `args.out`.
pub fn train(args: &Args, trace: Trace, cluster: Cluster) -> Result<Outcome> {
    // --- PLUMBING: seeds, threads, device, data split ---
    args.check()?;
    // With --sweep the array task picks the point (cmd/sweep.rs), not the seed.
    let task = std::env::var("SLURM_ARRAY_TASK_ID")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|_| args.sweep.point.is_none());
    let seed = args.seed.wrapping_add(task.unwrap_or(0));
    if let Some(n) = std::env::var("SLURM_CPUS_PER_TASK")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    {
        tch::set_num_threads(n.max(1));
    }
    tch::manual_seed(seed as i64);
    let device = match args.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda if tch::Cuda::is_available() => Device::Cuda(0),
        DeviceArg::Cuda => bail!("--device cuda: no CUDA device is visible to libtorch"),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let k = args.jobs_per_episode;
    let all_jobs = trace.jobs.len();
    // Jobs from `len` on are the reserved test set (--test-fraction).
    let len = ((all_jobs as f64) * (1.0 - args.test_fraction)).floor() as usize;
    let split =
        ((all_jobs as f64) * (1.0 - args.val_fraction - args.test_fraction)).floor() as usize;
    if split < k {
        bail!(
            "the training part has {split} jobs ({} of {len}), fewer than --jobs-per-episode {k}",
            1.0 - args.val_fraction
        );
    }
    // `n` windows of `k` jobs evenly spaced over the validation jobs.
    let spaced = |k: usize, n: usize| -> Vec<usize> {
        let span = len - split - k;
        (0..n)
            .map(|i| split + if n == 1 { 0 } else { span * i / (n - 1) })
            .collect()
    };
    let val_starts: Vec<usize> = if len - split >= k && args.val_sequences > 0 {
        spaced(k, args.val_sequences)
    } else {
        tracing::warn!(
            "the validation part has {} jobs, fewer than --jobs-per-episode {k}: no validation",
            len - split
        );
        Vec::new()
    };
    let val_long_starts: Vec<usize> = match args.val_long_jobs {
        None => Vec::new(),
        Some(_) if val_starts.is_empty() => bail!(
            "--val-long-jobs needs validation windows: --val-sequences above 0 and a validation part of at least --jobs-per-episode jobs"
        ),
        Some(long) if len - split >= long => spaced(long, args.val_sequences),
        Some(long) => bail!(
            "--val-long-jobs {long}: the validation part has {} jobs, fewer than one such window",
            len - split
        ),
    };
    let sim_cfg = SimConfig {
        backfill: args.backfill.to_engine(),
        cancelled_pending: CancelledPending::Keep,
        record_events: false,
        seed,
    };
    let reward = args.reward_config()?;

    // --- PLUMBING: the agent, its normalization, resume ---
    let hidden: &[usize] = if args.linear { &[] } else { &args.hidden };
    let mut agent = Agent::new(device, hidden, args.activation.into(), args.actor_out_gain);
    let mut first_update = 1;
    let mut global_step: u64 = 0;
    let normalizer = if let Some(ckpt) = &args.resume {
        agent
            .vs
            .load(ckpt)
            .with_context(|| format!("loading checkpoint {}", ckpt.display()))?;
        let side = ckpt.with_extension("json");
        let meta: CheckpointMeta = serde_json::from_str(
            &std::fs::read_to_string(&side)
                .with_context(|| format!("reading {}", side.display()))?,
        )
        .with_context(|| format!("parsing {}", side.display()))?;
        first_update = meta.update + 1;
        global_step = meta.global_step;
        meta.normalizer
    } else if let Some(path) = &args.init_model {
        let init = Model::load(path)?;
        agent
            .load_actor(&init)
            .with_context(|| format!("--init-model {}", path.display()))?;
        init.spec().normalizer.clone()
    } else {
        let windows: Vec<usize> = (0..args.norm_windows.max(1))
            .map(|_| rng.gen_range(0..=split - k))
            .collect();
        let (normalizer, rows) = fit_normalizer(&trace, &cluster, &windows, k, &sim_cfg)?;
        if let Some(warm) = WarmStart::of(args) {
            let mse = init_actor(
                &agent,
                warm,
                &normalizer,
                &rows,
                args.init_gain,
                &mut rng,
                device,
            )?;
            tracing::info!(mse, init = ?args.init, "actor initialized to a baseline's order");
        }
        normalizer
    };
    let spec = FeatureSpec::current(normalizer.clone());
    // Adam with moments we own (crate::adam), restored on resume.
    let mut optimizer = crate::adam::Adam::new(&agent.vs, args.learning_rate);
    if let Some(ckpt) = &args.resume {
        let named = Tensor::read_safetensors(ckpt)
            .with_context(|| format!("reading {}", ckpt.display()))?;
        if named.iter().any(|(k, _)| k.starts_with("adam/")) {
            optimizer
                .load_state(&named)
                .with_context(|| format!("restoring Adam's state from {}", ckpt.display()))?;
        } else {
            tracing::warn!(
                "{} holds no optimizer state (written by an older slurm-rl): Adam's moments restart",
                ckpt.display()
            );
        }
    }
    let trace = Arc::new(trace);
    let mut env = Env::new(
        Arc::new(trace.jobs.clone()),
        Arc::new(trace.names.clone()),
        Arc::new(cluster.clone()),
        (0, split),
        EnvConfig {
            jobs_per_episode: k,
            max_decisions: args.max_decisions,
            sim: sim_cfg.clone(),
            reward: reward.clone(),
        },
        normalizer,
    )?;
    let training_meta = |updates: usize, step: u64| {
        serde_json::json!({
            "algorithm": "PPO, Plackett-Luce rankings (Gumbel sampling)",
            "trace": args.trace.display().to_string(),
            "cluster": args.cluster.as_ref().map(|c| c.display().to_string()),
            "jobs": all_jobs, "train_jobs": [0, split], "val_jobs": [split, len], "test_jobs": [len, all_jobs],
            "updates": updates, "decisions": step, "seed": seed,
            "args": args,
        })
    };
    let slurm_on = |k: usize, starts: &[usize]| -> Result<(f64, f64)> {
        if starts.is_empty() {
            return Ok((f64::NAN, f64::NAN));
        }
        let slurm = sim::eval::PolicySpec::baseline("slurm").expect("slurm");
        validate(&trace, &cluster, &sim_cfg, k, starts, slurm)
    };
    let (val_slurm, val_slurm_p99) = slurm_on(k, &val_starts)?;
    let long_k = args.val_long_jobs.unwrap_or(0);
    let (long_slurm, long_slurm_p99) = slurm_on(long_k, &val_long_starts)?;

    let pb = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::with_draw_target(
            Some((args.total_updates + 1 - first_update.min(args.total_updates + 1)) as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} updates ({elapsed}, eta {eta}) {msg}",
            )
            .expect("valid template"),
        );
        pb
    };
    // On resume, keep the curves of the updates before the checkpoint.
    let mut curves: Vec<Vec<f64>> = match &args.resume {
        Some(_) => read_csv(&args.out.join("curves.csv"))
            .into_iter()
            .filter(|r| r.first().is_some_and(|&u| u < first_update as f64))
            .collect(),
        None => Vec::new(),
    };
    // The max-wait guard every simulated run applies: the one the model
    // will record, else the plugin's default.
    let guard = policy::learned::max_wait_in_force(args.max_wait, None);
    let t_start = Instant::now();
    let mut episode_counter: u64 = 0;
    // (update, p99 within the guard, rank, model) of the best validated
    // model (see `Validated`).
    let mut best: Option<(usize, bool, f64, Model)> = None;
    let keep_best_ratio = args.keep_best_p99_ratio.or(args.guard_p99_ratio);
    // The deployed (deterministic) model on the validation windows, and on
    // the --val-long-jobs windows when set.
    let validate_model = |model: Model| -> Result<Validated> {
        let on = |k: usize, starts: &[usize]| -> Result<(f64, f64)> {
            let m = model.clone();
            let learned = sim::eval::PolicySpec::new("learned", move || {
                Box::new(policy::LearnedPolicy::new(m.clone()))
            });
            validate(&trace, &cluster, &sim_cfg, k, starts, learned)
        };
        let (bsld, p99) = on(k, &val_starts)?;
        let within =
            |p99: f64, slurm_p99: f64| keep_best_ratio.is_none_or(|r| p99 <= r * slurm_p99);
        let mut v = Validated {
            bsld,
            p99,
            long_bsld: f64::NAN,
            long_p99: f64::NAN,
            p99_ok: within(p99, val_slurm_p99),
            rank: bsld,
        };
        if !val_long_starts.is_empty() {
            (v.long_bsld, v.long_p99) = on(long_k, &val_long_starts)?;
            v.p99_ok &= within(v.long_p99, long_slurm_p99);
            v.rank = (bsld / val_slurm).max(v.long_bsld / long_slurm);
            tracing::info!(
                long_bsld = v.long_bsld,
                long_p99 = v.long_p99,
                long_slurm,
                long_slurm_p99,
                "validation on the long windows"
            );
        }
        Ok(v)
    };
    let mut cem_log = Vec::new();

    // --- 1b. ALGO: the CEM stage (--cem-iters), from the initial actor ---
    if args.cem.cem_iters > 0 && first_update == 1 {
        let windows: Vec<usize> = (0..args.cem_windows)
            .map(|i| i * (split - k) / args.cem_windows.saturating_sub(1).max(1))
            .collect();
        let start = agent
            .to_model(spec.clone(), reward.describe(), training_meta(0, 0))?
            .with_max_wait(args.max_wait);
        let with_weights = |w: &[f64]| crate::cem::with_weights(&start, w);
        let on_windows = |spec: sim::eval::PolicySpec<'_>| {
            validate(&trace, &cluster, &sim_cfg, k, &windows, spec)
        };
        let (ref_bsld, ref_p99) =
            on_windows(sim::eval::PolicySpec::baseline("slurm").expect("slurm"))?;
        let init: Vec<f64> = start.mlp().layers()[0]
            .weight
            .iter()
            .map(|&x| x as f64)
            .collect();
        let found = crate::cem::search(&init, &args.cem, &mut rng, |w| {
            let m = with_weights(w)?;
            let (bsld, p99) = on_windows(sim::eval::PolicySpec::new("cem", move || {
                Box::new(policy::LearnedPolicy::new(m.clone()))
            }))?;
            let over = keep_best_ratio.map_or(0.0, |r| (p99 / ref_p99.max(1.0) - r).max(0.0));
            Ok(bsld / ref_bsld.max(1e-9) + 10.0 * over)
        })?;
        let model = with_weights(&found.weights)?;
        agent.load_actor(&model)?;
        write_csv(
            &args.out.join("cem.csv"),
            "iteration,best_cost,elite_mean_cost",
            &found.log,
        )?;
        cem_log = found.log;
        if !val_starts.is_empty() {
            let v = validate_model(model.clone())?;
            tracing::info!(
                cost = found.cost,
                val_bsld = v.bsld,
                val_p99 = v.p99,
                "after the CEM"
            );
            best = Some((0, v.p99_ok, v.rank, model));
        }
    } else if args.init != InitArg::Random
        && args.init_model.is_none()
        && first_update == 1
        && !val_starts.is_empty()
    {
        // The warm start is a candidate too (update 0): PPO's updates must
        // beat it on the validation windows to be kept.
        let model = agent
            .to_model(spec.clone(), reward.describe(), training_meta(0, 0))?
            .with_max_wait(args.max_wait);
        let v = validate_model(model.clone())?;
        tracing::info!(val_bsld = v.bsld, val_p99 = v.p99, init = ?args.init, "the warm start");
        best = Some((0, v.p99_ok, v.rank, model));
    }

    for update in first_update..=args.total_updates {
        let t_update = Instant::now();
        // ALGO: anneal the learning rate.
        let lr = if args.anneal_lr {
            let frac = 1.0 - (update - 1) as f64 / args.total_updates as f64;
            frac * args.learning_rate
        } else {
            args.learning_rate
        };
        optimizer.set_lr(lr);

        // --- 2. ALGO: rollout of whole episodes under no_grad ---
        let mut records: Vec<Record> = Vec::new();
        // The actor runs as the plugin's plain-Rust MLP during the rollout
        // (no libtorch call per decision); the critic's values are computed
        // in batches once the episodes are in.
        let actor = agent.actor_mlp()?;
        let mut scratch = actor.scratch();
        let mut scores: Vec<f32> = Vec::new();
        let (mut free, mut guarded): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        let mut reordered: Vec<f32> = Vec::new();
        let (mut ep_returns, mut ep_bsld, mut ep_wait, mut ep_len) = (0.0, 0.0, 0.0, 0.0);
        for _ in 0..args.episodes_per_update {
            let ep_seed = seed.wrapping_mul(0x9E37_79B9).wrapping_add(episode_counter);
            episode_counter += 1;
            let first = records.len();
            // The simulator calls back at every decision (Env::play: no
            // thread hand-off); each decision is recorded with its jobs in
            // the sampled order.
            let mut failed = None;
            let ep = env.play(Some(ep_seed), &mut |obs, out| {
                // The policy ranks the jobs below the max-wait guard; the
                // guarded ones go first, oldest first, whatever it says.
                free.clear();
                guarded.clear();
                for (i, j) in obs.jobs.iter().enumerate() {
                    match policy::learned::guard_score(j.wait, guard) {
                        Some(g) => {
                            out[i] = g;
                            guarded.push(i);
                        }
                        None => free.push(i),
                    }
                }
                // Feature rows, free jobs first (as they come when no job
                // is guarded, the usual case: no copy then).
                let x: &[f32] = if guarded.is_empty() {
                    &obs.features
                } else {
                    reordered.clear();
                    for &i in free.iter().chain(&guarded) {
                        reordered
                            .extend_from_slice(&obs.features[i * N_FEATURES..(i + 1) * N_FEATURES]);
                    }
                    &reordered
                };
                scores.resize(free.len(), 0.0);
                if let Err(e) =
                    actor.score_batch_with(&x[..free.len() * N_FEATURES], &mut scores, &mut scratch)
                {
                    failed.get_or_insert(anyhow::Error::msg(e));
                }
                let (noisy, order) = sample_ranking(&scores, &mut rng);
                let depth = args.rank_depth.min(order.len());
                let logp = match policy::nn::plackett_luce_log_prob(&scores, &order[..depth]) {
                    Ok(l) => l as f32,
                    Err(e) => {
                        failed.get_or_insert(e.into());
                        0.0
                    }
                };
                // Rows: the free jobs in the sampled order, then the guarded.
                let mut features = Vec::with_capacity(x.len());
                for &k in &order {
                    features.extend_from_slice(&x[k * N_FEATURES..(k + 1) * N_FEATURES]);
                }
                features.extend_from_slice(&x[free.len() * N_FEATURES..]);
                for (&i, &s) in free.iter().zip(&noisy) {
                    out[i] = s;
                }
                records.push(Record {
                    features,
                    n: obs.jobs.len(),
                    choices: free.len(),
                    depth,
                    logp,
                    value: 0.0,
                    reward: 0.0,
                    terminated: false,
                    truncated: false,
                    bootstrap: 0.0,
                });
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            global_step += (records.len() - first) as u64;
            // Credit arrives at the episode's end (see env's doc).
            for (r, &x) in records[first..].iter_mut().zip(&ep.rewards) {
                r.reward = x as f32;
            }
            let last = records.len() - 1;
            records[last].terminated = !ep.truncated;
            records[last].truncated = ep.truncated;
            if let Some(next) = &ep.next_obs {
                let boot = Record {
                    features: next.features.clone(),
                    n: next.jobs.len(),
                    choices: next.jobs.len(),
                    depth: 1,
                    logp: 0.0,
                    value: 0.0,
                    reward: 0.0,
                    terminated: false,
                    truncated: false,
                    bootstrap: 0.0,
                };
                records[last].bootstrap = values_of(&agent, &[boot], &[0], device)[0];
            }
            ep_returns += ep.rewards.iter().sum::<f64>();
            ep_bsld += ep.metrics.bsld_mean;
            ep_wait += ep.metrics.wait_mean;
            ep_len += (records.len() - first) as f64;
        }
        let all: Vec<usize> = (0..records.len()).collect();
        let rollout_values = values_of(&agent, &records, &all, device);
        for (r, v) in records.iter_mut().zip(rollout_values) {
            r.value = v;
        }
        let n_ep = args.episodes_per_update as f64;
        let rollout_s = t_update.elapsed().as_secs_f64();

        // --- 3. ALGO: GAE ---
        let rewards: Vec<f32> = records.iter().map(|r| r.reward).collect();
        let values: Vec<f32> = records.iter().map(|r| r.value).collect();
        let terminated: Vec<bool> = records.iter().map(|r| r.terminated).collect();
        let truncated: Vec<bool> = records.iter().map(|r| r.truncated).collect();
        let bootstrap: Vec<f32> = records.iter().map(|r| r.bootstrap).collect();
        let (advantages, returns) = gae(
            &rewards,
            &values,
            &terminated,
            &truncated,
            &bootstrap,
            args.gamma as f32,
            args.gae_lambda as f32,
        );

        // --- 4. ALGO: epochs over shuffled minibatches ---
        let batch = records.len();
        let minibatch = batch.div_ceil(args.num_minibatches).max(1);
        let mut idx: Vec<usize> = (0..batch).collect();
        let (mut pg_l, mut v_l, mut ent_l, mut kl, mut old_kl, mut clipfracs) =
            (0.0, 0.0, 0.0, 0.0, 0.0, Vec::new());
        'epochs: for _epoch in 0..args.update_epochs {
            idx.shuffle(&mut rng);
            for mb in idx.chunks(minibatch) {
                let Padded {
                    x,
                    valid,
                    choices,
                    depth,
                } = pad(&records, mb, device);
                let pick = |v: &[f32]| {
                    Tensor::from_slice(&mb.iter().map(|&i| v[i]).collect::<Vec<f32>>())
                        .to_device(device)
                };
                let old_logp = pick(&records.iter().map(|r| r.logp).collect::<Vec<_>>());
                let mut mb_adv = pick(&advantages);
                let mb_ret = pick(&returns);
                let mb_val = pick(&values);

                // --- 5. ALGO: losses, gradient clipping ---
                let scores = agent.scores(&x);
                let (new_logp, entropy) = plackett_luce(&scores, &choices, &depth);
                if args.norm_adv && mb.len() > 1 {
                    mb_adv = (&mb_adv - mb_adv.mean(Kind::Float)) / (mb_adv.std(true) + 1e-8);
                }
                let pl = clipped_policy_loss(&new_logp, &old_logp, &mb_adv, args.clip_coef);
                let new_v = agent.value(&x, &valid);
                let v_loss =
                    clipped_value_loss(&new_v, &mb_val, &mb_ret, args.clip_coef, args.clip_vloss);
                let ent = entropy.mean(Kind::Float);
                let loss = &pl.loss - args.ent_coef * &ent + args.vf_coef * &v_loss;
                optimizer.zero_grad();
                loss.backward();
                optimizer.clip_grad_norm(args.max_grad_norm);
                optimizer.step();
                pg_l = pl.loss.double_value(&[]);
                v_l = v_loss.double_value(&[]);
                ent_l = ent.double_value(&[]);
                kl = pl.approx_kl;
                old_kl = pl.old_approx_kl;
                clipfracs.push(pl.clipfrac);
            }
            if args.target_kl.is_some_and(|t| kl > t) {
                break 'epochs;
            }
        }
        let var_y = variance(&returns);
        let resid: Vec<f32> = returns.iter().zip(&values).map(|(r, v)| r - v).collect();
        let explained_var = if var_y == 0.0 {
            f64::NAN
        } else {
            1.0 - variance(&resid) / var_y
        };

        // --- 6. PLUMBING: validation, logging, checkpoints ---
        let last = update == args.total_updates;
        let (val_bsld, val_p99, long_bsld, long_p99) = if !val_starts.is_empty()
            && (last || (args.val_every > 0 && update % args.val_every == 0))
        {
            let model = agent
                .to_model(
                    spec.clone(),
                    reward.describe(),
                    training_meta(update, global_step),
                )?
                .with_max_wait(args.max_wait);
            let v = validate_model(model.clone())?;
            // Model selection on the validation windows (--keep-best).
            let better = match &best {
                None => true,
                Some((_, b_ok, b_rank, _)) => (v.p99_ok, -v.rank) > (*b_ok, -*b_rank),
            };
            if better && v.rank.is_finite() {
                best = Some((update, v.p99_ok, v.rank, model));
            }
            (v.bsld, v.p99, v.long_bsld, v.long_p99)
        } else {
            (f64::NAN, f64::NAN, f64::NAN, f64::NAN)
        };
        let sps = batch as f64 / rollout_s.max(1e-9);
        let row = vec![
            update as f64,
            global_step as f64,
            lr,
            sps,
            n_ep,
            v_l,
            pg_l,
            ent_l,
            old_kl,
            kl,
            clipfracs.iter().sum::<f64>() / clipfracs.len().max(1) as f64,
            explained_var,
            ep_returns / n_ep,
            ep_bsld / n_ep,
            ep_wait / n_ep,
            ep_len / n_ep,
            val_bsld,
            val_slurm,
            val_p99,
            val_slurm_p99,
            long_bsld,
            long_slurm,
            long_p99,
            long_slurm_p99,
        ];
        debug_assert_eq!(row.len(), METRICS.len());
        tracing::info!(
            update,
            global_step,
            bsld = ep_bsld / n_ep,
            val_bsld,
            pg_l,
            v_l,
            ent_l,
            kl,
            sps,
            "update"
        );
        pb.set_message(format!(
            "bsld {:.2} val {:.2} (slurm {:.2}) pg {pg_l:.3} v {v_l:.3} ent {ent_l:.2} SPS {sps:.0}",
            ep_bsld / n_ep,
            val_bsld,
            val_slurm
        ));
        pb.inc(1);
        curves.push(row);
        write_csv(&args.out.join("curves.csv"), &METRICS.join(","), &curves)?;
        if args.checkpoint_every > 0 && (update % args.checkpoint_every == 0 || last) {
            let ckpt = args.out.join(format!("checkpoint-{update:05}.safetensors"));
            save_checkpoint(&agent, &optimizer, &ckpt)
                .with_context(|| format!("writing {}", ckpt.display()))?;
            let meta = CheckpointMeta {
                update,
                global_step,
                normalizer: spec.normalizer.clone(),
                adam_steps: optimizer.steps(),
            };
            let side = ckpt.with_extension("json");
            sim::io::atomic_write(&side, |w| {
                w.write_all(serde_json::to_string_pretty(&meta)?.as_bytes())
            })
            .with_context(|| format!("writing {}", side.display()))?;
        }
    }
    pb.finish_and_clear();

    // --- PLUMBING: export ---
    let last_model = agent
        .to_model(
            spec,
            reward.describe(),
            training_meta(args.total_updates, global_step),
        )?
        .with_max_wait(args.max_wait);
    let (model, chosen_update) = match best {
        Some((u, _, _, m)) if args.keep_best => (m, u),
        _ => (last_model, args.total_updates),
    };
    model
        .save(args.out.join("model.safetensors"))
        .context("writing the model file")?;
    Ok(Outcome {
        model,
        chosen_update,
        curves,
        split: ((0, split), (split, len)),
        val_starts,
        val_long_starts,
        global_step,
        wall_s: t_start.elapsed().as_secs_f64(),
        seed,
        cem_log,
    })
}

/// Writes the agent's variables and Adam's state into one safetensors file
/// (temp file, then rename).
fn save_checkpoint(agent: &Agent, optimizer: &crate::adam::Adam, path: &Path) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = agent
        .vs
        .variables()
        .into_iter()
        .map(|(k, t)| (k, t.detach().to_device(Device::Cpu)))
        .collect();
    named.extend(optimizer.state());
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let tmp = path.with_extension("safetensors.tmp");
    Tensor::write_safetensors(&named, &tmp)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Rows of an earlier `curves.csv`, in [`METRICS`] order. Columns are
/// matched by name, so a file written before a column was added still
/// reads (the new column as NaN); missing or unreadable files, and files
/// whose first column is not `update`, give none; empty cells read as NaN.
fn read_csv(path: &Path) -> Vec<Vec<f64>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<&str> = header.split(',').collect();
    if names.first() != Some(&METRICS[0]) {
        return Vec::new();
    }
    let from: Vec<Option<usize>> = METRICS
        .iter()
        .map(|m| names.iter().position(|n| n == m))
        .collect();
    lines
        .map(|l| l.split(',').collect::<Vec<&str>>())
        .filter(|cells| cells.len() == names.len())
        .map(|cells| {
            from.iter()
                .map(|c| c.and_then(|c| cells[c].parse().ok()).unwrap_or(f64::NAN))
                .collect()
        })
        .collect()
}

fn variance(xs: &[f32]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let n = xs.len() as f64;
    let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
    xs.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n
}

#[cfg(test)]
mod tests {
    use super::*;
    use policy::{JobObs, QueueContext};

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn vec1(t: &Tensor) -> Vec<f32> {
        Vec::<f32>::try_from(t.to_kind(Kind::Float)).unwrap()
    }

    #[test]
    fn gae_three_steps_by_hand() {
        // γ = 0.9, λ = 0.8, so γλ = 0.72; the episode terminates at t = 2.
        let (adv, ret) = gae(
            &[1.0, 2.0, 3.0],
            &[0.5, 1.0, 1.5],
            &[false, false, true],
            &[false, false, false],
            &[0.0, 0.0, 99.0], // ignored: terminated means next value 0
            0.9,
            0.8,
        );
        // δ2 = 3 − 1.5 = 1.5; δ1 = 2 + 0.9·1.5 − 1 = 2.35; δ0 = 1 + 0.9·1 − 0.5 = 1.4.
        // A2 = 1.5; A1 = 2.35 + 0.72·1.5 = 3.43; A0 = 1.4 + 0.72·3.43 = 3.8696.
        assert!(close(&adv, &[3.8696, 3.43, 1.5], 1e-5), "{adv:?}");
        assert!(close(&ret, &[4.3696, 4.43, 3.0], 1e-5), "{ret:?}");
    }

    #[test]
    fn gae_bootstraps_on_truncation_and_stops_at_episode_ends() {
        // Same numbers, but cut at t = 2 with V(next) = 2: δ2 = 3 + 0.9·2 − 1.5 = 3.3.
        let (adv, _) = gae(
            &[1.0, 2.0, 3.0],
            &[0.5, 1.0, 1.5],
            &[false, false, false],
            &[false, false, true],
            &[0.0, 0.0, 2.0],
            0.9,
            0.8,
        );
        assert!(close(&adv, &[4.80272, 4.726, 3.3], 1e-5), "{adv:?}");
        // Two episodes: the first terminates at t = 1, so A1 ignores t = 2.
        let (adv, _) = gae(
            &[1.0, 1.0, 5.0],
            &[0.0, 0.0, 0.0],
            &[false, true, true],
            &[false, false, false],
            &[0.0; 3],
            1.0,
            1.0,
        );
        assert!(close(&adv, &[2.0, 1.0, 5.0], 1e-6), "{adv:?}");
    }

    /// The closed form `A_t = Σ_{u=t}^{end(t)} (γλ)^{u−t} δ_u`, with all δ
    /// computed at once.
    fn gae_closed_form(
        r: &[f32],
        v: &[f32],
        term: &[bool],
        trunc: &[bool],
        boot: &[f32],
        g: f32,
        l: f32,
    ) -> Vec<f32> {
        let n = r.len();
        let end: Vec<bool> = (0..n).map(|t| term[t] || trunc[t] || t + 1 == n).collect();
        let delta: Vec<f64> = (0..n)
            .map(|t| {
                let next = if term[t] {
                    0.0
                } else if end[t] {
                    boot[t]
                } else {
                    v[t + 1]
                };
                (r[t] + g * next - v[t]) as f64
            })
            .collect();
        (0..n)
            .map(|t| {
                let mut a = 0.0f64;
                let mut w = 1.0f64;
                for u in t..n {
                    a += w * delta[u];
                    if end[u] {
                        break;
                    }
                    w *= (g * l) as f64;
                }
                a as f32
            })
            .collect()
    }

    #[test]
    fn gae_loop_equals_closed_form_on_random_buffers() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..50 {
            let n = rng.gen_range(1..40);
            let r: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let v: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let boot: Vec<f32> = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let term: Vec<bool> = (0..n).map(|_| rng.gen_bool(0.1)).collect();
            let trunc: Vec<bool> = (0..n).map(|i| !term[i] && rng.gen_bool(0.1)).collect();
            let (adv, ret) = gae(&r, &v, &term, &trunc, &boot, 0.97, 0.9);
            let want = gae_closed_form(&r, &v, &term, &trunc, &boot, 0.97, 0.9);
            assert!(close(&adv, &want, 1e-4), "{adv:?} vs {want:?}");
            let back: Vec<f32> = ret.iter().zip(&v).map(|(a, b)| a - b).collect();
            assert!(close(&back, &adv, 1e-5));
        }
    }

    #[test]
    fn clipped_policy_loss_by_hand() {
        let new = Tensor::from_slice(&[0.0f32, 1.5f32.ln()]);
        let old = Tensor::from_slice(&[0.0f32, 0.0]);
        let adv = Tensor::from_slice(&[1.0f32, 1.0]);
        let pl = clipped_policy_loss(&new, &old, &adv, 0.2);
        // ratios 1 and 1.5: max(−1, −1) and max(−1.5, −1.2) → mean −1.1.
        assert!((pl.loss.double_value(&[]) + 1.1).abs() < 1e-6);
        assert!((pl.clipfrac - 0.5).abs() < 1e-9);
        let kl = (0.5 - 1.5f64.ln()) / 2.0;
        assert!((pl.approx_kl - kl).abs() < 1e-6, "{}", pl.approx_kl);
        // Negative advantage, ratio 0.5: max(0.5, 0.8) = 0.8 (pessimistic).
        let pl = clipped_policy_loss(
            &Tensor::from_slice(&[0.5f32.ln()]),
            &Tensor::from_slice(&[0.0f32]),
            &Tensor::from_slice(&[-1.0f32]),
            0.2,
        );
        assert!((pl.loss.double_value(&[]) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn clipped_value_loss_by_hand() {
        let (new, old, ret) = (
            Tensor::from_slice(&[1.0f32]),
            Tensor::from_slice(&[0.0f32]),
            Tensor::from_slice(&[2.0f32]),
        );
        // Unclipped (1 − 2)² = 1; clipped V = 0.2 → (0.2 − 2)² = 3.24.
        let l = clipped_value_loss(&new, &old, &ret, 0.2, true).double_value(&[]);
        assert!((l - 1.62).abs() < 1e-6, "{l}");
        let l = clipped_value_loss(&new, &old, &ret, 0.2, false).double_value(&[]);
        assert!((l - 0.5).abs() < 1e-6, "{l}");
    }

    #[test]
    fn plackett_luce_matches_the_policy_crate_and_ignores_padding() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (b, l) = (6usize, 9usize);
        let mut scores = vec![0.0f32; b * l];
        let mut valid = vec![false; b * l];
        let mut depth = vec![0i64; b];
        let mut want = Vec::new();
        for row in 0..b {
            let n = rng.gen_range(1..=l);
            let d = rng.gen_range(1..=n);
            let s: Vec<f32> = (0..n).map(|_| rng.gen_range(-3.0..3.0)).collect();
            scores[row * l..row * l + n].copy_from_slice(&s);
            // Garbage in the padding must not matter.
            for x in &mut scores[row * l + n..(row + 1) * l] {
                *x = rng.gen_range(50.0..100.0);
            }
            valid[row * l..row * l + n].fill(true);
            depth[row] = d as i64;
            let order: Vec<usize> = (0..d).collect();
            want.push(policy::nn::plackett_luce_log_prob(&s, &order).unwrap() as f32);
        }
        let st = Tensor::from_slice(&scores).view([b as i64, l as i64]);
        let vt = Tensor::from_slice(&valid).view([b as i64, l as i64]);
        let (logp, ent) = plackett_luce(&st, &vt, &Tensor::from_slice(&depth));
        assert!(
            close(&vec1(&logp), &want, 1e-4),
            "{:?} vs {want:?}",
            vec1(&logp)
        );
        assert!(vec1(&ent).iter().all(|e| e.is_finite() && *e >= -1e-6));
    }

    #[test]
    fn plackett_luce_entropy_of_one_pick_is_the_softmax_entropy() {
        let s = [0.3f32, -1.0, 2.0];
        let z: f64 = s.iter().map(|&x| (x as f64).exp()).sum();
        let h: f64 = s
            .iter()
            .map(|&x| {
                let p = (x as f64).exp() / z;
                -p * p.ln()
            })
            .sum();
        let (_, ent) = plackett_luce(
            &Tensor::from_slice(&s).view([1, 3]),
            &Tensor::ones([1, 3], (Kind::Bool, Device::Cpu)),
            &Tensor::from_slice(&[1i64]),
        );
        assert!((ent.double_value(&[0]) - h).abs() < 1e-5);
        // A one-job decision has log-probability 0 and no entropy.
        let (lp, ent) = plackett_luce(
            &Tensor::from_slice(&[4.0f32, 0.0]).view([1, 2]),
            &Tensor::from_slice(&[true, false]).view([1, 2]),
            &Tensor::from_slice(&[1i64]),
        );
        assert!(lp.double_value(&[0]).abs() < 1e-6 && ent.double_value(&[0]).abs() < 1e-6);
        // A decision without a choice (every job past the max-wait guard):
        // depth 0, no choice rows, beside a row that has one.
        let (lp, ent) = plackett_luce(
            &Tensor::from_slice(&[4.0f32, 1.0, 0.5, 2.0]).view([2, 2]),
            &Tensor::from_slice(&[false, false, true, true]).view([2, 2]),
            &Tensor::from_slice(&[0i64, 1]),
        );
        assert_eq!(lp.double_value(&[0]), 0.0);
        assert_eq!(ent.double_value(&[0]), 0.0);
        assert!(lp.double_value(&[1]) < 0.0 && ent.double_value(&[1]) > 0.0);
    }

    #[test]
    fn sampled_ranking_sorts_the_noisy_scores_and_is_reproducible() {
        let s = [0.0f32, 1.0, -1.0, 0.5, 0.5];
        let (noisy, order) = sample_ranking(&s, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(order.windows(2).all(|w| noisy[w[0]] >= noisy[w[1]]));
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        assert_eq!(
            sample_ranking(&s, &mut ChaCha8Rng::seed_from_u64(1)).1,
            order
        );
        // A big score gap wins almost always.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let wins = (0..200)
            .filter(|_| sample_ranking(&[10.0, 0.0], &mut rng).1[0] == 0)
            .count();
        assert!(wins > 195, "{wins}");
    }

    #[test]
    fn critic_ignores_padding() {
        tch::manual_seed(0);
        let agent = Agent::new(Device::Cpu, &[8, 4], Activation::Tanh, 0.01);
        let x = Tensor::randn([1, 3, N_FEATURES as i64], (Kind::Float, Device::Cpu));
        let v = agent.value(&x, &Tensor::ones([1, 3], (Kind::Bool, Device::Cpu)));
        let padded = Tensor::cat(
            &[
                &x,
                &(Tensor::ones([1, 2, N_FEATURES as i64], (Kind::Float, Device::Cpu)) * 100.0),
            ],
            1,
        );
        let mask = Tensor::from_slice(&[true, true, true, false, false]).view([1, 5]);
        let vp = agent.value(&padded, &mask);
        assert!((v.double_value(&[0]) - vp.double_value(&[0])).abs() < 1e-5);
    }

    #[test]
    fn exported_model_scores_like_the_tch_actor() {
        tch::manual_seed(11);
        let agent = Agent::new(Device::Cpu, &[32, 16, 8], Activation::Relu, 0.01);
        // Make the last layer as large as the others, so scores are not ~0.
        tch::no_grad(|| {
            let (w, _) = &agent.actor[3];
            let _ = w.shallow_clone().g_mul_scalar_(100.0);
        });
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let rows: Vec<Vec<f32>> = (0..64)
            .map(|_| (0..N_FEATURES).map(|_| rng.gen_range(-5.0..5.0)).collect())
            .collect();
        let spec = FeatureSpec::current(Normalizer::fit(&rows).unwrap());
        let model = agent
            .to_model(spec.clone(), "test".into(), serde_json::json!({}))
            .unwrap();
        // 1. Raw forward passes agree on random inputs.
        let flat: Vec<f32> = rows.concat();
        let mut plain = vec![0.0f32; rows.len()];
        model.mlp().score_batch(&flat, &mut plain).unwrap();
        let x = Tensor::from_slice(&flat).view([rows.len() as i64, N_FEATURES as i64]);
        let tch_scores = vec1(&tch::no_grad(|| agent.scores(&x)));
        assert!(plain.iter().any(|s| s.abs() > 1e-3), "scores are all ~0");
        assert!(
            close(&plain, &tch_scores, 1e-5),
            "{plain:?} vs {tch_scores:?}"
        );
        // 2. Through the model file and LearnedPolicy, from JobObs.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.safetensors");
        model.save(&path).unwrap();
        let mut learned = policy::LearnedPolicy::load(&path).unwrap();
        let ctx = QueueContext {
            now: 1_000_000,
            free_cpus: 10,
            total_cpus: 100,
            free_gpus: 1,
            total_gpus: 8,
            queue_len: 5,
            running: 7,
        };
        let jobs: Vec<JobObs> = (0..5)
            .map(|i| JobObs {
                id: i,
                submit: 999_000,
                wait: 100 * i + 5,
                time_limit: 3600 * (i + 1),
                nodes: 1 + i as u32,
                cpus: 4 * (1 + i as u32),
                mem_mb: 1000 * (i + 1),
                gpus: i as u32 % 2,
                fits_now: i % 2 == 0,
                partition_tier: 1,
                qos: 0.5,
                fairshare: 0.1 * i as f64,
                multifactor: 1000.0 * i as f64,
            })
            .collect();
        let mut out = vec![0.0f64; jobs.len()];
        policy::Policy::score(&mut learned, &ctx, &jobs, &mut out);
        let mut feats = Vec::new();
        for j in &jobs {
            let mut f = policy::features::features_array(j, &ctx);
            spec.normalizer.apply(&mut f);
            feats.extend_from_slice(&f);
        }
        let x = Tensor::from_slice(&feats).view([jobs.len() as i64, N_FEATURES as i64]);
        let want = vec1(&tch::no_grad(|| agent.scores(&x)));
        let got: Vec<f32> = out.iter().map(|&v| v as f32).collect();
        assert!(close(&got, &want, 1e-5), "{got:?} vs {want:?}");
    }

    /// Fits a fresh actor with `warm` on random jobs and returns the share
    /// of job pairs it orders as `want` scores them.
    fn init_order_agreement(
        warm: WarmStart,
        want: impl Fn(&[JobObs], &QueueContext) -> Vec<f64>,
    ) -> f64 {
        tch::manual_seed(3);
        let agent = Agent::new(Device::Cpu, &[32, 16, 8], Activation::Relu, 0.01);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let ctx = QueueContext {
            now: 1_000_000,
            free_cpus: 10,
            total_cpus: 128,
            queue_len: 20,
            running: 5,
            ..Default::default()
        };
        let jobs: Vec<JobObs> = (0..2000)
            .map(|i| JobObs {
                id: i,
                wait: rng.gen_range(0..200_000),
                time_limit: rng.gen_range(60..200_000),
                nodes: 1,
                cpus: rng.gen_range(1..128),
                ..Default::default()
            })
            .collect();
        let raw: Vec<Vec<f32>> = jobs
            .iter()
            .map(|j| policy::features::features_array(j, &ctx).to_vec())
            .collect();
        let norm = Normalizer::fit(&raw).unwrap();
        init_actor(&agent, warm, &norm, &raw, 4.0, &mut rng, Device::Cpu).unwrap();
        let model = agent
            .to_model(
                FeatureSpec::current(norm),
                "t".into(),
                serde_json::json!({}),
            )
            .unwrap();
        let mut learned = policy::LearnedPolicy::new(model);
        let mut got = vec![0.0; jobs.len()];
        policy::Policy::score(&mut learned, &ctx, &jobs, &mut got);
        let want = want(&jobs, &ctx);
        // Pairwise order agreement (Kendall-style) on a sample of pairs.
        let (mut agree, mut total) = (0, 0);
        for i in (0..jobs.len()).step_by(7) {
            for j in (1..jobs.len()).step_by(11) {
                if i == j || want[i] == want[j] {
                    continue;
                }
                total += 1;
                if (got[i] > got[j]) == (want[i] > want[j]) {
                    agree += 1;
                }
            }
        }
        agree as f64 / total as f64
    }

    const TEST_AGING: Aging = Aging {
        offset: 3600.0,
        time_power: 0.6,
        cpu_power: 0.15,
    };

    #[test]
    fn init_unicep_ranks_like_unicep() {
        let frac = init_order_agreement(WarmStart::Unicep, |jobs, ctx| {
            let mut want = vec![0.0; jobs.len()];
            policy::Policy::score(
                sim::baselines::by_name("unicep").unwrap().as_mut(),
                ctx,
                jobs,
                &mut want,
            );
            want
        });
        assert!(frac > 0.9, "only {frac} of pairs in UNICEP's order");
    }

    #[test]
    fn init_aging_ranks_like_the_aging_score() {
        let frac = init_order_agreement(WarmStart::Aging(TEST_AGING), |jobs, ctx| {
            let (mut aging, mut want) = (TEST_AGING, vec![0.0; jobs.len()]);
            policy::Policy::score(&mut aging, ctx, jobs, &mut want);
            want
        });
        assert!(frac > 0.9, "only {frac} of pairs in the aging order");
    }

    #[test]
    fn parameter_names_are_the_model_files() {
        let agent = Agent::new(Device::Cpu, &[4, 3], Activation::Relu, 0.01);
        let mut names: Vec<String> = agent.vs.variables().into_keys().collect();
        names.sort();
        for i in 1..=3 {
            assert!(names.contains(&policy::model::weight_name(i)), "{names:?}");
            assert!(names.contains(&policy::model::bias_name(i)), "{names:?}");
        }
        assert!(names.contains(&"critic/l1/weight".to_string()));
        assert!(names.contains(&"critic/out/bias".to_string()));
    }

    /// Parses `train` options as the command line would.
    fn parse_args(extra: &[&str]) -> Args {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct W {
            #[command(flatten)]
            a: Args,
        }
        let mut argv = vec!["train", "--trace", "t.jsonl", "--quiet"];
        argv.extend_from_slice(extra);
        W::parse_from(argv).a
    }

    /// A small PPO run: two updates of a 6-wide actor, one validation
    /// window, no checkpoints.
    const SMALL_PPO: [&str; 8] = [
        "--total-updates",
        "2",
        "--hidden",
        "6",
        "--val-sequences",
        "1",
        "--checkpoint-every",
        "0",
    ];

    /// A synthetic workload of `jobs` jobs on four 8-GPU nodes: queues long
    /// enough for the order to matter and for jobs to wait.
    fn busy_workload(jobs: usize) -> (Trace, Cluster) {
        let mut cfg = sim::synth::SynthConfig {
            jobs,
            seed: 3,
            ..Default::default()
        };
        cfg.cluster.nodes = 4;
        sim::synth::generate(&cfg).unwrap()
    }

    /// A run on [`busy_workload`]`(400)` whose last 80 jobs validate:
    /// the workload, the output directory and the common arguments
    /// (`--out`, `--jobs-per-episode k`, `--val-sequences n`, no
    /// checkpoints).
    fn held_out_run(k: usize, n: usize) -> (Trace, Cluster, tempfile::TempDir, Vec<String>) {
        let (trace, cluster) = busy_workload(400);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap().to_string();
        let args = [
            "--out",
            &out,
            "--jobs-per-episode",
            &k.to_string(),
            "--val-sequences",
            &n.to_string(),
            "--val-fraction",
            "0.2",
            "--checkpoint-every",
            "0",
        ]
        .map(String::from)
        .to_vec();
        (trace, cluster, dir, args)
    }

    #[test]
    fn the_warm_start_is_a_candidate_model() {
        let (trace, cluster, dir, common) = held_out_run(60, 3);
        let base: Vec<&str> = common
            .iter()
            .map(String::as_str)
            .chain(["--hidden", "6"])
            .collect();
        // With --init and no update, the fitted warm start is validated as
        // update 0 and written.
        let warm = [&base[..], &["--init", "aging", "--aging-offset", "30m"]].concat();
        let args = parse_args(&[&warm[..], &["--total-updates", "0"]].concat());
        assert_eq!(args.aging_offset, 1800);
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        assert_eq!(o.chosen_update, 0);
        assert_eq!(o.val_starts.len(), 3);
        let file = policy::Model::load(dir.path().join("model.safetensors")).unwrap();
        assert_eq!(file.mlp(), o.model.mlp());
        // Two updates with a step so large that they scramble the order:
        // only the warm start, validated as update 0, can beat them.
        let args = parse_args(
            &[
                &warm[..],
                &["--total-updates", "2", "--learning-rate", "1000"],
            ]
            .concat(),
        );
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        assert_eq!(o.chosen_update, 0);
        // A random actor is no model: it needs an update.
        let args = parse_args(&[&base[..], &["--total-updates", "0"]].concat());
        assert!(train(&args, trace, cluster).is_err());
    }

    #[test]
    fn curves_csv_is_read_back_by_column_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.csv");
        // An older file: no long-validation columns, and one column we no
        // longer write.
        let old: Vec<&str> = METRICS
            .iter()
            .copied()
            .filter(|m| !m.starts_with("sched/val_long"))
            .chain(["sched/retired"])
            .collect();
        let row = |u: usize| -> String {
            (0..old.len())
                .map(|i| {
                    if i == 0 {
                        u.to_string()
                    } else {
                        format!("{}", i as f64 / 2.0)
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        };
        std::fs::write(
            &path,
            format!("{}\n{}\n{}\n1,2\n", old.join(","), row(1), row(2)),
        )
        .unwrap();
        let rows = read_csv(&path);
        // The short line is dropped; the others come back in METRICS order.
        assert_eq!(rows.len(), 2);
        let col = |m: &str| METRICS.iter().position(|x| *x == m).unwrap();
        for (u, r) in rows.iter().enumerate() {
            assert_eq!(r.len(), METRICS.len());
            assert_eq!(r[0], (u + 1) as f64);
            let i = old.iter().position(|m| *m == "sched/val_wait_p99").unwrap();
            assert_eq!(r[col("sched/val_wait_p99")], i as f64 / 2.0);
            assert!(r[col("sched/val_long_bsld")].is_nan());
        }
        // A file that is not a curves file gives nothing.
        std::fs::write(&path, "a,b\n1,2\n").unwrap();
        assert!(read_csv(&path).is_empty());
    }

    #[test]
    fn long_validation_windows_are_cut_from_the_validation_jobs() {
        let (trace, cluster, _dir, common) = held_out_run(30, 2);
        let extra = ["--hidden", "6", "--init", "unicep"];
        let none = ["--total-updates", "0"];
        let base: Vec<&str> = common.iter().map(String::as_str).chain(extra).collect();
        let args = parse_args(&[&base[..], &["--val-long-jobs", "70"], &none[..]].concat());
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        let (_, (v0, v1)) = o.split;
        assert_eq!(o.val_long_starts, vec![v0, v1 - 70]);
        assert_eq!(o.val_starts, vec![v0, v1 - 30]);
        // One update: its row holds both validations, and slurm's on both.
        let col = |m: &str| METRICS.iter().position(|x| *x == m).unwrap();
        let one = ["--total-updates", "1", "--val-every", "1"];
        let args = parse_args(&[&base[..], &["--val-long-jobs", "70"], &one[..]].concat());
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        let long = [
            "sched/val_long_bsld",
            "sched/val_long_bsld_slurm",
            "sched/val_long_wait_p99",
            "sched/val_long_wait_p99_slurm",
        ];
        let row = &o.curves[0];
        for m in long
            .iter()
            .chain(&["sched/val_bsld", "sched/val_bsld_slurm"])
        {
            assert!(
                row[col(m)].is_finite() && row[col(m)] >= 0.0,
                "{m}: {}",
                row[col(m)]
            );
        }
        // Longer windows queue more: slurm's bsld differs between the two.
        assert_ne!(
            row[col("sched/val_long_bsld_slurm")],
            row[col("sched/val_bsld_slurm")]
        );
        // Without --val-long-jobs the long columns are not measured.
        let args = parse_args(&[&base[..], &one[..]].concat());
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        for m in long {
            assert!(o.curves[0][col(m)].is_nan(), "{m}");
        }
        // Longer than the validation part, or zero: refused.
        for bad in ["81", "0"] {
            let args = parse_args(&[&base[..], &["--val-long-jobs", bad], &none[..]].concat());
            assert!(
                train(&args, trace.clone(), cluster.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_cem_stage_finds_a_linear_actor_better_than_slurm() {
        let (trace, cluster, dir, common) = held_out_run(150, 1);
        let out = dir.path().to_str().unwrap().to_string();
        let extra = [
            "--linear",
            "--cem-windows",
            "3",
            "--cem-pop",
            "12",
            "--cem-elite",
            "3",
        ];
        let base: Vec<&str> = common.iter().map(String::as_str).chain(extra).collect();
        let args =
            parse_args(&[&base[..], &["--cem-iters", "10", "--total-updates", "0"]].concat());
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        assert!(o.model.mlp().architecture().hidden.is_empty());
        assert_eq!(o.chosen_update, 0, "the CEM's model is the one validated");
        let rows = &o.cem_log;
        assert_eq!(rows.len(), 10);
        assert!(rows.windows(2).all(|w| w[1][1] <= w[0][1]));
        let csv = std::fs::read_to_string(dir.path().join("cem.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 10);
        // The cost is the bsld relative to slurm's on the same windows: the
        // search must find an order clearly better than slurm's there.
        let best = rows.last().unwrap()[1];
        assert!(best < 0.93, "CEM cost {best} (1 = slurm's bsld)");
        // With --max-wait the guard is part of what is searched, validated
        // and written.
        let args = parse_args(
            &[
                &base[..],
                &[
                    "--cem-iters",
                    "2",
                    "--total-updates",
                    "0",
                    "--max-wait",
                    "1h",
                ],
            ]
            .concat(),
        );
        let o = train(&args, trace.clone(), cluster.clone()).unwrap();
        assert_eq!(o.model.max_wait, Some(3600));
        let file = policy::Model::load(dir.path().join("model.safetensors")).unwrap();
        assert_eq!(file.max_wait, Some(3600));
        // Misuse is refused before any work.
        for bad in [
            vec!["--linear", "--cem-iters", "2", "--max-wait", "0"],
            vec!["--cem-iters", "2"],
            vec!["--linear", "--total-updates", "0"],
            vec!["--linear", "--cem-iters", "2", "--cem-elite", "30"],
        ] {
            let a = parse_args(&[&["--out", &out][..], &bad[..]].concat());
            assert!(
                train(&a, trace.clone(), cluster.clone()).is_err(),
                "{bad:?}"
            );
        }
    }

    /// With a guard so short that most queued jobs pass it, PPO still
    /// trains: the guarded jobs are left out of the policy's rankings (so
    /// many decisions have no choice, depth 0) and the losses stay finite.
    #[test]
    fn ppo_trains_on_the_jobs_below_the_max_wait_guard() {
        let (trace, cluster) = busy_workload(200);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().to_str().unwrap().to_string();
        let run = |max_wait: &str| {
            let args = parse_args(
                &[
                    &["--out", &out, "--jobs-per-episode", "100"][..],
                    &["--episodes-per-update", "2", "--max-wait", max_wait],
                    &SMALL_PPO,
                ]
                .concat(),
            );
            train(&args, trace.clone(), cluster.clone()).unwrap()
        };
        let short = run("60");
        assert_eq!(short.model.max_wait, Some(60));
        let col = |o: &Outcome, m: &str| {
            let i = METRICS.iter().position(|x| *x == m).unwrap();
            o.curves.iter().map(|r| r[i]).collect::<Vec<f64>>()
        };
        for m in ["losses/policy_loss", "losses/value_loss", "losses/entropy"] {
            assert!(col(&short, m).iter().all(|v| v.is_finite()), "{m}");
        }
        // The guard changes what the policy decides: fewer jobs to rank
        // means a smaller entropy than with a guard no job reaches.
        let long = run("365d");
        let ent = |o: &Outcome| col(o, "losses/entropy")[0];
        assert!(
            ent(&short) < ent(&long),
            "{} vs {}",
            ent(&short),
            ent(&long)
        );
    }
}
