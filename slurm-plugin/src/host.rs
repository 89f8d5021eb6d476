//! The host interface: what the plugin's logic needs from slurmctld (a log,
//! a clock, the configured parameters), as a small trait so that the logic
//! runs in tests without Slurm.
//!
//! This module only declares the trait and a recording implementation for
//! tests and benchmarks. The real implementation lives in the version
//! module, the only place that calls Slurm.

use std::sync::Mutex;

/// Log levels, mapped onto Slurm's `error`, `info`, `verbose` and `debug`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `error: ...` in slurmctld's log.
    Error,
    /// Always logged.
    Info,
    /// `-v` and above.
    Verbose,
    /// `debug` and above.
    Debug,
}

/// What the plugin's logic needs from its host.
pub trait Host {
    /// Writes one message (never used as a format string).
    fn log(&self, level: Level, msg: &str);
    /// Current time, Unix seconds.
    fn now(&self) -> u64;
    /// `PrioritySiteFactorParameters`, if set.
    fn params(&self) -> Option<String>;
}

/// A host for tests and benchmarks: a fixed clock and parameters, and a log
/// kept in memory.
#[derive(Debug, Default)]
pub struct TestHost {
    /// What [`Host::now`] returns.
    pub now: u64,
    /// What [`Host::params`] returns.
    pub params: Option<String>,
    /// Every message logged so far.
    pub log: Mutex<Vec<(Level, String)>>,
}

impl TestHost {
    /// A host with the given clock and parameters.
    pub fn new(now: u64, params: Option<&str>) -> Self {
        TestHost {
            now,
            params: params.map(str::to_string),
            log: Mutex::new(Vec::new()),
        }
    }

    /// The messages logged at `level`.
    pub fn messages(&self, level: Level) -> Vec<String> {
        let log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        log.iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, m)| m.clone())
            .collect()
    }
}

impl Host for TestHost {
    fn log(&self, level: Level, msg: &str) {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((level, msg.to_string()));
    }
    fn now(&self) -> u64 {
        self.now
    }
    fn params(&self) -> Option<String> {
        self.params.clone()
    }
}
