//! The subcommands of `slurm-rl`, one module each, plus the loaders they
//! share (`common`).

pub mod common;
pub mod evaluate;
pub mod fidelity;
pub mod import;
pub mod replay;
pub mod rlscheduler;
pub mod simulate;
pub mod synth;
pub mod train;
