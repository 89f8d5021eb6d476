//! Raw bindgen output for the configured Slurm tree (see `build.rs`).
//!
//! Only `slurm`, the release modules (`v22_05`, `v24_11`) and the exported statics may use
//! these items; nothing else in the crate touches C types.
#![allow(
    non_upper_case_globals,
    non_camel_case_types,
    non_snake_case,
    dead_code,
    missing_docs,
    unsafe_op_in_unsafe_fn,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    clippy::missing_safety_doc
)]

include!(concat!(env!("OUT_DIR"), "/slurm.rs"));
