#!/usr/bin/env bash
# End-to-end test of the site_factor/rl plugin inside a real slurmctld
# (Slurm 22.05, scripts/cluster: 2 nodes x 8 CPUs x 2 fake GPUs, slurmdbd,
# MariaDB), in a temporary state directory. Builds the release plugin and
# slurm-plugin/examples/e2e_model, installs the .so as an admin would
# (temporary name + rename) and writes a linear model whose score is
# -log_time_limit (shortest time limit first), then checks:
#  1. loaded: slurmctld.log has "site_factor/rl: loaded model ... (20
#     features", with the max-wait guard the model file records (30 days,
#     as no max_wait= is set), and no site_factor error;
#  2. start order: with a blocker holding the whole cluster, five pending
#     whole-cluster jobs (different CPUs, GPUs, time limits) get exactly the
#     SITE values (sprio) that the plugin's own code computes for them
#     (e2e_model site), and, once the blocker is cancelled, start one after
#     another in the model's order (sacct Start), which is neither FIFO nor
#     multifactor's job-size order;
#  3. fault: a garbage model renamed over the file and `scontrol reconfigure`:
#     slurmctld stays up, the log shows "cannot use the model", a new job
#     gets SITE 0 at once, the pending ones at the next update (<= 60 s),
#     and the jobs still run;
#  4. control: the same workload after a restart without the plugin starts
#     in a different order, the order of multifactor's own priorities.
# Always stops the cluster and deletes its state (trap). Needs root and
# Debian 12. Takes about 3 minutes (the periodic update runs once a minute).
#
# Env: SLURM_RL_E2E_PLUGIN_PORT_OFFSET (default 300; e2e_cluster.sh uses
# 100), SLURM_RL_E2E_KEEP=1 keeps the state directory (logs),
# SLURM_RL_SKIP_CLUSTER=1 skips the test, saying so.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
cluster_test_begin e2e_plugin "${SLURM_RL_E2E_PLUGIN_PORT_OFFSET:-300}" "the real-Slurm plugin test"

# ------------------------------------------------------------ build, install
if [ -z "${SLURM_SRC_DIR:-}" ]; then
    SLURM_SRC_DIR="$(scripts/slurm-source)"
    export SLURM_SRC_DIR
fi
cargo build --release -p slurm-plugin --lib --example e2e_model --quiet || fail "cargo build of the plugin"
mkdir -p "$W" "$P"
cp target/release/libsite_factor_rl.so "$P/.site_factor_rl.so.new"
mv "$P/.site_factor_rl.so.new" "$P/site_factor_rl.so"
EM=target/release/examples/e2e_model
# The model records a max-wait guard (30 days: no job here reaches it), which
# the plugin must take as its own, since PARAMS sets none.
"$EM" write "$M.new" log_time_limit -1 30d || fail "e2e_model write"
mv "$M.new" "$M"
PARAMS="model=$M,verbose=1"

"${CL[@]}" up --nodes 2 --gpus 2 --timeout 60 --plugin-dir "$P" --site-factor-params "$PARAMS" \
    || fail "scripts/cluster up with the plugin"
eval "$("${CL[@]}" env)"
echo "cluster up with the plugin after $((SECONDS - T_START)) s"

# ------------------------------------------------------------ 1. loaded
grep -E 'site_factor/rl: loaded model .* \(20 features' "$CTLD_LOG" >"$W/loaded" \
    || fail "slurmctld.log has no 'site_factor/rl: loaded model ... (20 features' line"
echo "loaded: $(head -n1 "$W/loaded")"
grep -q 'max_wait 2592000s (the model.s)' "$W/loaded" || fail "the load line does not show the model's max-wait guard (2592000s)"
if grep -Ei 'error.*site_factor' "$CTLD_LOG"; then fail "site_factor errors in slurmctld.log (above)"; fi
grep -q '^PrioritySiteFactorPlugin=site_factor/rl$' "$SLURM_CONF" || fail "slurm.conf does not name the plugin"

# ------------------------------------------------------------ helpers
sub() { sbatch --parsable -D "$W" -o /dev/null "$@" | cut -d';' -f1; }
# wait_state JOB STATE SECONDS
wait_state() {
    local deadline=$((SECONDS + $3))
    until [ "$(squeue -h -j "$1" -o %T 2>/dev/null)" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "job $1 not $2 after $3 s: $(squeue)"
        sleep 0.5
    done
}
# wait_done IDS SECONDS: until sacct shows every job (comma list) COMPLETED.
wait_done() {
    local n deadline=$((SECONDS + $2)) raw
    n="$(tr ',' '\n' <<<"$1" | wc -l)"
    while :; do
        raw="$(sacct -X -n -P -j "$1" --format=State 2>/dev/null || true)"
        [ "$(grep -cx COMPLETED <<<"$raw" || true)" -eq "$n" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || fail "jobs $1 not all COMPLETED after $2 s: $(sort <<<"$raw" | uniq -c | tr -s ' \n' ' ')"
        sleep 1
    done
}
# start_order IDS: the jobs by sacct Start; fails if two started in the same second.
start_order() {
    sacct -X -n -P -j "$1" --format=JobIDRaw,Start >"$W/starts"
    [ "$(cut -d'|' -f2 "$W/starts" | sort -u | wc -l)" -eq "$(wc -l <"$W/starts")" ] \
        || fail "two jobs started in the same second (a tie), cannot check the order: $(tr '\n' ' ' <"$W/starts")"
    sort -t'|' -k2,2 "$W/starts" | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//'
}
# The workload: five jobs that each need the whole cluster (-N2 --exclusive),
# so they start one after another. Submission order A..E; time limits 6, 2,
# 5, 3, 4 min; the model (shortest limit first) orders them B D E C A, FIFO
# is A B C D E, job size (largest first) A C E D B.
SPECS=("-n16 --gres=gpu:2 -t 6" "-n2 -t 2" "-n12 --gres=gpu:1 -t 5" "-n4 --gres=gpu:2 -t 3" "-n8 -t 4")
OBS=("time_limit=360,cpus=16,gpus=2,nodes=2" "time_limit=120,cpus=2,nodes=2" "time_limit=300,cpus=12,gpus=1,nodes=2"
    "time_limit=180,cpus=4,gpus=2,nodes=2" "time_limit=240,cpus=8,nodes=2")
# workload: blocks the cluster, submits the five jobs into $JOBS (ids, in
# submission order) and leaves the blocker's id in $BLOCKER.
workload() {
    local s
    BLOCKER=$(sub -N2 --exclusive -t 10 --wrap 'sleep 300')
    wait_state "$BLOCKER" RUNNING 30
    JOBS=()
    for s in "${SPECS[@]}"; do
        # shellcheck disable=SC2086 # the spec is a list of options
        JOBS+=("$(sub -N2 --exclusive $s --wrap 'sleep 2')")
    done
}
# site_of JOB: the job's SITE column in sprio.
site_of() { sprio -h -j "$1" -o '%S' | tr -d ' '; }

# ------------------------------------------------------------ 2. start order
workload
ALL="$(tr ' ' ',' <<<"${JOBS[*]}")"
mapfile -t WANT < <("$EM" site "$PARAMS" "${OBS[@]}")
[ "${#WANT[@]}" -eq 5 ] || fail "e2e_model site printed ${#WANT[@]} values"
for i in 0 1 2 3 4; do
    got="$(site_of "${JOBS[$i]}")"
    [ "$got" = "${WANT[$i]}" ] || fail "job ${JOBS[$i]} (${SPECS[$i]}): sprio SITE $got, the plugin's code gives ${WANT[$i]}"
done
echo "sprio SITE matches the model for all 5 jobs: ${WANT[*]}"
# The expected order: by SITE descending (distinct values, so no ties).
for i in 0 1 2 3 4; do echo "${WANT[$i]} ${JOBS[$i]}"; done | sort -k1,1nr | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//' >"$W/want_order"
WANT_ORDER="$(cat "$W/want_order")"
[ "$(printf '%s\n' "${WANT[@]}" | sort -u | wc -l)" -eq 5 ] || fail "the model gave tied SITE values: ${WANT[*]}"
FIFO_ORDER="${JOBS[*]}"
[ "$WANT_ORDER" != "$FIFO_ORDER" ] || fail "the workload's model order equals FIFO: it cannot tell them apart"
scancel "$BLOCKER"
wait_done "$ALL" 90
GOT_ORDER="$(start_order "$ALL")"
[ "$GOT_ORDER" = "$WANT_ORDER" ] || fail "start order $GOT_ORDER, the model's order is $WANT_ORDER (FIFO $FIFO_ORDER)"
echo "start order with the plugin: $GOT_ORDER (the model's; FIFO would be $FIFO_ORDER) after $((SECONDS - T_START)) s"
PLUGIN_ORDER_POS=""
for j in $GOT_ORDER; do
    for i in 0 1 2 3 4; do [ "${JOBS[$i]}" = "$j" ] && PLUGIN_ORDER_POS+="$i"; done
done

# ------------------------------------------------------------ 3. fault
BLOCKER=$(sub -N2 --exclusive -t 10 --wrap 'sleep 300')
wait_state "$BLOCKER" RUNNING 30
F1=$(sub -N2 --exclusive -t 7 --wrap 'sleep 1')
F2=$(sub -N2 --exclusive -t 1 --wrap 'sleep 1')
for j in "$F1" "$F2"; do
    [ "$(site_of "$j")" -gt 0 ] || fail "job $j has SITE $(site_of "$j") before the fault, expected the model's (> 0)"
done
log_size="$(stat -c %s "$CTLD_LOG")"
head -c 4096 /dev/urandom >"$M.new"
mv "$M.new" "$M"
scontrol reconfigure || fail "scontrol reconfigure"
T_FAULT=$SECONDS
sleep 1
scontrol ping | grep -q 'is UP' || fail "slurmctld is not UP after reconfigure with a corrupt model"
deadline=$((SECONDS + 20))
until tail -c +"$((log_size + 1))" "$CTLD_LOG" | grep -q 'error: site_factor/rl: cannot use the model'; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no 'error: site_factor/rl: cannot use the model' in slurmctld.log after reconfigure"
    sleep 0.5
done
FAULT_LINE="$(tail -c +"$((log_size + 1))" "$CTLD_LOG" | grep -m1 'cannot use the model')"
echo "fault logged: $FAULT_LINE"
# Regression (error_chain_does_not_repeat_a_source_already_in_the_message):
# the cause appears once.
[ "$(grep -o 'not a safetensors file' <<<"$FAULT_LINE" | wc -l)" -eq 1 ] || fail "the fault line repeats its cause: $FAULT_LINE"
F3=$(sub -N2 --exclusive -t 3 --wrap 'sleep 1')
[ "$(site_of "$F3")" = 0 ] || fail "job $F3 submitted after the fault has SITE $(site_of "$F3"), expected 0 (neutral)"
# The pending jobs keep their factors until the next periodic update (every
# PriorityCalcPeriod = 60 s).
deadline=$((SECONDS + 75))
until [ "$(site_of "$F1")" = 0 ] && [ "$(site_of "$F2")" = 0 ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "pending jobs $F1 $F2 still have SITE $(site_of "$F1") $(site_of "$F2") 75 s after the fault"
    sleep 1
done
echo "neutral: SITE 0 for the new job at once, for the pending ones $((SECONDS - T_FAULT)) s after the fault"
scontrol ping | grep -q 'is UP' || fail "slurmctld died after the fault"
scancel "$BLOCKER"
wait_done "$F1,$F2,$F3" 60
echo "jobs still run with a corrupt model"
tail -c +"$((log_size + 1))" "$CTLD_LOG" | grep -E 'error.*site_factor' | grep -v 'cannot use the model' \
    && fail "unexpected site_factor errors after the fault (above)"
# What an update cost (verbose=1 logs one line per update).
grep -Eo 'site_factor/rl: update: [0-9]+ pending jobs \((model|neutral)\) in [0-9.]+ ms' "$CTLD_LOG" >"$W/updates" || true
[ -s "$W/updates" ] || fail "no 'site_factor/rl: update:' line: site_factor_p_update never ran"
echo "site_factor_p_update ran $(wc -l <"$W/updates") times:"
sed 's/^/    /' "$W/updates"

# ------------------------------------------------------------ 4. control
"${CL[@]}" restart --no-plugin >"$W/restart.log" 2>&1 || { cat "$W/restart.log" >&2; fail "scripts/cluster restart --no-plugin"; }
grep -q 'PrioritySiteFactorPlugin' "$SLURM_CONF" && fail "slurm.conf still names the plugin after --no-plugin"
workload
ALL="$(tr ' ' ',' <<<"${JOBS[*]}")"
for j in "${JOBS[@]}"; do
    [ "$(site_of "$j")" = 0 ] || fail "job $j has SITE $(site_of "$j") without the plugin"
done
# Multifactor's order when the blocker ends: priority descending, job id ascending.
sprio -h -j "$ALL" -o '%i %Y' | sort -k2,2nr -k1,1n | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//' >"$W/mf_order"
scancel "$BLOCKER"
wait_done "$ALL" 90
CTRL_ORDER="$(start_order "$ALL")"
CTRL_POS=""
for j in $CTRL_ORDER; do
    for i in 0 1 2 3 4; do [ "${JOBS[$i]}" = "$j" ] && CTRL_POS+="$i"; done
done
[ "$CTRL_POS" != "$PLUGIN_ORDER_POS" ] || fail "without the plugin the jobs started in the model's order too (positions $CTRL_POS)"
[ "$CTRL_ORDER" = "$(cat "$W/mf_order")" ] || fail "without the plugin the start order $CTRL_ORDER is not multifactor's priority order $(cat "$W/mf_order")"
echo "control (no plugin): submission positions $CTRL_POS (FIFO 01234), with the plugin $PLUGIN_ORDER_POS"

"${CL[@]}" down >/dev/null || fail "scripts/cluster down"
RESULT=PASS
