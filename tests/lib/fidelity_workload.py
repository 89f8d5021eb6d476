#!/usr/bin/env python3
"""A small seeded workload for the sim-to-real fidelity replays
(tests/e2e_fidelity.sh, docs/fidelity.md), written as a slurm-rl trace
(JSON Lines, docs/trace-format.md) in *trace* seconds: `slurm-rl replay
--compress F` divides every time by F.

Usage: fidelity_workload.py KIND JOBS SEED OUT.jsonl
  KIND mixed: CPU jobs of 1-8 CPUs, a quarter with 1-2 GPUs (fits the local
              cluster's 4 nodes x 8 CPUs x 4 GPUs)
  KIND gpu:   GPU jobs of 1, 2, 4 or 8 GPUs (8 = two nodes), 2 CPUs per GPU
Jobs arrive as a Poisson stream (mean gap 90 s of trace time); run times are
5-100 min, time limits the run time times 1.2-3, rounded up to 10 min.
"""
import json
import random
import sys

kind, n, seed, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
t = 1_700_000_000
jobs = []
for i in range(n):
    t += int(rng.expovariate(1 / 90.0))
    run = rng.randint(5, 100) * 60
    limit = -(-int(run * rng.uniform(1.2, 3.0)) // 600) * 600
    if kind == "gpu":
        gpus = rng.choice([1, 1, 2, 2, 4, 8])
        cpus, nodes = 2 * gpus, (2 if gpus == 8 else 1)
    else:
        cpus = rng.choice([1, 2, 2, 4, 4, 8])
        gpus = rng.choice([0, 0, 0, 1, 2]) if cpus <= 4 else 0
        nodes = 1
    jobs.append({
        "id": i + 1, "user": "u", "group": "g", "account": "a", "partition": "gpu", "qos": "normal",
        "submit": t, "eligible": t, "start": t, "end": t + run, "nodes": nodes, "cpus": cpus,
        "mem_mb": 0, "gpus": gpus, "gpu_type": None, "time_limit": limit, "run_time": run,
        "state": "COMPLETED", "exit_code": 0, "exit_signal": 0, "priority": None,
    })
with open(out, "w") as f:
    f.write(json.dumps({"format": "slurm-rl-trace", "version": 1, "source": "synth",
                        "origin": f"fidelity_workload.py {kind} {n} {seed}", "cluster": None,
                        "header": {}, "jobs": n,
                        "names": {"users": ["u"], "groups": ["g"], "accounts": ["a"],
                                  "partitions": ["gpu"], "qos": ["normal"], "gpu_types": []}}) + "\n")
    for j in jobs:
        f.write(json.dumps(j) + "\n")
