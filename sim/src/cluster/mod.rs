//! The cluster model: nodes, partitions, and the priority and scheduler
//! settings that shape how Slurm orders and starts jobs.
//!
//! Readers live in submodules: `file` (slurm-rl's documented TOML format)
//! and `slurmconf` (a real `slurm.conf` + `gres.conf`). `Cluster::from_swf_header`
//! derives a cluster from an SWF header. This module owns the types only; it
//! must not know about the simulator's runtime state.

pub mod file;
pub mod slurmconf;

use serde::{Deserialize, Serialize};

/// One compute node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Node name (`gpu01`).
    pub name: String,
    /// Schedulable CPUs.
    pub cpus: u32,
    /// Schedulable memory in MB (RealMemory).
    pub mem_mb: u64,
    /// GPUs.
    #[serde(default)]
    pub gpus: u32,
    /// GPU type (`a100`), empty when untyped.
    #[serde(default)]
    pub gpu_type: String,
    /// Features (`Feature=`/`AvailableFeatures=`).
    #[serde(default)]
    pub features: Vec<String>,
}

/// One partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Partition {
    /// Partition name.
    pub name: String,
    /// Indices into [`Cluster::nodes`], ascending.
    pub nodes: Vec<u32>,
    /// `PriorityTier`: higher tiers are scheduled first.
    #[serde(default = "one")]
    pub priority_tier: u32,
    /// `PriorityJobFactor`, feeding the partition factor.
    #[serde(default = "one")]
    pub priority_job_factor: u32,
    /// `MaxTime` in seconds; `None` = unlimited.
    #[serde(default)]
    pub max_time: Option<u64>,
    /// `DefaultTime` in seconds; `None` = use `max_time`.
    #[serde(default)]
    pub default_time: Option<u64>,
    /// Whether this is the default partition.
    #[serde(default)]
    pub default: bool,
    /// `OverSubscribe=EXCLUSIVE`: jobs get whole nodes.
    #[serde(default)]
    pub exclusive: bool,
}

fn one() -> u32 {
    1
}

/// Settings of priority/multifactor (`PriorityWeight*` and friends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriorityConfig {
    /// `PriorityType=priority/multifactor` (false = `priority/basic`, FIFO).
    pub multifactor: bool,
    /// `PriorityWeightAge`.
    pub weight_age: u32,
    /// `PriorityWeightFairshare`.
    pub weight_fairshare: u32,
    /// `PriorityWeightJobSize`.
    pub weight_job_size: u32,
    /// `PriorityWeightPartition`.
    pub weight_partition: u32,
    /// `PriorityWeightQOS`.
    pub weight_qos: u32,
    /// `PriorityMaxAge` in seconds.
    pub max_age: u64,
    /// `PriorityDecayHalfLife` in seconds (0 = no decay).
    pub decay_half_life: u64,
    /// `PriorityFavorSmall`.
    pub favor_small: bool,
    /// `PriorityCalcPeriod` in seconds.
    pub calc_period: u64,
    /// QOS priorities by name (from `sacctmgr`, or the cluster file).
    pub qos_priority: std::collections::BTreeMap<String, u32>,
}

impl Default for PriorityConfig {
    fn default() -> Self {
        // Slurm 22.05 defaults, except that a cluster file usually sets
        // weights explicitly.
        PriorityConfig {
            multifactor: true,
            weight_age: 1000,
            weight_fairshare: 0,
            weight_job_size: 0,
            weight_partition: 0,
            weight_qos: 0,
            max_age: 7 * 24 * 3600,
            decay_half_life: 7 * 24 * 3600,
            favor_small: false,
            calc_period: 300,
            qos_priority: Default::default(),
        }
    }
}

/// Settings of the main scheduler and sched/backfill (`SchedulerParameters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SchedConfig {
    /// `SchedulerType=sched/backfill` (false = `sched/builtin`).
    pub backfill: bool,
    /// `bf_window`, in seconds (Slurm's option is in minutes).
    pub bf_window: u64,
    /// `bf_max_job_test`.
    pub bf_max_job_test: u32,
    /// `bf_interval`, seconds.
    pub bf_interval: u64,
    /// `bf_resolution`, seconds.
    pub bf_resolution: u64,
    /// `sched_interval`, seconds (the periodic main-scheduler pass).
    pub sched_interval: u64,
    /// `default_queue_depth`: jobs the event-triggered main pass examines.
    pub default_queue_depth: u32,
}

impl Default for SchedConfig {
    fn default() -> Self {
        // Slurm 22.05 defaults.
        SchedConfig {
            backfill: true,
            bf_window: 24 * 3600,
            bf_max_job_test: 500,
            bf_interval: 30,
            bf_resolution: 60,
            sched_interval: 60,
            default_queue_depth: 100,
        }
    }
}

/// A whole cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// Nodes, in slurm.conf order.
    pub nodes: Vec<Node>,
    /// Partitions.
    pub partitions: Vec<Partition>,
    /// Priority settings.
    #[serde(default)]
    pub priority: PriorityConfig,
    /// Scheduler settings.
    #[serde(default)]
    pub sched: SchedConfig,
}

impl Cluster {
    /// Derives a cluster from an SWF header (`MaxNodes`, `MaxProcs`, …):
    /// `MaxNodes` nodes sharing `MaxProcs` CPUs evenly, one partition.
    pub fn from_swf_header(
        header: &std::collections::BTreeMap<String, String>,
    ) -> Result<Cluster, ClusterError> {
        let _ = header;
        Err(ClusterError::Invalid("SWF cluster derivation not built yet".into()))
    }

    /// The default partition (the one marked default, else the first).
    pub fn default_partition(&self) -> Option<usize> {
        self.partitions
            .iter()
            .position(|p| p.default)
            .or(if self.partitions.is_empty() { None } else { Some(0) })
    }
    /// The partition named `name`.
    pub fn partition(&self, name: &str) -> Option<usize> {
        self.partitions.iter().position(|p| p.name == name)
    }
    /// Total CPUs.
    pub fn total_cpus(&self) -> u64 {
        self.nodes.iter().map(|n| n.cpus as u64).sum()
    }
    /// Total GPUs.
    pub fn total_gpus(&self) -> u64 {
        self.nodes.iter().map(|n| n.gpus as u64).sum()
    }
}

/// Errors from reading a cluster description.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Malformed input, naming file, line and key.
    #[error("{file}:{line}: `{key}`: {message}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (0 when not line-based).
        line: usize,
        /// The key or field.
        key: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A description that parses but cannot be simulated.
    #[error("{0}")]
    Invalid(String),
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
