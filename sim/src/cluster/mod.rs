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

/// Node memory that stands for "memory is not modelled" (2^40 MB, about
/// one exabyte): no job ever runs out of it, so consumers need no special
/// case. Used for SWF-derived clusters and for `slurm.conf` files whose
/// `SelectTypeParameters` do not make memory consumable. It stays below
/// `i64::MAX` so TOML can hold it.
pub const MEM_NOT_MODELLED_MB: u64 = 1 << 40;

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
    /// `sched_interval`, seconds (the periodic main-scheduler pass). 0, as
    /// in slurmctld, runs it at every turn of the background loop: every
    /// second here.
    pub sched_interval: u64,
    /// `default_queue_depth`: jobs the event-triggered main pass examines.
    pub default_queue_depth: u32,
    /// `batch_sched_delay`, seconds: a submission asks for a main-scheduler
    /// pass, which slurmctld's background loop runs only when this long has
    /// passed since its last pass (periodic or delayed).
    pub batch_sched_delay: u64,
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
            batch_sched_delay: 3,
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
    ///
    /// The nodes are `n1`..`nN`, each with `MaxProcs / MaxNodes` CPUs (at
    /// least one). When only one of the two keys is present it is used for
    /// both, so every node has one CPU. SWF does not describe memory, so
    /// every node gets [`MEM_NOT_MODELLED_MB`]; there are no GPUs. The one
    /// partition, `batch`, is the default, holds every node and has no time
    /// limit. Priority and scheduler settings are the defaults of
    /// [`PriorityConfig`] (multifactor) and [`SchedConfig`] (backfill).
    pub fn from_swf_header(
        header: &std::collections::BTreeMap<String, String>,
    ) -> Result<Cluster, ClusterError> {
        // SWF keys are case-sensitive in the standard, but files vary.
        let lookup = |key: &str| -> Result<Option<u64>, ClusterError> {
            let Some((k, v)) = header.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
                return Ok(None);
            };
            let v = v.trim();
            // Some archive headers append a comment: `MaxNodes: 128 (SP2 nodes)`.
            let first = v.split_whitespace().next().unwrap_or("");
            match first.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n as u64)),
                Ok(_) => Ok(None), // -1 / 0: "unknown" in SWF
                Err(_) => Err(ClusterError::Parse {
                    file: "SWF header".into(),
                    line: 0,
                    key: k.clone(),
                    message: format!("`{v}` is not a positive integer"),
                }),
            }
        };
        let (nodes, procs) = match (lookup("MaxNodes")?, lookup("MaxProcs")?) {
            (Some(n), Some(p)) => (n, p),
            (Some(n), None) => (n, n),
            (None, Some(p)) => (p, p),
            (None, None) => {
                return Err(ClusterError::Invalid(
                    "SWF header has neither `MaxNodes` nor `MaxProcs` (positive): cannot size the cluster; pass a cluster file instead"
                        .into(),
                ));
            }
        };
        if nodes > u32::MAX as u64 {
            return Err(ClusterError::Invalid(format!(
                "SWF header `MaxNodes` {nodes} is too large"
            )));
        }
        let cpus = u32::try_from((procs / nodes).max(1)).map_err(|_| {
            ClusterError::Invalid(format!("SWF header `MaxProcs` {procs} is too large"))
        })?;
        // When MaxProcs is not a multiple of MaxNodes each node keeps the
        // floor, so the total stays at most MaxProcs.
        let nodes: Vec<Node> = (1..=nodes)
            .map(|i| Node {
                name: format!("n{i}"),
                cpus,
                mem_mb: MEM_NOT_MODELLED_MB,
                gpus: 0,
                gpu_type: String::new(),
                features: Vec::new(),
            })
            .collect();
        let all = (0..nodes.len() as u32).collect();
        let name = header
            .iter()
            .find(|(k, _)| {
                k.eq_ignore_ascii_case("Computer") || k.eq_ignore_ascii_case("Installation")
            })
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "swf".to_string());
        Ok(Cluster {
            name,
            nodes,
            partitions: vec![Partition {
                name: "batch".into(),
                nodes: all,
                priority_tier: 1,
                priority_job_factor: 1,
                max_time: None,
                default_time: None,
                default: true,
                exclusive: false,
            }],
            priority: PriorityConfig::default(),
            sched: SchedConfig::default(),
        })
    }

    /// The default partition (the one marked default, else the first).
    pub fn default_partition(&self) -> Option<usize> {
        self.partitions
            .iter()
            .position(|p| p.default)
            .or(if self.partitions.is_empty() {
                None
            } else {
                Some(0)
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn header(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn swf_sdsc_sp2_header() {
        // The SDSC-SP2-1998-4.2-cln.swf header says MaxNodes: 128, MaxProcs: 128.
        let c = Cluster::from_swf_header(&header(&[
            ("MaxNodes", "128"),
            ("MaxProcs", "128"),
            ("Computer", "IBM SP2"),
        ]))
        .unwrap();
        assert_eq!(c.nodes.len(), 128);
        assert_eq!(c.total_cpus(), 128);
        assert_eq!(c.total_gpus(), 0);
        assert_eq!(c.name, "IBM SP2");
        assert!(
            c.nodes
                .iter()
                .all(|n| n.cpus == 1 && n.mem_mb == MEM_NOT_MODELLED_MB)
        );
        assert_eq!(c.partitions.len(), 1);
        let p = &c.partitions[0];
        assert_eq!(p.name, "batch");
        assert!(p.default && p.max_time.is_none());
        assert_eq!(p.nodes.len(), 128);
        assert_eq!(c.priority, PriorityConfig::default());
        assert_eq!(c.sched, SchedConfig::default());
    }

    #[test]
    fn swf_procs_shared_evenly_or_one_per_node() {
        let c =
            Cluster::from_swf_header(&header(&[("MaxNodes", "64"), ("MaxProcs", "256")])).unwrap();
        assert_eq!((c.nodes.len(), c.nodes[0].cpus), (64, 4));
        let c = Cluster::from_swf_header(&header(&[("MaxProcs", "100")])).unwrap();
        assert_eq!((c.nodes.len(), c.total_cpus()), (100, 100));
        let c =
            Cluster::from_swf_header(&header(&[("MaxNodes", "10"), ("MaxProcs", "-1")])).unwrap();
        assert_eq!((c.nodes.len(), c.total_cpus()), (10, 10));
    }

    #[test]
    fn swf_without_size_is_an_error() {
        assert!(matches!(
            Cluster::from_swf_header(&header(&[("Version", "2.2")])),
            Err(ClusterError::Invalid(m)) if m.contains("MaxNodes")
        ));
        assert!(matches!(
            Cluster::from_swf_header(&header(&[("MaxNodes", "many")])),
            Err(ClusterError::Parse { key, .. }) if key == "MaxNodes"
        ));
    }

    #[test]
    fn swf_cluster_survives_the_file_format() {
        let c =
            Cluster::from_swf_header(&header(&[("MaxNodes", "16"), ("MaxProcs", "64")])).unwrap();
        let text = file::to_toml(&c).unwrap();
        assert_eq!(file::parse(&text, "swf.toml").unwrap(), c);
    }
}
