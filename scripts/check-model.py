#!/usr/bin/env python3
"""Inspect a slurm-rl model file with Python's standard `safetensors` library.

Prints the metadata (the JSON values decoded) and every tensor's dtype and
shape, and checks the file against docs/model-format.md. With --forward RAW.json
(a JSON list of raw feature vectors, as `policy::features::features` computes
them) it also scores them with numpy: normalize, clamp, MLP. This is the
reference the Rust forward pass is tested against, and a template for the
trainer. It only reads; it never modifies the model file.

Usage: scripts/check-model.py [--json] [--forward RAW.json] MODEL.safetensors
Needs: pip install safetensors numpy
"""
import argparse
import json
import sys

try:
    import numpy as np
    from safetensors import safe_open
except ImportError as e:  # pragma: no cover - depends on the environment
    sys.exit(f"check-model.py: {e}; install with: pip install safetensors numpy")

FORMAT = "slurm-rl-model"
FORMAT_VERSION = "1"
JSON_KEYS = ("architecture", "features", "training")
REQUIRED = ("format", "format_version", "architecture", "features", "reward", "training", "created")


def load(path):
    """Returns (metadata with JSON values decoded, {name: numpy array})."""
    with safe_open(path, framework="numpy") as f:
        raw_meta = f.metadata() or {}
        tensors = {name: f.get_tensor(name) for name in f.keys()}
    missing = [k for k in REQUIRED if k not in raw_meta]
    if missing:
        sys.exit(f"{path}: missing metadata keys {missing}")
    if raw_meta["format"] != FORMAT:
        sys.exit(f"{path}: format is {raw_meta['format']!r}, expected {FORMAT!r}")
    if raw_meta["format_version"] != FORMAT_VERSION:
        sys.exit(f"{path}: format_version {raw_meta['format_version']}, this script reads {FORMAT_VERSION}")
    meta = dict(raw_meta)
    for k in JSON_KEYS:
        meta[k] = json.loads(raw_meta[k])
    return meta, tensors


def layers(meta, tensors):
    """The actor's (weight [out, in], bias [out]) pairs, checked against the architecture."""
    arch = meta["architecture"]
    sizes = [arch["inputs"], *arch["hidden"], 1]
    out = []
    for i in range(1, len(sizes)):
        w, b = tensors[f"actor/l{i}/weight"], tensors[f"actor/l{i}/bias"]
        if w.dtype != np.float32 or b.dtype != np.float32:
            raise ValueError(f"layer {i}: not float32")
        if w.shape != (sizes[i], sizes[i - 1]):
            raise ValueError(f"actor/l{i}/weight has shape {w.shape}, expected {(sizes[i], sizes[i - 1])}")
        if b.shape != (sizes[i],):
            raise ValueError(f"actor/l{i}/bias has shape {b.shape}, expected {(sizes[i],)}")
        out.append((w, b))
    return out


def forward(meta, tensors, raw):
    """Scores raw feature rows exactly as the Rust crate does (in float32)."""
    norm = meta["features"]["normalizer"]
    mean = np.asarray(norm["mean"], dtype=np.float32)
    std = np.asarray(norm["std"], dtype=np.float32)
    clip = np.float32(norm.get("clip", 10.0))
    x = np.asarray(raw, dtype=np.float32).reshape(-1, len(mean))
    h = np.clip((x - mean) / std, -clip, clip)
    act = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh}[meta["architecture"]["activation"]]
    ls = layers(meta, tensors)
    for i, (w, b) in enumerate(ls):
        h = h @ w.T + b
        if i + 1 < len(ls):
            h = act(h)
    return h[:, 0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    ap.add_argument("--forward", metavar="RAW.json", help="score these raw feature vectors")
    args = ap.parse_args()

    try:
        meta, tensors = load(args.model)
        layers(meta, tensors)  # validates names, shapes and dtypes
    except Exception as e:  # safetensors raises its own error types; report them all plainly
        sys.exit(f"{args.model}: {type(e).__name__}: {e}")
    report = {
        "metadata": meta,
        "tensors": {n: {"dtype": str(t.dtype), "shape": list(t.shape)} for n, t in sorted(tensors.items())},
    }
    if args.forward:
        with open(args.forward) as f:
            report["scores"] = [float(s) for s in forward(meta, tensors, json.load(f))]

    if args.json:
        json.dump(report, sys.stdout)
        print()
        return
    print(f"{args.model}: {FORMAT} version {meta['format_version']}, created {meta['created']}")
    print(f"reward: {meta['reward']}")
    print(f"architecture: {json.dumps(meta['architecture'])}")
    spec = meta["features"]
    print(f"features (version {spec['version']}):")
    norm = spec["normalizer"]
    for name, m, s in zip(spec["names"], norm["mean"], norm["std"]):
        print(f"  {name:<22} mean {m:>12.5g}  std {s:>12.5g}")
    print(f"  (normalized values clamped to ±{norm.get('clip', 10.0)})")
    print(f"training: {json.dumps(meta['training'])}")
    print("tensors:")
    for n, t in report["tensors"].items():
        print(f"  {n:<20} {t['dtype']:<8} {t['shape']}")
    if "scores" in report:
        print("scores:", " ".join(f"{s:.6g}" for s in report["scores"]))


if __name__ == "__main__":
    main()
