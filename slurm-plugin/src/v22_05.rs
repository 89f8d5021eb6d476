//! What is particular to Slurm 22.05 (built when the configured tree's
//! `SLURM_VERSION_NUMBER` is 22.05.x): the C type names of a job's details
//! and cached priority factors, and the entry points Slurm's loader
//! requires (22.05's `site_factor.c` also looks up
//! `site_factor_p_reconfig`, called on `scontrol reconfigure`).
//! [`crate::slurm`] reads the fields through these names.

use crate::sys;

/// The release series this build is for.
pub const SERIES: &str = "22.05";

/// `job_record_t.details` points to this (`struct job_details`).
pub type Details = sys::job_details;

/// `job_record_t.prio_factors` points to this: in 22.05 the whole
/// `priority_factors_object_t`, factors inline.
pub type Factors = sys::priority_factors_object_t;

/// Whether Slurm calls `site_factor_p_reconfig` (and requires it).
pub const HAS_RECONFIG: bool = true;

/// The symbols Slurm's loader requires: `plugin_*` (plugin.c) and the
/// `site_factor_p_*` functions (site_factor.c's `syms[]`), plus init/fini.
pub const REQUIRED_SYMBOLS: &[&str] = &[
    "plugin_name",
    "plugin_type",
    "plugin_version",
    "init",
    "fini",
    "site_factor_p_reconfig",
    "site_factor_p_set",
    "site_factor_p_update",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_against_22_05() {
        assert_eq!(sys::SLURM_VERSION_NUMBER >> 8, 0x1605);
    }

    #[test]
    fn factors_are_the_whole_object_with_its_ids() {
        // 22.05 caches the whole object: job id and partition sit beside
        // the factors, which 24.05+ moved into priority_factors_t.
        // SAFETY: all-zero is a valid value of this C struct.
        let mut f: Factors = unsafe { std::mem::zeroed() };
        f.job_id = 7;
        f.priority_age = 1.5;
        assert_eq!((f.job_id, f.priority_age), (7, 1.5));
    }
}
