//! The subcommands of `slurm-rl`, one module each, plus the loaders they
//! share (`common`).

pub mod common;
pub mod evaluate;
pub mod explain;
pub mod fidelity;
pub mod import;
pub mod replay;
pub mod retrain;
pub mod rlscheduler;
pub mod runs;
pub mod simulate;
pub mod sweep;
pub mod synth;
pub mod train;
