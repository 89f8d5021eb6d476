//! `slurm-rl import`: TODO (owner: trace readers).

/// Import sources.
#[derive(clap::Subcommand)]
pub enum ImportCommand {}

/// Runs the import.
pub fn run(c: ImportCommand) -> anyhow::Result<()> {
    match c {}
}
