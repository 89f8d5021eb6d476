//! The slurm-rl simulator library: trace import, the cluster model, a
//! discrete-event simulator that schedules the way Slurm does, the baseline
//! policies, metrics and the evaluation protocol.
//!
//! This crate is safe Rust only and knows nothing about tch or C. Policies
//! reach it through [`policy::Policy`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod baselines;
pub mod cluster;
pub mod engine;
pub mod eval;
pub mod io;
pub mod metrics;
pub mod rlsched;
pub mod synth;
#[doc(hidden)]
pub mod testdata;
pub mod trace;
