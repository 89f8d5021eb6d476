//! GPU counts from Slurm's TRES and GRES strings, e.g. a job's
//! `tres_per_node` (`gres:gpu:2`, `gres/gpu:a100=2` in later releases) or a
//! node's `Gres=` (`gpu:a100:4(S:0-1)`).
//!
//! This module owns only the string format. It must stay pure (no Slurm
//! types) and must never panic, whatever the string.

/// The number of GPUs a comma-separated TRES/GRES list names. Entries that
/// are not `gpu` are skipped; an entry without a count (`gres:gpu`,
/// `gpu:a100`) counts 1; counts may carry a `k`, `m` or `g` suffix (powers
/// of 1024, as Slurm's GRES counts do). Saturates instead of overflowing.
pub fn gpus_in(list: &str) -> u64 {
    list.split(',')
        .map(gpus_in_entry)
        .fold(0u64, u64::saturating_add)
}

fn gpus_in_entry(entry: &str) -> u64 {
    let e = entry.trim();
    // Drop a socket binding such as `(S:0-1)`.
    let e = e.split('(').next().unwrap_or("");
    let e = e
        .strip_prefix("gres:")
        .or_else(|| e.strip_prefix("gres/"))
        .unwrap_or(e);
    let mut parts = e.split([':', '=']);
    if parts.next() != Some("gpu") {
        return 0;
    }
    let rest: Vec<&str> = parts.collect();
    match rest.last() {
        None => 1,
        Some(last) => count(last).unwrap_or(if rest.len() == 1 { 1 } else { 0 }),
    }
}

/// A GRES count: digits with an optional k/m/g suffix.
fn count(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // All digits: only overflow can fail, and it saturates.
    Some(num.parse::<u64>().unwrap_or(u64::MAX).saturating_mul(mult))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_tres_strings() {
        assert_eq!(gpus_in("gres:gpu:2"), 2);
        assert_eq!(gpus_in("gres:gpu:a100:4"), 4);
        assert_eq!(gpus_in("gres/gpu:3"), 3);
        assert_eq!(gpus_in("gres/gpu=3"), 3);
        assert_eq!(gpus_in("gres/gpu:a100=8"), 8);
        assert_eq!(gpus_in("gres:gpu"), 1);
        assert_eq!(gpus_in("gres:mps:100,gres:gpu:1"), 1);
        assert_eq!(gpus_in("gres:gpu:a100:2,gres:gpu:v100:1"), 3);
        assert_eq!(gpus_in("cpu=4,mem=100"), 0);
        assert_eq!(gpus_in(""), 0);
    }

    #[test]
    fn node_gres_strings() {
        assert_eq!(gpus_in("gpu:4"), 4);
        assert_eq!(gpus_in("gpu:a100:4(S:0-1)"), 4);
        assert_eq!(gpus_in("gpu:a100"), 1);
        assert_eq!(gpus_in("gpu:2k"), 2048);
        assert_eq!(gpus_in("gpugpu:2,gpus:3"), 0, "only the name `gpu` counts");
    }

    #[test]
    fn garbage_never_panics_or_overflows() {
        for s in [
            "gpu:",
            "gpu::",
            "(((",
            "gpu:a100:x",
            ":::,,,",
            "gpu:99999999999999999999",
        ] {
            let _ = gpus_in(s);
        }
        assert_eq!(gpus_in("gpu:a100:x"), 0);
        assert_eq!(gpus_in("gpu:18446744073709551615,gpu:5"), u64::MAX);
        assert_eq!(gpus_in("gpu:17179869184g"), u64::MAX);
    }
}
