#!/usr/bin/env bash
# slurmctld under valgrind (memcheck) with the site_factor/rl plugin: brings
# up a private cluster (scripts/cluster, 2 nodes, --slurmctld-wrapper
# valgrind) with a random 20-32-16-8-1 model at verbose=2, and drives every
# entry point: init, site_factor_p_set (submissions while the cluster is
# full), site_factor_p_update (waits for the periodic update, once a minute),
# site_factor_p_reconfig (a good model, a garbage model, the good one again)
# and fini (scontrol shutdown). Fails if valgrind reports any error or
# definitely-lost block whose stack has a frame in our library
# (site_factor_rl); slurmctld's own reports are counted but not judged.
# --keep-debuginfo keeps our frames named after Slurm dlclose()s the plugin
# at shutdown. Needs root and Debian 12 (installs valgrind via apt). Takes
# about 3 minutes. Always stops the cluster and deletes its state (trap).
#
# Env: SLURM_RL_VALGRIND_PORT_OFFSET (default 400), SLURM_RL_E2E_KEEP=1
# keeps the state directory (logs), SLURM_RL_SKIP_CLUSTER=1 skips the test.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../scripts/lib/common.sh
. "$(dirname "$0")/../scripts/lib/common.sh"
cd "$SLURM_RL_ROOT"
# shellcheck source=SCRIPTDIR/lib/cluster-test.sh
. "$SLURM_RL_ROOT/tests/lib/cluster-test.sh"
cluster_test_begin valgrind_plugin "${SLURM_RL_VALGRIND_PORT_OFFSET:-400}" "slurmctld under valgrind"

apt_install valgrind
if [ -z "${SLURM_SRC_DIR:-}" ]; then
    SLURM_SRC_DIR="$(scripts/slurm-source)"
    export SLURM_SRC_DIR
fi
cargo build --release -p slurm-plugin --lib --example write_random_model --quiet || fail "cargo build of the plugin"
mkdir -p "$W" "$P"
cp target/release/libsite_factor_rl.so "$P/.site_factor_rl.so.new"
mv "$P/.site_factor_rl.so.new" "$P/site_factor_rl.so"
target/release/examples/write_random_model "$M.new" 5 || fail "write_random_model"
cp "$M.new" "$S/good.safetensors"
mv "$M.new" "$M"

VG="valgrind --tool=memcheck --log-file=$S/vg.%p.log --keep-debuginfo=yes --num-callers=40"
VG+=" --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite"
"${CL[@]}" up --nodes 2 --gpus 2 --timeout 240 --plugin-dir "$P" \
    --site-factor-params "model=$M,verbose=2" --slurmctld-wrapper "$VG" \
    || fail "scripts/cluster up with slurmctld under valgrind"
eval "$("${CL[@]}" env)"
CTLD_PID="$(tr -dc 0-9 <"$S/cluster/run/slurmctld.pid")"
VGLOG="$S/vg.$CTLD_PID.log"
[ -f "$VGLOG" ] || fail "no valgrind log $VGLOG: is slurmctld (pid $CTLD_PID) running under valgrind?"
grep -q 'site_factor/rl: loaded model' "$CTLD_LOG" || fail "the plugin did not load under valgrind"
echo "slurmctld up under valgrind (pid $CTLD_PID) after $((SECONDS - T_START)) s"

sub() { sbatch --parsable -D "$W" -o /dev/null "$@" | cut -d';' -f1; }
# A blocker, then pending jobs of several shapes (site_factor_p_set).
IDS="$(sub -N2 --exclusive -t 5 --wrap 'sleep 300')"
deadline=$((SECONDS + 60))
until [ "$(squeue -h -j "$IDS" -o %T)" = RUNNING ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "the blocker $IDS did not start within 60 s: $(squeue)"
    sleep 1
done
for s in "-n1 -t 1" "-n4 --gres=gpu:1 -t 2" "-N2 -n16 --gres=gpu:2 -t 3" "-n2 --mem=1000 -t 4" "-p debug -n1"; do
    # shellcheck disable=SC2086 # the spec is a list of options
    IDS+=",$(sub $s --wrap 'sleep 1')"
done
# Wait for the periodic site_factor_p_update (verbose=2 logs each job).
deadline=$((SECONDS + 150))
until grep -q 'site_factor/rl: update: [5-9] pending jobs (model)' "$CTLD_LOG"; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no site_factor_p_update over the 5 pending jobs within 150 s"
    sleep 2
done
echo "update ran: $(grep -o 'site_factor/rl: update: .*' "$CTLD_LOG" | tail -n1)"
# site_factor_p_reconfig: the good model, a garbage one (the error path), the
# good one again. The plugin reloads on a background thread after reconfigure
# returns, so wait for each reload's log line before changing the file.
wait_log() { # PATTERN COUNT WHAT
    local deadline=$((SECONDS + 60))
    until [ "$(grep -c "$1" "$CTLD_LOG")" -ge "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$3"
        sleep 1
    done
}
scontrol reconfigure || fail "scontrol reconfigure (good model)"
wait_log 'site_factor/rl: loaded model' 2 "the first reconfigure did not reload the model"
head -c 2048 /dev/urandom >"$M.new"
mv "$M.new" "$M"
scontrol reconfigure || fail "scontrol reconfigure (garbage model)"
wait_log 'error: site_factor/rl: cannot use the model' 1 "the garbage model was not reported"
IDS+=",$(sub -n1 -t 1 --wrap 'sleep 1')"
cp "$S/good.safetensors" "$M.new"
mv "$M.new" "$M"
scontrol reconfigure || fail "scontrol reconfigure (good model again)"
wait_log 'site_factor/rl: loaded model' 3 "the third reconfigure did not reload the model"
IDS+=",$(sub -n1 -t 1 --wrap 'sleep 1')"
scancel "$(cut -d, -f1 <<<"$IDS")"
deadline=$((SECONDS + 90))
until [ -z "$(squeue -h -j "$IDS" -o %i 2>/dev/null)" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "jobs still queued 90 s after the blocker ended: $(squeue)"
    sleep 2
done
echo "all jobs ran under valgrind after $((SECONDS - T_START)) s"

# fini and valgrind's final report: shut slurmctld down and wait for it.
scontrol shutdown slurmctld || fail "scontrol shutdown slurmctld"
deadline=$((SECONDS + 120))
while [ -d "/proc/$CTLD_PID" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "slurmctld under valgrind did not exit within 120 s of shutdown"
    sleep 1
done
grep -q 'ERROR SUMMARY' "$VGLOG" || fail "valgrind's log has no ERROR SUMMARY: $VGLOG"
echo "valgrind (all of slurmctld): $(grep 'ERROR SUMMARY' "$VGLOG" | tail -n1 | sed 's/^==[0-9]*== //')"

# valgrind's reports are blocks of "==PID== " lines separated by a bare
# "==PID=="; a report is ours when a frame names site_factor_rl. Every log
# counts (slurmctld forks children that valgrind follows into their own).
cat >"$W/vgfilter.py" <<'PY'
import re, sys
blocks = []
for path in sys.argv[1:]:
    cur = []
    for line in open(path, errors="replace"):
        m = re.match(r"==\d+== ?(.*)", line.rstrip("\n"))
        if not m:
            continue
        text = m.group(1)
        if text.strip():
            cur.append(text)
        elif cur:
            blocks.append(cur)
            cur = []
    if cur:
        blocks.append(cur)
kinds = re.compile(r"^(Invalid |Conditional jump|Use of uninitialised|Syscall param|Mismatched free|"
                   r"Source and destination overlap|Argument .* of function|.*definitely lost)")
reports = [b for b in blocks if kinds.match(b[0])]
ours = [b for b in reports if any("site_factor_rl" in l for l in b)]
for b in ours:
    print("\n".join(b), "\n", file=sys.stderr)
print(f"valgrind: {len(ours)} reports with a frame in site_factor_rl (of {len(reports)} reports in all)")
sys.exit(1 if ours else 0)
PY
# The filter itself: a fabricated report in our library must fail it.
cat >"$W/fake.log" <<'LOG'
==1== Invalid read of size 8
==1==    at 0x4C: site_factor_rl::v22_05::JobView::from_raw (v22_05.rs:10)
==1==    by 0x5D: site_factor_p_update (lib.rs:90)
==1== 
==1== 40 bytes in 1 blocks are definitely lost in loss record 1 of 2
==1==    at 0x48: calloc (in /usr/libexec/valgrind/vgpreload_memcheck-amd64-linux.so)
==1==    by 0x49: slurm_xcalloc (in /usr/lib/x86_64-linux-gnu/slurm-wlm/libslurmfull.so)
==1== 
LOG
if python3 "$W/vgfilter.py" "$W/fake.log" >/dev/null 2>&1; then fail "the valgrind filter missed a fabricated report in site_factor_rl"; fi
python3 "$W/vgfilter.py" "$S"/vg.*.log || fail "valgrind reported errors in site_factor_rl (above); logs: $S/vg.*.log"

"${CL[@]}" down >/dev/null || fail "scripts/cluster down"
RESULT=PASS
