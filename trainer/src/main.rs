//! `slurm-rl`: learn a Slurm scheduling policy from a cluster's own history.
//!
//! This file only parses arguments, sets up logging and maps errors to exit
//! codes. Each subcommand lives in `cmd/`.

mod adam;
mod cem;
mod cmd;
mod dqn;
mod env;
mod plot;
mod ppo;
mod rlenv;
mod rltrain;

use clap::{Parser, Subcommand};

/// Learn a batch-scheduling policy for a Slurm cluster from its own job
/// history, check it in a Slurm-faithful simulator, and run it inside
/// slurmctld through the site_factor/rl plugin.
///
/// A typical session:
///
///   slurm-rl import sacct --start 2026-01-01 --end 2026-02-01 -o hist.jsonl
///   slurm-rl simulate --trace hist.jsonl --cluster /etc/slurm/slurm.conf
///   slurm-rl evaluate --trace hist.jsonl --cluster /etc/slurm/slurm.conf
#[derive(Parser)]
#[command(name = "slurm-rl", version, propagate_version = true)]
struct Cli {
    /// More log output (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read sacct history or an SWF trace into slurm-rl's trace format.
    #[command(subcommand)]
    Import(cmd::import::ImportCommand),
    /// Generate a synthetic deep-learning GPU workload and its cluster.
    Synth(cmd::synth::Args),
    /// Replay a workload through the simulator under one policy.
    Simulate(cmd::simulate::Args),
    /// Compare policies on many sequences cut from a trace, with 95% CIs.
    Evaluate(cmd::evaluate::Args),
    /// RLScheduler's (SC'20) protocol and simplified backfill, to set our
    /// figures beside that paper's table.
    Rlscheduler(cmd::rlscheduler::Args),
    /// Learn a scoring policy with PPO and compare it with slurm on held-out windows.
    Train(Box<ppo::Args>),
    /// Retrain from recent history; deploy only a model the gate proves
    /// better (exit 0 deployed, 3 kept, 1 failed, 4 busy).
    Retrain(cmd::retrain::Args),
    /// Put back the model the last `retrain` deployment replaced.
    Rollback(cmd::retrain::RollbackArgs),
    /// Show why the learned policy ranks a job where it does: its score
    /// and the features that drove it, for one job or a whole queue.
    Explain(cmd::explain::Args),
    /// Submit a trace to a running Slurm cluster as sleep jobs, time-compressed.
    Replay(cmd::replay::Args),
    /// Compare a replay's real schedule with the simulator's, job by job.
    Fidelity(cmd::fidelity::Args),
    /// Learn a policy with PPO in the RLScheduler-style environment (its
    /// protocol and backfill), for `slurm-rl rlscheduler --model`.
    RlschedulerTrain(rltrain::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Import(c) => cmd::import::run(c),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Evaluate(a) => cmd::evaluate::run(a),
        Command::Rlscheduler(a) => cmd::rlscheduler::run(a),
        Command::Train(a) => cmd::train::run(*a),
        Command::Retrain(a) => return cmd::retrain::main(a),
        Command::Rollback(a) => return cmd::retrain::rollback_main(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Replay(a) => cmd::replay::run(a),
        Command::Fidelity(a) => cmd::fidelity::run(a),
        Command::RlschedulerTrain(a) => rltrain::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(1)
        }
    }
}
