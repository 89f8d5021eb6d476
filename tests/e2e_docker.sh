#!/usr/bin/env bash
# End-to-end test of site_factor/rl and Slurm in the containerized cluster
# (scripts/cluster --docker: MariaDB, slurmdbd, slurmctld and 3 compute-node
# containers with 2 fake GPUs each, on a private network), for each Slurm
# release asked for. Per release:
#  1. build: the base image (cached by content hash), the plugin against
#     that release's configured source, a linear model whose score is
#     -log_time_limit (shortest limit first); up with the plugin; the log
#     shows the model loaded;
#  2. ordering: a blocker holds n1 (partition solo), five jobs queue behind
#     it; sprio's SITE equals what the plugin's own code computes
#     (e2e_model site) for each;
#  3. controller restart: slurmctld's container is restarted with those
#     jobs pending; the plugin loads its model again, every job is still
#     there with the same SITE; once the blocker is cancelled they start in
#     the model's order (not FIFO);
#  4. sacct round trip: CPU, GPU, two-node, failing and cancelled jobs, and
#     every job above, as sacct records them (state, exit code, nodes, GPUs);
#  5. node loss: six requeueable whole-node jobs; n2's container is stopped
#     while its job runs; Slurm marks n2 down, requeues its job, which
#     finishes elsewhere; n2 comes back by itself when restarted; sacct,
#     job by job: every job COMPLETED, the lost one with a NODE_FAIL record
#     on n2 before it;
#  6. network cut: n3 is disconnected from the network until Slurm marks it
#     not responding, then reconnected; it returns to idle without any
#     command, and runs a job;
#  7. load (only with SLURM_RL_DOCKER_LOAD=1: a benchmark, not part of the
#     README suite, because its figure depends on other load on the machine):
#     2,000 jobs submitted in a
#     burst; then, on that same queue, four windows of 45 s
#     (SLURM_RL_DOCKER_WINDOW) without, with, without and with the plugin
#     (slurmctld alone restarted in between), each from sdiag -r: main and
#     backfill mean cycle times. The plugin may add at most 10% to the mean
#     main scheduling cycle (cycle-weighted over the windows). Figures are
#     appended to $SLURM_RL_DOCKER_BENCH (default: printed only).
# Always brings its clusters down and deletes their state (trap).
#
# Env: SLURM_RL_DOCKER_SLURM: the releases to test, "22.05" (default),
# "24.11" or "22.05 24.11" (24.11 is not in the README suite's default: see
# docs/containers.md for the time); SLURM_RL_DOCKER=0 or
# SLURM_RL_SKIP_CLUSTER=1 skips the test, saying so; SLURM_RL_DOCKER_LOAD=1
# runs step 7 (off by default); SLURM_RL_E2E_KEEP=1 keeps the state directories.
# Costs (2 cores shared with other work, images cached): about 12 minutes
# per release (measured 706 s for 22.05), of which the load step is about
# 4 minutes, the node loss 3 (Slurm holds a requeued job 2 minutes before it
# is eligible again) and the network cut 3 (a DOWN node re-registers about
# 140 s after it is reachable again); the first image build adds about 4
# minutes per release, and the first 24.11 plugin build about 5.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
NAME=e2e_docker
T_START=$SECONDS
if [ "${SLURM_RL_SKIP_CLUSTER:-0}" = 1 ] || [ "${SLURM_RL_DOCKER:-1}" = 0 ]; then
    echo "$NAME: SKIPPED (SLURM_RL_SKIP_CLUSTER=1 or SLURM_RL_DOCKER=0): the container cluster test did not run"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || { echo "FAIL: tests/$NAME.sh needs root (docker, debootstrap); set SLURM_RL_DOCKER=0 to skip it" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "FAIL: docker is not running; set SLURM_RL_DOCKER=0 to skip tests/$NAME.sh" >&2; exit 1; }
SERIES_LIST="${SLURM_RL_DOCKER_SLURM:-22.05}"
LOAD="${SLURM_RL_DOCKER_LOAD:-0}"
TMP="$(mktemp -d /tmp/slurm-rl-e2e-docker.XXXXXX)"
RESULT=FAIL
CL=()
fail() { echo "FAIL[${SERIES:-}]: $*" >&2; exit 1; }
cleanup() {
    local rc=$?
    set +e
    if [ "$RESULT" != PASS ] && [ -n "${STATE:-}" ] && [ -f "$STATE/log/slurmctld.log" ]; then
        echo "---- last lines of slurmctld.log" >&2
        tail -n 25 "$STATE/log/slurmctld.log" >&2
    fi
    [ "${#CL[@]}" -eq 0 ] || "${CL[@]}" down >/dev/null 2>&1
    if [ "${SLURM_RL_E2E_KEEP:-0}" = 1 ]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
    echo "$NAME: $RESULT ($((SECONDS - T_START)) s; Slurm $SERIES_LIST)"
    [ "$RESULT" = PASS ] || exit $((rc == 0 ? 1 : rc))
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The model tool runs on the host (its arithmetic is the plugin's, the same
# for every release).
if [ -z "${SLURM_SRC_DIR:-}" ]; then
    SLURM_SRC_DIR="$(scripts/slurm-source)"
    export SLURM_SRC_DIR
fi
cargo build --release -p slurm-plugin --example e2e_model --quiet || fail "cargo build of e2e_model"
EM="$SLURM_RL_ROOT/target/release/examples/e2e_model"

# ------------------------------------------------------------ helpers
sx() { timeout 120 docker exec "$CTLD" "$@"; }
sub() { sx sbatch --parsable -D /tmp -o /dev/null "$@" | cut -d';' -f1; }
state_of() { sx squeue -h -j "$1" -o %T 2>/dev/null || true; }
wait_state() {
    local deadline=$((SECONDS + $3))
    until [ "$(state_of "$1")" = "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "job $1 not $2 after $3 s: $(sx squeue)"
        sleep 1
    done
}
# wait_final IDS SECONDS: until sacct shows every job (comma list) in a
# final state (COMPLETED, FAILED, CANCELLED, TIMEOUT); a NODE_FAIL is not
# final here (the job may still be requeued).
wait_final() {
    local n deadline=$((SECONDS + $2)) raw
    n="$(tr ',' '\n' <<<"$1" | wc -l)"
    while :; do
        raw="$(sx sacct -X -n -P -j "$1" --format=State 2>/dev/null || true)"
        [ "$(grep -cE '^(COMPLETED|FAILED|CANCELLED.*|TIMEOUT)$' <<<"$raw" || true)" -eq "$n" ] && return 0
        [ "$SECONDS" -lt "$deadline" ] || fail "jobs $1 not all finished after $2 s: $(sort <<<"$raw" | uniq -c | tr -s ' \n' ' ')"
        sleep 2
    done
}
site_of() { sx sprio -h -j "$1" -o '%S' | tr -d ' '; }
node_state() { sx sinfo -h -n "$1" -o %T 2>/dev/null | head -n1; }
wait_node() { # NODE REGEX SECONDS
    local deadline=$((SECONDS + $3))
    until [[ "$(node_state "$1")" =~ $2 ]]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "node $1 is '$(node_state "$1")', not /$2/ after $3 s"
        sleep 2
    done
}
# sdiag_means: "main_mean_us backfill_mean_us main_cycles backfill_cycles"
sdiag_means() {
    sx sdiag | awk '
        /^Main schedule statistics/ { sec = "main" } /^Backfilling stats/ { sec = "bf" }
        sec == "main" && /Mean cycle:/ { mm = $3 } sec == "main" && /Total cycles:/ { mc = $3 }
        sec == "bf" && /Mean cycle:/ { bm = $3 } sec == "bf" && /Total cycles:/ { bc = $3 }
        END { print mm + 0, bm + 0, mc + 0, bc + 0 }'
}
# set_plugin on|off: (un)comments the plugin's lines in the cluster's
# slurm.conf and restarts slurmctld alone (the nodes keep their jobs).
set_plugin() {
    local conf="$STATE/etc/slurm.conf" tmp
    tmp="$(mktemp "$conf.XXXXXX")"
    if [ "$1" = on ]; then
        sed 's/^#OFF#\(PrioritySiteFactor\)/\1/' "$conf" >"$tmp"
    else
        sed 's/^\(PrioritySiteFactor\)/#OFF#\1/' "$conf" >"$tmp"
    fi
    chmod 644 "$tmp"
    mv -f "$tmp" "$conf"
    docker restart -t 20 "$CTLD" >/dev/null || fail "docker restart $CTLD"
    local deadline=$((SECONDS + 90))
    until sx scontrol ping 2>/dev/null | grep -q 'is UP'; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slurmctld not UP 90 s after its restart"
        sleep 1
    done
}
# load_test: 2,000 jobs in one burst (one sbatch after another, inside the
# slurmctld container), then windows of WINDOW s alternately without and
# with the plugin (slurmctld restarted in between, the same queue), each
# from an sdiag -r; prints one "with|without main_us bf_us main_n bf_n" per
# window.
load_test() {
    local window="${SLURM_RL_DOCKER_WINDOW:-45}" t0=$SECONDS
    sx scancel --user=root >/dev/null 2>&1 || true
    sleep 3
    # Sizes 1-8 CPUs, limits 1-60 min; they hold the nodes for 20 min, so
    # the queue stays about 2,000 deep and the CPU use stays bounded.
    timeout 900 docker exec "$CTLD" bash -c 'for i in $(seq 1 2000); do
        sbatch -D /tmp -o /dev/null -n $((1 + i % 8)) -t $((1 + (i * 7) % 60)) --wrap "sleep 1200" >/dev/null || exit 1
    done' || fail "the burst of 2,000 sbatch failed"
    BURST_S=$((SECONDS - t0))
    local round mode
    for round in 1 2; do
        for mode in off on; do
            set_plugin "$mode"
            sx sdiag -r >/dev/null
            sleep "$window"
            echo "$([ "$mode" = on ] && echo with || echo without) $(sdiag_means)"
        done
    done
    sx scancel --user=root >/dev/null 2>&1 || true
}

# ------------------------------------------------------------ per release
test_release() {
    SERIES="$1"
    local t_rel=$SECONDS
    STATE="$TMP/c-$SERIES"
    local P="$TMP/p-$SERIES" M
    M="$P/model.safetensors"
    CL=(scripts/cluster --docker --slurm "$SERIES" --state "$STATE")
    scripts/docker/build-images --slurm "$SERIES" >/dev/null || fail "scripts/docker/build-images --slurm $SERIES"
    scripts/docker/build-plugin --slurm "$SERIES" "$P" >/dev/null || fail "scripts/docker/build-plugin --slurm $SERIES"
    "$EM" write "$M.new" log_time_limit -1 || fail "e2e_model write"
    mv "$M.new" "$M"
    local PARAMS="model=$M,verbose=1"
    "${CL[@]}" up --nodes 3 --gpus 2 --plugin-dir "$P" --site-factor-params "$PARAMS" --timeout 180 \
        || fail "scripts/cluster --docker up with the plugin"
    eval "$("${CL[@]}" env)"
    local LOG="$STATE/log/slurmctld.log"
    echo "[$SERIES] cluster up with the plugin after $((SECONDS - t_rel)) s: $(sx sinfo -h -o '%D nodes %T' | tr '\n' ' ')"

    # 1. loaded
    grep -qE 'site_factor/rl: loaded model .* \(20 features' "$LOG" || fail "no 'site_factor/rl: loaded model' in slurmctld.log"
    ! grep -Ei 'error.*site_factor' "$LOG" || fail "site_factor errors in slurmctld.log (above)"
    # (22.05's scontrol show config prints (null) for the site factor
    # settings: read the configuration the containers mount instead.)
    grep -qx 'PrioritySiteFactorPlugin=site_factor/rl' "$STATE/etc/slurm.conf" || fail "slurm.conf does not name the plugin"

    # 2. ordering: time limits 6, 2, 5, 3, 4 min: the model orders B D E C A.
    local specs=("-n8 --gres=gpu:2 -t 6" "-n1 -t 2" "-n6 --gres=gpu:1 -t 5" "-n2 --gres=gpu:2 -t 3" "-n4 -t 4")
    local obs=("time_limit=360,cpus=8,gpus=2" "time_limit=120,cpus=1" "time_limit=300,cpus=6,gpus=1"
        "time_limit=180,cpus=2,gpus=2" "time_limit=240,cpus=4")
    local blocker jobs=() s i
    blocker=$(sub -p solo -N1 --exclusive -t 10 --wrap 'sleep 300')
    wait_state "$blocker" RUNNING 60
    for s in "${specs[@]}"; do
        # shellcheck disable=SC2086 # the spec is a list of options
        jobs+=("$(sub -p solo -N1 --exclusive $s --wrap 'sleep 2')")
    done
    local want
    mapfile -t want < <("$EM" site "$PARAMS" "${obs[@]}")
    [ "${#want[@]}" -eq 5 ] || fail "e2e_model site printed ${#want[@]} values"
    for i in 0 1 2 3 4; do
        [ "$(site_of "${jobs[$i]}")" = "${want[$i]}" ] || fail "job ${jobs[$i]} (${specs[$i]}): SITE $(site_of "${jobs[$i]}"), the plugin's code gives ${want[$i]}"
    done
    echo "[$SERIES] sprio SITE matches the model for all 5 jobs: ${want[*]}"
    local want_order fifo_order="${jobs[*]}"
    want_order="$(for i in 0 1 2 3 4; do echo "${want[$i]} ${jobs[$i]}"; done | sort -k1,1nr | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')"
    [ "$want_order" != "$fifo_order" ] || fail "the model's order equals FIFO"

    # 3. controller restart with the five jobs pending.
    local log_size
    log_size="$(stat -c %s "$LOG")"
    docker restart -t 20 "$CTLD" >/dev/null || fail "docker restart $CTLD"
    local deadline=$((SECONDS + 90))
    until sx scontrol ping 2>/dev/null | grep -q 'is UP'; do
        [ "$SECONDS" -lt "$deadline" ] || fail "slurmctld not UP 90 s after its restart"
        sleep 1
    done
    tail -c +"$((log_size + 1))" "$LOG" | grep -qE 'site_factor/rl: loaded model' || fail "no 'loaded model' after the controller restart"
    for i in 0 1 2 3 4; do
        [ "$(state_of "${jobs[$i]}")" = PENDING ] || fail "job ${jobs[$i]} is '$(state_of "${jobs[$i]}")' after the restart, expected PENDING"
        [ "$(site_of "${jobs[$i]}")" = "${want[$i]}" ] || fail "job ${jobs[$i]}: SITE $(site_of "${jobs[$i]}") after the restart, ${want[$i]} before"
    done
    [ "$(state_of "$blocker")" = RUNNING ] || fail "the blocker $blocker is '$(state_of "$blocker")' after the restart"
    echo "[$SERIES] controller restarted: model reloaded, 5 pending jobs kept their SITE values, the blocker still runs"
    sx scancel "$blocker"
    local all
    all="$(tr ' ' ',' <<<"${jobs[*]}")"
    wait_final "$all" 120
    sx sacct -X -n -P -j "$all" --format=JobIDRaw,Start,State >"$TMP/starts"
    ! grep -v '|COMPLETED$' "$TMP/starts" || fail "not every ordered job COMPLETED (above)"
    [ "$(cut -d'|' -f2 "$TMP/starts" | sort -u | wc -l)" -eq 5 ] || fail "two jobs started in the same second: $(tr '\n' ' ' <"$TMP/starts")"
    local got_order
    got_order="$(sort -t'|' -k2,2 "$TMP/starts" | cut -d'|' -f1 | tr '\n' ' ' | sed 's/ $//')"
    [ "$got_order" = "$want_order" ] || fail "start order $got_order, the model's is $want_order (FIFO $fifo_order)"
    echo "[$SERIES] start order after the restart: $got_order (the model's; FIFO $fifo_order)"

    # 4. sacct round trip.
    local j_cpu j_gpu j_two j_fail j_cancel
    j_cpu=$(sub -n1 -c2 -t 2 --wrap 'sleep 2')
    j_gpu=$(sub -n1 --gres=gpu:2 -t 2 --wrap 'sleep 2')
    j_two=$(sub -N2 -n2 -t 2 --wrap 'sleep 2')
    j_fail=$(sub -n1 -t 2 --wrap 'exit 3')
    j_cancel=$(sub -n1 -t 2 --begin=now+600 --wrap 'sleep 1')
    sx scancel "$j_cancel"
    wait_final "$j_cpu,$j_gpu,$j_two,$j_fail,$j_cancel" 90
    check_sacct() { # JOB FIELD WANT
        local got
        got="$(sx sacct -X -n -P -j "$1" --format="$2")"
        [[ "$got" =~ $3 ]] || fail "sacct job $1 $2='$got', expected /$3/"
    }
    check_sacct "$j_cpu" State,ExitCode,AllocCPUS '^COMPLETED\|0:0\|2$'
    check_sacct "$j_gpu" State,AllocTRES '^COMPLETED\|.*gres/gpu=2'
    check_sacct "$j_two" State,NNodes '^COMPLETED\|2$'
    check_sacct "$j_fail" State,ExitCode '^FAILED\|3:0$'
    check_sacct "$j_cancel" State '^CANCELLED'
    echo "[$SERIES] sacct round trip: CPU, GPU, two-node, failed and cancelled jobs recorded as run"

    # 5. node loss: six whole-node requeueable jobs on three nodes.
    local nl=() lost running_on
    for i in 1 2 3 4 5 6; do nl+=("$(sub --requeue -p gpu -N1 --exclusive -t 5 --wrap 'sleep 25')"); done
    deadline=$((SECONDS + 60))
    until lost="$(sx squeue -h -t R -w n2 -o %A | head -n1)" && [ -n "$lost" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "no job running on n2: $(sx squeue)"
        sleep 1
    done
    docker stop -t 0 "$PROJECT-n2" >/dev/null || fail "docker stop n2"
    local t_loss=$SECONDS
    wait_node n2 'down|not_responding|\*' 150
    echo "[$SERIES] n2 stopped while job $lost ran on it; Slurm marked it $(node_state n2) after $((SECONDS - t_loss)) s"
    all="$(tr ' ' ',' <<<"${nl[*]}")"
    wait_final "$all" 300
    docker start "$PROJECT-n2" >/dev/null || fail "docker start n2"
    for j in "${nl[@]}"; do
        check_sacct "$j" State '^COMPLETED$'
    done
    running_on="$(sx sacct -X -n -P -j "$lost" --format=NodeList)"
    [ "$running_on" != n2 ] || fail "job $lost finished on n2, which was stopped"
    sx sacct -n -P -D -X -j "$lost" --format=State,NodeList >"$TMP/lost"
    grep -qE '^(NODE_FAIL|REQUEUED)\|n2$' "$TMP/lost" || fail "sacct -D has no NODE_FAIL/REQUEUED record of job $lost on n2: $(tr '\n' ' ' <"$TMP/lost")"
    [ "$(sx sacct -X -n -P -j "$all" --format=JobIDRaw | sort -u | wc -l)" -eq 6 ] || fail "sacct does not account for all 6 jobs"
    echo "[$SERIES] node loss: job $lost requeued ($(tr '\n' ' ' <"$TMP/lost")), all 6 jobs COMPLETED in sacct"
    wait_node n2 '^(idle|mixed|allocated)$' 120
    echo "[$SERIES] n2 back to $(node_state n2) after its container restarted"

    # 6. network cut of n3.
    local ip3
    ip3="$(docker inspect -f "{{(index .NetworkSettings.Networks \"$PROJECT\").IPAddress}}" "$PROJECT-n3")"
    docker network disconnect "$PROJECT" "$PROJECT-n3" || fail "docker network disconnect"
    local t_cut=$SECONDS
    # Not responding (state*) first, then DOWN after SlurmdTimeout.
    wait_node n3 '^down' 150
    echo "[$SERIES] n3 cut off: Slurm marked it $(node_state n3) after $((SECONDS - t_cut)) s"
    docker network connect --ip "$ip3" "$PROJECT" "$PROJECT-n3" || fail "docker network connect"
    local t_back=$SECONDS
    wait_node n3 '^(idle|mixed|allocated)$' 180
    echo "[$SERIES] n3 reconnected: $(node_state n3) after $((SECONDS - t_back)) s, no manual action"
    local j3
    j3=$(sub -w n3 -n1 -t 2 --wrap 'sleep 1')
    wait_final "$j3" 60
    check_sacct "$j3" State,NodeList '^COMPLETED\|n3$'

    # 7. load.
    if [ "$LOAD" = 1 ]; then
        load_test >"$TMP/load"
        [ "$(sx squeue -h | wc -l)" -le 2000 ] || fail "more than 2,000 jobs left after the load test"
        echo "[$SERIES] load: 2,000 jobs submitted in $BURST_S s; sdiag per window (mean µs main, mean µs backfill, main cycles, backfill cycles):"
        sed 's/^/    /' "$TMP/load"
        local bench="${SLURM_RL_DOCKER_BENCH:-}"
        [ -z "$bench" ] || printf '%s %s burst=%ss %s\n' "$(date -u +%FT%TZ)" "$SERIES" "$BURST_S" "$(tr '\n' ';' <"$TMP/load")" >>"$bench"
        # The mean cycle over all windows of each kind, weighted by cycles.
        awk '
            { n[$1] += $4; t[$1] += $2 * $4; bn[$1] += $5; bt[$1] += $3 * $5 }
            END {
                if (n["with"] == 0 || n["without"] == 0) { print "no main scheduling cycles measured"; exit 1 }
                mw = t["with"] / n["with"]; mo = t["without"] / n["without"]
                bw = bn["with"] ? bt["with"] / bn["with"] : 0; bo = bn["without"] ? bt["without"] / bn["without"] : 0
                printf "    mean main cycle: %.0f µs with the plugin, %.0f µs without (ratio %.3f); backfill: %.0f µs, %.0f µs (ratio %.3f)\n", mw, mo, mw / mo, bw, bo, (bo ? bw / bo : 0)
                exit (mw > 1.10 * mo)
            }' "$TMP/load" || fail "the plugin adds more than 10% to the mean main scheduling cycle (figures above)"
    fi
    "${CL[@]}" down >/dev/null
    CL=()
    echo "[$SERIES] passed in $((SECONDS - t_rel)) s"
}

for s in $SERIES_LIST; do
    case "$s" in 22.05 | 24.11) ;; *) fail "SLURM_RL_DOCKER_SLURM: unknown release '$s' (22.05, 24.11)" ;; esac
    test_release "$s"
done
RESULT=PASS
