//! `slurm-rl synth`: generate a synthetic deep-learning GPU workload and the
//! cluster it runs on, then print a summary.
//!
//! This file parses arguments, layers them over the defaults or a
//! `--config` file, calls `sim::synth::generate`, writes the two outputs
//! and reports. The model itself lives in `sim::synth`; nothing here draws
//! random numbers.

use anyhow::Context;
use sim::synth::{SynthConfig, generate, summarize};
use std::path::PathBuf;

/// The long help: what each distribution is and where it comes from.
const LONG_HELP: &str = r#"The model:

The workload follows what studies of production DL clusters report
(Philly: Jeon et al., USENIX ATC'19; Helios: Hu et al., SC'21; Alibaba
PAI: Weng et al., NSDI'22), with time-limit habits from the HPC
literature (Tsafrir, Etsion & Feitelson, TPDS 2007):

* GPUs per job: mostly 1 GPU (70%), then 2, 4 and 8 GPUs on one node and
  a few multi-node 16- and 32-GPU jobs; counts are dominated by small
  jobs while GPU-time is dominated by large ones.

* Run times: log-normal, median 30 min for a 1-GPU job, growing with job
  size (x gpus^0.3), sigma 1.8, so most jobs take minutes to an hour and
  a tail reaches days (capped by the partition's 7-day MaxTime).

* Outcomes: 20% of jobs fail, usually within minutes (log-normal, median
  5 min); 8% run into their time limit (TIMEOUT); the rest complete.

* Time limits: most users round an over-estimate (x1.5 median) up to a
  common value (15m, 30m, 1h, 2h, 4h, 8h, 12h, 1d, 2d, 3d, 7d); 20% of
  users always ask for the partition maximum.

* Users: 48 users with Zipf activity (a few heavy users submit most
  jobs); 15% are interactive/debug users who run short 1-2 GPU jobs in
  the `debug` partition.

* Arrivals: a non-homogeneous Poisson process with a day/night cycle
  (peak in the afternoon, trough before dawn) and half the rate on
  weekends; the mean rate is set so that the submitted GPU-time is
  `--load` times the cluster's GPU capacity.

* Cluster: 16 nodes x 8 A100 GPUs, 64 CPUs, 512 GB; partitions `gpu`
  (default, all nodes, MaxTime 7 days) and `debug` (2 nodes, MaxTime 2 h).
  CPUs (2/4/8) and memory (16/32/64 GB) per GPU stay within a node's
  share, so every job fits.

Every parameter is in a TOML file (`--config`); `--print-config` shows
them all with their current values, and docs/synth.md explains each one
and its source. The same seed always gives the same trace.

Example:

  slurm-rl synth -n 5000 --seed 1 -o sample.jsonl --cluster-out cluster.toml"#;

/// Generate a synthetic deep-learning training workload for a GPU cluster,
/// plus a matching cluster file.
///
/// `--help` explains each distribution and where it comes from.
#[derive(clap::Args)]
#[command(after_long_help = LONG_HELP)]
pub struct Args {
    /// Where to write the trace (slurm-rl's JSON Lines format).
    #[arg(short, long, required_unless_present = "print_config")]
    pub output: Option<PathBuf>,
    /// Where to write the matching cluster file (TOML, docs/cluster.md).
    #[arg(long)]
    pub cluster_out: Option<PathBuf>,
    /// A TOML file with any subset of the generator's parameters; flags
    /// below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Number of jobs [default: 5000].
    #[arg(short = 'n', long)]
    pub jobs: Option<usize>,
    /// Seed of the generator's RNG [default: 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Offered load: submitted GPU-time per unit of GPU capacity, e.g. 0.85
    /// [default: 0.85].
    #[arg(long)]
    pub load: Option<f64>,
    /// Number of users [default: 48].
    #[arg(long)]
    pub users: Option<u32>,
    /// Number of GPU nodes [default: 16].
    #[arg(long)]
    pub nodes: Option<u32>,
    /// GPUs per node [default: 8].
    #[arg(long)]
    pub gpus_per_node: Option<u32>,
    /// Start date of the trace, YYYY-MM-DD (local midnight) [default: 2024-01-01].
    #[arg(long)]
    pub start: Option<chrono::NaiveDate>,
    /// Users' time zone as hours east of UTC, for the day/night cycle [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub utc_offset: Option<i32>,
    /// Print the effective configuration as TOML and exit.
    #[arg(long)]
    pub print_config: bool,
}

/// The effective configuration: defaults, then `--config`, then flags.
fn config(a: &Args) -> anyhow::Result<SynthConfig> {
    let mut cfg = match &a.config {
        Some(p) => SynthConfig::read(p)?,
        None => SynthConfig::default(),
    };
    if let Some(n) = a.jobs {
        cfg.jobs = n;
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    if let Some(l) = a.load {
        cfg.load = l;
    }
    if let Some(u) = a.users {
        cfg.users.count = u;
    }
    if let Some(n) = a.nodes {
        cfg.cluster.nodes = n;
        cfg.cluster.debug_nodes = cfg.cluster.debug_nodes.min(n);
    }
    if let Some(g) = a.gpus_per_node {
        cfg.cluster.gpus_per_node = g;
    }
    if let Some(h) = a.utc_offset {
        cfg.utc_offset_hours = h;
    }
    if let Some(d) = a.start {
        let midnight = d
            .and_hms_opt(0, 0, 0)
            .context("start date")?
            .and_utc()
            .timestamp();
        let t = midnight - cfg.utc_offset_hours as i64 * 3600;
        cfg.start = u64::try_from(t).context("--start must be after 1970-01-01")?;
    }
    cfg.validate()?;
    Ok(cfg)
}

/// Runs the command.
pub fn run(a: Args) -> anyhow::Result<()> {
    let cfg = config(&a)?;
    if a.print_config {
        print!("{}", cfg.to_toml());
        return Ok(());
    }
    let output = a.output.context("--output is required")?;

    let (trace, cluster) = generate(&cfg)?;
    if let Some(p) = &a.cluster_out {
        sim::cluster::file::write(p, &cluster)
            .with_context(|| format!("writing cluster file {}", p.display()))?;
    }
    sim::trace::jsonl::write(&output, &trace)
        .with_context(|| format!("writing trace {}", output.display()))?;

    let s = summarize(&trace, &cluster);
    println!("wrote {} jobs to {}", s.jobs, output.display());
    if let Some(p) = &a.cluster_out {
        println!(
            "wrote cluster `{}` ({} nodes, {} GPUs) to {}",
            cluster.name,
            cluster.nodes.len(),
            cluster.total_gpus(),
            p.display()
        );
    }
    println!("span:          {:.1} days", s.span_s as f64 / 86_400.0);
    println!(
        "offered load:  {:.2} (target {:.2}) of {} GPUs",
        s.offered_load,
        cfg.load,
        cluster.total_gpus()
    );
    let mix: Vec<String> = s
        .gpu_mix
        .iter()
        .map(|(g, n)| format!("{g}:{:.1}%", 100.0 * *n as f64 / s.jobs as f64))
        .collect();
    println!("GPU mix:       {}", mix.join("  "));
    let states: Vec<String> = s
        .states
        .iter()
        .map(|(k, n)| format!("{k}:{:.1}%", 100.0 * *n as f64 / s.jobs as f64))
        .collect();
    println!("states:        {}", states.join("  "));
    let parts: Vec<String> = s
        .partitions
        .iter()
        .map(|(k, n)| format!("{k}:{n}"))
        .collect();
    println!("partitions:    {}", parts.join("  "));
    println!(
        "run time:      median {}, p99 {}; limit/run median x{:.1}",
        human(s.median_run_s),
        human(s.p99_run_s),
        s.median_limit_over_run
    );
    Ok(())
}

/// Seconds as `1d 2h`, `3h 4m`, `5m 6s`.
fn human(s: u64) -> String {
    match s {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}m {}s", s / 60, s % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("synth").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("synth.toml");
        std::fs::write(&file, "load = 0.6\njobs = 100\n[users]\ncount = 10\n").unwrap();
        let f = file.to_str().unwrap();
        let c = config(&parse(&["--config", f, "-o", "x"])).unwrap();
        assert_eq!((c.load, c.jobs, c.users.count), (0.6, 100, 10));
        let c = config(&parse(&[
            "--config", f, "-o", "x", "--load", "0.7", "-n", "50", "--seed", "9",
        ]))
        .unwrap();
        assert_eq!((c.load, c.jobs, c.seed, c.users.count), (0.7, 50, 9, 10));
        // Local midnight two hours east of UTC is 22:00 UTC the day before.
        let c = config(&parse(&[
            "-o",
            "x",
            "--start",
            "2024-03-01",
            "--utc-offset",
            "2",
        ]))
        .unwrap();
        assert_eq!(c.start, 1_709_251_200 - 7200);
        assert_eq!(c.utc_offset_hours, 2);
        // Out-of-range values are rejected with the field's name.
        let err = config(&parse(&["-o", "x", "--gpus-per-node", "3"])).unwrap_err();
        assert!(format!("{err:#}").contains("gpu_mix"), "{err:#}");
    }

    #[test]
    fn output_required_unless_printing_config() {
        use clap::Parser;
        assert!(Cli::try_parse_from(["synth"]).is_err());
        assert!(Cli::try_parse_from(["synth", "--print-config"]).is_ok());
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(59), "0m 59s");
        assert_eq!(human(3_725), "1h 2m");
        assert_eq!(human(90_000), "1d 1h");
    }
}
