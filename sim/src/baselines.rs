//! Baseline policies (API contract; the engine owner fills it in).

use policy::Policy;

/// Names of every baseline, as accepted by [`by_name`].
pub const NAMES: &[&str] = &["slurm", "fcfs", "sjf", "wfp3", "unicep", "f1"];

/// The baseline called `name`.
pub fn by_name(name: &str) -> Option<Box<dyn Policy>> {
    let _ = name;
    None
}
