# Shared helpers for slurm-rl's scripts. Source it; do not run it.
# Every function says what it is doing, and every install is idempotent.

SLURM_RL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export SLURM_RL_ROOT

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    local missing=()
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    say "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1)" ]; then
        $sudo apt-get update -qq
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# need_rust: checks for a cargo new enough for edition 2024.
need_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found. Install Rust >= 1.89 with rustup (https://rustup.rs), then run this again."
    local v
    v="$(cargo --version | awk '{print $2}')"
    local minor
    minor="$(echo "$v" | cut -d. -f2)"
    [ "$(echo "$v" | cut -d. -f1)" -ge 1 ] && [ "$minor" -ge 89 ] \
        || die "cargo $v is too old: slurm-rl needs Rust >= 1.89. Run 'rustup update'."
}

# setup_build_deps: everything needed to build and test the workspace.
setup_build_deps() {
    say "checking build dependencies (Debian packages, Rust)"
    apt_install build-essential pkg-config libfontconfig1-dev libfreetype-dev fonts-dejavu-core python3 ca-certificates
    need_rust
}

# traces_dir: the development traces (shared/traces beside the checkout).
traces_dir() {
    local d="${SLURM_RL_TRACES:-$SLURM_RL_ROOT/../shared/traces}"
    [ -d "$d" ] || die "development traces not found at $d: check out shared/ beside the repository or set SLURM_RL_TRACES"
    (cd "$d" && pwd)
}

# Where slurm-rl keeps what it downloads or builds outside the checkout
# (the Python venv, Slurm's sources), so a fresh clone reuses them.
SLURM_RL_CACHE="${SLURM_RL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slurm-rl}"
export SLURM_RL_CACHE

# The torch release that tch 0.26 (the trainer's libtorch binding) is built for.
SLURM_RL_TORCH_VERSION="2.13.0"

# setup_venv: the project's Python venv ($SLURM_RL_CACHE/venv, or
# $SLURM_RL_VENV) with the packages the tests use to check our files from
# Python (safetensors, numpy) and torch==2.13.0, whose libtorch the trainer
# links (tch 0.26 needs exactly that release; the pip wheel is ~4.7 GB and
# takes a minute or two). Afterwards the venv's python is first on PATH and
# LIBTORCH_USE_PYTORCH=1 is exported, so `cargo build` finds libtorch through
# `python` (torch-sys) and trainer/build.rs bakes torch's lib/ into the
# binaries' RUNPATH (no LD_LIBRARY_PATH needed at run time, as long as the
# venv stays where it is).
setup_venv() {
    apt_install python3-venv
    local venv="${SLURM_RL_VENV:-$SLURM_RL_CACHE/venv}"
    mkdir -p "$(dirname "$venv")"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating the Python venv $venv"
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c 'import safetensors, numpy' 2>/dev/null; then
        say "installing safetensors and numpy into $venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check safetensors numpy
    fi
    if ! "$venv/bin/python" -c "import torch, sys; sys.exit(0 if torch.__version__.startswith('$SLURM_RL_TORCH_VERSION') else 1)" 2>/dev/null; then
        say "installing torch==$SLURM_RL_TORCH_VERSION into $venv (large download, once)"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$SLURM_RL_TORCH_VERSION"
    fi
    export SLURM_RL_PYTHON="$venv/bin/python"
    case ":$PATH:" in
        *":$venv/bin:"*) ;;
        *) export PATH="$venv/bin:$PATH" ;;
    esac
    export LIBTORCH_USE_PYTORCH=1
}
