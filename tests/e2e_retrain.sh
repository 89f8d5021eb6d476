#!/usr/bin/env bash
# End-to-end test of `slurm-rl retrain` and `slurm-rl rollback` against a
# real slurmctld with site_factor/rl (scripts/cluster: 2 nodes x 8 CPUs x 2
# fake GPUs, slurmdbd, MariaDB), in a temporary state directory. The
# deployed model is a deliberately bad linear one (longest time limit
# first, from slurm-plugin/examples/e2e_model). Checks:
#  1. live sacct import: after three tiny jobs, `retrain --days 1` runs
#     sacct, imports them (history.jsonl), finds too few jobs to hold back,
#     exits 1 and changes nothing (model byte for byte, no MODEL.prev);
#  2. before: sprio SITE of five pending jobs equals what the plugin's own
#     code gives with the old model (e2e_model site);
#  3. retrain on a synthetic workload shaped for this cluster (--trace; the
#     cluster and priority weights from the live slurm.conf) deploys: exit
#     0, MODEL.prev holds the old model, `scontrol reconfigure` makes
#     slurmctld log the new model (layers [20, 8, 1]), and five new pending
#     jobs get SITE values from the new model: not the old model's, not
#     neutral;
#  4. rollback: exit 0, the old model is back, slurmctld reloads it, and new
#     pending jobs get exactly the old model's SITE values again.
# Always stops the cluster and deletes its state (trap). Needs root and
# Debian 12. Takes about 1-2 minutes (training is a few seconds).
#
# Env: SLURM_RL_E2E_RETRAIN_PORT_OFFSET (default 500), SLURM_RL_E2E_KEEP=1
# keeps the state directory, SLURM_RL_SKIP_CLUSTER=1 skips the test.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
cluster_test_begin e2e_retrain "${SLURM_RL_E2E_RETRAIN_PORT_OFFSET:-500}" "the real-Slurm retrain test"

# ------------------------------------------------------------ build
if [ -z "${SLURM_SRC_DIR:-}" ]; then
    SLURM_SRC_DIR="$(scripts/slurm-source)"
    export SLURM_SRC_DIR
fi
setup_venv >/dev/null
cargo build --release -p slurm-plugin --lib --example e2e_model --quiet || fail "cargo build of the plugin"
cargo build --release -p trainer --quiet || fail "cargo build of slurm-rl"
SRL="$SLURM_RL_ROOT/target/release/slurm-rl"
EM="$SLURM_RL_ROOT/target/release/examples/e2e_model"
mkdir -p "$W" "$P" "$W/runs"
cp target/release/libsite_factor_rl.so "$P/.site_factor_rl.so.new"
mv "$P/.site_factor_rl.so.new" "$P/site_factor_rl.so"
"$EM" write "$M.new" log_time_limit 1 || fail "e2e_model write"
mv "$M.new" "$M"
cp "$M" "$W/old.safetensors"
PARAMS="model=$M,verbose=1"

"${CL[@]}" up --nodes 2 --gpus 2 --timeout 60 --plugin-dir "$P" --site-factor-params "$PARAMS" \
    || fail "scripts/cluster up with the plugin"
eval "$("${CL[@]}" env)"
echo "cluster up with the plugin after $((SECONDS - T_START)) s"

# ------------------------------------------------------------ helpers
sub() { sbatch --parsable -D "$W" -o /dev/null "$@" | cut -d';' -f1; }
wait_state() {
    local deadline=$((SECONDS + $3))
    until [ "$(squeue -h -j "$1" -o %T 2>/dev/null)" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "job $1 not $2 after $3 s: $(squeue)"
        sleep 0.5
    done
}
site_of() { sprio -h -j "$1" -o '%S' | tr -d ' '; }
# wait_loaded LOG_OFFSET PATTERN: until slurmctld.log, past the offset, has
# a "loaded model" line matching PATTERN.
wait_loaded() {
    local deadline=$((SECONDS + 30))
    until tail -c +"$(($1 + 1))" "$CTLD_LOG" | grep -E "site_factor/rl: loaded model $M \\(20 features, $2" >"$W/loaded"; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slurmctld.log shows no 'loaded model $M (20 features, $2' after reconfigure"
        sleep 0.5
    done
    echo "slurmctld: $(head -n1 "$W/loaded" | sed 's/.*site_factor/site_factor/')"
}
SPECS=("-n16 --gres=gpu:2 -t 6" "-n2 -t 2" "-n12 --gres=gpu:1 -t 5" "-n4 --gres=gpu:2 -t 3" "-n8 -t 4")
OBS=("time_limit=360,cpus=16,gpus=2,nodes=2" "time_limit=120,cpus=2,nodes=2" "time_limit=300,cpus=12,gpus=1,nodes=2"
    "time_limit=180,cpus=4,gpus=2,nodes=2" "time_limit=240,cpus=8,nodes=2")
mapfile -t OLD_SITE < <("$EM" site "model=$W/old.safetensors,verbose=1" "${OBS[@]}")
[ "${#OLD_SITE[@]}" -eq 5 ] || fail "e2e_model site printed ${#OLD_SITE[@]} values"
# probe: five pending whole-cluster jobs; prints their SITE values.
probe() {
    local s j ids=()
    for s in "${SPECS[@]}"; do
        # shellcheck disable=SC2086 # the spec is a list of options
        ids+=("$(sub -N2 --exclusive $s --wrap 'sleep 1')")
    done
    for j in "${ids[@]}"; do site_of "$j"; done
}

# ------------------------------------------------------------ 1. sacct history
TINY=()
for _ in 1 2 3; do TINY+=("$(sub -n1 -t 1 --wrap true)"); done
TINY_IDS="$(tr ' ' ',' <<<"${TINY[*]}")"
deadline=$((SECONDS + 90))
until [ "$(sacct -X -n -P -j "$TINY_IDS" --format=State 2>/dev/null | grep -cx COMPLETED || true)" -eq 3 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "sacct does not show jobs $TINY_IDS COMPLETED after 90 s"
    sleep 1
done
# The time-window query that retrain runs can lag behind `sacct -j`.
until [ "$(TZ=UTC sacct -X -n -P --allusers -S "$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%S)" \
    -E "$(date -u +%Y-%m-%dT%H:%M:%S)" --format=JobID 2>/dev/null | wc -l)" -ge 3 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "sacct's time-window query does not show jobs $TINY_IDS after 90 s"
    sleep 1
done
set +e
"$SRL" retrain --model "$M" --days 1 --slurm-conf "$SLURM_CONF" --work-dir "$W/runs-sacct" >"$W/sacct.out" 2>"$W/sacct.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || { cat "$W/sacct.err" >&2; fail "retrain --days 1 with 3 jobs of history exited $rc, expected 1 (failed)"; }
grep -q 'fewer than --eval-jobs' "$W/sacct.err" || { cat "$W/sacct.err" >&2; fail "retrain --days 1 failed for another reason"; }
HIST="$(ls "$W"/runs-sacct/*/history.jsonl)"
n="$(($(wc -l <"$HIST") - 1))"
[ "$n" -ge 3 ] || fail "the sacct import holds $n jobs, expected >= 3"
grep -q '"failed"' "$W"/runs-sacct/*/report.json || fail "report.json of the failed run does not say failed"
cmp -s "$M" "$W/old.safetensors" || fail "a failed retrain changed the model"
[ ! -e "$M.prev" ] || fail "a failed retrain wrote $M.prev"
echo "sacct: imported $n jobs of live history; too few to hold back: exit 1, nothing changed"

# ------------------------------------------------------------ 2. before
BLOCKER=$(sub -N2 --exclusive -t 10 --wrap 'sleep 300')
wait_state "$BLOCKER" RUNNING 30
mapfile -t GOT < <(probe)
[ "${GOT[*]}" = "${OLD_SITE[*]}" ] || fail "before retrain: sprio SITE ${GOT[*]}, the old model gives ${OLD_SITE[*]}"
echo "before: sprio SITE ${GOT[*]} (the old model's)"

# ------------------------------------------------------------ 3. retrain
cat >"$W/synth.toml" <<'EOF'
jobs = 600
seed = 7
load = 8.0
gpu_mix = [[1, 0.6], [2, 0.25], [4, 0.15]]
[cluster]
nodes = 2
gpus_per_node = 2
cpus_per_node = 8
mem_mb_per_node = 8000
gpu_type = ""
gpu_max_time = 7200
gpu_default_time = 1800
debug_nodes = 2
debug_max_time = 600
[users]
count = 8
max_requesters = 0.0
debug_users = 0.0
[resources]
cpus_per_gpu = [[2, 0.5], [4, 0.5]]
mem_mb_per_gpu = [[2000, 1.0]]
[runtime]
median_s = 300.0
sigma = 1.2
gpu_exponent = 1.5
[limits]
round_values = [300, 900, 1800, 3600, 7200]
[outcomes]
fail_fraction = 0.0
timeout_fraction = 0.0
[arrivals]
hourly = [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]
weekend_factor = 1.0
EOF
"$SRL" synth --config "$W/synth.toml" -o "$W/hist.jsonl" >/dev/null || fail "slurm-rl synth"
log_size="$(stat -c %s "$CTLD_LOG")"
# The candidate starts from UNICEP's order (--init unicep), so that it beats
# the deliberately bad deployed model whatever the seed: from a random actor,
# 8 updates beat it by more than the gate's CI for some seeds and not others,
# and which ones moved with every change of the simulator's schedules (seed 1
# deployed until the exact backfill bounds of 27 Nov 2026, then did not). With
# the warm start, seeds 1-6 all deploy (bsld 28-36 below the deployed model's,
# CI half-widths 12-14).
set +e
SLURM_CPUS_PER_TASK=1 "$SRL" retrain --model "$M" --trace "$W/hist.jsonl" --slurm-conf "$SLURM_CONF" \
    --work-dir "$W/runs" --eval-jobs 48 --eval-sequences 12 -- --seed 1 --quiet --val-sequences 2 \
    --norm-windows 1 --jobs-per-episode 48 --total-updates 8 --episodes-per-update 4 --learning-rate 3e-2 \
    --update-epochs 8 --hidden 8 --actor-out-gain 1.0 --ent-coef 0 --val-every 0 \
    --init unicep --init-gain 4 >"$W/retrain.out" 2>"$W/retrain.err"
rc=$?
set -e
[ "$rc" -eq 0 ] || { cat "$W/retrain.err" "$W/retrain.out" >&2; fail "retrain exited $rc, expected 0 (deployed)"; }
grep -E '^- (PASS|FAIL)' "$W/retrain.out" | sed 's/^/    /'
cmp -s "$M.prev" "$W/old.safetensors" || fail "$M.prev is not the old model"
cmp -s "$M" "$W/old.safetensors" && fail "retrain said deployed but the model file is unchanged"
cmp -s "$M" "$W"/runs/*/candidate.safetensors || fail "the installed model is not the run's candidate"
wait_loaded "$log_size" 'layers \[20, 8, 1\]'
mapfile -t GOT < <(probe)
[ "${GOT[*]}" != "${OLD_SITE[*]}" ] || fail "after retrain: sprio SITE ${GOT[*]} are still the old model's"
[ "$(printf '%s\n' "${GOT[@]}" | grep -cvx 0)" -gt 0 ] || fail "after retrain: every SITE is 0 (neutral)"
echo "after retrain: sprio SITE ${GOT[*]} (the new model; the old one gave ${OLD_SITE[*]}) after $((SECONDS - T_START)) s"
if grep -Ei 'error.*site_factor' "$CTLD_LOG"; then fail "site_factor errors in slurmctld.log (above)"; fi

# ------------------------------------------------------------ 4. rollback
log_size="$(stat -c %s "$CTLD_LOG")"
"$SRL" rollback --model "$M" >"$W/rollback.out" 2>&1 || { cat "$W/rollback.out" >&2; fail "rollback"; }
cmp -s "$M" "$W/old.safetensors" || fail "rollback did not restore the old model"
wait_loaded "$log_size" 'layers \[20, 1\]'
mapfile -t GOT < <(probe)
[ "${GOT[*]}" = "${OLD_SITE[*]}" ] || fail "after rollback: sprio SITE ${GOT[*]}, the old model gives ${OLD_SITE[*]}"
echo "after rollback: sprio SITE ${GOT[*]} (the old model's again)"
scontrol ping | grep -q 'is UP' || fail "slurmctld is not UP"
scancel --user "$(id -un)" || true

"${CL[@]}" down >/dev/null || fail "scripts/cluster down"
RESULT=PASS
