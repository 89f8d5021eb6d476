#!/usr/bin/env bash
# End-to-end test against a real Slurm 22.05: brings up a private cluster
# with scripts/cluster (4 nodes x 8 CPUs x 4 fake GPUs, real slurmdbd and
# MariaDB) in a temporary state directory, submits a few jobs (CPU, GPU,
# multi-node, a failure, a time-out, a cancellation), waits for them, and
# checks what sacct recorded; then, if target/release/slurm-rl is built,
# imports that history with `slurm-rl import sacct` and checks the JSONL.
# Always stops the cluster and deletes its state (trap), even on failure.
# Needs root and Debian 12 (it installs Slurm, munge and MariaDB via apt).
# Takes about 2 minutes (the time-out job alone needs 60-90 s: Slurm's
# smallest limit is one minute and slurmctld checks limits every 30 s).
#
# Env: SLURM_RL_E2E_PORT_OFFSET (default 100) shifts every port, so a
# cluster on the default ports keeps running; SLURM_RL_E2E_KEEP=1 keeps the
# state directory (logs) after the test; SLURM_RL_SKIP_CLUSTER=1 skips the
# test, saying so (machines without root).
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
cluster_test_begin e2e_cluster "${SLURM_RL_E2E_PORT_OFFSET:-100}" "the real-Slurm test"

mkdir -p "$W"
"${CL[@]}" up --nodes 4 --gpus 4 --timeout 60 || fail "scripts/cluster up"
eval "$("${CL[@]}" env)"
echo "cluster up after $((SECONDS - T_START)) s"

# The nodes and their GPUs as slurmctld sees them.
sinfo -h -N -p gpu -o '%N %T %c %m %G' >"$W/sinfo"
[ "$(wc -l <"$W/sinfo")" -eq 4 ] || fail "sinfo shows $(wc -l <"$W/sinfo") nodes, expected 4: $(cat "$W/sinfo")"
awk '$2 != "idle" || $3 != 8 || $4 != 8000 || $5 != "gpu:4" { bad = 1 } END { exit bad }' "$W/sinfo" \
    || fail "nodes not idle with 8 CPUs, 8000 MB, gpu:4: $(cat "$W/sinfo")"

# --start for the importer: a minute before the first submit (UTC).
T0="$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%S)"

sub() { sbatch --parsable -D "$W" -o "$W/%j.out" "$@" | cut -d';' -f1; }
J_CPU=$(sub -n1 -c2 --mem=1000 -t 2 --wrap 'sleep 4')
# shellcheck disable=SC2016 # $CUDA_VISIBLE_DEVICES expands in the job
J_GPU=$(sub -c4 --gres=gpu:2 -t 2 --wrap 'echo "gpus=$CUDA_VISIBLE_DEVICES"; sleep 6')
J_MULTI=$(sub -N2 --ntasks-per-node=4 --gres=gpu:1 -t 3 --wrap 'sleep 5')
J_FAIL=$(sub -c1 -t 1 --wrap 'exit 3')
J_TIMEOUT=$(sub -c1 -t 1 --wrap 'sleep 600')
J_CANCEL=$(sub -c1 -t 5 --wrap 'sleep 600')
ALL="$J_CPU,$J_GPU,$J_MULTI,$J_FAIL,$J_TIMEOUT,$J_CANCEL"
echo "submitted $ALL"

# Cancel J_CANCEL once it runs.
for _ in $(seq 1 40); do
    [ "$(squeue -h -j "$J_CANCEL" -o %T)" = RUNNING ] && break
    sleep 0.5
done
[ "$(squeue -h -j "$J_CANCEL" -o %T)" = RUNNING ] || fail "job $J_CANCEL did not start within 20 s: $(squeue)"
scancel "$J_CANCEL"

# Wait (at most 150 s) until sacct shows every job in a final state.
deadline=$((SECONDS + 150))
while :; do
    raw="$(sacct -X -n -P -j "$ALL" --format=State 2>/dev/null || true)"
    states="$(sort <<<"$raw" | uniq -c | tr -s ' \n' ' ')"
    n_final="$(grep -Evc '^(PENDING|RUNNING|REQUEUED|RESIZING|SUSPENDED|COMPLETING|)$' <<<"$raw" || true)"
    [ "$n_final" -eq 6 ] && break
    [ "$SECONDS" -lt "$deadline" ] || fail "jobs not finished after 150 s: $states"
    sleep 2
done
echo "all 6 jobs final after $((SECONDS - T_START)) s: $states"

# What the real slurmdbd recorded.
sacct -X -n -P -j "$ALL" --format=JobIDRaw,State,AllocCPUS,AllocTRES,NNodes,ExitCode,Timelimit,ElapsedRaw >"$W/sacct"
sacct -n -P -j "$ALL" --format=JobID >"$W/steps"
python3 - "$W/sacct" "$W/steps" "$J_CPU" "$J_GPU" "$J_MULTI" "$J_FAIL" "$J_TIMEOUT" "$J_CANCEL" <<'PY' || fail "sacct records"
import sys
rows = {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("|")
    tres = dict(kv.split("=", 1) for kv in f[3].split(",") if "=" in kv)
    rows[f[0]] = dict(state=f[1].split()[0], cpus=int(f[2]), tres=tres, nodes=int(f[4]),
                      exit=f[5], limit=f[6], elapsed=int(f[7]))
steps = {l.strip() for l in open(sys.argv[2])}
cpu, gpu, multi, failed, timeout, cancel = sys.argv[3:9]
assert len(rows) == 6, rows

def check(j, state, cpus, gpus, nodes):
    r = rows[j]
    got = (r["state"], r["cpus"], int(r["tres"].get("gres/gpu", 0)), r["nodes"])
    assert got == (state, cpus, gpus, nodes), f"job {j}: (state, cpus, gpus, nodes) = {got}, expected {(state, cpus, gpus, nodes)}; {r}"

check(cpu, "COMPLETED", 2, 0, 1)
assert rows[cpu]["tres"]["mem"] == "1000M", rows[cpu]
check(gpu, "COMPLETED", 4, 2, 1)
check(multi, "COMPLETED", 8, 2, 2)
check(failed, "FAILED", 1, 0, 1)
assert rows[failed]["exit"] == "3:0", rows[failed]
check(timeout, "TIMEOUT", 1, 0, 1)
assert rows[timeout]["limit"] == "00:01:00", rows[timeout]
assert 60 <= rows[timeout]["elapsed"] <= 150, rows[timeout]
check(cancel, "CANCELLED", 1, 0, 1)
for j in (cpu, gpu):
    assert 3 <= rows[j]["elapsed"] <= 60, rows[j]
# PrologFlags=Contain gives every job an .extern step; batch jobs a .batch step.
for j in (cpu, gpu, multi):
    assert f"{j}.batch" in steps and f"{j}.extern" in steps, (j, sorted(steps))
print("sacct ok: states, CPUs, GPUs (AllocTRES gres/gpu), nodes, exit code, time-out")
PY
# The GPU job saw two fake GPUs.
grep -Eq '^gpus=[0-3],[0-3]$' "$W/$J_GPU.out" || fail "GPU job output: $(cat "$W/$J_GPU.out")"

# slurm-rl's importer on the live accounting (it runs sacct itself).
B="$SLURM_RL_ROOT/target/release/slurm-rl"
if [ -x "$B" ]; then
    T1="$(date -u -d '+1 min' +%Y-%m-%dT%H:%M:%S)"
    "$B" import sacct --start "$T0" --end "$T1" -o "$W/hist.jsonl" >"$W/import.log" 2>&1 \
        || fail "slurm-rl import sacct: $(cat "$W/import.log")"
    python3 - "$W/hist.jsonl" "$J_CPU" "$J_GPU" "$J_MULTI" "$J_FAIL" "$J_TIMEOUT" "$J_CANCEL" <<'PY' || fail "imported trace"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
head, jobs = lines[0], {j["id"]: j for j in lines[1:]}
assert head["format"] == "slurm-rl-trace" and head["source"] == "sacct", head
assert head.get("cluster") == "slurmrl", head
ids = [int(x) for x in sys.argv[2:8]]
assert sorted(jobs) == sorted(ids), (sorted(jobs), ids)
cpu, gpu, multi, failed, timeout, cancel = ids
want = {cpu: ("COMPLETED", 2, 0, 1), gpu: ("COMPLETED", 4, 2, 1), multi: ("COMPLETED", 8, 2, 2),
        failed: ("FAILED", 1, 0, 1), timeout: ("TIMEOUT", 1, 0, 1), cancel: ("CANCELLED", 1, 0, 1)}
for i, w in want.items():
    j = jobs[i]
    got = (j["state"], j["cpus"], j["gpus"], j["nodes"])
    assert got == w, f"job {i}: {got}, expected {w}: {j}"
    assert j["start"] is not None and j["end"] >= j["start"] >= j["submit"], j
assert jobs[timeout]["time_limit"] == 60 and jobs[timeout]["run_time"] >= 60, jobs[timeout]
assert jobs[cpu]["mem_mb"] == 1000, jobs[cpu]
assert jobs[failed]["exit_code"] == 3, jobs[failed]
print("import ok: %d jobs with the right states, CPUs, GPUs and nodes" % len(jobs))
PY
    # The simulator reads this cluster's own slurm.conf and gres.conf, and replays the history.
    "$B" simulate --trace "$W/hist.jsonl" --cluster "$SLURM_CONF" --policy slurm --format json \
        >"$W/sim.json" 2>"$W/sim.log" || fail "slurm-rl simulate: $(cat "$W/sim.log")"
    python3 - "$W/sim.json" <<'PY' || fail "simulate on the cluster's slurm.conf"
import json, sys
d = json.load(open(sys.argv[1]))
i, m = d["inputs"], d["metrics"]
assert (i["cluster_name"], i["total_cpus"], i["total_gpus"], i["jobs"]) == ("slurmrl", 32, 16, 6), i
# The time-out job's recorded run time is >= its limit (Slurm kills it at the
# limit, or up to 30 s later). The simulator counts a time-out only when the
# run time is strictly greater, so a kill exactly at the limit replays as
# "completed": check only that all six ran and ended.
assert m["started"] == 6 and m["completed"] + m["timeout"] == 6, m
print("simulate ok: slurm.conf read as 32 CPUs, 16 GPUs; 6 jobs replayed (%d completed, %d timeout)" % (m["completed"], m["timeout"]))
PY
else
    echo "note: $B not built; skipping the importer check (cargo build --release)"
fi

"${CL[@]}" down >/dev/null || fail "scripts/cluster down"
"${CL[@]}" status >/dev/null && fail "daemons still alive after down"
RESULT=PASS
