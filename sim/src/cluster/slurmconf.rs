//! Reader for a real `slurm.conf` (plus the `gres.conf` beside it), and the
//! two Slurm notations every cluster description shares: hostlists
//! (`gpu[01-16]`) and time strings (`2-00:00:00`).
//!
//! This module turns the parts of `slurm.conf` that shape scheduling (nodes,
//! partitions, `Priority*`, `SchedulerType`, `SchedulerParameters`,
//! `SelectType[Parameters]`) into a [`Cluster`]. Everything else is daemon
//! plumbing and is skipped; scheduling options the simulator does not model
//! are reported as warnings, never silently dropped. It must not guess: a
//! value it cannot read is an error naming the file, the line and the key.
//! The units of every key are listed in `docs/cluster.md`.

use super::{
    Cluster, ClusterError, MEM_NOT_MODELLED_MB, Node, Partition, PriorityConfig, SchedConfig,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Most hosts one hostlist expression may expand to.
const MAX_HOSTS: usize = 1_000_000;
/// Deepest `Include` nesting accepted (guards against include cycles).
const MAX_INCLUDE_DEPTH: usize = 16;

// ---------------------------------------------------------------------------
// Time strings
// ---------------------------------------------------------------------------

/// Parses a Slurm time string into seconds; `Ok(None)` means unlimited.
///
/// Accepted forms, as in `slurm.conf(5)` and `sbatch --time`: `minutes`,
/// `minutes:seconds`, `hours:minutes:seconds`, `days-hours`,
/// `days-hours:minutes`, `days-hours:minutes:seconds`, and `UNLIMITED` /
/// `INFINITE` (any case). A bare number is **minutes**. The result is exact
/// (no rounding); callers that mimic Slurm's minute resolution round up
/// themselves.
pub fn parse_time(s: &str) -> Result<Option<u64>, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("UNLIMITED") || t.eq_ignore_ascii_case("INFINITE") {
        return Ok(None);
    }
    let bad = || {
        format!(
            "`{s}` is not a Slurm time string (expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED)"
        )
    };
    let num = |p: &str| -> Result<u64, String> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse::<u64>().map_err(|_| bad())
    };
    let secs = if let Some((d, rest)) = t.split_once('-') {
        let days = num(d)?;
        let parts: Vec<&str> = rest.split(':').collect();
        let (h, m, sec) = match parts.as_slice() {
            [h] => (num(h)?, 0, 0),
            [h, m] => (num(h)?, num(m)?, 0),
            [h, m, sec] => (num(h)?, num(m)?, num(sec)?),
            _ => return Err(bad()),
        };
        days * 86_400 + h * 3600 + m * 60 + sec
    } else {
        let parts: Vec<&str> = t.split(':').collect();
        match parts.as_slice() {
            [m] => num(m)? * 60,
            [m, sec] => num(m)? * 60 + num(sec)?,
            [h, m, sec] => num(h)? * 3600 + num(m)? * 60 + num(sec)?,
            _ => return Err(bad()),
        }
    };
    Ok(Some(secs))
}

/// Formats seconds as a Slurm time string: `HH:MM:SS` below a day,
/// `D-HH:MM:SS` from a day on. [`parse_time`] reads it back exactly.
pub fn format_time(secs: u64) -> String {
    let (d, r) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (r / 3600, r % 3600 / 60, r % 60);
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

// ---------------------------------------------------------------------------
// Hostlists
// ---------------------------------------------------------------------------

/// Splits `s` on commas that are not inside `[...]` or `(...)`.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced `{c}` in `{s}`"));
                }
            }
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced brackets in `{s}`"));
    }
    out.push(&s[start..]);
    Ok(out)
}

/// Expands a Slurm hostlist expression into names, in order.
///
/// `gpu[01-16]` gives `gpu01`..`gpu16` (numbers are zero-padded to the width
/// of the range's lower bound, as Slurm does), `n[1-3,5]` gives
/// `n1 n2 n3 n5`, `a[1-2]b[1-2]` gives the product `a1b1 a1b2 a2b1 a2b2`,
/// and top-level commas join expressions (`n1,gpu[1-2]`).
pub fn expand_hostlist(expr: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in split_top_level(expr.trim())? {
        let item = item.trim();
        if item.is_empty() {
            return Err(format!("empty name in hostlist `{expr}`"));
        }
        // Cartesian product over the bracket groups, left to right.
        let mut acc = vec![String::new()];
        let mut rest = item;
        while !rest.is_empty() {
            match rest.find('[') {
                None => {
                    if rest.contains(']') {
                        return Err(format!("unbalanced `]` in hostlist `{expr}`"));
                    }
                    acc.iter_mut().for_each(|a| a.push_str(rest));
                    rest = "";
                }
                Some(open) => {
                    let lit = &rest[..open];
                    if lit.contains(']') {
                        return Err(format!("unbalanced `]` in hostlist `{expr}`"));
                    }
                    let close = rest[open..]
                        .find(']')
                        .map(|c| open + c)
                        .ok_or_else(|| format!("missing `]` in hostlist `{expr}`"))?;
                    let numbers = expand_range_group(&rest[open + 1..close], expr)?;
                    let mut next = Vec::with_capacity(acc.len() * numbers.len());
                    for a in &acc {
                        for n in &numbers {
                            next.push(format!("{a}{lit}{n}"));
                        }
                    }
                    if next.len() + out.len() > MAX_HOSTS {
                        return Err(format!(
                            "hostlist `{expr}` expands to more than {MAX_HOSTS} names"
                        ));
                    }
                    acc = next;
                    rest = &rest[close + 1..];
                }
            }
        }
        out.extend(acc);
    }
    Ok(out)
}

/// Expands the inside of one `[...]` group: `01-16`, `1-3,5`.
fn expand_range_group(group: &str, expr: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for part in group.split(',') {
        let part = part.trim();
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        if !digits(lo) || !digits(hi) {
            return Err(format!(
                "bad range `{part}` in hostlist `{expr}` (expected N or N-M with decimal numbers)"
            ));
        }
        let width = lo.len();
        let (a, b): (u64, u64) = (
            lo.parse()
                .map_err(|_| format!("number too large in `{expr}`"))?,
            hi.parse()
                .map_err(|_| format!("number too large in `{expr}`"))?,
        );
        if b < a {
            return Err(format!("descending range `{part}` in hostlist `{expr}`"));
        }
        if (b - a) as usize >= MAX_HOSTS {
            return Err(format!(
                "hostlist `{expr}` expands to more than {MAX_HOSTS} names"
            ));
        }
        out.extend((a..=b).map(|i| format!("{i:0width$}")));
    }
    Ok(out)
}

/// Compresses names into a hostlist expression that [`expand_hostlist`]
/// expands back to exactly the same names in the same order
/// (`gpu01..gpu16` → `gpu[01-16]`).
pub fn compress_hostlist<S: AsRef<str>>(names: &[S]) -> String {
    // Runs of names sharing a prefix and a padding width; each run becomes
    // one `prefix[a-b,c]` group. A name without a numeric suffix is its own
    // run (`ranges` empty).
    struct Run<'a> {
        prefix: &'a str,
        width: usize,
        ranges: Vec<(u64, u64)>,
    }
    let mut runs: Vec<Run> = Vec::new();
    for name in names {
        let name = name.as_ref();
        let cut = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, digits) = name.split_at(cut);
        let num = if digits.is_empty() || digits.len() > 18 || prefix.contains(['[', ']', ',']) {
            None
        } else {
            digits.parse::<u64>().ok()
        };
        let Some(num) = num else {
            runs.push(Run {
                prefix: name,
                width: 0,
                ranges: Vec::new(),
            });
            continue;
        };
        if let Some(last) = runs.last_mut() {
            let w = last.width;
            // Expanding `a-b` pads to the width of `a`; numbers formatted
            // with the run's width `w` expand back identically.
            if !last.ranges.is_empty() && last.prefix == prefix && format!("{num:0w$}") == digits {
                let hi = last.ranges.last().map(|r| r.1).unwrap_or(0);
                if num == hi + 1 {
                    if let Some(r) = last.ranges.last_mut() {
                        r.1 = num;
                    }
                } else {
                    last.ranges.push((num, num));
                }
                continue;
            }
        }
        runs.push(Run {
            prefix,
            width: digits.len(),
            ranges: vec![(num, num)],
        });
    }
    let mut parts = Vec::new();
    for r in &runs {
        let w = r.width;
        match r.ranges.as_slice() {
            [] => parts.push(r.prefix.to_string()),
            [(a, b)] if a == b => parts.push(format!("{}{a:0w$}", r.prefix)),
            ranges => {
                let inner: Vec<String> = ranges
                    .iter()
                    .map(|&(a, b)| {
                        if a == b {
                            format!("{a:0w$}")
                        } else {
                            format!("{a:0w$}-{b:0w$}")
                        }
                    })
                    .collect();
                parts.push(format!("{}[{}]", r.prefix, inner.join(",")));
            }
        }
    }
    parts.join(",")
}

// ---------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------

/// One logical line (continuations joined), with where it came from.
#[derive(Debug, Clone)]
struct Line {
    file: String,
    line: usize,
    text: String,
}

/// One `key=value` pair of a line; the key is lower-cased.
#[derive(Debug, Clone)]
struct Pair {
    key: String,
    /// The key as written, for messages.
    orig: String,
    value: String,
}

fn perr(l: &Line, key: &str, message: impl Into<String>) -> ClusterError {
    ClusterError::Parse {
        file: l.file.clone(),
        line: l.line,
        key: key.to_string(),
        message: message.into(),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> ClusterError {
    ClusterError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Reads `path` into logical lines, following `Include`.
fn load_lines(path: &Path, depth: usize, out: &mut Vec<Line>) -> Result<(), ClusterError> {
    let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
    let file = path.display().to_string();
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut pending: Option<(usize, String)> = None;
    for (i, raw) in text.lines().enumerate() {
        // `#` starts a comment, except when escaped as `\#`.
        let mut stripped = String::with_capacity(raw.len());
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' && chars.peek() == Some(&'#') {
                stripped.push('#');
                chars.next();
            } else if c == '#' {
                break;
            } else {
                stripped.push(c);
            }
        }
        let trimmed = stripped.trim_end();
        let (body, continues) = match trimmed.strip_suffix('\\') {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        // Slurm joins a continued line to the next one as is (no space is
        // inserted), so a value may be split mid-way.
        let (start, mut acc) = pending.take().unwrap_or((i + 1, String::new()));
        acc.push_str(body);
        if continues {
            pending = Some((start, acc));
            continue;
        }
        let logical = Line {
            file: file.clone(),
            line: start,
            text: acc.trim().to_string(),
        };
        if logical.text.is_empty() {
            continue;
        }
        let mut words = logical.text.splitn(2, char::is_whitespace);
        let first = words.next().unwrap_or("");
        if first.eq_ignore_ascii_case("include") {
            let target = words.next().unwrap_or("").trim().trim_matches('"');
            if target.is_empty() {
                return Err(perr(
                    &logical,
                    "Include",
                    "expected a file name after `Include`",
                ));
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(perr(
                    &logical,
                    "Include",
                    format!("includes nested deeper than {MAX_INCLUDE_DEPTH} (a cycle?)"),
                ));
            }
            let p = PathBuf::from(target);
            let p = if p.is_absolute() { p } else { dir.join(p) };
            load_lines(&p, depth + 1, out).map_err(|e| match e {
                ClusterError::Io { path, source } => perr(
                    &logical,
                    "Include",
                    format!("cannot read `{path}`: {source}"),
                ),
                other => other,
            })?;
            continue;
        }
        out.push(logical);
    }
    if let Some((start, acc)) = pending {
        // A continuation on the last line: keep what was there.
        if !acc.trim().is_empty() {
            out.push(Line {
                file,
                line: start,
                text: acc.trim().to_string(),
            });
        }
    }
    Ok(())
}

/// Splits a logical line into `key=value` pairs (values may be quoted).
fn pairs(l: &Line) -> Result<Vec<Pair>, ClusterError> {
    let mut out = Vec::new();
    let mut tok = String::new();
    let mut quoted = false;
    let mut toks = Vec::new();
    for c in l.text.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !tok.is_empty() {
                    toks.push(std::mem::take(&mut tok));
                }
            }
            c => tok.push(c),
        }
    }
    if quoted {
        return Err(perr(l, "", "unterminated `\"`"));
    }
    if !tok.is_empty() {
        toks.push(tok);
    }
    for t in toks {
        let Some((k, v)) = t.split_once('=') else {
            return Err(perr(l, &t, "expected `Key=Value`"));
        };
        out.push(Pair {
            key: k.to_ascii_lowercase(),
            orig: k.to_string(),
            value: v.to_string(),
        });
    }
    Ok(out)
}

/// Attributes of a node or partition line, by lower-cased key, remembering
/// the line each came from (a `DEFAULT` line's value keeps its own line).
type Attrs = BTreeMap<String, (Pair, Line)>;

fn get<'a>(a: &'a Attrs, key: &str) -> Option<(&'a str, &'a Line, &'a str)> {
    a.get(key)
        .map(|(p, l)| (p.value.as_str(), l, p.orig.as_str()))
}

fn parse_u<T: std::str::FromStr>(
    a: &Attrs,
    key: &str,
    what: &str,
) -> Result<Option<T>, ClusterError> {
    match get(a, key) {
        None => Ok(None),
        Some((v, l, k)) => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| perr(l, k, format!("`{v}` is not {what}"))),
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Result of parsing a `Gres=` value: GPU count and type.
fn parse_gres(
    v: &str,
    l: &Line,
    key: &str,
    warnings: &mut Vec<String>,
) -> Result<(u32, String), ClusterError> {
    let mut count = 0u32;
    let mut types: Vec<String> = Vec::new();
    if v.eq_ignore_ascii_case("(null)") || v.is_empty() {
        return Ok((0, String::new()));
    }
    for item in split_top_level(v).map_err(|m| perr(l, key, m))? {
        // Drop a socket binding such as `(S:0-1)`.
        let item = item.split('(').next().unwrap_or("").trim();
        let fields: Vec<&str> = item.split(':').collect();
        if !fields[0].eq_ignore_ascii_case("gpu") {
            continue;
        }
        let (ty, n) = match fields.as_slice() {
            [_] => ("", 1),
            [_, x] => match parse_count(x) {
                Some(n) => ("", n),
                None => (*x, 1),
            },
            [_, t, x] => (
                *t,
                parse_count(x).ok_or_else(|| {
                    perr(
                        l,
                        key,
                        format!("bad GPU count `{x}` in `{item}` (expected gpu[:type]:count)"),
                    )
                })?,
            ),
            _ => {
                return Err(perr(
                    l,
                    key,
                    format!("bad GRES `{item}` (expected gpu[:type][:count])"),
                ));
            }
        };
        count = count
            .checked_add(n)
            .ok_or_else(|| perr(l, key, "GPU count overflows"))?;
        if !ty.is_empty() && !types.iter().any(|t| t == ty) {
            types.push(ty.to_string());
        }
    }
    if types.len() > 1 {
        warnings.push(format!(
            "{}:{}: `{key}`: node has several GPU types ({}); the model keeps only `{}`",
            l.file,
            l.line,
            types.join(", "),
            types[0]
        ));
    }
    Ok((count, types.into_iter().next().unwrap_or_default()))
}

/// A GRES count: a number with an optional K/M/G suffix (powers of 1024).
fn parse_count(x: &str) -> Option<u32> {
    let x = x.trim();
    let (digits, mult) = match x.chars().last()? {
        'k' | 'K' => (&x[..x.len() - 1], 1024u64),
        'm' | 'M' => (&x[..x.len() - 1], 1024 * 1024),
        'g' | 'G' => (&x[..x.len() - 1], 1024 * 1024 * 1024),
        _ => (x, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    u32::try_from(digits.parse::<u64>().ok()?.checked_mul(mult)?).ok()
}

/// Keys of a `NodeName=` line that the model reads.
const NODE_KEYS: &[&str] = &[
    "nodename",
    "cpus",
    "procs",
    "sockets",
    "corespersocket",
    "threadspercore",
    "boards",
    "socketsperboard",
    "realmemory",
    "gres",
    "feature",
    "features",
    "availablefeatures",
];
/// Keys of a `NodeName=` line that do not change scheduling in the model.
const NODE_HARMLESS: &[&str] = &[
    "nodehostname",
    "nodeaddr",
    "port",
    "state",
    "tmpdisk",
    "reason",
    "cpuspeclist",
    "bcastaddr",
    "activefeatures",
];
/// Keys of a `PartitionName=` line that the model reads.
const PART_KEYS: &[&str] = &[
    "partitionname",
    "nodes",
    "default",
    "maxtime",
    "defaulttime",
    "prioritytier",
    "priorityjobfactor",
    "priority",
    "oversubscribe",
    "shared",
    "exclusiveuser",
];
/// Keys of a `PartitionName=` line that do not change scheduling in the model.
const PART_HARMLESS: &[&str] = &[
    "state",
    "hidden",
    "rootonly",
    "reqresv",
    "lln",
    "alternate",
    "disablerootjobs",
];

/// Top-level keys that shape scheduling but that the model does not (yet)
/// represent; each one present yields a warning.
const UNMODELLED: &[&str] = &[
    "defmempercpu",
    "defmempernode",
    "defmempergpu",
    "defcpupergpu",
    "maxmempercpu",
    "maxmempernode",
    "priorityweighttres",
    "priorityweightassoc",
    "priorityflags",
    "priorityusageresetperiod",
    "prioritysitefactorplugins",
    "preempttype",
    "preemptmode",
    "preemptexempttime",
    "fairsharedampeningfactor",
    "enforcepartlimits",
    "overtimelimit",
    "killwait",
    "topologyplugin",
    "licenses",
    "maxarraysize",
    "maxjobcount",
    "schedulertimeslice",
];

/// Reads `slurm.conf` and, if present, the `gres.conf` in the same directory.
///
/// Warnings about options the simulator does not model are dropped; use
/// [`read_with_warnings`] to show them.
pub fn read(slurm_conf: &Path) -> Result<Cluster, ClusterError> {
    read_with_warnings(slurm_conf).map(|(c, _)| c)
}

/// Like [`read`], and also returns one warning per option that was present
/// but is not modelled (each naming the file, line and key).
pub fn read_with_warnings(slurm_conf: &Path) -> Result<(Cluster, Vec<String>), ClusterError> {
    let mut lines = Vec::new();
    load_lines(slurm_conf, 0, &mut lines)?;
    let mut warnings = Vec::new();

    // Slurm 22.05's own defaults when a key is absent: priority/basic
    // (FIFO), all weights 0; see docs/cluster.md.
    let mut priority = PriorityConfig {
        multifactor: false,
        weight_age: 0,
        weight_fairshare: 0,
        weight_job_size: 0,
        weight_partition: 0,
        weight_qos: 0,
        ..PriorityConfig::default()
    };
    let mut sched = SchedConfig::default();
    let mut name = String::new();
    let mut mem_consumable = true;
    let mut whole_nodes = false;

    let mut node_defaults: Attrs = Attrs::new();
    let mut part_defaults: Attrs = Attrs::new();
    let mut nodes: Vec<Node> = Vec::new();
    let mut node_index: BTreeMap<String, usize> = BTreeMap::new();
    let mut node_lines: Vec<Line> = Vec::new();
    // Partition lines with their effective attributes, resolved after all nodes are known.
    let mut part_raw: Vec<(String, Attrs, Line)> = Vec::new();
    let mut nodesets: BTreeMap<String, (String, Line)> = BTreeMap::new();

    for l in &lines {
        let ps = pairs(l)?;
        let Some(first) = ps.first() else { continue };
        match first.key.as_str() {
            "nodename" => {
                let mut attrs = Attrs::new();
                for p in &ps {
                    attrs.insert(p.key.clone(), (p.clone(), l.clone()));
                }
                if first.value.eq_ignore_ascii_case("DEFAULT") {
                    attrs.remove("nodename");
                    node_defaults.extend(attrs);
                    continue;
                }
                let mut eff = node_defaults.clone();
                eff.extend(attrs);
                for (k, (p, pl)) in &eff {
                    if !NODE_KEYS.contains(&k.as_str()) && !NODE_HARMLESS.contains(&k.as_str()) {
                        warnings.push(format!(
                            "{}:{}: `{}`: node option not modelled, ignored",
                            pl.file, pl.line, p.orig
                        ));
                    }
                }
                if let Some((v, sl, k)) = get(&eff, "state") {
                    let up = v.to_ascii_uppercase();
                    if ["FUTURE", "DOWN", "DRAIN", "FAIL"]
                        .iter()
                        .any(|s| up.starts_with(s))
                    {
                        warnings.push(format!(
                            "{}:{}: `{k}={v}`: node state is not modelled; the nodes are simulated as available",
                            sl.file, sl.line
                        ));
                    }
                }
                for node in build_nodes(&eff, l, &mut warnings)? {
                    if node_index.contains_key(&node.name) {
                        return Err(perr(
                            l,
                            &first.orig,
                            format!("node `{}` is defined twice", node.name),
                        ));
                    }
                    node_index.insert(node.name.clone(), nodes.len());
                    nodes.push(node);
                    node_lines.push(l.clone());
                }
            }
            "partitionname" => {
                let mut attrs = Attrs::new();
                for p in &ps {
                    attrs.insert(p.key.clone(), (p.clone(), l.clone()));
                }
                if first.value.eq_ignore_ascii_case("DEFAULT") {
                    attrs.remove("partitionname");
                    part_defaults.extend(attrs);
                    continue;
                }
                let mut eff = part_defaults.clone();
                eff.extend(attrs);
                part_raw.push((first.value.clone(), eff, l.clone()));
            }
            "nodeset" => {
                let feature = ps.iter().find(|p| p.key == "feature");
                let members = ps.iter().find(|p| p.key == "nodes");
                let expr = match (members, feature) {
                    (Some(m), _) => m.value.clone(),
                    (None, Some(f)) => format!("feature:{}", f.value),
                    (None, None) => {
                        return Err(perr(l, &first.orig, "NodeSet needs `Nodes=` or `Feature=`"));
                    }
                };
                nodesets.insert(first.value.clone(), (expr, l.clone()));
            }
            "downnodes" | "frontendname" => {
                warnings.push(format!(
                    "{}:{}: `{}` lines are not modelled, ignored",
                    l.file, l.line, first.orig
                ));
            }
            _ => {
                for p in &ps {
                    top_level(
                        p,
                        l,
                        &mut priority,
                        &mut sched,
                        &mut name,
                        &mut mem_consumable,
                        &mut whole_nodes,
                        &mut warnings,
                    )?;
                }
            }
        }
    }

    // gres.conf beside slurm.conf confirms or overrides GPU counts and types.
    let gres = slurm_conf
        .parent()
        .map(|d| d.join("gres.conf"))
        .filter(|p| p.is_file());
    if let Some(g) = gres {
        apply_gres_conf(&g, &mut nodes, &node_index, &mut warnings)?;
    }

    if nodes.is_empty() {
        return Err(ClusterError::Invalid(format!(
            "{}: no `NodeName=` lines: the cluster has no nodes",
            slurm_conf.display()
        )));
    }
    for (n, l) in nodes.iter().zip(&node_lines) {
        if n.cpus == 0 {
            return Err(perr(l, "CPUs", format!("node `{}` has 0 CPUs", n.name)));
        }
    }
    if !mem_consumable {
        warnings.push(
            "SelectTypeParameters without `_Memory`: memory is not a consumable resource, so node memory is not modelled"
                .to_string(),
        );
        nodes
            .iter_mut()
            .for_each(|n| n.mem_mb = MEM_NOT_MODELLED_MB);
    }

    let mut partitions = Vec::new();
    let mut default_seen: Option<String> = None;
    for (pname, attrs, l) in &part_raw {
        let p = build_partition(
            pname,
            attrs,
            l,
            &nodes,
            &node_index,
            &nodesets,
            whole_nodes,
            &mut warnings,
        )?;
        if partitions.iter().any(|q: &Partition| q.name == p.name) {
            return Err(perr(
                l,
                "PartitionName",
                format!("partition `{pname}` is defined twice"),
            ));
        }
        if p.default
            && let Some(prev) = default_seen.replace(p.name.clone())
        {
            warnings.push(format!(
                "{}:{}: `Default`: both `{prev}` and `{}` are marked default; the last one wins",
                l.file, l.line, p.name
            ));
            partitions
                .iter_mut()
                .for_each(|q: &mut Partition| q.default = false);
        }
        partitions.push(p);
    }
    if partitions.is_empty() {
        return Err(ClusterError::Invalid(format!(
            "{}: no `PartitionName=` lines: jobs would have nowhere to run",
            slurm_conf.display()
        )));
    }
    if name.is_empty() {
        name = "cluster".to_string();
    }
    // The same DEFAULT line can be reported once per node line; keep the first.
    let mut seen = BTreeSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    Ok((
        Cluster {
            name,
            nodes,
            partitions,
            priority,
            sched,
        },
        warnings,
    ))
}

/// Builds the nodes of one `NodeName=` line from its effective attributes.
fn build_nodes(a: &Attrs, l: &Line, warnings: &mut Vec<String>) -> Result<Vec<Node>, ClusterError> {
    let (expr, el, ek) =
        get(a, "nodename").ok_or_else(|| perr(l, "NodeName", "missing node name"))?;
    let names = expand_hostlist(expr).map_err(|m| perr(el, ek, m))?;
    let u32_of = |key: &str| parse_u::<u32>(a, key, "a non-negative integer");
    // CPUs (or its old alias Procs) wins; otherwise the socket topology.
    let cpus = match u32_of("cpus")?.or(u32_of("procs")?) {
        Some(c) => c,
        None => {
            let sockets = match u32_of("sockets")? {
                Some(s) => s,
                None => u32_of("boards")?.unwrap_or(1) * u32_of("socketsperboard")?.unwrap_or(1),
            };
            sockets
                * u32_of("corespersocket")?.unwrap_or(1)
                * u32_of("threadspercore")?.unwrap_or(1)
        }
    };
    let mem_mb = match parse_u::<u64>(a, "realmemory", "a size in MB")? {
        Some(m) => m,
        None => {
            warnings.push(format!(
                "{}:{}: `RealMemory` not set for `{expr}`: Slurm's default is 1 MB",
                l.file, l.line
            ));
            1
        }
    };
    let (gpus, gpu_type) = match get(a, "gres") {
        Some((v, gl, gk)) => parse_gres(v, gl, gk, warnings)?,
        None => (0, String::new()),
    };
    let features: Vec<String> = ["feature", "features", "availablefeatures"]
        .iter()
        .find_map(|k| get(a, k))
        .map(|(v, _, _)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    Ok(names
        .into_iter()
        .map(|name| Node {
            name,
            cpus,
            mem_mb,
            gpus,
            gpu_type: gpu_type.clone(),
            features: features.clone(),
        })
        .collect())
}

/// Rounds seconds up to whole minutes, as Slurm stores partition and
/// priority times.
fn round_up_minute(s: u64) -> u64 {
    s.div_ceil(60) * 60
}

/// Builds one partition from its effective attributes.
#[allow(clippy::too_many_arguments)]
fn build_partition(
    pname: &str,
    a: &Attrs,
    l: &Line,
    nodes: &[Node],
    node_index: &BTreeMap<String, usize>,
    nodesets: &BTreeMap<String, (String, Line)>,
    whole_nodes: bool,
    warnings: &mut Vec<String>,
) -> Result<Partition, ClusterError> {
    for (k, (p, pl)) in a {
        if !PART_KEYS.contains(&k.as_str()) && !PART_HARMLESS.contains(&k.as_str()) {
            warnings.push(format!(
                "{}:{}: `{}`: partition option not modelled, ignored",
                pl.file, pl.line, p.orig
            ));
        }
    }
    if let Some((v, pl, k)) = get(a, "state")
        && !v.eq_ignore_ascii_case("UP")
    {
        warnings.push(format!(
            "{}:{}: `{k}={v}`: partition `{pname}` is simulated as UP",
            pl.file, pl.line
        ));
    }
    let mut members: BTreeSet<u32> = BTreeSet::new();
    match get(a, "nodes") {
        None => warnings.push(format!(
            "{}:{}: partition `{pname}` has no `Nodes=`",
            l.file, l.line
        )),
        Some((v, nl, k)) => {
            for item in split_top_level(v).map_err(|m| perr(nl, k, m))? {
                let item = item.trim();
                if item.eq_ignore_ascii_case("ALL") {
                    members.extend(0..nodes.len() as u32);
                    continue;
                }
                let names = if let Some((expr, _)) = nodesets.get(item) {
                    match expr.strip_prefix("feature:") {
                        Some(f) => nodes
                            .iter()
                            .filter(|n| n.features.iter().any(|x| x == f))
                            .map(|n| n.name.clone())
                            .collect(),
                        None => expand_hostlist(expr).map_err(|m| perr(nl, k, m))?,
                    }
                } else {
                    expand_hostlist(item).map_err(|m| perr(nl, k, m))?
                };
                for n in names {
                    let i = node_index.get(&n).ok_or_else(|| {
                        perr(
                            nl,
                            k,
                            format!("partition `{pname}` names unknown node `{n}`"),
                        )
                    })?;
                    members.insert(*i as u32);
                }
            }
        }
    }
    let time = |key: &str| -> Result<Option<u64>, ClusterError> {
        match get(a, key) {
            None => Ok(None),
            Some((v, tl, k)) => Ok(parse_time(v)
                .map_err(|m| perr(tl, k, m))?
                .map(round_up_minute)),
        }
    };
    let default = match get(a, "default") {
        None => false,
        Some((v, dl, k)) => {
            parse_bool(v).ok_or_else(|| perr(dl, k, format!("`{v}` is not YES or NO")))?
        }
    };
    // `Priority=` (before Slurm 16.05) set both the tier and the job factor.
    let old = parse_u::<u32>(a, "priority", "a non-negative integer")?;
    let priority_tier = parse_u::<u32>(a, "prioritytier", "a non-negative integer")?
        .or(old)
        .unwrap_or(1);
    let priority_job_factor = parse_u::<u32>(a, "priorityjobfactor", "a non-negative integer")?
        .or(old)
        .unwrap_or(1);
    let exclusive = match get(a, "oversubscribe").or(get(a, "shared")) {
        None => whole_nodes,
        Some((v, ol, k)) => {
            let kind = v.split(':').next().unwrap_or("").to_ascii_uppercase();
            match kind.as_str() {
                "EXCLUSIVE" => true,
                "NO" => whole_nodes,
                "YES" | "FORCE" => {
                    warnings.push(format!(
                        "{}:{}: `{k}={v}`: oversubscription is not modelled; jobs get dedicated resources",
                        ol.file, ol.line
                    ));
                    whole_nodes
                }
                _ => {
                    return Err(perr(
                        ol,
                        k,
                        format!("`{v}` is not EXCLUSIVE, FORCE, YES or NO"),
                    ));
                }
            }
        }
    };
    Ok(Partition {
        name: pname.to_string(),
        nodes: members.into_iter().collect(),
        priority_tier,
        priority_job_factor,
        max_time: time("maxtime")?,
        default_time: time("defaulttime")?,
        default,
        exclusive,
    })
}

/// Applies one top-level `Key=Value`.
#[allow(clippy::too_many_arguments)]
fn top_level(
    p: &Pair,
    l: &Line,
    priority: &mut PriorityConfig,
    sched: &mut SchedConfig,
    name: &mut String,
    mem_consumable: &mut bool,
    whole_nodes: &mut bool,
    warnings: &mut Vec<String>,
) -> Result<(), ClusterError> {
    let v = p.value.trim();
    let k = p.orig.as_str();
    let weight = || {
        v.parse::<u32>()
            .map_err(|_| perr(l, k, format!("`{v}` is not a non-negative integer")))
    };
    // A time string whose bare number means minutes; stored in seconds.
    let minutes_time = || -> Result<u64, ClusterError> {
        match parse_time(v).map_err(|m| perr(l, k, m))? {
            Some(s) => Ok(round_up_minute(s)),
            None => Err(perr(l, k, "UNLIMITED is not allowed here")),
        }
    };
    match p.key.as_str() {
        "clustername" => *name = v.to_string(),
        "prioritytype" => match v.to_ascii_lowercase().as_str() {
            "priority/multifactor" => priority.multifactor = true,
            "priority/basic" => priority.multifactor = false,
            other => {
                warnings.push(format!(
                    "{}:{}: `{k}={other}` is not modelled; using priority/multifactor",
                    l.file, l.line
                ));
                priority.multifactor = true;
            }
        },
        "priorityweightage" => priority.weight_age = weight()?,
        "priorityweightfairshare" => priority.weight_fairshare = weight()?,
        "priorityweightjobsize" => priority.weight_job_size = weight()?,
        "priorityweightpartition" => priority.weight_partition = weight()?,
        "priorityweightqos" => priority.weight_qos = weight()?,
        "prioritymaxage" => priority.max_age = minutes_time()?,
        "prioritydecayhalflife" => priority.decay_half_life = minutes_time()?,
        "prioritycalcperiod" => priority.calc_period = minutes_time()?,
        "priorityfavorsmall" => {
            priority.favor_small =
                parse_bool(v).ok_or_else(|| perr(l, k, format!("`{v}` is not YES or NO")))?
        }
        "schedulertype" => match v.to_ascii_lowercase().as_str() {
            "sched/backfill" => sched.backfill = true,
            "sched/builtin" => sched.backfill = false,
            other => {
                return Err(perr(
                    l,
                    k,
                    format!("`{other}` is not sched/backfill or sched/builtin"),
                ));
            }
        },
        "schedulerparameters" => scheduler_parameters(v, l, k, sched, warnings)?,
        "selecttype" => match v.to_ascii_lowercase().as_str() {
            "select/linear" => *whole_nodes = true,
            "select/cons_res" | "select/cons_tres" => *whole_nodes = false,
            other => warnings.push(format!(
                "{}:{}: `{k}={other}` is not modelled; using select/cons_tres",
                l.file, l.line
            )),
        },
        "selecttypeparameters" => {
            let opts: Vec<String> = v
                .split(',')
                .map(|s| s.trim().to_ascii_lowercase())
                .collect();
            // CR_Memory, CR_Core_Memory, CR_CPU_Memory, CR_Socket_Memory make memory consumable.
            *mem_consumable = opts
                .iter()
                .any(|o| o.starts_with("cr_") && o.ends_with("memory"));
        }
        key if UNMODELLED.contains(&key) => warnings.push(format!(
            "{}:{}: `{k}={v}` affects scheduling but is not modelled, ignored",
            l.file, l.line
        )),
        _ => {} // daemon plumbing (ports, paths, plugins for accounting, …)
    }
    Ok(())
}

/// Applies `SchedulerParameters=opt[=value],…`.
fn scheduler_parameters(
    v: &str,
    l: &Line,
    k: &str,
    sched: &mut SchedConfig,
    warnings: &mut Vec<String>,
) -> Result<(), ClusterError> {
    for opt in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, val) = opt.split_once('=').unwrap_or((opt, ""));
        let lname = name.to_ascii_lowercase();
        let num = || -> Result<u64, ClusterError> {
            val.parse::<u64>().map_err(|_| {
                perr(
                    l,
                    k,
                    format!("`{opt}`: expected `{name}=<non-negative integer>`"),
                )
            })
        };
        match lname.as_str() {
            "bf_window" => sched.bf_window = num()? * 60,
            "bf_max_job_test" => {
                sched.bf_max_job_test = u32::try_from(num()?)
                    .map_err(|_| perr(l, k, format!("`{opt}` is too large")))?
            }
            // slurmctld logs an error for an out-of-range value and uses
            // its default; -1 turns the loop off, which is not modelled.
            "bf_interval" => sched.bf_interval = ranged(opt, val, l, k, 1..=10_800, 30, warnings)?,
            "bf_resolution" => {
                sched.bf_resolution = ranged(opt, val, l, k, 1..=3600, 60, warnings)?
            }
            // 0 is valid: a full pass at every turn of slurmctld's
            // background loop (about every second).
            "sched_interval" => {
                sched.sched_interval = ranged(opt, val, l, k, 0..=i64::MAX, 60, warnings)?
            }
            "batch_sched_delay" => sched.batch_sched_delay = num()?,
            "default_queue_depth" => {
                sched.default_queue_depth = u32::try_from(num()?)
                    .map_err(|_| perr(l, k, format!("`{opt}` is too large")))?
            }
            _ => warnings.push(format!(
                "{}:{}: `{k}`: option `{opt}` is not modelled, ignored",
                l.file, l.line
            )),
        }
    }
    Ok(())
}

/// Parses the value of a `SchedulerParameters` interval as slurmctld does:
/// a value outside `range` is logged and replaced by `default`, and -1,
/// which turns that scheduling loop off, is an error (not modelled).
fn ranged(
    opt: &str,
    val: &str,
    l: &Line,
    k: &str,
    range: std::ops::RangeInclusive<i64>,
    default: u64,
    warnings: &mut Vec<String>,
) -> Result<u64, ClusterError> {
    let name = opt.split('=').next().unwrap_or(opt);
    let v: i64 = val
        .parse()
        .map_err(|_| perr(l, k, format!("`{opt}`: expected `{name}=<integer>`")))?;
    if v == -1 {
        return Err(perr(
            l,
            k,
            format!(
                "`{opt}` turns that scheduling loop off, which the simulator does not model \
                 (for no backfill, set SchedulerType=sched/builtin)"
            ),
        ));
    }
    if range.contains(&v) {
        return Ok(v.unsigned_abs());
    }
    warnings.push(format!(
        "{}:{}: `{k}`: `{opt}` is out of range ({}..={}); slurmctld rejects it and uses \
         the default {default}, and so does the simulator",
        l.file,
        l.line,
        range.start(),
        range.end()
    ));
    Ok(default)
}

/// Reads `gres.conf` and applies its GPU counts and types to the nodes.
fn apply_gres_conf(
    path: &Path,
    nodes: &mut [Node],
    node_index: &BTreeMap<String, usize>,
    warnings: &mut Vec<String>,
) -> Result<(), ClusterError> {
    let mut lines = Vec::new();
    load_lines(path, 0, &mut lines)?;
    // Per node: (count, type) summed over the lines that name it; the count
    // stays `None` when no line gives one (AutoDetect decides at run time,
    // so slurm.conf's count stands).
    let mut found: BTreeMap<usize, (Option<u32>, String)> = BTreeMap::new();
    for l in &lines {
        let ps = pairs(l)?;
        let getp = |key: &str| ps.iter().find(|p| p.key == key);
        // `AutoDetect=…`, alone or per node, says nothing about counts.
        if ps
            .iter()
            .all(|p| p.key == "autodetect" || p.key == "nodename")
        {
            continue;
        }
        let Some(name) = getp("name") else {
            return Err(perr(l, "Name", "gres.conf line without `Name=`"));
        };
        if !name.value.eq_ignore_ascii_case("gpu") {
            continue;
        }
        let count = match (getp("count"), getp("file")) {
            (Some(c), _) => Some(
                parse_count(&c.value)
                    .ok_or_else(|| perr(l, &c.orig, format!("`{}` is not a count", c.value)))?,
            ),
            (None, Some(f)) => {
                let files = expand_hostlist(&f.value).map_err(|m| perr(l, &f.orig, m))?;
                Some(
                    u32::try_from(files.len())
                        .map_err(|_| perr(l, &f.orig, "too many device files"))?,
                )
            }
            (None, None) => None,
        };
        let ty = getp("type").map(|p| p.value.clone()).unwrap_or_default();
        let targets: Vec<usize> = match getp("nodename") {
            None => (0..nodes.len()).collect(),
            Some(nn) => {
                let mut t = Vec::new();
                for n in expand_hostlist(&nn.value).map_err(|m| perr(l, &nn.orig, m))? {
                    match node_index.get(&n) {
                        Some(&i) => t.push(i),
                        None => warnings.push(format!(
                            "{}:{}: `{}`: node `{n}` is not in slurm.conf, ignored",
                            l.file, l.line, nn.orig
                        )),
                    }
                }
                t
            }
        };
        for i in targets {
            let e = found.entry(i).or_insert((None, String::new()));
            if let Some(c) = count {
                e.0 = Some(e.0.unwrap_or(0).saturating_add(c));
            }
            if e.1.is_empty() {
                e.1 = ty.clone();
            }
        }
    }
    for (i, (count, ty)) in found {
        let n = &mut nodes[i];
        if let Some(count) = count.filter(|&c| c != n.gpus) {
            warnings.push(format!(
                "{}: node `{}` has {} GPUs in slurm.conf but {count} in gres.conf; using {count}",
                path.display(),
                n.name,
                n.gpus
            ));
            n.gpus = count;
        }
        if !ty.is_empty() {
            if !n.gpu_type.is_empty() && n.gpu_type != ty {
                warnings.push(format!(
                    "{}: node `{}` has GPU type `{}` in slurm.conf but `{ty}` in gres.conf; using `{ty}`",
                    path.display(),
                    n.name,
                    n.gpu_type
                ));
            }
            n.gpu_type = ty;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(rel: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cluster")).join(rel)
    }

    /// Writes `files` into a fresh directory and reads its `slurm.conf`.
    fn read_files(files: &[(&str, &str)]) -> Result<(Cluster, Vec<String>), ClusterError> {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        read_with_warnings(&dir.path().join("slurm.conf"))
    }

    fn expect_parse_err(
        files: &[(&str, &str)],
        file_end: &str,
        line: usize,
        key: &str,
        needle: &str,
    ) {
        match read_files(files) {
            Err(ClusterError::Parse {
                file,
                line: l,
                key: k,
                message,
            }) => {
                assert!(file.ends_with(file_end), "file {file}");
                assert_eq!((l, k.as_str()), (line, key), "message: {message}");
                assert!(
                    message.contains(needle),
                    "`{message}` should mention `{needle}`"
                );
            }
            other => panic!("expected a parse error, got {other:?}"),
        }
    }

    #[test]
    fn time_strings() {
        assert_eq!(parse_time("60"), Ok(Some(3600)));
        assert_eq!(parse_time("1:30"), Ok(Some(90)));
        assert_eq!(parse_time("02:00:00"), Ok(Some(7200)));
        assert_eq!(parse_time("2-00:00:00"), Ok(Some(2 * 86_400)));
        assert_eq!(parse_time("1-0"), Ok(Some(86_400)));
        assert_eq!(parse_time("1-2:30"), Ok(Some(86_400 + 2 * 3600 + 1800)));
        assert_eq!(parse_time("UNLIMITED"), Ok(None));
        assert_eq!(parse_time("infinite"), Ok(None));
        for bad in ["", "1h", "1:2:3:4", "-5", "1-", "a-1", "1-1:2:3:4"] {
            assert!(parse_time(bad).is_err(), "`{bad}` must be rejected");
        }
        for s in [0, 59, 3600, 86_399, 86_400, 7 * 86_400 + 3661] {
            assert_eq!(
                parse_time(&format_time(s)),
                Ok(Some(s)),
                "{}",
                format_time(s)
            );
        }
    }

    #[test]
    fn hostlists() {
        let e = |s: &str| expand_hostlist(s).unwrap();
        assert_eq!(e("gpu[01-03]"), ["gpu01", "gpu02", "gpu03"]);
        assert_eq!(e("gpu[01-16]").len(), 16);
        assert_eq!(e("n[1-3,5]"), ["n1", "n2", "n3", "n5"]);
        assert_eq!(e("n[8-10]"), ["n8", "n9", "n10"]);
        assert_eq!(e("a[1-2]b[1-2]"), ["a1b1", "a1b2", "a2b1", "a2b2"]);
        assert_eq!(e("x,n[1-2],y"), ["x", "n1", "n2", "y"]);
        assert_eq!(e("/dev/nvidia[0-3]").len(), 4);
        for bad in ["n[1-", "n[3-1]", "n[a-b]", "n]1[", "a,,b", "n[1-2000000]"] {
            assert!(expand_hostlist(bad).is_err(), "`{bad}` must be rejected");
        }
    }

    #[test]
    fn hostlist_compression_round_trips() {
        let cases: Vec<Vec<String>> = vec![
            expand_hostlist("gpu[01-16]").unwrap(),
            expand_hostlist("n[1-128]").unwrap(),
            expand_hostlist("n[1-3,5,7-9],m1,m01,x,gpu[098-101]").unwrap(),
            expand_hostlist("a[1-2]b[1-2]").unwrap(),
            vec!["n3".into(), "n1".into(), "n2".into()],
        ];
        for names in cases {
            let c = compress_hostlist(&names);
            assert_eq!(expand_hostlist(&c).unwrap(), names, "via `{c}`");
        }
        assert_eq!(
            compress_hostlist(&expand_hostlist("gpu[01-16]").unwrap()),
            "gpu[01-16]"
        );
        assert_eq!(
            compress_hostlist(&expand_hostlist("n[1-3,5]").unwrap()),
            "n[1-3,5]"
        );
    }

    #[test]
    fn quirks_fixture() {
        let (c, warnings) = read_with_warnings(&fixture("quirks/slurm.conf")).unwrap();
        assert_eq!(c.name, "quirks");
        let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "gpu01", "gpu02", "gpu03", "gpu04", "dgx1", "cpu1", "cpu2", "cpu3", "cpu5", "r1c1",
                "r1c2", "r2c1", "r2c2"
            ]
        );
        // Sockets x CoresPerSocket x ThreadsPerCore from the DEFAULT line.
        assert_eq!(c.nodes[0].cpus, 64);
        assert_eq!(c.nodes[0].mem_mb, 256_000);
        assert_eq!(c.nodes[0].features, ["a100", "ib"]);
        // CPUs wins over the topology.
        assert_eq!(c.nodes[4].cpus, 128);
        assert_eq!(c.nodes[4].gpus, 8);
        assert_eq!(c.nodes[4].gpu_type, "h100");
        assert_eq!(c.nodes[4].features, ["h100", "nvlink"]);
        // A later DEFAULT line updates the defaults.
        assert_eq!((c.nodes[5].cpus, c.nodes[5].mem_mb), (8, 64_000));
        assert_eq!((c.nodes[9].cpus, c.nodes[9].mem_mb), (4, 8000));
        // gres.conf overrides slurm.conf's count on gpu04.
        assert_eq!(c.nodes[2].gpus, 4);
        assert_eq!(c.nodes[3].gpus, 3);
        assert_eq!(c.total_gpus(), 4 * 3 + 3 + 8);
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("gpu04") && w.contains("gres.conf")),
            "{warnings:#?}"
        );

        let p = |n: &str| &c.partitions[c.partition(n).unwrap()];
        assert_eq!(p("gpu").nodes, [0, 1, 2, 3, 4]);
        assert!(p("gpu").default);
        assert_eq!(c.default_partition(), c.partition("gpu"));
        assert_eq!(
            p("gpu").max_time,
            Some(86_400),
            "from PartitionName=DEFAULT"
        );
        assert_eq!(p("gpu").default_time, Some(3600), "bare number = minutes");
        assert_eq!(p("cpu").nodes, [5, 6, 7, 8]);
        assert_eq!(p("cpu").max_time, None);
        assert_eq!(p("cpu").priority_job_factor, 5);
        assert_eq!(p("big").nodes.len(), 13);
        assert!(p("big").exclusive);
        assert_eq!(p("big").priority_tier, 3);
        assert_eq!(p("big").max_time, Some(2 * 86_400));
        assert_eq!(p("grid").max_time, Some(1800), "MM:SS");
        assert!(!p("grid").default);

        let q = &c.priority;
        assert!(q.multifactor);
        assert_eq!(
            (
                q.weight_age,
                q.weight_fairshare,
                q.weight_job_size,
                q.weight_partition,
                q.weight_qos
            ),
            (1000, 10_000, 500, 2000, 3000)
        );
        assert_eq!(q.max_age, 14 * 86_400);
        assert_eq!(q.decay_half_life, 2 * 86_400 + 12 * 3600);
        assert_eq!(q.calc_period, 600, "PriorityCalcPeriod is in minutes");
        assert!(q.favor_small);
        let s = &c.sched;
        assert!(s.backfill);
        assert_eq!(s.bf_window, 2880 * 60, "bf_window is in minutes");
        assert_eq!(
            (
                s.bf_max_job_test,
                s.bf_interval,
                s.bf_resolution,
                s.sched_interval,
                s.default_queue_depth,
                s.batch_sched_delay
            ),
            (1000, 45, 120, 30, 200, 5)
        );
        for needle in [
            "bf_continue",
            "max_rpc_cnt",
            "PriorityWeightTRES",
            "DefMemPerCPU",
            "Weight",
            "AllowAccounts",
        ] {
            assert!(
                warnings.iter().any(|w| w.contains(needle)),
                "no warning about {needle}: {warnings:#?}"
            );
        }
        // DEFAULT-line warnings are reported once, not once per node line.
        let weight = warnings.iter().filter(|w| w.contains("`Weight`")).count();
        assert_eq!(weight, 1, "{warnings:#?}");
    }

    #[test]
    fn local_cluster_example() {
        let dir = PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/examples/local-cluster"
        ));
        assert!(
            dir.is_dir(),
            "example not found at {}: check out shared/ beside the repository",
            dir.display()
        );
        let tmp = tempfile::tempdir().unwrap();
        for (from, to) in [
            ("slurm.conf.in", "slurm.conf"),
            ("gres.conf.in", "gres.conf"),
        ] {
            let text = std::fs::read_to_string(dir.join(from)).unwrap();
            let text = text
                .replace("@STATE@", "/tmp/state")
                .replace("@DBPASS@", "secret");
            std::fs::write(tmp.path().join(to), text).unwrap();
        }
        let (c, warnings) = read_with_warnings(&tmp.path().join("slurm.conf")).unwrap();
        assert_eq!(c.name, "testc");
        assert_eq!(c.nodes.len(), 4);
        for n in &c.nodes {
            assert_eq!((n.cpus, n.mem_mb, n.gpus), (8, 8000, 4), "{n:?}");
        }
        assert_eq!(c.partitions.len(), 2);
        let gpu = &c.partitions[c.partition("gpu").unwrap()];
        assert!(gpu.default);
        assert_eq!(
            (gpu.default_time, gpu.max_time),
            (Some(30 * 60), Some(120 * 60))
        );
        let debug = &c.partitions[c.partition("debug").unwrap()];
        assert_eq!(
            (debug.default_time, debug.max_time),
            (Some(5 * 60), Some(10 * 60))
        );
        assert_eq!(debug.nodes, [0, 1, 2, 3]);
        assert!(c.priority.multifactor);
        assert_eq!(c.priority.weight_age, 1000);
        assert_eq!(c.priority.weight_job_size, 500);
        assert_eq!(c.priority.weight_fairshare, 2000);
        assert_eq!(c.priority.weight_qos, 1000);
        assert_eq!(
            c.priority.weight_partition, 0,
            "Slurm's default when absent"
        );
        assert_eq!(c.priority.max_age, 86_400, "PriorityMaxAge=1-0 is one day");
        assert!(c.sched.backfill);
        assert_eq!(c.sched.bf_interval, 10);
        assert!(
            warnings.iter().any(|w| w.contains("bf_continue")),
            "{warnings:#?}"
        );
    }

    #[test]
    fn include_missing_file_names_the_line() {
        expect_parse_err(
            &[("slurm.conf", "ClusterName=x\n\nInclude missing.conf\n")],
            "slurm.conf",
            3,
            "Include",
            "missing.conf",
        );
    }

    #[test]
    fn scheduler_intervals_out_of_range_fall_back_as_slurmctld_does() {
        let base = "NodeName=n[1-2] CPUs=4 RealMemory=1000\nPartitionName=p Nodes=ALL\n";
        let (c, warnings) = read_files(&[(
            "slurm.conf",
            &format!(
                "{base}SchedulerParameters=bf_interval=0,bf_resolution=7200,sched_interval=-5\n"
            ),
        )])
        .expect("parses");
        let s = &c.sched;
        assert_eq!(
            (s.bf_interval, s.bf_resolution, s.sched_interval),
            (30, 60, 60)
        );
        for opt in ["bf_interval=0", "bf_resolution=7200", "sched_interval=-5"] {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(opt) && w.contains("default")),
                "no warning about {opt}: {warnings:#?}"
            );
        }
        let (c, _) = read_files(&[(
            "slurm.conf",
            &format!("{base}SchedulerParameters=sched_interval=0,bf_interval=10800\n"),
        )])
        .expect("parses");
        assert_eq!((c.sched.sched_interval, c.sched.bf_interval), (0, 10_800));
        for opt in ["sched_interval=-1", "bf_interval=-1"] {
            expect_parse_err(
                &[(
                    "slurm.conf",
                    &format!("{base}SchedulerParameters=bf_window=60,{opt}\n"),
                )],
                "slurm.conf",
                3,
                "SchedulerParameters",
                "not model",
            );
        }
    }

    #[test]
    fn bad_values_name_file_line_and_key() {
        let base = "NodeName=n[1-2] CPUs=4 RealMemory=1000\nPartitionName=p Nodes=ALL\n";
        let with = |extra: &str| format!("{base}{extra}");
        expect_parse_err(
            &[("slurm.conf", &with("PriorityWeightAge=lots\n"))],
            "slurm.conf",
            3,
            "PriorityWeightAge",
            "lots",
        );
        expect_parse_err(
            &[("slurm.conf", &with("PriorityMaxAge=7days\n"))],
            "slurm.conf",
            3,
            "PriorityMaxAge",
            "time string",
        );
        expect_parse_err(
            &[("slurm.conf", &with("SchedulerParameters=bf_window=x\n"))],
            "slurm.conf",
            3,
            "SchedulerParameters",
            "bf_window",
        );
        expect_parse_err(
            &[("slurm.conf", &with("SchedulerType=sched/hold\n"))],
            "slurm.conf",
            3,
            "SchedulerType",
            "sched/builtin",
        );
        expect_parse_err(
            &[("slurm.conf", &with("PartitionName=q Nodes=n[1-3]\n"))],
            "slurm.conf",
            3,
            "Nodes",
            "unknown node `n3`",
        );
        expect_parse_err(
            &[(
                "slurm.conf",
                &with("PartitionName=q Nodes=n1 MaxTime=forever\n"),
            )],
            "slurm.conf",
            3,
            "MaxTime",
            "time string",
        );
        expect_parse_err(
            &[("slurm.conf", &with("NodeName=m1 CPUs=four\n"))],
            "slurm.conf",
            3,
            "CPUs",
            "four",
        );
        expect_parse_err(
            &[("slurm.conf", &with("NodeName=m[1-\n"))],
            "slurm.conf",
            3,
            "NodeName",
            "unbalanced",
        );
        expect_parse_err(
            &[("slurm.conf", &with("NodeName=n2 CPUs=4\n"))],
            "slurm.conf",
            3,
            "NodeName",
            "defined twice",
        );
        expect_parse_err(
            &[("slurm.conf", &with("NodeName=m1 CPUs=0\n"))],
            "slurm.conf",
            3,
            "CPUs",
            "0 CPUs",
        );
        expect_parse_err(
            &[("slurm.conf", &with("NodeName=m1 CPUs=2 Gres=gpu:a100:x\n"))],
            "slurm.conf",
            3,
            "Gres",
            "count",
        );
        expect_parse_err(
            &[("slurm.conf", &with("Bogus\n"))],
            "slurm.conf",
            3,
            "Bogus",
            "Key=Value",
        );
        // A continued line reports the line it starts on; an included file names itself.
        expect_parse_err(
            &[(
                "slurm.conf",
                &with("# c\nPriorityWeightAge=1 \\\n  PriorityWeightQOS=-1\n"),
            )],
            "slurm.conf",
            4,
            "PriorityWeightQOS",
            "-1",
        );
        expect_parse_err(
            &[
                ("slurm.conf", &with("Include extra.conf\n")),
                ("extra.conf", "\n\nPriorityFavorSmall=maybe\n"),
            ],
            "extra.conf",
            3,
            "PriorityFavorSmall",
            "YES or NO",
        );
        expect_parse_err(
            &[
                ("slurm.conf", base),
                ("gres.conf", "NodeName=n1 Name=gpu Count=many\n"),
            ],
            "gres.conf",
            1,
            "Count",
            "many",
        );
    }

    #[test]
    fn missing_nodes_or_partitions_are_errors() {
        assert!(
            matches!(read_files(&[("slurm.conf", "PartitionName=p Nodes=ALL\n")]), Err(ClusterError::Invalid(m)) if m.contains("no `NodeName=`"))
        );
        assert!(
            matches!(read_files(&[("slurm.conf", "NodeName=n1 CPUs=1\n")]), Err(ClusterError::Invalid(m)) if m.contains("no `PartitionName=`"))
        );
    }

    #[test]
    fn slurm_defaults_and_select_modes() {
        // Nothing set: priority/basic with zero weights, backfill with defaults.
        let (c, w) = read_files(&[(
            "slurm.conf",
            "NodeName=n1 CPUs=2\nPartitionName=p Nodes=n1\n",
        )])
        .unwrap();
        assert!(!c.priority.multifactor);
        assert_eq!(c.priority.weight_age, 0);
        assert_eq!(c.sched, SchedConfig::default());
        assert_eq!(c.nodes[0].mem_mb, 1, "RealMemory defaults to 1 MB");
        assert!(w.iter().any(|w| w.contains("RealMemory")));
        // CR_Core: memory not consumable; select/linear: whole nodes.
        let (c, _) = read_files(&[(
            "slurm.conf",
            "SelectType=select/linear\nSelectTypeParameters=CR_Core\nSchedulerType=sched/builtin\nNodeName=n1 CPUs=2 RealMemory=100\nPartitionName=p Nodes=n1\n",
        )])
        .unwrap();
        assert_eq!(c.nodes[0].mem_mb, MEM_NOT_MODELLED_MB);
        assert!(c.partitions[0].exclusive);
        assert!(!c.sched.backfill);
        // Unusual node states are reported.
        let (_, w) = read_files(&[(
            "slurm.conf",
            "NodeName=n1 CPUs=2 State=FUTURE\nPartitionName=p Nodes=n1\n",
        )])
        .unwrap();
        assert!(w.iter().any(|w| w.contains("State=FUTURE")), "{w:#?}");
    }

    #[test]
    fn nodeset_and_untyped_gres_typed_by_gres_conf() {
        let (c, _) = read_files(&[
            (
                "slurm.conf",
                "NodeName=g[1-2] CPUs=8 RealMemory=100 Gres=gpu:2 Feature=fast\nNodeName=c1 CPUs=8 RealMemory=100\nNodeSet=fastset Feature=fast\nPartitionName=p Nodes=fastset\n",
            ),
            ("gres.conf", "Name=gpu Type=v100 File=/dev/nvidia[0-1]\n"),
        ])
        .unwrap();
        assert_eq!(c.partitions[0].nodes, [0, 1]);
        assert_eq!(c.nodes[0].gpu_type, "v100");
        assert_eq!(c.nodes[0].gpus, 2);
        // A gres.conf line without NodeName applies to every node.
        assert_eq!(c.nodes[2].gpus, 2);
        // AutoDetect lines and lines without a count leave slurm.conf's count.
        let (c, _) = read_files(&[
            (
                "slurm.conf",
                "NodeName=g1 CPUs=8 Gres=gpu:4\nPartitionName=p Nodes=g1\n",
            ),
            (
                "gres.conf",
                "NodeName=g1 AutoDetect=nvml\nNodeName=g1 Name=gpu Type=l40s\n",
            ),
        ])
        .unwrap();
        assert_eq!((c.nodes[0].gpus, c.nodes[0].gpu_type.as_str()), (4, "l40s"));
    }
}
