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
}

impl LearnedPolicy {
    /// Wraps a model. The policy is named `learned` and rescored as Slurm
    /// does ([`Rescore::SubmitAndPeriod`]), which is how the plugin runs it.
    pub fn new(model: Model) -> Self {
        let scratch = model.scratch();
        LearnedPolicy {
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

    /// Writes the model's score for each job. If `out` and `jobs` differ in
    /// length, only the common prefix is written.
    fn score(&mut self, ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = self.model.score_job(j, ctx, &mut self.scratch) as f64;
        }
    }
}
