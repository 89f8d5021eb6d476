#!/usr/bin/env bash
# End-to-end test of the built `slurm-rl` command on real and generated
# workloads: import, synth, simulate and evaluate, checked through their JSON
# output. Needs a release build (scripts/test builds it first).
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
B="$SLURM_RL_ROOT/target/release/slurm-rl"
[ -x "$B" ] || die "$B not built: run 'cargo build --release' first"
TR="$(traces_dir)"
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. The issue's acceptance command: SDSC-SP2 under FCFS with Slurm-style backfill.
"$B" simulate --trace "$TR/SDSC-SP2-1998-4.2-cln.swf.gz" --policy fcfs --backfill slurm --format json >"$W/sdsc.json"
python3 - "$W/sdsc.json" <<'PY' || fail "SDSC-SP2 simulate JSON"
import json, sys
d = json.load(open(sys.argv[1]))
m = d["metrics"]
# The SWF reader keeps 54,034 of 59,715 jobs (run time -1 or 0 cannot be replayed).
assert m["jobs"] == 54034, m["jobs"]
assert m["completed"] + m["timeout"] == 54034, m
assert 0 < m["cpu_util"] <= 1, m["cpu_util"]
assert m["wait_mean"] > 0 and m["bsld_mean"] >= 1, m
print("sdsc ok: mean wait %.0f s, mean bsld %.2f, util %.3f" % (m["wait_mean"], m["bsld_mean"], m["cpu_util"]))
PY

# 2. synth -> JSONL -> simulate; the same seed gives the same bytes.
"$B" synth -n 600 --seed 7 -o "$W/a.jsonl" --cluster-out "$W/cluster.toml" >/dev/null
"$B" synth -n 600 --seed 7 -o "$W/b.jsonl" --cluster-out "$W/cluster2.toml" >/dev/null
cmp -s "$W/a.jsonl" "$W/b.jsonl" || fail "synth is not deterministic for a fixed seed"
"$B" simulate --trace "$W/a.jsonl" --cluster "$W/cluster.toml" --policy slurm --format json >"$W/gpu.json"
python3 - "$W/gpu.json" <<'PY' || fail "GPU simulate JSON"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
assert m["jobs"] == 600, m["jobs"]
assert 0 < m["gpu_util"] <= 1, m["gpu_util"]
print("gpu ok: mean wait %.0f s, gpu util %.3f" % (m["wait_mean"], m["gpu_util"]))
PY

# 3. Import of an SWF trace into the normalized format, and simulate from it
#    gives the same metrics as simulating the SWF directly.
"$B" import swf "$TR/lublin_256.swf" -o "$W/lublin.jsonl" 2>/dev/null
"$B" simulate --trace "$W/lublin.jsonl" --policy sjf --format json >"$W/l1.json"
"$B" simulate --trace "$TR/lublin_256.swf" --policy sjf --format json >"$W/l2.json"
python3 - "$W/l1.json" "$W/l2.json" <<'PY' || fail "import round trip"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert a["metrics"] == b["metrics"], (a["metrics"], b["metrics"])
assert a["metrics"]["jobs"] == 10000, a["metrics"]["jobs"]
print("import round trip ok")
PY

# 4. Bad input names the file, the line and the field, and exits non-zero.
printf 'JobID|Submit\n1|2026-13-45T99:00:00\n' >"$W/bad.sacct"
if "$B" import sacct "$W/bad.sacct" -o "$W/bad.jsonl" 2>"$W/err.txt"; then fail "bad sacct input accepted"; fi
grep -q "bad.sacct:2" "$W/err.txt" || fail "error does not name file and line: $(cat "$W/err.txt")"
[ ! -e "$W/bad.jsonl" ] || fail "a failed import left an output file"

# 5. evaluate writes the table, JSON and plot.
"$B" evaluate --trace "$W/a.jsonl" --cluster "$W/cluster.toml" --sequences 3 --jobs 150 --seed 1 --out "$W/eval" >/dev/null 2>&1
for f in results.json results.md sequences.csv comparison.png; do [ -s "$W/eval/$f" ] || fail "evaluate did not write $f"; done
echo "e2e_cli: all checks passed"
