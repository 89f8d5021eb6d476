//! slurm-rl's own cluster file: a small, documented TOML description of
//! nodes, partitions and the priority and scheduler settings
//! (`docs/cluster.md` is the reference).
//!
//! This module reads and validates the file into a [`Cluster`] and writes a
//! `Cluster` back so that reading it again gives the same value. Node names
//! may use Slurm hostlists (`gpu[01-16]`) and durations may be Slurm time
//! strings; both notations come from [`super::slurmconf`]. It must not
//! accept a file it cannot simulate: every problem is an error naming the
//! file, the line and the key.

use super::slurmconf::{compress_hostlist, expand_hostlist, format_time, parse_time};
use super::{
    Cluster, ClusterError, MEM_NOT_MODELLED_MB, Node, Partition, PriorityConfig, SchedConfig,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;

/// A duration as the file spells it: an integer is seconds, a string is a
/// Slurm time string (where a bare number means minutes).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Dur {
    Secs(i64),
    Text(String),
}

/// A partition's node list: one hostlist expression or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum NodeList {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: String,
    #[serde(default)]
    nodes: Vec<RawNode>,
    #[serde(default)]
    partitions: Vec<RawPartition>,
    #[serde(default)]
    priority: RawPriority,
    #[serde(default)]
    sched: RawSched,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Spanned<String>,
    cpus: Spanned<u32>,
    mem_mb: Option<u64>,
    #[serde(default)]
    gpus: u32,
    #[serde(default)]
    gpu_type: String,
    #[serde(default)]
    features: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartition {
    name: Spanned<String>,
    nodes: Spanned<NodeList>,
    priority_tier: Option<u32>,
    priority_job_factor: Option<u32>,
    max_time: Option<Spanned<Dur>>,
    default_time: Option<Spanned<Dur>>,
    default: Option<Spanned<bool>>,
    #[serde(default)]
    exclusive: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPriority {
    multifactor: Option<bool>,
    weight_age: Option<u32>,
    weight_fairshare: Option<u32>,
    weight_job_size: Option<u32>,
    weight_partition: Option<u32>,
    weight_qos: Option<u32>,
    max_age: Option<Spanned<Dur>>,
    decay_half_life: Option<Spanned<Dur>>,
    favor_small: Option<bool>,
    calc_period: Option<Spanned<Dur>>,
    qos_priority: Option<BTreeMap<String, u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSched {
    backfill: Option<bool>,
    bf_window: Option<Spanned<Dur>>,
    bf_max_job_test: Option<u32>,
    bf_interval: Option<Spanned<Dur>>,
    bf_resolution: Option<Spanned<Dur>>,
    sched_interval: Option<Spanned<Dur>>,
    default_queue_depth: Option<u32>,
    batch_sched_delay: Option<Spanned<Dur>>,
}

/// Context for error messages: the file name and its text (for lines).
struct Ctx<'a> {
    file: String,
    text: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }
    fn err(
        &self,
        span: std::ops::Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ClusterError {
        ClusterError::Parse {
            file: self.file.clone(),
            line: self.line_of(span.start),
            key: key.into(),
            message: message.into(),
        }
    }
    /// A duration in seconds; `Ok(None)` for `UNLIMITED`.
    fn dur(&self, d: &Spanned<Dur>, key: &str) -> Result<Option<u64>, ClusterError> {
        match d.get_ref() {
            Dur::Secs(s) if *s >= 0 => Ok(Some(*s as u64)),
            Dur::Secs(s) => Err(self.err(
                d.span(),
                key,
                format!("{s} is negative (expected seconds >= 0 or a Slurm time string)"),
            )),
            Dur::Text(t) => parse_time(t).map_err(|m| self.err(d.span(), key, m)),
        }
    }
    /// A duration that may not be unlimited.
    fn dur_finite(
        &self,
        d: &Option<Spanned<Dur>>,
        key: &str,
        default: u64,
    ) -> Result<u64, ClusterError> {
        match d {
            None => Ok(default),
            Some(d) => self
                .dur(d, key)?
                .ok_or_else(|| self.err(d.span(), key, "UNLIMITED is not allowed here")),
        }
    }
}

/// Reads a cluster TOML file.
pub fn read(path: &Path) -> Result<Cluster, ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClusterError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Parses the text of a cluster TOML file; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Cluster, ClusterError> {
    let cx = Ctx {
        file: file.to_string(),
        text,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| cx.line_of(s.start)).unwrap_or(0);
        ClusterError::Parse {
            file: file.to_string(),
            line,
            key: String::new(),
            message: e.message().to_string(),
        }
    })?;

    // Nodes.
    if raw.nodes.is_empty() {
        return Err(ClusterError::Parse {
            file: file.to_string(),
            line: 0,
            key: "nodes".into(),
            message: "no [[nodes]] entries: the cluster has no nodes".into(),
        });
    }
    let mut nodes = Vec::new();
    let mut index: BTreeMap<String, u32> = BTreeMap::new();
    for (i, n) in raw.nodes.iter().enumerate() {
        let key = format!("nodes[{i}].name");
        let names =
            expand_hostlist(n.name.get_ref()).map_err(|m| cx.err(n.name.span(), &key, m))?;
        if *n.cpus.get_ref() == 0 {
            return Err(cx.err(
                n.cpus.span(),
                format!("nodes[{i}].cpus"),
                "0 CPUs (expected at least 1)",
            ));
        }
        for name in names {
            if index.insert(name.clone(), nodes.len() as u32).is_some() {
                return Err(cx.err(
                    n.name.span(),
                    &key,
                    format!("node `{name}` is defined twice"),
                ));
            }
            nodes.push(Node {
                name,
                cpus: *n.cpus.get_ref(),
                mem_mb: n.mem_mb.unwrap_or(MEM_NOT_MODELLED_MB),
                gpus: n.gpus,
                gpu_type: n.gpu_type.clone(),
                features: n.features.clone(),
            });
        }
    }

    // Partitions.
    if raw.partitions.is_empty() {
        return Err(ClusterError::Parse {
            file: file.to_string(),
            line: 0,
            key: "partitions".into(),
            message: "no [[partitions]] entries: jobs would have nowhere to run".into(),
        });
    }
    let mut partitions: Vec<Partition> = Vec::new();
    let mut default_at: Option<String> = None;
    for (i, p) in raw.partitions.iter().enumerate() {
        let name = p.name.get_ref().clone();
        if name.is_empty() {
            return Err(cx.err(
                p.name.span(),
                format!("partitions[{i}].name"),
                "empty partition name",
            ));
        }
        if partitions.iter().any(|q| q.name == name) {
            return Err(cx.err(
                p.name.span(),
                format!("partitions[{i}].name"),
                format!("partition `{name}` is defined twice"),
            ));
        }
        let key = format!("partitions[{i}].nodes");
        let exprs: Vec<String> = match p.nodes.get_ref() {
            NodeList::One(s) => vec![s.clone()],
            NodeList::Many(v) => v.clone(),
        };
        let mut members = std::collections::BTreeSet::new();
        for e in &exprs {
            if e.trim().eq_ignore_ascii_case("ALL") {
                members.extend(0..nodes.len() as u32);
                continue;
            }
            for n in expand_hostlist(e).map_err(|m| cx.err(p.nodes.span(), &key, m))? {
                let idx = index.get(&n).ok_or_else(|| {
                    cx.err(
                        p.nodes.span(),
                        &key,
                        format!("partition `{name}` names unknown node `{n}`"),
                    )
                })?;
                members.insert(*idx);
            }
        }
        if members.is_empty() {
            return Err(cx.err(
                p.nodes.span(),
                &key,
                format!("partition `{name}` has no nodes"),
            ));
        }
        let max_time = match &p.max_time {
            None => None,
            Some(d) => cx.dur(d, &format!("partitions[{i}].max_time"))?,
        };
        let default_time = match &p.default_time {
            None => None,
            Some(d) => cx.dur(d, &format!("partitions[{i}].default_time"))?,
        };
        if let (Some(dt), Some(mt), Some(d)) = (default_time, max_time, &p.default_time)
            && dt > mt
        {
            return Err(cx.err(
                d.span(),
                format!("partitions[{i}].default_time"),
                format!(
                    "default_time {} exceeds max_time {}",
                    format_time(dt),
                    format_time(mt)
                ),
            ));
        }
        let is_default = p.default.as_ref().is_some_and(|d| *d.get_ref());
        if let (true, Some(d)) = (is_default, &p.default)
            && let Some(prev) = default_at.replace(name.clone())
        {
            return Err(cx.err(
                d.span(),
                format!("partitions[{i}].default"),
                format!("both `{prev}` and `{name}` are marked default (expected at most one)"),
            ));
        }
        partitions.push(Partition {
            name,
            nodes: members.into_iter().collect(),
            priority_tier: p.priority_tier.unwrap_or(1),
            priority_job_factor: p.priority_job_factor.unwrap_or(1),
            max_time,
            default_time,
            default: is_default,
            exclusive: p.exclusive,
        });
    }

    // Priority and scheduler settings; absent keys keep the defaults.
    let d = PriorityConfig::default();
    let r = &raw.priority;
    let priority = PriorityConfig {
        multifactor: r.multifactor.unwrap_or(d.multifactor),
        weight_age: r.weight_age.unwrap_or(d.weight_age),
        weight_fairshare: r.weight_fairshare.unwrap_or(d.weight_fairshare),
        weight_job_size: r.weight_job_size.unwrap_or(d.weight_job_size),
        weight_partition: r.weight_partition.unwrap_or(d.weight_partition),
        weight_qos: r.weight_qos.unwrap_or(d.weight_qos),
        max_age: cx.dur_finite(&r.max_age, "priority.max_age", d.max_age)?,
        decay_half_life: cx.dur_finite(
            &r.decay_half_life,
            "priority.decay_half_life",
            d.decay_half_life,
        )?,
        favor_small: r.favor_small.unwrap_or(d.favor_small),
        calc_period: cx.dur_finite(&r.calc_period, "priority.calc_period", d.calc_period)?,
        qos_priority: r.qos_priority.clone().unwrap_or(d.qos_priority),
    };
    let d = SchedConfig::default();
    let r = &raw.sched;
    let sched = SchedConfig {
        backfill: r.backfill.unwrap_or(d.backfill),
        bf_window: cx.dur_finite(&r.bf_window, "sched.bf_window", d.bf_window)?,
        bf_max_job_test: r.bf_max_job_test.unwrap_or(d.bf_max_job_test),
        bf_interval: cx.dur_finite(&r.bf_interval, "sched.bf_interval", d.bf_interval)?,
        bf_resolution: cx.dur_finite(&r.bf_resolution, "sched.bf_resolution", d.bf_resolution)?,
        sched_interval: cx.dur_finite(
            &r.sched_interval,
            "sched.sched_interval",
            d.sched_interval,
        )?,
        default_queue_depth: r.default_queue_depth.unwrap_or(d.default_queue_depth),
        batch_sched_delay: cx.dur_finite(
            &r.batch_sched_delay,
            "sched.batch_sched_delay",
            d.batch_sched_delay,
        )?,
    };
    // sched_interval = 0 is valid (a pass every second, as in slurmctld).
    if sched.bf_resolution == 0 {
        let span = r.bf_resolution.as_ref().map(Spanned::span);
        return Err(cx.err(
            span.unwrap_or(0..0),
            "sched.bf_resolution",
            "must be at least 1 second",
        ));
    }
    Ok(Cluster {
        name: raw.name,
        nodes,
        partitions,
        priority,
        sched,
    })
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

#[derive(Serialize)]
struct OutFile {
    name: String,
    nodes: Vec<OutNode>,
    partitions: Vec<OutPartition>,
    priority: OutPriority,
    sched: OutSched,
}

#[derive(Serialize)]
struct OutNode {
    name: String,
    cpus: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    mem_mb: Option<u64>,
    gpus: u32,
    #[serde(skip_serializing_if = "String::is_empty")]
    gpu_type: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<String>,
}

#[derive(Serialize)]
struct OutPartition {
    name: String,
    nodes: String,
    default: bool,
    priority_tier: u32,
    priority_job_factor: u32,
    max_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    default_time: Option<String>,
    exclusive: bool,
}

#[derive(Serialize)]
struct OutPriority {
    multifactor: bool,
    weight_age: u32,
    weight_fairshare: u32,
    weight_job_size: u32,
    weight_partition: u32,
    weight_qos: u32,
    max_age: String,
    decay_half_life: String,
    favor_small: bool,
    calc_period: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    qos_priority: BTreeMap<String, u32>,
}

#[derive(Serialize)]
struct OutSched {
    backfill: bool,
    bf_window: String,
    bf_max_job_test: u32,
    bf_interval: String,
    bf_resolution: String,
    sched_interval: String,
    default_queue_depth: u32,
    batch_sched_delay: String,
}

/// Renders `cluster` as the text of a cluster file.
///
/// Runs of identical consecutive nodes are written as one `[[nodes]]`
/// entry with a hostlist name; durations are written as Slurm time
/// strings (`D-HH:MM:SS`), which read back exactly.
pub fn to_toml(cluster: &Cluster) -> Result<String, ClusterError> {
    let mut groups: Vec<(Vec<&str>, &Node)> = Vec::new();
    for n in &cluster.nodes {
        match groups.last_mut() {
            Some((names, first))
                if first.cpus == n.cpus
                    && first.mem_mb == n.mem_mb
                    && first.gpus == n.gpus
                    && first.gpu_type == n.gpu_type
                    && first.features == n.features =>
            {
                names.push(&n.name)
            }
            _ => groups.push((vec![&n.name], n)),
        }
    }
    let mut nodes = Vec::new();
    for (names, n) in groups {
        let expr = compress_hostlist(&names);
        // A name the hostlist syntax cannot carry is an error, not a silent change.
        if expand_hostlist(&expr)
            .ok()
            .as_deref()
            .map(|v| v.iter().map(String::as_str).eq(names.iter().copied()))
            != Some(true)
        {
            return Err(ClusterError::Invalid(format!(
                "node names starting at `{}` cannot be written as a hostlist (names must not contain `[`, `]` or `,`)",
                names[0]
            )));
        }
        nodes.push(OutNode {
            name: expr,
            cpus: n.cpus,
            mem_mb: (n.mem_mb != MEM_NOT_MODELLED_MB).then_some(n.mem_mb),
            gpus: n.gpus,
            gpu_type: n.gpu_type.clone(),
            features: n.features.clone(),
        });
    }
    let mut partitions = Vec::new();
    for p in &cluster.partitions {
        let mut names = Vec::with_capacity(p.nodes.len());
        for &i in &p.nodes {
            let n = cluster.nodes.get(i as usize).ok_or_else(|| {
                ClusterError::Invalid(format!(
                    "partition `{}` refers to node index {i}, which does not exist",
                    p.name
                ))
            })?;
            names.push(n.name.as_str());
        }
        partitions.push(OutPartition {
            name: p.name.clone(),
            nodes: compress_hostlist(&names),
            default: p.default,
            priority_tier: p.priority_tier,
            priority_job_factor: p.priority_job_factor,
            max_time: p
                .max_time
                .map(format_time)
                .unwrap_or_else(|| "UNLIMITED".into()),
            default_time: p.default_time.map(format_time),
            exclusive: p.exclusive,
        });
    }
    let q = &cluster.priority;
    let s = &cluster.sched;
    let out = OutFile {
        name: cluster.name.clone(),
        nodes,
        partitions,
        priority: OutPriority {
            multifactor: q.multifactor,
            weight_age: q.weight_age,
            weight_fairshare: q.weight_fairshare,
            weight_job_size: q.weight_job_size,
            weight_partition: q.weight_partition,
            weight_qos: q.weight_qos,
            max_age: format_time(q.max_age),
            decay_half_life: format_time(q.decay_half_life),
            favor_small: q.favor_small,
            calc_period: format_time(q.calc_period),
            qos_priority: q.qos_priority.clone(),
        },
        sched: OutSched {
            backfill: s.backfill,
            bf_window: format_time(s.bf_window),
            bf_max_job_test: s.bf_max_job_test,
            bf_interval: format_time(s.bf_interval),
            bf_resolution: format_time(s.bf_resolution),
            sched_interval: format_time(s.sched_interval),
            default_queue_depth: s.default_queue_depth,
            batch_sched_delay: format_time(s.batch_sched_delay),
        },
    };
    let body = toml::to_string(&out)
        .map_err(|e| ClusterError::Invalid(format!("cannot render cluster as TOML: {e}")))?;
    Ok(format!(
        "# slurm-rl cluster file (docs/cluster.md).\n\
         # Durations: an integer is seconds; a string is a Slurm time string\n\
         # (\"D-HH:MM:SS\", \"HH:MM:SS\", \"MM:SS\", a bare \"N\" = N minutes, \"UNLIMITED\").\n\
         # Omitted mem_mb means memory is not modelled.\n\n{body}"
    ))
}

/// Writes a cluster TOML file atomically.
pub fn write(path: &Path, cluster: &Cluster) -> Result<(), ClusterError> {
    let text = to_toml(cluster)?;
    crate::io::atomic_write(path, |w| w.write_all(text.as_bytes())).map_err(|source| {
        ClusterError::Io {
            path: path.display().to_string(),
            source,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
name = "demo"

[[nodes]]
name = "gpu[01-04]"
cpus = 64
mem_mb = 512000
gpus = 8
gpu_type = "a100"
features = ["a100", "ib"]

[[nodes]]
name = "cpu[1-2]"
cpus = 32
mem_mb = 128000

[[partitions]]
name = "gpu"
nodes = "gpu[01-04]"
default = true
max_time = "2-00:00:00"
default_time = "60"

[[partitions]]
name = "all"
nodes = ["gpu01", "cpu[1-2]"]
max_time = 3600
priority_tier = 2
exclusive = true

[priority]
weight_fairshare = 2000
max_age = "1-0"

[sched]
bf_window = "2880"
bf_interval = 15
batch_sched_delay = 7
"#;

    #[test]
    fn reads_ranges_times_and_defaults() {
        let c = parse(EXAMPLE, "demo.toml").unwrap();
        assert_eq!(c.nodes.len(), 6);
        assert_eq!(c.nodes[0].name, "gpu01");
        assert_eq!(c.nodes[3].name, "gpu04");
        assert_eq!(c.nodes[4].name, "cpu1");
        assert_eq!(c.total_gpus(), 32);
        assert_eq!(c.nodes[4].gpus, 0);
        assert_eq!(c.partitions[0].max_time, Some(2 * 86_400));
        assert_eq!(
            c.partitions[0].default_time,
            Some(3600),
            "a bare number string is minutes"
        );
        assert_eq!(
            c.partitions[1].max_time,
            Some(3600),
            "an integer is seconds"
        );
        assert_eq!(c.partitions[1].nodes, vec![0, 4, 5]);
        assert_eq!(c.partitions[1].priority_tier, 2);
        assert!(c.partitions[1].exclusive);
        assert_eq!(c.default_partition(), Some(0));
        assert_eq!(c.priority.weight_fairshare, 2000);
        assert_eq!(c.priority.weight_age, PriorityConfig::default().weight_age);
        assert_eq!(c.priority.max_age, 86_400);
        assert_eq!(c.sched.bf_window, 2 * 86_400);
        assert_eq!(c.sched.bf_interval, 15);
        assert_eq!(c.sched.batch_sched_delay, 7);
        assert_eq!(c.sched.bf_resolution, SchedConfig::default().bf_resolution);
    }

    #[test]
    fn round_trip() {
        let mut c = parse(EXAMPLE, "demo.toml").unwrap();
        c.priority.qos_priority.insert("high".into(), 100);
        c.partitions[1].max_time = None;
        c.nodes.push(Node {
            name: "odd7".into(),
            cpus: 3,
            mem_mb: MEM_NOT_MODELLED_MB,
            gpus: 0,
            gpu_type: String::new(),
            features: vec![],
        });
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        write(&p, &c).unwrap();
        let back = read(&p).unwrap();
        assert_eq!(back, c);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("\"gpu[01-04]\""),
            "identical nodes are grouped: {text}"
        );
        assert!(text.contains("UNLIMITED"));
    }

    fn expect_err(text: &str, key: &str, line: usize, needle: &str) {
        match parse(text, "bad.toml") {
            Err(ClusterError::Parse {
                file,
                line: l,
                key: k,
                message,
            }) => {
                assert_eq!(file, "bad.toml");
                assert_eq!(k, key, "message: {message}");
                assert_eq!(l, line, "message: {message}");
                assert!(
                    message.contains(needle),
                    "`{message}` should mention `{needle}`"
                );
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_node_in_partition() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n[1-2]\"\ncpus = 4\n[[partitions]]\nname = \"p\"\nnodes = \"n[1-3]\"\n";
        expect_err(t, "partitions[0].nodes", 7, "unknown node `n3`");
    }

    #[test]
    fn zero_cpus() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 0\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\n";
        expect_err(t, "nodes[0].cpus", 4, "0 CPUs");
    }

    #[test]
    fn duplicate_names() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n[1-2]\"\ncpus = 4\n[[nodes]]\nname = \"n2\"\ncpus = 4\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\n";
        expect_err(t, "nodes[1].name", 6, "`n2` is defined twice");
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 4\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\n";
        expect_err(t, "partitions[1].name", 9, "defined twice");
    }

    #[test]
    fn no_partitions() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 4\n";
        expect_err(t, "partitions", 0, "no [[partitions]]");
    }

    #[test]
    fn bad_time_and_unknown_key() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 4\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\nmax_time = \"2 days\"\n";
        expect_err(t, "partitions[0].max_time", 8, "Slurm time string");
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 4\ncores = 2\n";
        match parse(t, "bad.toml") {
            Err(ClusterError::Parse { line, message, .. }) => {
                assert_eq!(line, 5);
                assert!(message.contains("cores"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_defaults_rejected() {
        let t = "name = \"x\"\n[[nodes]]\nname = \"n1\"\ncpus = 4\n[[partitions]]\nname = \"p\"\nnodes = \"n1\"\ndefault = true\n[[partitions]]\nname = \"q\"\nnodes = \"ALL\"\ndefault = true\n";
        expect_err(t, "partitions[1].default", 12, "marked default");
    }
}
