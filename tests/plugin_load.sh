#!/usr/bin/env bash
# End-to-end load test of the site_factor/rl plugin through Slurm's own
# plugin loader (plugin_load_and_link in Debian's libslurmfull.so), without
# daemons: slurm-plugin/tests/loader/plugin_load.c plays slurmctld (it
# defines job_list and cluster_cpus), loads the release .so from a plugin
# directory, and calls update/set/reconfigure on fabricated jobs.
# Checks: the load succeeds (every symbol resolves under BIND_NOW), no
# parameters give NICE_OFFSET to every job, a model gives factors above
# NICE_OFFSET that differ between jobs, and a bad parameter is an error in
# the log while the jobs stay neutral.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"

tree="$(scripts/slurm-source)"
apt_install slurm-wlm-basic-plugins
libdir="$(dirname "$(dpkg -L slurm-wlm-basic-plugins | grep '/libslurmfull.so$' | head -n1)")"
[ -f "$libdir/libslurmfull.so" ] || die "libslurmfull.so not found in slurm-wlm-basic-plugins"

say "building the release plugin and the test model writer"
cargo build --release -p slurm-plugin --quiet --example write_random_model

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/plugins"
# Install as an admin would: temporary name, then rename.
cp target/release/libsite_factor_rl.so "$work/plugins/.site_factor_rl.so.new"
mv "$work/plugins/.site_factor_rl.so.new" "$work/plugins/site_factor_rl.so"
target/release/examples/write_random_model "$work/model.safetensors" 3

say "compiling the loader against $tree and $libdir/libslurmfull.so"
cc -O1 -g -Wall -Werror -o "$work/plugin_load" slurm-plugin/tests/loader/plugin_load.c \
    -I"$tree" -I"$tree/slurm" -D_GNU_SOURCE -rdynamic \
    -L"$libdir" -lslurmfull -Wl,-rpath,"$libdir" \
    2>"$work/cc.log" || { cat "$work/cc.log" >&2; die "compiling the loader failed"; }

fail() { echo "FAIL: $*" >&2; exit 1; }
nice_offset=2147483648

say "load with no parameters: neutral"
"$work/plugin_load" "$work/plugins" "" >"$work/neutral.out" 2>"$work/neutral.err" \
    || { cat "$work/neutral.out" "$work/neutral.err" >&2; fail "loader exited non-zero (neutral)"; }
grep -qx OK "$work/neutral.out" || fail "no OK (neutral)"
[ "$(grep -c '^job ' "$work/neutral.out")" -eq 4 ] || fail "expected 4 job lines"
awk '/^job / && $4 != '"$nice_offset"' { bad = 1 } END { exit bad }' "$work/neutral.out" \
    || { cat "$work/neutral.out"; fail "a job got a non-neutral factor without a model"; }
grep -q 'neutral' "$work/neutral.err" || fail "the log does not say the plugin is neutral"

say "load with a model"
"$work/plugin_load" "$work/plugins" "model=$work/model.safetensors,verbose=2" >"$work/model.out" 2>"$work/model.err" \
    || { cat "$work/model.out" "$work/model.err" >&2; fail "loader exited non-zero (model)"; }
grep -qx OK "$work/model.out" || fail "no OK (model)"
grep -q 'loaded model' "$work/model.err" || { cat "$work/model.err"; fail "no 'loaded model' line"; }
awk '/^job / && $4 <= '"$nice_offset"' { bad = 1 } END { exit bad }' "$work/model.out" \
    || { cat "$work/model.out"; fail "a job's factor is not above NICE_OFFSET with a model"; }
[ "$(awk '/^job / {print $4}' "$work/model.out" | sort -u | wc -l)" -ge 3 ] \
    || { cat "$work/model.out"; fail "the model gave (almost) the same factor to every job"; }
if grep -q 'error' "$work/model.err"; then cat "$work/model.err"; fail "errors in the log with a good model"; fi

say "load with a bad parameter: an error in the log, neutral factors"
"$work/plugin_load" "$work/plugins" "model=$work/model.safetensors,sclae=2" >"$work/bad.out" 2>"$work/bad.err" \
    || { cat "$work/bad.out" "$work/bad.err" >&2; fail "loader exited non-zero (bad parameter)"; }
grep -q "error: site_factor/rl: PrioritySiteFactorParameters: unknown key \`sclae\`" "$work/bad.err" \
    || { cat "$work/bad.err"; fail "the unknown key is not reported"; }
awk '/^job / && $4 != '"$nice_offset"' { bad = 1 } END { exit bad }' "$work/bad.out" \
    || fail "a bad configuration must give neutral factors"

echo "plugin_load: ok ($(grep -c '^job ' "$work/model.out") jobs scored through Slurm's loader)"
