//! Build script of the trainer: it embeds the run-time search path of
//! libtorch (an rpath), so `slurm-rl` and the test binaries find
//! `libtorch_cpu.so` & co. without `LD_LIBRARY_PATH`.
//!
//! It finds libtorch the way torch-sys does: `$LIBTORCH/lib` when
//! `LIBTORCH` is set, else, with `LIBTORCH_USE_PYTORCH=1`, the `lib/`
//! directory of the torch package that `$PYTHON_SYS_EXECUTABLE` (default
//! `python`) imports. It must not download or build anything. Environment
//! variables are read only through [`env`], which tells cargo to rerun when
//! they change.

use std::path::PathBuf;
use std::process::Command;

/// Reads an environment variable and asks cargo to rerun when it changes.
fn env(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn torch_lib_dir() -> Result<PathBuf, String> {
    if let Some(dir) = env("LIBTORCH") {
        return Ok(PathBuf::from(dir).join("lib"));
    }
    if env("LIBTORCH_USE_PYTORCH").is_some() {
        let python = env("PYTHON_SYS_EXECUTABLE").unwrap_or_else(|| "python".into());
        let out = Command::new(&python)
            .args([
                "-c",
                "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
            ])
            .output()
            .map_err(|e| format!("cannot run `{python}`: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`{python}` cannot import torch: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    Err("neither LIBTORCH nor LIBTORCH_USE_PYTORCH is set".into())
}

fn main() {
    match torch_lib_dir() {
        Ok(dir)
            if dir.join("libtorch_cpu.so").exists() || dir.join("libtorch_cpu.dylib").exists() =>
        {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
            // Nothing in tch refers to libtorch_cuda's symbols directly, so
            // with --as-needed the linker drops it and CUDA stays invisible
            // (tch::Cuda::is_available() is false). Keep it when present.
            let cuda = dir.join("libtorch_cuda.so");
            if cuda.exists() {
                println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
                println!("cargo:rustc-link-arg={}", cuda.display());
                println!("cargo:rustc-link-arg=-Wl,--as-needed");
            }
        }
        Ok(dir) => fail(&format!("{} holds no libtorch_cpu library", dir.display())),
        Err(e) => fail(&e),
    }
}

fn fail(why: &str) -> ! {
    eprintln!(
        "error: the trainer needs libtorch 2.13.0 (tch 0.26): {why}.\n\
         Fix it in one of these ways:\n\
         \x20 1. run `. scripts/lib/common.sh && setup_venv` (installs torch==2.13.0 into\n\
         \x20    $SLURM_RL_CACHE/venv, puts its python first on PATH and exports\n\
         \x20    LIBTORCH_USE_PYTORCH=1), then build again in that shell;\n\
         \x20 2. export LIBTORCH_USE_PYTORCH=1 with a `python` on PATH (or\n\
         \x20    PYTHON_SYS_EXECUTABLE=/path/to/python) that has torch 2.13.0;\n\
         \x20 3. export LIBTORCH=/path/to/libtorch (an unpacked libtorch 2.13.0 with lib/)."
    );
    std::process::exit(1);
}
