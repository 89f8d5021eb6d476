//! What is particular to Slurm 24.05 and later (built when the configured
//! tree's `SLURM_VERSION_NUMBER` is 24.05.x or 24.11.x): the C type names
//! of a job's details (`job_details_t`, in `src/common/job_record.h`) and
//! of its cached priority factors (`priority_factors_t`: in 24.05+
//! `job_record_t.prio_factors` no longer points to a whole
//! `priority_factors_object_t`), and the entry points Slurm's loader
//! requires: `site_factor_p_reconfig` is gone, since `scontrol
//! reconfigure` restarts slurmctld, which loads the plugin (and its model)
//! afresh. [`crate::slurm`] reads the fields through these names.

use crate::sys;

/// The release series this build is for.
pub const SERIES: &str = "24.11";

/// `job_record_t.details` points to this.
pub type Details = sys::job_details_t;

/// `job_record_t.prio_factors` points to this.
pub type Factors = sys::priority_factors_t;

/// Whether Slurm calls `site_factor_p_reconfig`.
pub const HAS_RECONFIG: bool = false;

/// The symbols Slurm's loader requires: `plugin_*` (plugin.c) and the
/// `site_factor_p_*` functions (site_factor.c's `syms[]`), plus init/fini.
pub const REQUIRED_SYMBOLS: &[&str] = &[
    "plugin_name",
    "plugin_type",
    "plugin_version",
    "init",
    "fini",
    "site_factor_p_set",
    "site_factor_p_update",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_against_24_05_or_later() {
        let v = sys::SLURM_VERSION_NUMBER;
        assert!((0x180500..0x190000).contains(&v), "{v:#x}");
    }

    #[test]
    fn prio_factors_points_to_priority_factors_t() {
        // A compile-time check that the job record's pointer has the type
        // the views read through, plus the factors' own fields.
        // SAFETY: all-zero is a valid value of these C structs.
        let mut job: sys::job_record_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        let mut f: Factors = unsafe { std::mem::zeroed() };
        f.priority_fs = 0.25;
        f.nice = sys::NICE_OFFSET;
        job.prio_factors = &mut f;
        // SAFETY: points to `f`, alive here.
        let back = unsafe { &*job.prio_factors };
        assert_eq!((back.priority_fs, back.nice), (0.25, sys::NICE_OFFSET));
    }
}
