//! `site_factor/rl`: the learned slurm-rl policy inside slurmctld, as a
//! Slurm 22.05 `PrioritySiteFactorPlugin`.
//!
//! This crate is the only one in the workspace that touches C. This file
//! holds the exported symbols only: the `plugin_*` statics Slurm's plugin
//! loader reads, and one shim per entry point that calls [`guard::guard`]
//! around a function of `imp`. No logic lives here. The layers below are:
//! `v22_05` (all Slurm structure access: job views, job list, slurm_conf,
//! log), `imp` (what each entry point does), `state` (config + model,
//! published by swapping an `Arc`), `factor` (score → site factor, the
//! max-wait guard), `config` (PrioritySiteFactorParameters), `gres` (GPU
//! counts) and `host` (the log/clock/params trait that lets tests run
//! without Slurm). Features are computed by `policy`, exactly as in the
//! simulator and the trainer. See `docs/plugin.md`.
#![deny(missing_docs)]

pub mod config;
pub mod fabricate;
pub mod factor;
pub mod gres;
pub mod guard;
pub mod host;
pub mod imp;
pub mod state;
pub mod sys;
pub mod v22_05;

use guard::guard;
use v22_05::SlurmHost;

/// The plugin's description, as Slurm's loader reads it.
#[unsafe(no_mangle)]
#[used]
pub static plugin_name: [u8; 55] = *b"site_factor/rl: the slurm-rl learned scheduling policy\0";

/// `site_factor/rl`: the `major/minor` type Slurm matches against
/// `PrioritySiteFactorPlugin=site_factor/rl`.
#[unsafe(no_mangle)]
#[used]
pub static plugin_type: [u8; 15] = *b"site_factor/rl\0";

/// The Slurm version this plugin was built against; Slurm refuses to load
/// a plugin built for another version.
#[unsafe(no_mangle)]
#[used]
pub static plugin_version: u32 = sys::SLURM_VERSION_NUMBER;

/// Called when slurmctld loads the plugin.
#[unsafe(no_mangle)]
pub extern "C" fn init() -> std::ffi::c_int {
    guard(&SlurmHost, "init", sys::SLURM_ERROR, || {
        imp::init(&SlurmHost)
    })
}

/// Called when slurmctld unloads the plugin.
#[unsafe(no_mangle)]
pub extern "C" fn fini() -> std::ffi::c_int {
    guard(&SlurmHost, "fini", sys::SLURM_ERROR, imp::fini)
}

/// Called on `scontrol reconfigure`: re-reads the parameters and the model.
#[unsafe(no_mangle)]
pub extern "C" fn site_factor_p_reconfig() {
    guard(&SlurmHost, "site_factor_p_reconfig", (), || {
        imp::reconfig(&SlurmHost)
    })
}

/// Called for each new job, before its first priority calculation.
///
/// # Safety
/// Called by slurmctld with a valid (or null) job record and the job write
/// lock held.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn site_factor_p_set(job_ptr: *mut sys::job_record_t) {
    guard(&SlurmHost, "site_factor_p_set", (), || {
        // SAFETY: slurmctld passes a live job record and holds the job
        // write lock (priority_p_set → site_factor_g_set).
        unsafe { imp::set(&SlurmHost, job_ptr) }
    })
}

/// Called every `PriorityCalcPeriod` to rescore every pending job.
#[unsafe(no_mangle)]
pub extern "C" fn site_factor_p_update() {
    guard(&SlurmHost, "site_factor_p_update", (), || {
        // SAFETY: slurmctld's decay thread holds the job write lock around
        // site_factor_g_update (priority_multifactor.c).
        unsafe { imp::update(&SlurmHost) }
    })
}

/// The symbols Slurm's loader requires: `plugin_*` (plugin.c) and the
/// `site_factor_p_*` functions (site_factor.c's `syms[]`), plus init/fini.
pub const REQUIRED_SYMBOLS: [&str; 8] = [
    "plugin_name",
    "plugin_type",
    "plugin_version",
    "init",
    "fini",
    "site_factor_p_reconfig",
    "site_factor_p_set",
    "site_factor_p_update",
];

/// The symbols the plugin takes from its host process, resolved when
/// slurmctld loads it (BIND_NOW): slurmctld's `job_list` and `cluster_cpus`,
/// and libslurmfull's node table, `slurm_conf`, list iterator and logger.
/// A test checks the built `.so` needs nothing else unversioned.
pub const HOST_SYMBOLS: [&str; 9] = [
    "cluster_cpus",
    "job_list",
    "node_record_count",
    "node_record_table_ptr",
    "slurm_conf",
    "slurm_list_iterator_create",
    "slurm_list_iterator_destroy",
    "slurm_list_next",
    "slurm_log_var",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn c_string(b: &[u8]) -> &str {
        assert_eq!(b.last(), Some(&0), "must end in NUL");
        assert!(!b[..b.len() - 1].contains(&0), "only one NUL, at the end");
        std::str::from_utf8(&b[..b.len() - 1]).unwrap()
    }

    #[test]
    fn plugin_type_is_nul_terminated_major_slash_minor() {
        let t = c_string(&plugin_type);
        assert_eq!(t, "site_factor/rl");
        let (major, minor) = t.split_once('/').unwrap();
        assert_eq!(major, "site_factor");
        assert!(!minor.is_empty() && !minor.contains('/'));
        assert!(
            minor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        );
    }

    #[test]
    fn plugin_name_is_nul_terminated() {
        assert!(!c_string(&plugin_name).is_empty());
    }

    #[test]
    fn plugin_version_is_22_05() {
        assert_eq!(plugin_version >> 8, 0x1605, "{plugin_version:#x}");
    }
}
