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

fn main() {
    let manifest = PathBuf::from(env_var("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()));
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=../scripts/slurm-source");
    env_var("LIBCLANG_PATH");
    let tree = slurm_tree(&manifest).unwrap_or_else(|e| fail(&e));
    println!("cargo:rerun-if-changed={}", tree.join("config.h").display());

    let builder = bindgen::Builder::default()
        .header(manifest.join("wrapper.h").to_string_lossy())
        .clang_arg(format!("-I{}", tree.display()))
        .clang_arg("-D_GNU_SOURCE")
        // Types the plugin reads and writes.
        .allowlist_type("job_record_t")
        .allowlist_type("job_details")
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
