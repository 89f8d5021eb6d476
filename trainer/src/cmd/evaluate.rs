//! `slurm-rl evaluate`: TODO.

/// Arguments.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the command.
pub fn run(_a: Args) -> anyhow::Result<()> {
    anyhow::bail!("not yet implemented")
}
