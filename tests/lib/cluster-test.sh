# shellcheck shell=bash disable=SC2034
# Shared set-up of the tests that run a real local Slurm cluster
# (tests/e2e_cluster.sh, e2e_plugin.sh, valgrind_plugin.sh). Source it after
# scripts/lib/common.sh; do not run it.
#
# cluster_test_begin NAME PORT_OFFSET WHAT
#   Skips the test (saying WHAT did not run) when SLURM_RL_SKIP_CLUSTER=1,
#   fails without root, makes a private state directory and installs a trap
#   that, whatever happens, shows the end of slurmctld.log on failure, stops
#   the cluster, removes the state (unless SLURM_RL_E2E_KEEP=1) and prints
#   "NAME: PASS|FAIL (N s)". Sets S (state dir), W ($S/work), P ($S/plugins),
#   M ($S/model.safetensors), CL (the scripts/cluster command for this
#   state and port offset), CTLD_LOG and RESULT (set it to PASS at the end),
#   and defines fail MESSAGE.

cluster_test_begin() {
    CLUSTER_TEST_NAME="$1"
    local offset="$2" what="$3"
    T_START=$SECONDS
    if [ "${SLURM_RL_SKIP_CLUSTER:-0}" = 1 ]; then
        echo "$CLUSTER_TEST_NAME: SKIPPED (SLURM_RL_SKIP_CLUSTER=1): $what did not run"
        exit 0
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "FAIL: tests/$CLUSTER_TEST_NAME.sh needs root (it runs slurmd and MariaDB); set SLURM_RL_SKIP_CLUSTER=1 to skip it" >&2
        exit 1
    fi
    S="$(mktemp -d "/tmp/slurm-rl-$CLUSTER_TEST_NAME.XXXXXX")"
    W="$S/work"
    P="$S/plugins"
    M="$S/model.safetensors"
    CL=(scripts/cluster --state "$S/cluster" --port-offset "$offset")
    CTLD_LOG="$S/cluster/log/slurmctld.log"
    RESULT=FAIL
    trap cluster_test_end EXIT
    trap 'exit 130' INT TERM
}

cluster_test_end() {
    local rc=$?
    set +e
    if [ "$RESULT" != PASS ] && [ -f "$CTLD_LOG" ]; then
        echo "---- last lines of slurmctld.log" >&2
        tail -n 25 "$CTLD_LOG" >&2
    fi
    "${CL[@]}" down >/dev/null 2>&1 || "${CL[@]}" down
    if [ "${SLURM_RL_E2E_KEEP:-0}" = 1 ]; then
        echo "kept $S (SLURM_RL_E2E_KEEP=1)" >&2
    else
        rm -rf "$S"
    fi
    echo "$CLUSTER_TEST_NAME: $RESULT ($((SECONDS - T_START)) s)"
    [ "$RESULT" = PASS ] || exit $((rc == 0 ? 1 : rc))
}

fail() { echo "FAIL: $*" >&2; exit 1; }
