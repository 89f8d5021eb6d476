#!/usr/bin/env bash
# Sim-to-real fidelity, short: replays a small seeded workload (60 jobs,
# mixed CPU/GPU, tests/lib/fidelity_workload.py) on a real local Slurm
# cluster (scripts/cluster: 4 nodes x 8 CPUs x 4 fake GPUs, slurmdbd,
# MariaDB) under FCFS-like multifactor with backfill, compressed 60x
# (slurm-rl replay), reads the outcome with slurm-rl import sacct, runs the
# same jobs through the simulator with the same slurm.conf (slurm-rl
# fidelity) and prints the comparison against the targets of
# docs/fidelity.md: Kendall tau of the start order >= 0.95, median
# start-time error <= 5 % of the mean wait, mean wait, mean bounded
# slowdown and utilization within 5 % of the real run's.
# It fails when a target is missed. The replay runs on whole seconds
# (slurm-rl replay: time zero on a multiple of 30 s of the epoch,
# submissions and job ends just after whole seconds), so sacct's whole
# seconds are the times that ordered slurmctld's decisions and repeated
# replays of this workload give the same real schedule; before that (until
# 28 Nov 2026) the 60-job run sat at the targets' edge (tau 0.945-0.981,
# mean wait -7.6 % to +3.6 %), because which side of a backfill cycle a
# submission or an end fell on was not in the accounting, and the gate was
# twice the tolerances. SLURM_RL_FIDELITY_LOOSE=1 restores that looser gate
# (tau >= 0.90, median start error <= 10 %, headline metrics within 10 %),
# for a machine too loaded to keep slurmctld's passes within their second.
# docs/fidelity.md has the figures.
# It is scripts/fidelity fcfs (its default 60 jobs), in a temporary state
# directory that is always removed (trap). Needs root and Debian 12. Takes
# about 7 minutes (the replay itself about 6). Fewer jobs make waits too
# short to judge: with 25 jobs the mean wait was 10 s, so Slurm's 1 s start
# granularity alone was 10 % of it (it failed the 5 % target on a quiet
# machine for that reason).
#
# Env: SLURM_RL_E2E_FIDELITY_PORT_OFFSET (default 600), SLURM_RL_FIDELITY_LOOSE=1
# (the looser gate above), SLURM_RL_E2E_KEEP=1
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
scripts/fidelity fcfs --jobs 60 --seed 1 --compress 60 --out "$W" \
    --state "$S/cluster" --port-offset "$OFFSET" || fail "scripts/fidelity failed"
# scripts/fidelity printed the table against the 5 % targets; the gate:
loose="${SLURM_RL_FIDELITY_LOOSE:-0}"
python3 - "$W/fidelity.json" "$loose" <<'PY' || fail "the simulator is below the fidelity bounds (table above; $W/fidelity.json)"
import json, sys
doc = json.load(open(sys.argv[1]))
r, loose = doc["report"], sys.argv[2] == "1"
k = 2.0 if loose else 1.0
tau_min = 1 - k * (1 - 0.95)
bad = []
if not r["kendall_tau"] >= tau_min:
    bad.append(f"Kendall tau {r['kendall_tau']:.4f} < {tau_min:.2f}")
if not r["start_error_median"] <= k * 0.05:
    bad.append(f"median start error {100 * r['start_error_median']:.1f} % > {100 * k * 0.05:.0f} %")
for h in r["headline"]:
    if not abs(h["rel_diff"]) <= k * 0.05:
        bad.append(f"{h['metric']} off by {100 * h['rel_diff']:+.1f} % (> {100 * k * 0.05:.0f} %)")
kind = "twice the targets' tolerances (SLURM_RL_FIDELITY_LOOSE=1)" if loose else "the targets"
print(f"FAIL ({kind}): " + "; ".join(bad) if bad else f"fidelity within {kind}")
sys.exit(1 if bad else 0)
PY
[ -s "$W/fidelity.png" ] || fail "no plot written"
python3 -c "import json,sys; sys.exit(json.load(open('$W/fidelity.json'))['report']['jobs'] != 60)" \
    || fail "fidelity.json does not compare all 60 jobs"
python3 -c "import json,sys; sys.exit(not json.load(open('$W/manifest.json'))['aligned'])" \
    || fail "the replay did not run on whole seconds (manifest.json: aligned)"
RESULT=PASS
