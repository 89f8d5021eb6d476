#!/usr/bin/env bash
# Sim-to-real fidelity, short: replays a small seeded workload (25 jobs,
# mixed CPU/GPU, tests/lib/fidelity_workload.py) on a real local Slurm
# cluster (scripts/cluster: 4 nodes x 8 CPUs x 4 fake GPUs, slurmdbd,
# MariaDB) under FCFS-like multifactor with backfill, compressed 60x
# (slurm-rl replay), reads the outcome with slurm-rl import sacct, runs the
# same jobs through the simulator with the same slurm.conf (slurm-rl
# fidelity) and fails when fidelity is below the targets of
# docs/fidelity.md: Kendall tau of the start order >= 0.95, median
# start-time error <= 5 % of the mean wait, mean wait, mean bounded
# slowdown and utilization within 5 % of the real run's.
# It is scripts/fidelity fcfs with a short workload, in a temporary state
# directory that is always removed (trap). Needs root and Debian 12. Takes
# about 3-4 minutes (the replay itself about 3).
#
# Env: SLURM_RL_E2E_FIDELITY_PORT_OFFSET (default 600), SLURM_RL_E2E_KEEP=1
# keeps the state directory (and the results under work/),
# SLURM_RL_SKIP_CLUSTER=1 skips the test, saying so.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
OFFSET="${SLURM_RL_E2E_FIDELITY_PORT_OFFSET:-600}"
cluster_test_begin e2e_fidelity "$OFFSET" "the sim-to-real fidelity replay"

# The trainer links libtorch: the venv gives it (a no-op when already set up).
[ -n "${LIBTORCH:-}${LIBTORCH_USE_PYTORCH:-}" ] || setup_venv >/dev/null
cargo build --release -p trainer --quiet || fail "cargo build of slurm-rl"
mkdir -p "$W"
rc=0
scripts/fidelity fcfs --jobs 25 --seed 1 --compress 60 --out "$W" \
    --state "$S/cluster" --port-offset "$OFFSET" --check || rc=$?
case "$rc" in
    0) ;;
    2) fail "the simulator is below the fidelity targets (table above; $W/fidelity.json)" ;;
    *) fail "scripts/fidelity failed (exit status $rc)" ;;
esac
[ -s "$W/fidelity.png" ] || fail "no plot written"
python3 -c "import json,sys; sys.exit(json.load(open('$W/fidelity.json'))['report']['jobs'] != 25)" \
    || fail "fidelity.json does not compare all 25 jobs"
RESULT=PASS
