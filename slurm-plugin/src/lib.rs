//! `site_factor/rl`: the learned slurm-rl policy inside slurmctld.
//!
//! This crate is the only one in the workspace that touches C. It is built
//! by the plugin issue: bindgen over the target Slurm's configured source
//! tree, the exported `plugin_*` symbols and the `site_factor_p_*` entry
//! points. Until then it only pins the dependency direction
//! (plugin → policy) and the licence (GPL-2.0-or-later).
#![deny(missing_docs)]
