//! `slurm-rl rlscheduler-train --algo dqn`: deep Q-learning in the
//! RLScheduler-style environment ([`crate::rlenv`]), the value-based agent
//! beside PPO ([`crate::rltrain`]).
//!
//! **The Q-network ends in the model file's actor.** It is a dueling network
//! (Wang et al. 2016): Q(s, pick job j) = V(s) + A(s, j) − mean over the
//! visible jobs of A(s, ·), where A is the per-job kernel network of the
//! model file (the actor) and V the critic pooled over the visible jobs.
//! The greedy pick on Q is the greedy pick on the actor's scores, which is
//! what a model's scores already mean everywhere else (`slurm-rl
//! rlscheduler`, `evaluate`, `explain`, the plugin), so a DQN model is used
//! exactly like a PPO one. V carries the value of the state, which differs
//! by window and by moment far more than the jobs of one queue differ from
//! each other; a per-job network alone would have to carry it in every
//! job's score (`--dqn-dueling false`: Q = the actor's score).
//!
//! **The algorithm** (Mnih et al., Nature 2015, with the usual extensions;
//! every number is a `--dqn-*` option):
//! - ε-greedy exploration: ε falls linearly from `--dqn-eps-start` to
//!   `--dqn-eps-end` over the first `--dqn-eps-fraction` of the decisions;
//! - a replay buffer of the last `--dqn-buffer` decisions, sampled
//!   uniformly: from `--dqn-learning-starts` decisions on, one minibatch of
//!   `--dqn-batch` for every `--dqn-train-every` decisions, taken when the
//!   episode that made them ends (its reward is known only then);
//! - n-step returns (`--dqn-n-step`) bootstrapped from a target network
//!   that copies the online one every `--dqn-target-every` gradient steps,
//!   with the double-DQN target (the online network picks the next job, the
//!   target network values it);
//! - the Huber loss, Adam (`--learning-rate`), gradient clipping
//!   (`--max-grad-norm`).
//!
//! **The reward.** RLScheduler's is −(mean bounded slowdown of the window)
//! at its end and 0 before. Windows differ in load by two orders of
//! magnitude, so one Q-network cannot fit those returns on one scale (PPO
//! has the same problem and normalizes within a group of episodes on one
//! window). DQN learns on `r = −ln(bsld / bsld_F1)`, `bsld_F1` being F1's
//! mean bounded slowdown on the same window: 0 for a tie with F1, positive
//! when the episode beats it. Within a window the environment is
//! deterministic, and a strictly increasing function of the final reward
//! leaves the best sequence of picks unchanged; it only puts every window's
//! targets on one scale. No discount: episodes are finite and only their
//! end is rewarded.
//!
//! Decisions with one visible job are not recorded (there is no choice);
//! n counts recorded decisions. Every `--dqn-val-every` decisions (and at
//! the end) the greedy policy runs on the validation windows and the best
//! one is kept, as PPO does.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};
use policy::Model;
use policy::features::N_FEATURES;
use rand::Rng;
use sim::rlsched::{self, Key};
use tch::nn::OptimizerConfig;
use tch::{Device, Kind, Reduction, Tensor, nn};

use crate::ppo::Agent;
use crate::rlenv;
use crate::rltrain::{Args, Backfill, Outcome, Setup};

/// The columns of a DQN run's `curves.csv`: one row per validation.
pub const CURVES: &str =
    "decisions,train_bsld,val_bsld,epsilon,td_loss,mean_q,grad_steps,decisions_per_s";

/// The DQN's options (`rlscheduler-train --algo dqn`).
#[derive(clap::Args, Debug, Clone, serde::Serialize)]
pub struct DqnArgs {
    /// DQN: decisions to learn from (steps with more than one visible
    /// job; the episode under way when they are reached is finished).
    #[arg(long, default_value_t = 200_000)]
    pub dqn_steps: u64,
    /// DQN: decisions kept in the replay buffer (the oldest go first).
    #[arg(long, default_value_t = 20_000)]
    pub dqn_buffer: usize,
    /// DQN: decisions collected before the first gradient step.
    #[arg(long, default_value_t = 5_000)]
    pub dqn_learning_starts: u64,
    /// DQN: one gradient step every this many decisions.
    #[arg(long, default_value_t = 4)]
    pub dqn_train_every: u64,
    /// DQN: decisions per gradient step.
    #[arg(long, default_value_t = 64)]
    pub dqn_batch: usize,
    /// DQN: decisions in the multi-step return before it bootstraps (at
    /// least an episode's decisions: Monte Carlo returns, no bootstrap).
    #[arg(long, default_value_t = 256)]
    pub dqn_n_step: u64,
    /// DQN: gradient steps between copies of the online network into the
    /// target network.
    #[arg(long, default_value_t = 500)]
    pub dqn_target_every: u64,
    /// DQN: ε (the chance of a uniformly random pick) at the start.
    #[arg(long, default_value_t = 1.0)]
    pub dqn_eps_start: f64,
    /// DQN: ε once the decay is over.
    #[arg(long, default_value_t = 0.05)]
    pub dqn_eps_end: f64,
    /// DQN: the share of --dqn-steps over which ε decays linearly.
    #[arg(long, default_value_t = 0.3)]
    pub dqn_eps_fraction: f64,
    /// DQN: validate the greedy policy every this many decisions (and at
    /// the end); the best one is kept.
    #[arg(long, default_value_t = 20_000)]
    pub dqn_val_every: u64,
    /// DQN: Q = the critic's state value + the actor's centred job score
    /// (a dueling network); false: Q = the actor's score alone.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub dqn_dueling: bool,
}

impl Default for DqnArgs {
    /// The command line's defaults.
    fn default() -> Self {
        DqnArgs {
            dqn_steps: 200_000,
            dqn_buffer: 20_000,
            dqn_learning_starts: 5_000,
            dqn_train_every: 4,
            dqn_batch: 64,
            dqn_n_step: 256,
            dqn_target_every: 500,
            dqn_eps_start: 1.0,
            dqn_eps_end: 0.05,
            dqn_eps_fraction: 0.3,
            dqn_val_every: 20_000,
            dqn_dueling: true,
        }
    }
}

impl DqnArgs {
    /// Rejects settings that cannot work.
    fn check(&self) -> Result<()> {
        let prob = |x: f64| (0.0..=1.0).contains(&x);
        if self.dqn_steps == 0
            || self.dqn_buffer == 0
            || self.dqn_train_every == 0
            || self.dqn_batch == 0
            || self.dqn_n_step == 0
            || self.dqn_target_every == 0
            || self.dqn_val_every == 0
        {
            bail!(
                "--dqn-steps, --dqn-buffer, --dqn-train-every, --dqn-batch, --dqn-n-step, --dqn-target-every and --dqn-val-every must be ≥ 1"
            );
        }
        if !(prob(self.dqn_eps_start) && prob(self.dqn_eps_end) && prob(self.dqn_eps_fraction)) {
            bail!("--dqn-eps-start, --dqn-eps-end and --dqn-eps-fraction must lie in [0, 1]");
        }
        Ok(())
    }

    /// ε after `decisions` decisions.
    pub fn epsilon(&self, decisions: u64) -> f64 {
        let span = self.dqn_eps_fraction * self.dqn_steps as f64;
        let f = if span > 0.0 {
            (decisions as f64 / span).min(1.0)
        } else {
            1.0
        };
        self.dqn_eps_start + f * (self.dqn_eps_end - self.dqn_eps_start)
    }
}

/// The learning target of recorded decision `g` of an episode whose last
/// recorded decision is `last`, with `n`-step returns: `None` when the
/// episode ends within `n` decisions (the target is its reward), else the
/// decision whose state the return bootstraps from.
pub fn bootstrap_from(g: u64, last: u64, n: u64) -> Option<u64> {
    debug_assert!(g <= last);
    let k = g + n;
    (k <= last).then_some(k)
}

/// The DQN's reward for an episode of mean bounded slowdown `bsld` on a
/// window where F1 reaches `f1`: `−ln(bsld / f1)` (both are at least 1).
pub fn reward(bsld: f64, f1: f64) -> f64 {
    -(bsld.max(1.0) / f1.max(1.0)).ln()
}

/// One recorded decision.
struct Decision {
    /// `n × N_FEATURES` normalized features.
    features: Vec<f32>,
    n: usize,
    action: usize,
    /// The number of the episode's last recorded decision.
    last: u64,
    /// The episode's reward ([`reward`]).
    reward: f32,
}

/// The replay buffer: recorded decisions numbered from 0 in the order they
/// were made, the last `cap` of them kept. Whole episodes enter at once
/// (their reward is known only at the end), so a kept decision's
/// bootstrap state, which comes later in its episode, is kept too.
struct Replay {
    items: VecDeque<Decision>,
    /// The number of `items[0]`.
    first: u64,
    cap: usize,
}

impl Replay {
    fn new(cap: usize) -> Self {
        Replay {
            items: VecDeque::new(),
            first: 0,
            cap,
        }
    }

    /// Appends an episode's decisions: (features, n, action) each.
    fn push_episode(&mut self, episode: Vec<(Vec<f32>, usize, usize)>, reward: f64) {
        if episode.is_empty() {
            return; // A window without a choice teaches nothing.
        }
        let last = self.first + (self.items.len() + episode.len()) as u64 - 1;
        for (features, n, action) in episode {
            self.items.push_back(Decision {
                features,
                n,
                action,
                last,
                reward: reward as f32,
            });
        }
        while self.items.len() > self.cap {
            self.items.pop_front();
            self.first += 1;
        }
    }

    fn get(&self, g: u64) -> &Decision {
        &self.items[(g - self.first) as usize]
    }
}

/// Pads states to a batch: `x [B, L, N_FEATURES]` and `valid [B, L]`, `L`
/// the largest `n`.
fn pad(states: &[&Decision]) -> (Tensor, Tensor) {
    let l = states.iter().map(|d| d.n).max().unwrap_or(1).max(1);
    let b = states.len();
    let mut x = vec![0.0f32; b * l * N_FEATURES];
    let mut valid = vec![false; b * l];
    for (row, d) in states.iter().enumerate() {
        let off = row * l * N_FEATURES;
        x[off..off + d.features.len()].copy_from_slice(&d.features);
        valid[row * l..row * l + d.n].fill(true);
    }
    (
        Tensor::from_slice(&x).view([b as i64, l as i64, N_FEATURES as i64]),
        Tensor::from_slice(&valid).view([b as i64, l as i64]),
    )
}

/// Q of every row of padded states `x [B, L, N_FEATURES]`, `valid [B, L]`,
/// as a dueling network: the critic's value of the state plus the actor's
/// score of the job less the mean score of the state's valid jobs. The
/// greedy pick on Q is the greedy pick on the actor's scores, so the model
/// file (the actor alone) acts as the learned Q does.
pub fn q_values(agent: &Agent, dueling: bool, x: &Tensor, valid: &Tensor) -> Tensor {
    let a = agent.scores(x);
    if !dueling {
        return a;
    }
    let m = valid.to_kind(Kind::Float);
    let mean = (&a * &m).sum_dim_intlist(-1, true, Kind::Float)
        / m.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0);
    agent.value(x, valid).unsqueeze(-1) + a - mean
}

/// The double-DQN value of padded states: the target network's Q of the
/// job the online network ranks first, among the valid rows only.
pub fn double_q(online: &Tensor, target: &Tensor, valid: &Tensor) -> Tensor {
    let pick = online
        .masked_fill(&valid.logical_not(), f64::NEG_INFINITY)
        .argmax(-1, true);
    target.gather(-1, &pick, false).squeeze_dim(-1)
}

/// Trains by DQN as `a` says on `trace` (`a.algo` is `dqn`).
pub fn train(a: &Args, trace: Arc<rlsched::CompatTrace>) -> Result<Outcome> {
    let d = &a.dqn;
    d.check()?;
    if a.imitate.is_some() || a.cem.cem_iters > 0 {
        bail!("--imitate and --cem-iters are PPO's stages: leave them out with --algo dqn");
    }
    let Setup {
        mut rng,
        split,
        val_len,
        spec,
        mut env,
        val_heuristics,
        ..
    } = crate::rltrain::setup(a, &trace)?;
    let len = a.jobs_per_episode;
    let backfill = a.backfill == Backfill::Yes;
    let hidden: Vec<usize> = if a.linear {
        Vec::new()
    } else {
        a.hidden.clone()
    };
    let online = Agent::new(Device::Cpu, &hidden, a.activation.into(), a.actor_out_gain);
    let mut target = Agent::new(Device::Cpu, &hidden, a.activation.into(), a.actor_out_gain);
    target.vs.copy(&online.vs)?;
    let mut opt = nn::Adam::default().build(&online.vs, a.learning_rate)?;
    let reward_text = "rlscheduler: -mean bsld of the window at its end (learned as -ln(bsld / F1's bsld on the window))".to_string();
    let meta = |decisions: u64| {
        serde_json::json!({
            "algorithm": if d.dqn_dueling {
                "double DQN with n-step returns, dueling: Q = critic value + centred per-job score (the model is the per-job network) in the RLScheduler-style environment"
            } else {
                "double DQN with n-step returns (Q = the per-job score of the visible job) in the RLScheduler-style environment"
            },
            "environment": "rlscheduler",
            "trace": a.trace.display().to_string(),
            "backfill": a.backfill,
            "decisions": decisions,
            "val_starts": split.val_starts,
            "args": a,
        })
    };
    let pb = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let pb = indicatif::ProgressBar::new(d.dqn_steps);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} decisions ({elapsed}, eta {eta}) {msg}",
            )
            .expect("valid template"),
        );
        pb
    };

    let t0 = Instant::now();
    let mut replay = Replay::new(d.dqn_buffer);
    let mut mlp = online.actor_mlp()?;
    let mut scores: Vec<f32> = Vec::new();
    let (mut decisions, mut grad_steps) = (0u64, 0u64);
    let mut best: Option<(f64, usize, Model)> = None;
    let mut curves: Vec<[f64; 8]> = Vec::new();
    // Since the last curve row: episodes' bsld, TD losses, mean Q(s, a).
    let (mut ep_bsld, mut losses, mut qs) = (Vec::new(), Vec::new(), Vec::new());
    let mut t_row = Instant::now();
    let mut row_decisions = 0u64;
    let mut next_val = d.dqn_val_every;
    while decisions < d.dqn_steps {
        // --- one episode on a random training window, ε-greedy ---
        let start = split.sample(&mut rng);
        let f1 = rlsched::run_window(&trace, start, len, Key::F1, backfill)?.mean_bsld;
        let mut obs = env.reset_at(start, len)?;
        let mut episode: Vec<(Vec<f32>, usize, usize)> = Vec::new();
        let bsld = loop {
            let n = obs.n();
            let action = if n == 1 {
                0
            } else {
                let action = if rng.r#gen::<f64>() < d.epsilon(decisions) {
                    rng.gen_range(0..n)
                } else {
                    scores.resize(n, 0.0);
                    mlp.score_batch(&obs.features, &mut scores)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    argmax(&scores)
                };
                episode.push((std::mem::take(&mut obs.features), n, action));
                decisions += 1;
                action
            };
            let step = env.step(action)?;
            if step.terminated {
                break step.info.mean_bsld.unwrap_or(f64::NAN);
            }
            if step.truncated {
                bail!("a training episode was truncated (no --max-decisions is set here)");
            }
            obs = step.obs;
        };
        let steps = episode.len() as u64;
        replay.push_episode(episode, reward(bsld, f1));
        ep_bsld.push(bsld);

        // --- gradient steps for the decisions just made ---
        let from = decisions - steps;
        let due = (from + 1..=decisions)
            .filter(|k| *k > d.dqn_learning_starts && k % d.dqn_train_every == 0)
            .count();
        for _ in 0..due {
            let (loss, q) = gradient_step(a, &online, &target, &mut opt, &replay, &mut rng)?;
            losses.push(loss);
            qs.push(q);
            grad_steps += 1;
            if grad_steps % d.dqn_target_every == 0 {
                target.vs.copy(&online.vs)?;
            }
        }
        if due > 0 {
            mlp = online.actor_mlp()?;
        }
        row_decisions += steps;
        pb.set_position(decisions.min(d.dqn_steps));

        // --- validation, keep the best ---
        if decisions >= next_val || decisions >= d.dqn_steps {
            next_val = decisions + d.dqn_val_every;
            let m = online.to_model(spec.clone(), reward_text.clone(), meta(decisions))?;
            let v = rlenv::evaluate_model(&mut env, &m, &split.val_starts, val_len)?;
            let v = v.iter().sum::<f64>() / v.len().max(1) as f64;
            if best.as_ref().is_none_or(|b| v < b.0) {
                best = Some((v, decisions as usize, m));
            }
            let mean = |x: &[f64]| x.iter().sum::<f64>() / x.len().max(1) as f64;
            let sps = row_decisions as f64 / t_row.elapsed().as_secs_f64().max(1e-9);
            let train_bsld = mean(&ep_bsld);
            curves.push([
                decisions as f64,
                train_bsld,
                v,
                d.epsilon(decisions),
                mean(&losses),
                mean(&qs),
                grad_steps as f64,
                sps,
            ]);
            tracing::info!(decisions, train_bsld, val = v, sps, "validation");
            pb.set_message(format!(
                "train bsld {train_bsld:.1} val {v:.1} best {:.1} ε {:.2} dec/s {sps:.0}",
                best.as_ref().map_or(f64::NAN, |b| b.0),
                d.epsilon(decisions)
            ));
            (ep_bsld, losses, qs) = (Vec::new(), Vec::new(), Vec::new());
            t_row = Instant::now();
            row_decisions = 0;
        }
    }
    pb.finish_and_clear();
    let (best_val, best_update, model) = best.expect("the last decisions are validated");
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
        imitated: None,
        cem_starts: Vec::new(),
        cem_log: Vec::new(),
    })
}

/// The first index of the largest score (the greedy pick, as
/// [`rlenv::run_greedy`] breaks ties).
fn argmax(scores: &[f32]) -> usize {
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate() {
        if s > scores[best] {
            best = i;
        }
    }
    best
}

/// One minibatch of the Huber loss between Q(s, a) and the n-step
/// double-DQN target; returns the loss and the batch's mean Q(s, a).
fn gradient_step(
    a: &Args,
    online: &Agent,
    target: &Agent,
    opt: &mut nn::Optimizer,
    replay: &Replay,
    rng: &mut impl Rng,
) -> Result<(f64, f64)> {
    let d = &a.dqn;
    let len = replay.items.len() as u64;
    let picked: Vec<u64> = (0..d.dqn_batch)
        .map(|_| replay.first + rng.gen_range(0..len))
        .collect();
    let states: Vec<&Decision> = picked.iter().map(|&g| replay.get(g)).collect();
    // Targets: the episode's reward, or the bootstrapped value.
    let mut y: Vec<f32> = states.iter().map(|s| s.reward).collect();
    let boot: Vec<(usize, u64)> = picked
        .iter()
        .enumerate()
        .filter_map(|(i, &g)| bootstrap_from(g, states[i].last, d.dqn_n_step).map(|k| (i, k)))
        .collect();
    if !boot.is_empty() {
        let next: Vec<&Decision> = boot.iter().map(|&(_, k)| replay.get(k)).collect();
        let (x, valid) = pad(&next);
        let v = tch::no_grad(|| {
            double_q(
                &q_values(online, d.dqn_dueling, &x, &valid),
                &q_values(target, d.dqn_dueling, &x, &valid),
                &valid,
            )
        });
        let v = Vec::<f32>::try_from(v)?;
        for (&(i, _), v) in boot.iter().zip(v) {
            y[i] = v;
        }
    }
    let (x, valid) = pad(&states);
    let act: Vec<i64> = states.iter().map(|s| s.action as i64).collect();
    let act = Tensor::from_slice(&act).view([states.len() as i64, 1]);
    let q = q_values(online, d.dqn_dueling, &x, &valid)
        .gather(-1, &act, false)
        .squeeze_dim(-1);
    let loss = q.huber_loss(&Tensor::from_slice(&y), Reduction::Mean, 1.0);
    opt.zero_grad();
    loss.backward();
    opt.clip_grad_norm(a.max_grad_norm);
    opt.step();
    Ok((
        loss.double_value(&[]),
        q.mean(Kind::Float).double_value(&[]),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_step_targets_bootstrap_inside_the_episode_only() {
        // An episode of decisions 10..=14, 2-step returns.
        assert_eq!(bootstrap_from(10, 14, 2), Some(12));
        assert_eq!(bootstrap_from(12, 14, 2), Some(14));
        assert_eq!(bootstrap_from(13, 14, 2), None);
        assert_eq!(bootstrap_from(14, 14, 2), None);
        // One step: every decision but the last bootstraps from the next.
        assert_eq!(bootstrap_from(10, 14, 1), Some(11));
        assert_eq!(bootstrap_from(14, 14, 1), None);
    }

    #[test]
    fn the_reward_is_zero_at_f1_and_positive_when_better() {
        assert_eq!(reward(50.0, 50.0), 0.0);
        assert!(reward(25.0, 50.0) > 0.0);
        assert!((reward(25.0, 50.0) - 2f64.ln()).abs() < 1e-12);
        assert!(reward(100.0, 50.0) < 0.0);
        // Bounded slowdown is at least 1; a degenerate 0 does not blow up.
        assert_eq!(reward(0.0, 1.0), 0.0);
    }

    #[test]
    fn epsilon_decays_linearly_then_stays() {
        let d = DqnArgs {
            dqn_steps: 1000,
            dqn_eps_start: 1.0,
            dqn_eps_end: 0.1,
            dqn_eps_fraction: 0.5,
            ..DqnArgs::default()
        };
        assert_eq!(d.epsilon(0), 1.0);
        assert!((d.epsilon(250) - 0.55).abs() < 1e-12);
        assert!((d.epsilon(500) - 0.1).abs() < 1e-12);
        assert!((d.epsilon(900) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn the_replay_buffer_keeps_the_last_decisions_with_their_episode() {
        let dec = |k: usize| (vec![k as f32; N_FEATURES * 2], 2, k % 2);
        let mut r = Replay::new(5);
        r.push_episode((0..3).map(dec).collect(), 1.0);
        r.push_episode((3..7).map(dec).collect(), -2.0);
        // Decisions 0..=6 were made; 2..=6 are kept.
        assert_eq!((r.first, r.items.len()), (2, 5));
        assert_eq!(r.get(2).last, 2);
        assert_eq!(r.get(2).reward, 1.0);
        assert_eq!(r.get(3).last, 6);
        assert_eq!(r.get(6).reward, -2.0);
        assert_eq!(r.get(5).features[0], 5.0);
        // An episode without a choice adds nothing.
        r.push_episode(Vec::new(), 3.0);
        assert_eq!((r.first, r.items.len()), (2, 5));
    }

    #[test]
    fn the_double_q_target_ignores_padded_rows() {
        // Two states: 3 valid rows, and 1 valid row then padding whose
        // online score is the largest.
        let online = Tensor::from_slice(&[0.1f32, 0.9, 0.3, 0.2, 5.0, 7.0]).view([2, 3]);
        let target = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).view([2, 3]);
        let valid = Tensor::from_slice(&[true, true, true, true, false, false]).view([2, 3]);
        let v = Vec::<f32>::try_from(double_q(&online, &target, &valid)).unwrap();
        // Row 0: the online net ranks job 1 first, the target values it 2.
        // Row 1: only job 0 is real.
        assert_eq!(v, vec![2.0, 4.0]);
    }
}
