//! The training environment, shaped like a Gymnasium `Env`: [`Env::reset`]
//! starts an episode (one window of consecutive jobs replayed on an empty
//! cluster) and [`Env::step`] applies one action and returns the next
//! observation, the reward, `terminated`, `truncated` and an [`Info`].
//!
//! **Train what you deploy.** Inside Slurm the policy only sets priorities:
//! site_factor/rl scores a job at submit and every pending job every
//! `PriorityCalcPeriod`, and Slurm's main scheduler and backfill start jobs
//! in that order. The environment presents decisions exactly that way: an
//! observation is one call of [`policy::Policy::score`] made by the
//! unmodified simulator ([`sim::engine::simulate`]), i.e. every pending job
//! at a priority-recalculation instant, or the one new job at a submit; the
//! action is one score per observed job; the simulator's Slurm scheduling
//! then runs until the next such call.
//!
//! How, with no engine change: [`Env::play`] (what training uses) runs the
//! simulator on the caller's thread with an adapter policy ([`Inline`]) that
//! calls the caller's closure at every scoring call. [`Env::reset`] and
//! [`Env::step`] (the Gymnasium shape) run it on its own thread with an
//! adapter ([`Bridge`]) that hands each scoring call to `step` over a
//! channel and waits for the scores: two thread hand-offs per decision,
//! several times slower. Both give the same episodes for the same seed.
//!
//! **Rewards are known only after the fact.** Which jobs a decision let
//! start is known when they start, after later decisions. So the per-step
//! reward that [`Env::step`] returns is 0 until the episode ends, and the
//! last step's [`Info::episode_rewards`] carries the credit of every step of
//! the episode; the rollout collector writes those into its buffer. Step
//! `k`'s credit is the (negative) cost of the jobs that started in
//! `[t_k, t_{k+1})`, where `t_k` is the clock at decision `k` (a job that
//! starts at second `t` is credited to the last decision made at or before
//! `t`, because the schedulers run after the scoring calls of a second).
//! Utilization goes to the last step; the p99-wait guard is spread over the
//! decisions made while the starved jobs waited ([`episode_rewards`]).
//! Summed over an episode the credits are exactly `−(w_bsld·mean bsld + w_wait·mean wait/h) + w_util·util −
//! guard`, with means over the episode's jobs.
//!
//! **Truncation.** With [`EnvConfig::max_decisions`] an episode is cut after
//! that many decisions: `truncated` is true, the observation returned is
//! the next decision (for the bootstrap value), the rest of the window is
//! finished by Slurm's multifactor scores only to learn the start times, and
//! jobs that start at or after the cut earn no credit.
//!
//! This module owns the episode logic and the reward. It must not know the
//! network or PPO (those are in `ppo`), and must not change the simulator.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

use policy::features::{self, N_FEATURES, Normalizer};
use policy::{JobObs, Policy, QueueContext};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sim::cluster::Cluster;
use sim::engine::{self, SimConfig, SimError, SimResult};
use sim::metrics::{self, Metrics};
use sim::trace::{Job, Names};

/// What the reward measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RewardKind {
    /// −mean bounded slowdown (the default objective).
    Bsld,
    /// −mean wait, in hours.
    Wait,
    /// CPU utilization of the window's schedule (terminal only).
    Util,
    /// `w_bsld·bsld + w_wait·wait + w_util·util` with
    /// [`RewardConfig::weights`].
    Mix,
}

/// The reward, with its optional p99-wait guard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RewardConfig {
    /// What is measured.
    pub kind: RewardKind,
    /// `[w_bsld, w_wait, w_util]` for [`RewardKind::Mix`] (ignored otherwise).
    pub weights: [f64; 3],
    /// Guard: a terminal penalty of `guard_coef · max(0, p99 wait − this) /
    /// 3600` (seconds); `None` disables it.
    pub guard_p99_wait: Option<u64>,
    /// Guard relative to Slurm: the threshold is this many times the p99
    /// wait of the `slurm` baseline on the same window (replayed once per
    /// episode with the same simulator seed). With
    /// [`RewardConfig::guard_p99_wait`] too, the smaller threshold counts.
    pub guard_p99_ratio: Option<f64>,
    /// Weight of the guard penalty (per hour above the threshold).
    pub guard_coef: f64,
}

impl RewardConfig {
    /// The effective `[w_bsld, w_wait, w_util]`.
    pub fn effective_weights(&self) -> [f64; 3] {
        match self.kind {
            RewardKind::Bsld => [1.0, 0.0, 0.0],
            RewardKind::Wait => [0.0, 1.0, 0.0],
            RewardKind::Util => [0.0, 0.0, 1.0],
            RewardKind::Mix => self.weights,
        }
    }

    /// A one-line description, stored in the model file's `reward` key.
    pub fn describe(&self) -> String {
        let [b, w, u] = self.effective_weights();
        let mut s = format!("-({b}*mean_bsld + {w}*mean_wait_h) + {u}*cpu_util");
        let threshold = match (self.guard_p99_wait, self.guard_p99_ratio) {
            (Some(t), None) => Some(format!("{t}")),
            (None, Some(r)) => Some(format!("{r}*slurm_p99_wait_s")),
            (Some(t), Some(r)) => Some(format!("min({t}, {r}*slurm_p99_wait_s)")),
            (None, None) => None,
        };
        if let Some(t) = threshold {
            s.push_str(&format!(
                " - {}*max(0, p99_wait_s - {t})/3600",
                self.guard_coef
            ));
        }
        s
    }

    /// Whether the guard needs the `slurm` baseline's p99 wait per window.
    pub fn needs_slurm_p99(&self) -> bool {
        self.guard_p99_ratio.is_some()
    }

    /// The guard threshold in seconds, given the `slurm` baseline's p99 wait
    /// on the window (when [`RewardConfig::needs_slurm_p99`]).
    pub fn guard_threshold(&self, slurm_p99: Option<f64>) -> Option<f64> {
        let rel = self.guard_p99_ratio.zip(slurm_p99).map(|(r, p)| r * p);
        match (self.guard_p99_wait.map(|t| t as f64), rel) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Episode options.
#[derive(Debug, Clone)]
pub struct EnvConfig {
    /// Jobs per episode (the window length).
    pub jobs_per_episode: usize,
    /// Cut an episode after this many decisions (`truncated`); `None` = never.
    pub max_decisions: Option<usize>,
    /// Simulator options; the seed is replaced per episode.
    pub sim: SimConfig,
    /// The reward.
    pub reward: RewardConfig,
}

/// One decision point: every job to score, with its context and its
/// normalized features.
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// Queue and cluster context.
    pub ctx: QueueContext,
    /// The jobs to score (empty only for the final observation).
    pub jobs: Vec<JobObs>,
    /// Normalized features, `jobs.len() × N_FEATURES`, row-major, exactly as
    /// the plugin computes them ([`features::features_array`], then the
    /// model file's normalizer).
    pub features: Vec<f32>,
}

/// What a step reports besides the reward.
#[derive(Debug, Clone, Default)]
pub struct Info {
    /// On the last step of an episode: the credit of every step of the
    /// episode, in order (see the module doc).
    pub episode_rewards: Option<Vec<f64>>,
    /// On the last step: the metrics of the episode's schedule.
    pub metrics: Option<Metrics>,
}

/// The result of [`Env::step`].
#[derive(Debug, Clone)]
#[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
pub struct Step {
    /// The next observation (empty after termination).
    pub obs: Observation,
    /// The immediate reward: always 0 (credit arrives in
    /// [`Info::episode_rewards`]).
    pub reward: f64,
    /// The schedule is complete.
    pub terminated: bool,
    /// The episode was cut by [`EnvConfig::max_decisions`].
    pub truncated: bool,
    /// Extra information.
    pub info: Info,
}

/// Errors of the environment.
#[derive(Debug, thiserror::Error)]
#[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
pub enum EnvError {
    /// The simulator failed.
    #[error("simulation failed: {0}")]
    Sim(#[from] SimError),
    /// The simulator thread died.
    #[error("the simulator thread stopped unexpectedly")]
    Thread,
    /// `step` without a running episode, or an action of the wrong length.
    #[error("{0}")]
    Usage(String),
    /// The data cannot make an episode.
    #[error("{0}")]
    Data(String),
}

#[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
enum FromSim {
    Decision(QueueContext, Vec<JobObs>),
    Done(Result<SimResult, SimError>),
}

/// The adapter policy on the simulator's thread: each scoring call is sent
/// to the environment, and the scores that come back are used. Once the
/// environment stops answering (truncation, reset, drop) it falls back to
/// Slurm's multifactor priority, which the observation carries.
#[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
struct Bridge {
    to_env: SyncSender<FromSim>,
    from_env: Receiver<Vec<f64>>,
    detached: bool,
}

impl Policy for Bridge {
    fn name(&self) -> &str {
        "rl-env"
    }

    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        if !self.detached
            && self
                .to_env
                .send(FromSim::Decision(*ctx, jobs.to_vec()))
                .is_ok()
            && let Ok(scores) = self.from_env.recv()
            && scores.len() == out.len()
        {
            out.copy_from_slice(&scores);
            return;
        }
        self.detached = true;
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = j.multifactor;
        }
    }
}

#[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
struct Running {
    to_sim: Option<SyncSender<Vec<f64>>>,
    from_sim: Receiver<FromSim>,
    thread: Option<JoinHandle<()>>,
    /// First job index of the window in the trace.
    start: usize,
    /// The episode's simulator seed.
    sim_seed: u64,
    /// Clock of each decision taken so far.
    times: Vec<u64>,
}

impl Running {
    #[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
    /// Stops answering the simulator and waits for its outcomes.
    fn finish(&mut self) -> Result<SimResult, EnvError> {
        self.to_sim = None;
        let mut result = Err(EnvError::Thread);
        while let Ok(m) = self.from_sim.recv() {
            if let FromSim::Done(r) = m {
                result = r.map_err(EnvError::from);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        result
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.to_sim = None;
        // Drain so that the simulator never blocks on a full channel.
        while self.from_sim.recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The scheduling environment over one trace and cluster.
pub struct Env {
    jobs: Arc<Vec<Job>>,
    names: Arc<Names>,
    cluster: Arc<Cluster>,
    cfg: EnvConfig,
    normalizer: Normalizer,
    /// Episode windows start in `range.0..=range.1`.
    range: (usize, usize),
    rng: ChaCha8Rng,
    running: Option<Running>,
    episodes: u64,
}

impl Env {
    /// An environment whose episodes are windows of
    /// `cfg.jobs_per_episode` consecutive jobs taken from `jobs[lo..hi]`
    /// (sorted by submit). Features are normalized with `normalizer`.
    pub fn new(
        jobs: Arc<Vec<Job>>,
        names: Arc<Names>,
        cluster: Arc<Cluster>,
        (lo, hi): (usize, usize),
        cfg: EnvConfig,
        normalizer: Normalizer,
    ) -> Result<Self, EnvError> {
        let k = cfg.jobs_per_episode;
        if k == 0 || hi > jobs.len() || lo + k > hi {
            return Err(EnvError::Data(format!(
                "cannot cut windows of {k} jobs from jobs {lo}..{hi} (the trace has {})",
                jobs.len()
            )));
        }
        if normalizer.len() != N_FEATURES {
            return Err(EnvError::Data(format!(
                "normalizer has {} features, expected {N_FEATURES}",
                normalizer.len()
            )));
        }
        Ok(Env {
            jobs,
            names,
            cluster,
            cfg,
            normalizer,
            range: (lo, hi - k),
            rng: ChaCha8Rng::seed_from_u64(0),
            running: None,
            episodes: 0,
        })
    }

    #[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
    /// Starts a new episode: a random window (seeded by `seed` when given,
    /// else by the environment's own RNG) replayed on an empty cluster.
    pub fn reset(&mut self, seed: Option<u64>) -> Result<Observation, EnvError> {
        let (start, sim_seed) = self.next_window(seed);
        self.reset_at(start, sim_seed)
    }

    /// The next episode's window start and simulator seed.
    fn next_window(&mut self, seed: Option<u64>) -> (usize, u64) {
        if let Some(s) = seed {
            self.rng = ChaCha8Rng::seed_from_u64(s);
        }
        let start = self.rng.gen_range(self.range.0..=self.range.1);
        let sim_seed = self.rng.r#gen::<u64>();
        (start, sim_seed)
    }

    /// Plays a whole episode on the caller's thread: the simulator calls
    /// `act(observation, scores)` at every decision, and `act` writes one
    /// score per observed job. Same windows, decisions, truncation and
    /// credit as [`Env::reset`] + [`Env::step`] (with the same `seed` the
    /// two give the same episode), but without the simulator thread and
    /// its two channel hand-offs per decision, so it is the fast path for
    /// collecting rollouts.
    pub fn play(
        &mut self,
        seed: Option<u64>,
        act: &mut dyn FnMut(&Observation, &mut [f64]),
    ) -> Result<Episode, EnvError> {
        let (start, sim_seed) = self.next_window(seed);
        self.play_at(start, sim_seed, act)
    }

    /// [`Env::play`] on the window that begins at job `start`.
    pub fn play_at(
        &mut self,
        start: usize,
        sim_seed: u64,
        act: &mut dyn FnMut(&Observation, &mut [f64]),
    ) -> Result<Episode, EnvError> {
        self.running = None;
        self.episodes += 1;
        let k = self.cfg.jobs_per_episode;
        let sim_cfg = SimConfig {
            seed: sim_seed,
            ..self.cfg.sim.clone()
        };
        let mut inline = Inline {
            act,
            normalizer: &self.normalizer,
            obs: Observation::default(),
            times: Vec::new(),
            max_decisions: self.cfg.max_decisions,
            cut: None,
        };
        let window = &self.jobs[start..start + k];
        let result = engine::simulate(window, &self.names, &self.cluster, &mut inline, &sim_cfg)?;
        let Inline { times, cut, .. } = inline;
        if times.is_empty() {
            return Err(EnvError::Data(format!(
                "the window at job {start} asks for no decision"
            )));
        }
        let info = self.credit(
            start,
            &times,
            &result,
            cut.as_ref().map(|o| o.ctx.now),
            sim_seed,
        )?;
        Ok(Episode {
            rewards: info.episode_rewards.unwrap_or_default(),
            metrics: info.metrics.unwrap_or_default(),
            truncated: cut.is_some(),
            next_obs: cut,
        })
    }

    #[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
    /// Starts an episode on the window that begins at job `start`.
    pub fn reset_at(&mut self, start: usize, sim_seed: u64) -> Result<Observation, EnvError> {
        self.running = None; // Drop joins the previous episode's thread.
        let k = self.cfg.jobs_per_episode;
        let window: Vec<Job> = self.jobs[start..start + k].to_vec();
        let names = Arc::clone(&self.names);
        let cluster = Arc::clone(&self.cluster);
        let sim_cfg = SimConfig {
            seed: sim_seed,
            ..self.cfg.sim.clone()
        };
        let (to_env, from_sim) = mpsc::sync_channel(1);
        let (to_sim, from_env) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("sim-episode-{}", self.episodes))
            .spawn(move || {
                let mut bridge = Bridge {
                    to_env: to_env.clone(),
                    from_env,
                    detached: false,
                };
                let r = engine::simulate(&window, &names, &cluster, &mut bridge, &sim_cfg);
                let _ = to_env.send(FromSim::Done(r));
            })
            .map_err(|_| EnvError::Thread)?;
        self.episodes += 1;
        let mut running = Running {
            to_sim: Some(to_sim),
            from_sim,
            thread: Some(thread),
            start,
            sim_seed,
            times: Vec::new(),
        };
        let obs = match running.from_sim.recv() {
            Ok(FromSim::Decision(ctx, jobs)) => self.observe(ctx, jobs),
            Ok(FromSim::Done(r)) => {
                r?;
                return Err(EnvError::Data(format!(
                    "the window at job {start} asks for no decision"
                )));
            }
            Err(_) => return Err(EnvError::Thread),
        };
        running.times.push(obs.ctx.now);
        self.running = Some(running);
        Ok(obs)
    }

    #[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
    fn observe(&self, ctx: QueueContext, jobs: Vec<JobObs>) -> Observation {
        let mut obs = Observation::default();
        fill_observation(&self.normalizer, &ctx, &jobs, &mut obs);
        obs
    }

    #[cfg_attr(not(test), allow(dead_code))] // the Gymnasium-shaped API; training uses Env::play
    /// Applies `scores` (one per job of the current observation; higher is
    /// scheduled first) and runs the simulator to the next decision.
    pub fn step(&mut self, scores: &[f64]) -> Result<Step, EnvError> {
        let running = self
            .running
            .as_mut()
            .ok_or_else(|| EnvError::Usage("step() before reset()".into()))?;
        let tx = running
            .to_sim
            .as_ref()
            .ok_or_else(|| EnvError::Usage("step() after the episode ended".into()))?;
        tx.send(scores.to_vec()).map_err(|_| EnvError::Thread)?;
        let msg = running.from_sim.recv().map_err(|_| EnvError::Thread)?;
        match msg {
            FromSim::Decision(ctx, jobs) => {
                let obs = self.observe(ctx, jobs);
                let running = self.running.as_mut().expect("checked above");
                let cut = self
                    .cfg
                    .max_decisions
                    .is_some_and(|m| running.times.len() >= m);
                if !cut {
                    running.times.push(obs.ctx.now);
                    return Ok(Step {
                        obs,
                        reward: 0.0,
                        terminated: false,
                        truncated: false,
                        info: Info::default(),
                    });
                }
                let mut running = self.running.take().expect("checked above");
                let result = running.finish()?;
                let info = self.credit(
                    running.start,
                    &running.times,
                    &result,
                    Some(obs.ctx.now),
                    running.sim_seed,
                )?;
                Ok(Step {
                    obs,
                    reward: 0.0,
                    terminated: false,
                    truncated: true,
                    info,
                })
            }
            FromSim::Done(r) => {
                let mut running = self.running.take().expect("checked above");
                let result = r?;
                running.to_sim = None;
                if let Some(t) = running.thread.take() {
                    let _ = t.join();
                }
                let info = self.credit(
                    running.start,
                    &running.times,
                    &result,
                    None,
                    running.sim_seed,
                )?;
                Ok(Step {
                    obs: Observation::default(),
                    reward: 0.0,
                    terminated: true,
                    truncated: false,
                    info,
                })
            }
        }
    }

    /// The credit of every decision of a finished (or cut) episode that
    /// started at job `start` with simulator seed `sim_seed`.
    fn credit(
        &self,
        start: usize,
        times: &[u64],
        result: &SimResult,
        cut: Option<u64>,
        sim_seed: u64,
    ) -> Result<Info, EnvError> {
        let k = self.cfg.jobs_per_episode;
        let jobs = &self.jobs[start..start + k];
        let m = metrics::compute(
            jobs,
            &result.outcomes,
            self.cluster.total_cpus(),
            self.cluster.total_gpus(),
        );
        let slurm_p99 = if self.cfg.reward.needs_slurm_p99() && cut.is_none() {
            Some(self.slurm_p99(start, sim_seed)?)
        } else {
            None
        };
        let rewards = episode_rewards(
            times,
            jobs,
            &result.outcomes,
            cut,
            &m,
            &self.cfg.reward,
            self.cfg.reward.guard_threshold(slurm_p99),
        );
        Ok(Info {
            episode_rewards: Some(rewards),
            metrics: Some(m),
        })
    }

    /// The p99 wait of the `slurm` baseline on the window at `start` with
    /// the episode's simulator seed (the relative guard's reference).
    fn slurm_p99(&self, start: usize, sim_seed: u64) -> Result<f64, EnvError> {
        let k = self.cfg.jobs_per_episode;
        let jobs = &self.jobs[start..start + k];
        let mut slurm = sim::baselines::by_name("slurm")
            .ok_or_else(|| EnvError::Data("the slurm baseline is missing".into()))?;
        let sim_cfg = SimConfig {
            seed: sim_seed,
            ..self.cfg.sim.clone()
        };
        let r = engine::simulate(jobs, &self.names, &self.cluster, slurm.as_mut(), &sim_cfg)?;
        let m = metrics::compute(
            jobs,
            &r.outcomes,
            self.cluster.total_cpus(),
            self.cluster.total_gpus(),
        );
        Ok(m.wait_p99)
    }
}

/// Fills `obs` (reusing its buffers) with one decision: the context, the
/// jobs and their normalized features.
fn fill_observation(
    normalizer: &Normalizer,
    ctx: &QueueContext,
    jobs: &[JobObs],
    obs: &mut Observation,
) {
    obs.ctx = *ctx;
    obs.jobs.clear();
    obs.jobs.extend_from_slice(jobs);
    obs.features.clear();
    obs.features.reserve(jobs.len() * N_FEATURES);
    for j in jobs {
        let mut x = features::features_array(j, ctx);
        normalizer.apply(&mut x);
        obs.features.extend_from_slice(&x);
    }
}

/// How an episode played with [`Env::play`] ended.
#[derive(Debug, Clone)]
pub struct Episode {
    /// The credit of every decision, in order (see the module doc).
    pub rewards: Vec<f64>,
    /// The metrics of the episode's schedule.
    pub metrics: Metrics,
    /// The episode was cut by [`EnvConfig::max_decisions`].
    pub truncated: bool,
    /// When truncated: the decision it was cut at (for the bootstrap value).
    pub next_obs: Option<Observation>,
}

/// The adapter policy of [`Env::play`]: runs on the caller's thread and
/// calls the caller's `act` at every decision until the cut, then falls
/// back to Slurm's multifactor priority (like [`Bridge`] once detached).
struct Inline<'a> {
    act: &'a mut dyn FnMut(&Observation, &mut [f64]),
    normalizer: &'a Normalizer,
    /// Reused for every decision.
    obs: Observation,
    times: Vec<u64>,
    max_decisions: Option<usize>,
    cut: Option<Observation>,
}

impl Policy for Inline<'_> {
    fn name(&self) -> &str {
        "rl-env"
    }

    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        if self.cut.is_none() {
            fill_observation(self.normalizer, ctx, jobs, &mut self.obs);
            if self.max_decisions.is_some_and(|m| self.times.len() >= m) {
                self.cut = Some(std::mem::take(&mut self.obs));
            } else {
                self.times.push(ctx.now);
                (self.act)(&self.obs, out);
                return;
            }
        }
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = j.multifactor;
        }
    }
}

/// The credit of each decision (see the module doc): decision `k` at time
/// `times[k]` gets `−(w_bsld·bsld + w_wait·wait_h)/K` for every job that
/// started in `[times[k], times[k+1])`; the schedule-wide terms
/// (utilization, p99 guard with `guard_threshold` seconds, `None` = no
/// guard) are added unless the episode was `cut` (then jobs starting at or
/// after `cut` earn nothing).
///
/// Utilization goes to the last decision. The guard penalty `G =
/// guard_coef · max(0, p99 wait − threshold) / 3600` is spread over the
/// decisions that kept the starved jobs waiting: every started job `j`
/// whose wait exceeds the threshold gets a share of `G` proportional to its
/// excess wait, split evenly over the decisions made while it was pending
/// (`[eligible_j, start_j)`; the decision it started at if there is none).
/// Summed over the episode the guard term is exactly `−G`.
pub fn episode_rewards(
    times: &[u64],
    jobs: &[Job],
    outcomes: &[engine::JobOutcome],
    cut: Option<u64>,
    m: &Metrics,
    reward: &RewardConfig,
    guard_threshold: Option<f64>,
) -> Vec<f64> {
    let mut r = vec![0.0; times.len()];
    if times.is_empty() {
        return r;
    }
    let [wb, ww, wu] = reward.effective_weights();
    let k = jobs.len().max(1) as f64;
    // Last decision at or before `t` (the first one if none).
    let at = |t: u64| times.partition_point(|&x| x <= t).saturating_sub(1);
    for (job, o) in jobs.iter().zip(outcomes) {
        let Some(s) = o.start else { continue };
        if cut.is_some_and(|c| s >= c) {
            continue;
        }
        let wait = metrics::wait_of(job, s);
        let run = o.end.saturating_sub(s);
        let cost = wb * metrics::bounded_slowdown(wait, run) + ww * wait as f64 / 3600.0;
        r[at(s)] -= cost / k;
    }
    if cut.is_some() {
        return r;
    }
    let last = times.len() - 1;
    r[last] += wu * m.cpu_util;
    let Some(threshold) = guard_threshold else {
        return r;
    };
    let g = reward.guard_coef * (m.wait_p99 - threshold).max(0.0) / 3600.0;
    if g <= 0.0 {
        return r;
    }
    let starved: Vec<(u64, u64, f64)> = jobs
        .iter()
        .zip(outcomes)
        .filter_map(|(job, o)| {
            let s = o.start?;
            let wait = metrics::wait_of(job, s) as f64;
            (wait > threshold).then(|| (s.saturating_sub(wait as u64), s, wait - threshold))
        })
        .collect();
    let total: f64 = starved.iter().map(|x| x.2).sum();
    if total <= 0.0 {
        r[last] -= g;
        return r;
    }
    for (from, to, excess) in starved {
        let share = g * excess / total;
        let lo = times.partition_point(|&x| x < from);
        let hi = times.partition_point(|&x| x < to);
        if hi > lo {
            let each = share / (hi - lo) as f64;
            for x in &mut r[lo..hi] {
                *x -= each;
            }
        } else {
            r[at(to)] -= share;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim::engine::{JobOutcome, OutcomeKind};

    fn job(submit: u64) -> Job {
        Job {
            submit,
            eligible: submit,
            nodes: 1,
            cpus: 1,
            ..Default::default()
        }
    }

    fn started(start: u64, end: u64) -> JobOutcome {
        JobOutcome {
            start: Some(start),
            end,
            kind: OutcomeKind::Completed,
            backfilled: false,
        }
    }

    #[test]
    fn credit_goes_to_the_last_decision_before_each_start_and_sums_to_the_mean() {
        // Decisions at 0, 10, 10, 30. Job a starts at 5 (decision 0), b at
        // 10 (the second decision at 10, index 2), c at 40 (index 3).
        let times = [0, 10, 10, 30];
        let jobs = [job(0), job(0), job(20)];
        let outs = [started(5, 105), started(10, 20), started(40, 50)];
        let cfg = RewardConfig {
            kind: RewardKind::Bsld,
            weights: [0.0; 3],
            guard_p99_wait: None,
            guard_p99_ratio: None,
            guard_coef: 0.0,
        };
        let m = metrics::compute(&jobs, &outs, 1, 0);
        let r = episode_rewards(&times, &jobs, &outs, None, &m, &cfg, None);
        // bsld: a (5+100)/100 = 1.05; b (10+10)/10 = 2; c (20+10)/10 = 3.
        assert!((r[0] + 1.05 / 3.0).abs() < 1e-12, "{r:?}");
        assert_eq!(r[1], 0.0);
        assert!((r[2] + 2.0 / 3.0).abs() < 1e-12);
        assert!((r[3] + 1.0).abs() < 1e-12);
        let total: f64 = r.iter().sum();
        assert!(
            (total + m.bsld_mean).abs() < 1e-12,
            "{total} vs {}",
            m.bsld_mean
        );
        // Cut at 30: job c earns nothing, and no terminal terms.
        let r = episode_rewards(&times, &jobs, &outs, Some(30), &m, &cfg, None);
        assert_eq!(r[3], 0.0);
    }

    #[test]
    fn wait_util_and_guard_terms() {
        let times = [0, 100];
        let jobs = [job(0), job(0)];
        let outs = [started(0, 3600), started(7200, 10800)];
        let m = metrics::compute(&jobs, &outs, 1, 0);
        let cfg = RewardConfig {
            kind: RewardKind::Mix,
            weights: [0.0, 1.0, 2.0],
            guard_p99_wait: Some(3600),
            guard_p99_ratio: None,
            guard_coef: 0.5,
        };
        let r = episode_rewards(&times, &jobs, &outs, None, &m, &cfg, Some(3600.0));
        // Job 2 waited 2 h: −2/2 = −1; util = 2·3600/10800; guard: p99 =
        // 7200 s → 1 h over → −0.5, split over the two decisions made
        // while job 2 was pending (at 0 and 100).
        assert!((r[0] + 0.25).abs() < 1e-12, "{}", r[0]);
        let expect = -1.0 + 2.0 * m.cpu_util - 0.25;
        assert!((r[1] - expect).abs() < 1e-12, "{} vs {expect}", r[1]);
        assert!((m.cpu_util - 2.0 / 3.0).abs() < 1e-12);
        // A relative threshold: 1.5 × a slurm p99 of 4000 s = 6000 s → 1/3 h over.
        let rel = RewardConfig {
            guard_p99_wait: None,
            guard_p99_ratio: Some(1.5),
            ..cfg.clone()
        };
        assert_eq!(rel.guard_threshold(Some(4000.0)), Some(6000.0));
        let both = RewardConfig {
            guard_p99_ratio: Some(1.5),
            ..cfg.clone()
        };
        assert_eq!(both.guard_threshold(Some(4000.0)), Some(3600.0));
        let r = episode_rewards(&times, &jobs, &outs, None, &m, &rel, Some(6000.0));
        let total: f64 = r.iter().sum();
        let want = -1.0 + 2.0 * m.cpu_util - 0.5 * (1200.0 / 3600.0);
        assert!((total - want).abs() < 1e-12, "{total} vs {want}");
        assert!(rel.describe().contains("1.5*slurm_p99_wait_s"));
    }

    fn tiny_env(max_decisions: Option<usize>) -> Env {
        let cfg = sim::synth::SynthConfig {
            jobs: 120,
            seed: 4,
            ..Default::default()
        };
        let (trace, cluster) = sim::synth::generate(&cfg).unwrap();
        let n = trace.jobs.len();
        Env::new(
            Arc::new(trace.jobs),
            Arc::new(trace.names),
            Arc::new(cluster),
            (0, n),
            EnvConfig {
                jobs_per_episode: 40,
                max_decisions,
                sim: SimConfig::default(),
                reward: RewardConfig {
                    kind: RewardKind::Bsld,
                    weights: [0.0; 3],
                    guard_p99_wait: None,
                    guard_p99_ratio: None,
                    guard_coef: 0.0,
                },
            },
            Normalizer::identity(N_FEATURES),
        )
        .unwrap()
    }

    /// Plays one episode scoring by `-wait` (youngest first); returns the
    /// decision sizes, the last step and the summed step rewards.
    fn play(env: &mut Env, seed: u64) -> (Vec<usize>, Step) {
        let mut obs = env.reset(Some(seed)).unwrap();
        let mut sizes = Vec::new();
        loop {
            assert!(!obs.jobs.is_empty());
            assert_eq!(obs.features.len(), obs.jobs.len() * N_FEATURES);
            sizes.push(obs.jobs.len());
            let scores: Vec<f64> = obs.jobs.iter().map(|j| -(j.wait as f64)).collect();
            let step = env.step(&scores).unwrap();
            assert_eq!(step.reward, 0.0);
            if step.terminated || step.truncated {
                return (sizes, step);
            }
            assert!(step.info.episode_rewards.is_none());
            obs = step.obs;
        }
    }

    #[test]
    fn an_episode_terminates_and_its_credit_sums_to_minus_mean_bsld() {
        let mut env = tiny_env(None);
        let (sizes, last) = play(&mut env, 9);
        assert!(last.terminated && !last.truncated);
        assert!(last.obs.jobs.is_empty());
        let rewards = last.info.episode_rewards.unwrap();
        assert_eq!(rewards.len(), sizes.len());
        // Every job is scored at submit: at least one decision per job.
        assert!(sizes.len() >= 40, "{}", sizes.len());
        let m = last.info.metrics.unwrap();
        assert_eq!(m.jobs, 40);
        let total: f64 = rewards.iter().sum();
        let started = m.started as f64 / m.jobs as f64;
        assert!(
            (total + m.bsld_mean * started).abs() < 1e-9,
            "{total} vs {}",
            m.bsld_mean
        );
        // Same seed, same episode.
        let (sizes2, last2) = play(&mut env, 9);
        assert_eq!(sizes, sizes2);
        assert_eq!(last2.info.episode_rewards.unwrap(), rewards);
        // step() after the end is a usage error.
        assert!(matches!(env.step(&[]), Err(EnvError::Usage(_))));
    }

    /// Plays one episode with [`Env::play`] and the same scorer as [`play`].
    fn play_inline(env: &mut Env, seed: u64) -> (Vec<usize>, Episode) {
        let mut sizes = Vec::new();
        let ep = env
            .play(Some(seed), &mut |obs, out| {
                assert_eq!(obs.features.len(), obs.jobs.len() * N_FEATURES);
                sizes.push(obs.jobs.len());
                for (o, j) in out.iter_mut().zip(&obs.jobs) {
                    *o = -(j.wait as f64);
                }
            })
            .unwrap();
        (sizes, ep)
    }

    #[test]
    fn play_gives_the_same_episode_as_reset_and_step() {
        for max in [None, Some(5)] {
            let mut env = tiny_env(max);
            let (sizes, last) = play(&mut env, 9);
            let (sizes2, ep) = play_inline(&mut env, 9);
            assert_eq!(sizes, sizes2);
            assert_eq!(ep.rewards, last.info.episode_rewards.unwrap());
            assert_eq!(ep.metrics, last.info.metrics.unwrap());
            assert_eq!(ep.truncated, last.truncated);
            match ep.next_obs {
                Some(o) => {
                    assert_eq!(o.jobs, last.obs.jobs);
                    assert_eq!(o.features, last.obs.features);
                }
                None => assert!(last.obs.jobs.is_empty()),
            }
        }
    }

    #[test]
    fn relative_guard_replays_slurm_and_charges_only_above_it() {
        let mut env = tiny_env(None);
        // The scorer "youngest first" starves the oldest jobs.
        let (_, plain) = play_inline(&mut env, 3);
        env.cfg.reward.guard_p99_ratio = Some(1.0);
        env.cfg.reward.guard_coef = 10.0;
        let (_, guarded) = play_inline(&mut env, 3);
        assert_eq!(plain.metrics, guarded.metrics);
        let (a, b): (f64, f64) = (plain.rewards.iter().sum(), guarded.rewards.iter().sum());
        assert!(b <= a, "{b} > {a}");
        // Slurm itself is never charged (its p99 is the threshold).
        let (start, sim_seed) = {
            let mut e = tiny_env(None);
            e.next_window(Some(3))
        };
        let p99 = env.slurm_p99(start, sim_seed).unwrap();
        let ep = env
            .play_at(start, sim_seed, &mut |obs, out| {
                for (o, j) in out.iter_mut().zip(&obs.jobs) {
                    *o = j.multifactor;
                }
            })
            .unwrap();
        assert_eq!(ep.metrics.wait_p99, p99);
        let total: f64 = ep.rewards.iter().sum();
        let started = ep.metrics.started as f64 / ep.metrics.jobs as f64;
        assert!((total + ep.metrics.bsld_mean * started).abs() < 1e-9);
    }

    #[test]
    fn max_decisions_truncates_with_a_next_observation() {
        let mut env = tiny_env(Some(5));
        let (sizes, last) = play(&mut env, 9);
        assert_eq!(sizes.len(), 5);
        assert!(last.truncated && !last.terminated);
        assert!(
            !last.obs.jobs.is_empty(),
            "the bootstrap needs the next observation"
        );
        assert_eq!(last.info.episode_rewards.unwrap().len(), 5);
        // A reset in the middle of an episode is fine too.
        let obs = env.reset(Some(1)).unwrap();
        assert!(!obs.jobs.is_empty());
        let _ = env.reset(Some(2)).unwrap();
    }

    /// Decisions per second of the environment alone (scores = Slurm's
    /// multifactor, no network), on lublin_256 with 256-job windows. Run
    /// with `cargo test --release -p trainer env_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn env_speed() {
        let path = sim::testdata::trace("lublin_256.swf");
        let (mut trace, _) =
            sim::trace::swf::read(&path, &sim::trace::swf::SwfOptions::default()).unwrap();
        let cluster = Cluster::from_swf_header(&trace.meta.header).unwrap();
        for j in &mut trace.jobs {
            j.partition = 0;
        }
        let n = trace.jobs.len();
        let mut env = Env::new(
            Arc::new(trace.jobs),
            Arc::new(trace.names),
            Arc::new(cluster),
            (0, n),
            EnvConfig {
                jobs_per_episode: 256,
                max_decisions: None,
                sim: SimConfig::default(),
                reward: RewardConfig {
                    kind: RewardKind::Bsld,
                    weights: [0.0; 3],
                    guard_p99_wait: None,
                    guard_p99_ratio: None,
                    guard_coef: 0.0,
                },
            },
            Normalizer::identity(N_FEATURES),
        )
        .unwrap();
        let t = std::time::Instant::now();
        let (mut steps, mut rows) = (0u64, 0u64);
        for e in 0..20 {
            let mut obs = env.reset(Some(e)).unwrap();
            loop {
                rows += obs.jobs.len() as u64;
                let scores: Vec<f64> = obs.jobs.iter().map(|j| j.multifactor).collect();
                let st = env.step(&scores).unwrap();
                steps += 1;
                if st.terminated || st.truncated {
                    break;
                }
                obs = st.obs;
            }
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "env alone, reset/step (simulator thread): {steps} decisions ({rows} job rows) in {s:.2} s = {:.0} decisions/s",
            steps as f64 / s
        );
        let t = std::time::Instant::now();
        let (mut steps2, mut rows2) = (0u64, 0u64);
        for e in 0..20 {
            env.play(Some(e), &mut |obs, out| {
                steps2 += 1;
                rows2 += obs.jobs.len() as u64;
                for (o, j) in out.iter_mut().zip(&obs.jobs) {
                    *o = j.multifactor;
                }
            })
            .unwrap();
        }
        let s2 = t.elapsed().as_secs_f64();
        println!(
            "env alone, play (inline): {steps2} decisions ({rows2} job rows) in {s2:.2} s = {:.0} decisions/s",
            steps2 as f64 / s2
        );
        assert_eq!(steps, steps2);
        assert!(steps > 0);
    }
}
