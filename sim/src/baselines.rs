//! Baseline policies: the site's own priority/multifactor, and the textbook
//! heuristics that the learned policy is compared with.
//!
//! Every baseline implements [`policy::Policy`] and only scores jobs; the
//! simulator orders and schedules them. This module must not reach into the
//! simulator's state: a baseline sees exactly what the learned policy sees.

use policy::{JobObs, Policy, QueueContext, Rescore, ScoreDeps};

/// Names of every baseline, as accepted by [`by_name`].
pub const NAMES: &[&str] = &["slurm", "fcfs", "sjf", "wfp3", "unicep", "f1", "aging"];

/// The baseline called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Policy>> {
    Some(match name {
        "slurm" => Box::new(Slurm),
        "fcfs" => Box::new(Fcfs),
        "sjf" => Box::new(Sjf),
        "wfp3" => Box::new(Wfp3),
        "unicep" => Box::new(Unicep),
        "f1" => Box::new(F1),
        "aging" => Box::new(Aging::default()),
        _ => return None,
    })
}

/// The site's priority/multifactor as configured: "what the site runs today".
#[derive(Debug, Clone, Copy, Default)]
pub struct Slurm;

impl Policy for Slurm {
    fn name(&self) -> &str {
        "slurm"
    }
    fn score_deps(&self) -> ScoreDeps {
        ScoreDeps::Multifactor
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = j.multifactor;
        }
    }
}

/// First come, first served: earliest submit first.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fcfs;

impl Policy for Fcfs {
    fn name(&self) -> &str {
        "fcfs"
    }
    fn score_deps(&self) -> ScoreDeps {
        ScoreDeps::Submission
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = -(j.submit as f64);
        }
    }
}

/// Shortest job first, by the user's time limit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sjf;

impl Policy for Sjf {
    fn name(&self) -> &str {
        "sjf"
    }
    fn score_deps(&self) -> ScoreDeps {
        ScoreDeps::Submission
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = -(j.time_limit as f64);
        }
    }
}

/// WFP3 (Tang et al.): `(wait / limit)^3 * cpus`, recomputed every pass.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wfp3;

impl Policy for Wfp3 {
    fn name(&self) -> &str {
        "wfp3"
    }
    fn rescore(&self) -> Rescore {
        Rescore::EveryPass
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            let r = j.wait as f64 / j.time_limit.max(1) as f64;
            *o = r * r * r * j.cpus as f64;
        }
    }
}

/// UNICEP (Tang et al.): `wait / (log2(cpus) * limit)`, recomputed every
/// pass. A one-CPU job would divide by `log2(1) = 0`, so the logarithm is
/// taken of `max(cpus, 2)`: one-CPU jobs score like two-CPU jobs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unicep;

impl Policy for Unicep {
    fn name(&self) -> &str {
        "unicep"
    }
    fn rescore(&self) -> Rescore {
        Rescore::EveryPass
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            let l = (j.cpus.max(2) as f64).log2();
            *o = j.wait as f64 / (l * j.time_limit.max(1) as f64);
        }
    }
}

/// F1 (Carastan-Santos & de Camargo, SC'17): the job with the smallest
/// `log10(r) * n + 870 * log10(s)` first, with `r` the time limit, `n` the
/// CPUs and `s` the absolute submit time in seconds, as published (both
/// logarithms are taken of at least 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct F1;

impl Policy for F1 {
    fn name(&self) -> &str {
        "f1"
    }
    fn score_deps(&self) -> ScoreDeps {
        ScoreDeps::Submission
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            let r = (j.time_limit.max(1) as f64).log10();
            let s = (j.submit.max(1) as f64).log10();
            *o = -(r * j.cpus as f64 + 870.0 * s);
        }
    }
}

/// Aging: `(wait + B) / (limit^P · cpus^Q)`, highest first, with the limit
/// and the CPUs taken as at least 1. Until a job has waited about `B` its
/// size sets its place (short and narrow first); after that its wait does,
/// and its priority rises in proportion to the wait, so a stream of small
/// jobs cannot keep a large one waiting for good. Evaluated as `aging`
/// with its defaults, or `aging:B/P/Q` (`slurm-rl evaluate`). The defaults (`B` = 1 h,
/// `P` = 0.8, `Q` = 0.15) were chosen on SDSC-SP2's validation windows
/// (docs/results.md); `slurm-rl train --init aging` fits a model to it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Aging {
    /// `B`: seconds added to the wait.
    pub offset: f64,
    /// `P`: the power of the time limit.
    pub time_power: f64,
    /// `Q`: the power of the requested CPUs.
    pub cpu_power: f64,
}

impl Default for Aging {
    fn default() -> Self {
        Aging {
            offset: 3600.0,
            time_power: 0.8,
            cpu_power: 0.15,
        }
    }
}

impl Aging {
    /// The logarithm of the score (the same order), from the wait and the
    /// time limit in seconds and the CPUs.
    pub fn log_score(&self, wait: f64, limit: f64, cpus: f64) -> f64 {
        (wait + self.offset).max(1.0).ln()
            - self.time_power * limit.max(1.0).ln()
            - self.cpu_power * cpus.max(1.0).ln()
    }
}

impl Policy for Aging {
    fn name(&self) -> &str {
        "aging"
    }
    /// Rescored at submit and every `PriorityCalcPeriod`, as the plugin
    /// runs a model fitted to it (unlike the published heuristics, which
    /// are rescored every pass).
    fn rescore(&self) -> Rescore {
        Rescore::SubmitAndPeriod
    }
    fn score(&mut self, _ctx: &QueueContext, jobs: &[JobObs], out: &mut [f64]) {
        for (o, j) in out.iter_mut().zip(jobs) {
            *o = self.log_score(j.wait as f64, j.time_limit as f64, f64::from(j.cpus));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(submit: u64, wait: u64, limit: u64, cpus: u32) -> JobObs {
        JobObs {
            submit,
            wait,
            time_limit: limit,
            cpus,
            multifactor: wait as f64,
            ..JobObs::default()
        }
    }

    fn scores(name: &str, jobs: &[JobObs]) -> Vec<f64> {
        let mut p = by_name(name).expect(name);
        assert_eq!(p.name(), name);
        let mut out = vec![0.0; jobs.len()];
        p.score(&QueueContext::default(), jobs, &mut out);
        out
    }

    /// The simulator trusts `score_deps` to skip rescoring work, so each
    /// claim is checked against `score` on observations that differ in
    /// everything that may change after submission.
    #[test]
    fn score_deps_claims_hold() {
        let a = JobObs {
            id: 7,
            submit: 1000,
            wait: 30,
            time_limit: 3600,
            cpus: 8,
            fits_now: true,
            fairshare: 0.5,
            multifactor: 123.0,
            ..JobObs::default()
        };
        let b = JobObs {
            wait: 9000,
            fits_now: false,
            fairshare: 0.125,
            multifactor: 456.0,
            ..a
        };
        let ctx_b = QueueContext {
            now: 10_000,
            free_cpus: 3,
            total_cpus: 64,
            queue_len: 12,
            running: 5,
            ..QueueContext::default()
        };
        for n in NAMES {
            let mut p = by_name(n).expect(n);
            let mut sa = [0.0];
            let mut sb = [0.0];
            p.score(&QueueContext::default(), &[a], &mut sa);
            p.score(&ctx_b, &[b], &mut sb);
            match p.score_deps() {
                ScoreDeps::Any => {}
                ScoreDeps::Multifactor => {
                    assert_eq!((sa[0], sb[0]), (a.multifactor, b.multifactor), "{n}")
                }
                ScoreDeps::Submission => assert_eq!(sa[0].to_bits(), sb[0].to_bits(), "{n}"),
            }
        }
    }

    #[test]
    fn every_name_resolves_and_unknown_does_not() {
        for n in NAMES {
            assert!(by_name(n).is_some(), "{n}");
        }
        assert!(by_name("nope").is_none());
    }

    #[test]
    fn orders_match_their_definitions() {
        let a = obs(100, 50, 1000, 4);
        let b = obs(200, 10, 100, 1);
        let s = scores("fcfs", &[a, b]);
        assert!(s[0] > s[1]);
        let s = scores("sjf", &[a, b]);
        assert!(s[1] > s[0]);
        let s = scores("slurm", &[a, b]);
        assert_eq!(s, vec![50.0, 10.0]);
        // wfp3: a = (0.05)^3 * 4 = 5e-4; b = (0.1)^3 * 1 = 1e-3.
        let s = scores("wfp3", &[a, b]);
        assert!((s[0] - 5e-4).abs() < 1e-12 && (s[1] - 1e-3).abs() < 1e-12);
        // unicep: a = 50 / (2 * 1000) = 0.025; b (guarded log2 = 1) = 10 / 100 = 0.1.
        let s = scores("unicep", &[a, b]);
        assert!((s[0] - 0.025).abs() < 1e-12 && (s[1] - 0.1).abs() < 1e-12);
        // f1: a = -(3*4 + 870*2) = -1752; b = -(2*1 + 870*log10(200)).
        let s = scores("f1", &[a, b]);
        assert!((s[0] + 1752.0).abs() < 1e-9);
        assert!((s[1] + (2.0 + 870.0 * 200f64.log10())).abs() < 1e-9);
        // aging: ln(50 + 3600) − 0.8·ln(1000) − 0.15·ln(4) for a; b waited
        // less but is ten times shorter and narrower, so it goes first.
        let s = scores("aging", &[a, b]);
        let want_a = 3650f64.ln() - 0.8 * 1000f64.ln() - 0.15 * 4f64.ln();
        assert!((s[0] - want_a).abs() < 1e-12, "{s:?}");
        assert!(s[1] > s[0]);
        // Past the offset the wait takes over: a job ten times longer
        // overtakes once it has waited 10^0.8 ≈ 6.3 times as long (plus B).
        let long = obs(0, 100_000, 10_000, 1);
        let short = obs(0, 10_000, 1_000, 1);
        let s = scores("aging", &[long, short]);
        assert!(s[0] > s[1], "{s:?}");
        assert!(by_name("wfp3").unwrap().rescore() == Rescore::EveryPass);
        assert!(by_name("slurm").unwrap().rescore() == Rescore::SubmitAndPeriod);
        assert!(by_name("aging").unwrap().rescore() == Rescore::SubmitAndPeriod);
    }
}
