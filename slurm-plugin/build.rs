//! Build script of `site_factor/rl`: finds the configured Slurm source tree
//! and runs bindgen over `wrapper.h` (config.h, slurm_xlator.h, log.h,
//! list.h, slurmctld.h), allowlisting only what the plugin touches.
//!
//! It reads environment variables only through [`env_var`], which tells
//! cargo to rerun when they change, and when no tree is found it fails with
//! every way to fix that. It must not download or configure anything
//! itself: `scripts/slurm-source` does that.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Reads an environment variable and asks cargo to rerun if it changes.
fn env_var(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn configured(dir: &Path) -> bool {
    dir.join("config.h").is_file() && dir.join("src/slurmctld/slurmctld.h").is_file()
}

/// The configured Slurm tree: `SLURM_SRC_DIR`, else what
/// `scripts/slurm-source --print` reports.
fn slurm_tree(manifest: &Path) -> Result<PathBuf, String> {
    if let Some(dir) = env_var("SLURM_SRC_DIR") {
        let dir = PathBuf::from(dir);
        return if configured(&dir) {
            Ok(dir)
        } else {
            Err(format!(
                "SLURM_SRC_DIR={} is not a configured Slurm source tree (no config.h or \
                 src/slurmctld/slurmctld.h there)",
                dir.display()
            ))
        };
    }
    // scripts/slurm-source reads these to find its cache.
    for v in ["SLURM_RL_CACHE", "XDG_CACHE_HOME", "HOME"] {
        env_var(v);
    }
    let script = manifest.join("../scripts/slurm-source");
    let out = Command::new("bash")
        .arg(&script)
        .arg("--print")
        .output()
        .map_err(|e| format!("could not run {}: {e}", script.display()))?;
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if out.status.success() && configured(Path::new(&printed)) {
        return Ok(PathBuf::from(printed));
    }
    Err(format!(
        "{} --print found no configured tree: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

fn fail(why: &str) -> ! {
    eprintln!(
        "\nerror: cannot build site_factor/rl: {why}\n\n\
         The plugin is compiled against the configured source tree of the Slurm it will be\n\
         loaded into. Fix it in one of these ways:\n  \
         1. run `scripts/slurm-source` (Debian/Ubuntu: fetches the installed slurm-wlm's\n     \
         source with apt-get source and runs ./configure, cached in ~/.cache/slurm-rl);\n  \
         2. set SLURM_SRC_DIR to a Slurm source tree in which ./configure has run\n     \
         (it must hold config.h and src/slurmctld/slurmctld.h), matching your slurmctld;\n  \
         3. if bindgen cannot find libclang, install it (`apt-get install libclang-dev`)\n     \
         or set LIBCLANG_PATH to the directory holding libclang.so.\n"
    );
    std::process::exit(1);
}

/// `SLURM_VERSION_NUMBER` (e.g. `0x160508`) from the tree's
/// `slurm/slurm_version.h`, which configure writes.
fn slurm_version_number(tree: &Path) -> Result<u32, String> {
    let f = tree.join("slurm/slurm_version.h");
    let text =
        std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
    text.lines()
        .find_map(|l| {
            let rest = l.trim().strip_prefix("#define SLURM_VERSION_NUMBER")?;
            u32::from_str_radix(rest.trim().trim_start_matches("0x"), 16).ok()
        })
        .ok_or_else(|| format!("{}: no #define SLURM_VERSION_NUMBER 0x...", f.display()))
}

/// The release module for a version number: `slurm_24_11` for 24.05 and
/// 24.11 (same structures for what the plugin reads), none for 22.05, and
/// an error for releases nobody has checked.
fn release_cfg(v: u32) -> Result<Option<&'static str>, String> {
    match v >> 8 {
        0x1605 => Ok(None),
        0x1805 | 0x180b => Ok(Some("slurm_24_11")),
        _ => Err(format!(
            "Slurm {}.{:02}.{} is not a supported release (22.05, 24.05, 24.11). To add one, \
             compare its job_record_t, job_details and priority factors with \
             slurm-plugin/src/v24_11.rs, add a release module and map it here \
             (see docs/install.md, \"Slurm versions\")",
            v >> 16,
            (v >> 8) & 0xff,
            v & 0xff
        )),
    }
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(slurm_24_11)");
    let manifest = PathBuf::from(env_var("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()));
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=../scripts/slurm-source");
    env_var("LIBCLANG_PATH");
    let tree = slurm_tree(&manifest).unwrap_or_else(|e| fail(&e));
    println!("cargo:rerun-if-changed={}", tree.join("config.h").display());
    println!(
        "cargo:rerun-if-changed={}",
        tree.join("slurm/slurm_version.h").display()
    );
    let version = slurm_version_number(&tree).unwrap_or_else(|e| fail(&e));
    match release_cfg(version) {
        Ok(Some(cfg)) => println!("cargo:rustc-cfg={cfg}"),
        Ok(None) => {}
        Err(e) => fail(&e),
    }

    let builder = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_arg(format!("-I{}", tree.display()))
        .clang_arg("-D_GNU_SOURCE")
        // Types the plugin reads and writes.
        .allowlist_type("job_record_t")
        .allowlist_type("job_details")
        .allowlist_type("job_details_t")
        .allowlist_type("priority_factors_t")
        .allowlist_type("part_record_t")
        .allowlist_type("slurmdb_qos_rec_t")
        .allowlist_type("priority_factors_object_t")
        .allowlist_type("log_level_t")
        .allowlist_type("job_states")
        .constified_enum_module("job_states")
        .allowlist_type("node_record_t")
        // slurmctld's globals.
        .allowlist_var("job_list")
        .allowlist_var("cluster_cpus")
        .allowlist_var("node_record_table_ptr")
        .allowlist_var("node_record_count")
        .allowlist_var("slurm_conf")
        // libslurmfull functions (names after slurm_xlator.h).
        .allowlist_function("slurm_list_iterator_create")
        .allowlist_function("slurm_list_next")
        .allowlist_function("slurm_list_iterator_destroy")
        .allowlist_function("slurm_log_var")
        // Constants.
        .allowlist_var("SLURM_VERSION_NUMBER")
        .allowlist_var("SLURM_SUCCESS")
        .allowlist_var("SLURM_ERROR")
        .allowlist_var("NICE_OFFSET")
        .allowlist_var("MEM_PER_CPU")
        .allowlist_var("NO_VAL")
        .allowlist_var("NO_VAL64")
        .allowlist_var("INFINITE")
        .allowlist_var("INFINITE64")
        .allowlist_var("JOB_STATE_BASE")
        // slurm_conf_t drags in much of Slurm; its nested types stay opaque
        // where the plugin does not look inside.
        .allowlist_recursively(true)
        .derive_default(false)
        .derive_debug(false)
        .layout_tests(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    // bindgen panics when it cannot load libclang: turn that into the
    // message with the fixes too.
    let bindings =
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || builder.generate())) {
            Ok(Ok(b)) => b,
            Ok(Err(e)) => fail(&format!("bindgen failed on {}: {e}", tree.display())),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                fail(&format!("bindgen could not run (libclang?): {msg}"))
            }
        };
    let out = PathBuf::from(env_var("OUT_DIR").unwrap_or_else(|| fail("OUT_DIR is not set")));
    bindings
        .write_to_file(out.join("slurm.rs"))
        .unwrap_or_else(|e| fail(&format!("cannot write the bindings: {e}")));
}
