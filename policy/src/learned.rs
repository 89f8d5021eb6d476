//! [`LearnedPolicy`]: a [`Model`] behind the [`Policy`] trait, so that the
//! simulator (and anything else that takes a `Policy`) can run a model file.
//!
//! This module only adapts: features, normalization and the forward pass
//! live in `features`, `model` and `nn`. It must not allocate per job and
//! must never panic, whatever the job data or slice lengths.

use std::path::Path;

use crate::model::{Model, ModelError};
use crate::nn::Scratch;
use crate::{JobObs, Policy, QueueContext, Rescore};

/// A learned scoring policy: each job's score is the model's output for it.
#[derive(Debug, Clone)]
pub struct LearnedPolicy {
    model: Model,
    name: String,
    rescore: Rescore,
    scratch: Scratch,
    max_wait: Option<u64>,
}

/// The max-wait guard of a model that records none: seven days, the
/// plugin's default `max_wait`, so that the simulator runs a model the way
/// the plugin does.
pub const DEFAULT_MAX_WAIT: u64 = 7 * 24 * 3600;

/// The max-wait guard in force, by the plugin's rule: `set` when given
/// (`max_wait=`, `--max-wait`; `Some(0)` is no guard), else the guard the
/// model `recorded` (its `max_wait` metadata), else [`DEFAULT_MAX_WAIT`].
pub fn max_wait_in_force(recorded: Option<u64>, set: Option<u64>) -> Option<u64> {
    match set {
        Some(w) => (w > 0).then_some(w),
        None => Some(recorded.unwrap_or(DEFAULT_MAX_WAIT)),
    }
}

/// Score of a job that has just reached the max-wait guard: above every
/// finite `f32` a model can output (`f32::MAX` ≈ 3.4e38).
const GUARD_BASE: f64 = 1e39;
/// Score added per second waited past the guard. The `f64` spacing near
/// `GUARD_BASE` is about 1.5e23, so every second raises the score.
const GUARD_STEP: f64 = 1e25;

/// A duration as the plugin's `max_wait=` takes it: whole seconds, or a
/// whole number with the suffix `s`, `m`, `h` or `d`. `None` when malformed
/// or out of range.
pub fn parse_duration(v: &str) -> Option<u64> {
    let (num, mult) = match v.char_indices().last()? {
        (i, 's') => (&v[..i], 1),
        (i, 'm') => (&v[..i], 60),
        (i, 'h') => (&v[..i], 3600),
        (i, 'd') => (&v[..i], 86_400),
        _ => (v, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The max-wait guard as a score: `None` below `max_wait` (or without a
/// guard), else a score above every model output that grows with the
/// wait, so that guarded jobs run oldest first, as in the plugin's
/// `guard(wait)` (docs/plugin.md).
pub fn guard_score(wait: u64, max_wait: Option<u64>) -> Option<f64> {
    let over = wait.checked_sub(max_wait?)?;
    Some(GUARD_BASE + GUARD_STEP * over.min(1 << 40) as f64)
}

impl LearnedPolicy {
    /// Wraps a model. The policy is named `learned` and rescored as Slurm
    /// does ([`Rescore::SubmitAndPeriod`]), and its max-wait guard is the
    /// model's, else [`DEFAULT_MAX_WAIT`]: that is how the plugin runs it
    /// without a `max_wait=` parameter.
    pub fn new(model: Model) -> Self {
        let scratch = model.scratch();
        LearnedPolicy {
            max_wait: max_wait_in_force(model.max_wait, None),
            model,
            name: "learned".into(),
            rescore: Rescore::SubmitAndPeriod,
            scratch,
        }
    }

    /// Loads a model file (see [`Model::load`]) and wraps it.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        Ok(Self::new(Model::load(path)?))
    }

    /// Sets the name reported by [`Policy::name`].
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets when the simulator must rescore (for instance
    /// [`Rescore::EveryPass`], since the features depend on the clock and
    /// the free resources).
    pub fn with_rescore(mut self, rescore: Rescore) -> Self {
        self.rescore = rescore;
        self
    }

    /// Sets the max-wait guard (the plugin's `max_wait`), overriding the
    /// model's own ([`Model::max_wait`]); `None` turns it off. A job that
    /// has waited at least this long outranks every job that has not, and
    /// guarded jobs run oldest first.
    pub fn with_max_wait(mut self, max_wait: Option<u64>) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// The max-wait guard in use.
    pub fn max_wait(&self) -> Option<u64> {
        self.max_wait
    }

    /// The wrapped model.
    pub fn model(&self) -> &Model {
        &self.model
    }
}

impl Policy for LearnedPolicy {
    fn name(&self) -> &str {
        &self.name
    }

    fn rescore(&self) -> Rescore {
        self.rescore
    }

    /// Writes the model's score for each job, or its guard score once it
    /// has waited `max_wait`. If `out` and `jobs` differ in length, only the
    /// common prefix is written.
    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = match guard_score(j.wait, self.max_wait) {
                Some(g) => g,
                None => self.model.score_job(j, ctx, &mut self.scratch) as f64,
            };
        }
    }
}
