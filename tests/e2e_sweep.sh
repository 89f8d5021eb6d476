#!/usr/bin/env bash
# End-to-end test of training sweeps on a real Slurm 22.05: brings up a
# private cluster (scripts/cluster, 2 nodes x 8 CPUs, real slurmdbd and
# MariaDB), submits scripts/sweep.sbatch as a job array over a 4-point grid
# (a tiny synthetic trace, one PPO update per task), then a job that depends
# on it (afterok) and runs `slurm-rl evaluate --runs`; checks that every
# task trained its own point in its own directory with the CPUs Slurm gave
# it, and that the evaluation picked a best run and copied its model.
# Needs root and target/release/slurm-rl (built with the torch venv: the
# jobs find libtorch through the binary's rpath). About 1-2 minutes.
#
# Env: SLURM_RL_E2E_SWEEP_PORT_OFFSET (default 700); SLURM_RL_E2E_KEEP=1
# keeps the state directory; SLURM_RL_SKIP_CLUSTER=1 skips the test.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
cluster_test_begin e2e_sweep "${SLURM_RL_E2E_SWEEP_PORT_OFFSET:-700}" "the Slurm job-array sweep test"

BIN="$SLURM_RL_ROOT/target/release/slurm-rl"
[ -x "$BIN" ] || fail "build target/release/slurm-rl first (cargo build --release -p trainer)"
mkdir -p "$W"
"$BIN" synth --jobs 240 --seed 5 -o "$W/t.jsonl" --cluster-out "$W/c.toml" >/dev/null \
    || fail "slurm-rl synth"

"${CL[@]}" up --nodes 2 --gpus 0 --timeout 60 || fail "scripts/cluster up"
eval "$("${CL[@]}" env)"
echo "cluster up after $((SECONDS - T_START)) s"

export TRACE="$W/t.jsonl" CLUSTER="$W/c.toml" OUT="$W/sweep" SLURM_RL="$BIN"
export GRID='learning-rate=1e-3,3e-4;seed=1,2'
export TRAIN_ARGS='--total-updates 1 --episodes-per-update 1 --jobs-per-episode 32 --val-sequences 1 --norm-windows 1 --checkpoint-every 0'
N=$("$BIN" train --trace "$TRACE" --out "$OUT" --sweep "$GRID" --sweep-count)
[ "$N" = 4 ] || fail "--sweep-count printed '$N', expected 4"

# The script's own #SBATCH lines, with the array, CPUs and memory this
# small cluster has room for given on the command line (they override).
jobid=$(sbatch --parsable -D "$W" --array=0-$((N - 1)) --cpus-per-task=2 --mem=500 -t 5 \
    scripts/sweep.sbatch | cut -d';' -f1)
evalid=$(sbatch --parsable -D "$W" --dependency=afterok:"$jobid" -c 2 --mem=500 -t 5 \
    -o "$W/eval.out" --wrap "$BIN evaluate --trace $TRACE --cluster $CLUSTER \
        --runs '$OUT/task-*' --sequences 2 --jobs 32 --out $OUT/best" | cut -d';' -f1)
echo "submitted array $jobid (${N} tasks) and evaluation $evalid"

deadline=$((SECONDS + 150))
while squeue -h -j "$jobid,$evalid" 2>/dev/null | grep -q .; do
    [ $SECONDS -lt $deadline ] || fail "jobs still queued after 150 s: $(squeue)"
    sleep 2
done
show_logs() { tail -n 5 "$W"/slurm-rl-sweep-*.out "$W/eval.out" 2>/dev/null; }

for i in $(seq 0 $((N - 1))); do
    d="$OUT/task-$i"
    [ -f "$d/model.safetensors" ] || { show_logs >&2; fail "task $i wrote no model in $d"; }
    grep -q "\"index\": $i" "$d/sweep.json" || fail "task $i: sweep.json does not record index $i"
    grep -q "SLURM_ARRAY_TASK_ID\|task $i of job $jobid" "$W/slurm-rl-sweep-${jobid}_$i.out" \
        || fail "task $i: no log line from sweep.sbatch"
    grep -q "2 CPUs" "$W/slurm-rl-sweep-${jobid}_$i.out" || fail "task $i did not get 2 CPUs"
done
# Each point once: learning rate x seed.
points=$(cat "$OUT"/task-*/sweep.json | tr -d ' \n' | grep -o '\["learning-rate","[^"]*"\],\["seed","[^"]*"\]' | sort -u | wc -l)
[ "$points" = 4 ] || fail "expected 4 distinct points, found $points"
[ -f "$OUT/best/best.safetensors" ] || { show_logs >&2; fail "evaluate --runs copied no best.safetensors"; }
best=$(sed -n 's/.*"best": "\(task-[0-9]*\)".*/\1/p' "$OUT/best/best.json")
[ -n "$best" ] || fail "best.json names no run: $(cat "$OUT/best/best.json")"
cmp -s "$OUT/best/best.safetensors" "$OUT/$best/model.safetensors" \
    || fail "best.safetensors is not $best's model"
state=$(sacct -n -X -j "$evalid" -o State%20 | tr -d ' ' | head -n1)
[ "$state" = COMPLETED ] || fail "the evaluation job is $state in sacct"
echo "best run: $best ($(sed -n 's/.*"point": "\(.*\)".*/\1/p' "$OUT/best/best.json"))"
RESULT=PASS
