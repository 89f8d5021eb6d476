//! `site_factor/rl`: the learned slurm-rl policy inside slurmctld, as a
//! Slurm `PrioritySiteFactorPlugin` (22.05 and 24.05/24.11: `build.rs`
//! builds against one configured tree and picks the release module).
//!
//! This crate is the only one in the workspace that touches C. This file
//! holds the exported symbols only: the `plugin_*` statics Slurm's plugin
//! loader reads, and one shim per entry point that calls [`guard::guard`]
//! around a function of `imp`. No logic lives here. The layers below are:
//! `slurm` (all Slurm structure access: job views, job list, slurm_conf,
//! log), `version` (= `v22_05` or `v24_11`: the type names and required
//! symbols that differ between releases), `imp` (what each entry point does), `state` (config + model,
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
pub mod slurm;
pub mod state;
pub mod sys;
#[cfg(not(slurm_24_11))]
pub mod v22_05;
#[cfg(slurm_24_11)]
pub mod v24_11;

/// The release module this build uses (`v22_05` or `v24_11`).
#[cfg(not(slurm_24_11))]
pub use v22_05 as version;
/// The release module this build uses (`v22_05` or `v24_11`).
#[cfg(slurm_24_11)]
pub use v24_11 as version;

use guard::guard;
use slurm::SlurmHost;

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
/// Slurm 22.05 only: 24.05+ restarts slurmctld on reconfigure instead.
#[cfg(not(slurm_24_11))]
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

/// The symbols Slurm's loader requires for the release built against.
pub const REQUIRED_SYMBOLS: &[&str] = version::REQUIRED_SYMBOLS;

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
    fn plugin_version_is_the_series_built_for() {
        let series = match plugin_version >> 8 {
            0x1605 => "22.05",
            0x1805 | 0x180b => "24.11",
            v => panic!("unexpected version {v:#x}"),
        };
        assert_eq!(series, version::SERIES, "{plugin_version:#x}");
    }
}
