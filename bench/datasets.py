#!/usr/bin/env python3
"""Seeded synthetic datasets for Osprey benchmarks, written as fvecs/ivecs with exact ground truth.

Kinds:
  clustered  128-d Gaussian mixture (1,000 centres of varying spread), L2; scales to 1M rows.
  face       512-d face-embedding-like: many identities (grouped by look-alike appearance), several
             noisy captures each, unit length (use IP or COSINE). Queries are fresh captures of
             enrolled identities.
  vehicle    256-d vehicle-re-id-like: car models -> individual vehicles -> captures, non-negative
             (ReLU-like) features, unit length (use IP or COSINE).

Usage:
  python3 bench/datasets.py --kind clustered --n 100000 --nq 1000 --out bench/data
writes <out>/<name>_base.fvecs, <name>_query.fvecs, <name>_gt.ivecs (100 neighbours, nearest first)
where <name> = <kind>-<n>; the same seed always gives the same files.
"""
import argparse
import os
import sys

import numpy as np


def write_vecs(path, array, dtype):
    array = np.ascontiguousarray(array, dtype=dtype)
    n, d = array.shape
    out = np.empty((n, d + 1), dtype=dtype)
    out[:, 0] = np.array([d], dtype=np.int32).view(dtype)[0]
    out[:, 1:] = array
    out.tofile(path)


def read_fvecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    d = raw[0]
    return raw.reshape(-1, d + 1)[:, 1:].view(np.float32)


def read_ivecs(path):
    raw = np.fromfile(path, dtype=np.int32)
    d = raw[0]
    return raw.reshape(-1, d + 1)[:, 1:]


def normalize(x):
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return (x / norms).astype(np.float32)


def clustered(n, nq, rng, dim=128, centres=1000):
    c = rng.normal(size=(centres, dim)).astype(np.float32) * 1.5
    spread = rng.uniform(0.5, 1.5, size=centres).astype(np.float32)

    def draw(m):
        idx = rng.integers(0, centres, size=m)
        return c[idx] + rng.normal(size=(m, dim)).astype(np.float32) * spread[idx, None]

    return draw(n), draw(nq)


def face(n, nq, rng, dim=512, captures=8, groups=500):
    # Identities are not uniform on the sphere: they cluster by appearance (groups), so beyond a
    # person's own captures the nearest faces are look-alikes, as with real face models.
    ids = max(1, n // captures)
    group = normalize(rng.normal(size=(groups, dim)).astype(np.float32))
    member = rng.integers(0, groups, size=ids)
    identity = normalize(group[member] + rng.normal(size=(ids, dim)).astype(np.float32) * (1.0 / np.sqrt(dim)))
    # Capture noise with cos(capture, identity) around 0.8, like a good face model.
    noise = 0.75 / np.sqrt(dim)

    def draw(m):
        who = rng.integers(0, ids, size=m)
        return normalize(identity[who] + rng.normal(size=(m, dim)).astype(np.float32) * noise)

    return draw(n), draw(nq)


def vehicle(n, nq, rng, dim=256, models=2000, per_vehicle=4):
    model = rng.normal(size=(models, dim)).astype(np.float32)
    vehicles = max(1, n // per_vehicle)
    which_model = rng.integers(0, models, size=vehicles)
    vehicle_vec = model[which_model] + rng.normal(size=(vehicles, dim)).astype(np.float32) * 0.5

    def draw(m):
        v = rng.integers(0, vehicles, size=m)
        x = vehicle_vec[v] + rng.normal(size=(m, dim)).astype(np.float32) * 0.35
        return normalize(np.maximum(x, 0))

    return draw(n), draw(nq)


def ground_truth(base, queries, metric, k=100, block=4096):
    """Exact top-k by blocked matrix products (float64 accumulation for the final order)."""
    nq = queries.shape[0]
    k = min(k, base.shape[0])
    best_d = np.full((nq, k), np.inf)
    best_i = np.zeros((nq, k), dtype=np.int64)
    q = queries.astype(np.float32)
    qn = (q.astype(np.float64) ** 2).sum(1)
    if metric == "COSINE":
        q = normalize(q)
    for start in range(0, base.shape[0], block):
        b = base[start:start + block].astype(np.float32)
        if metric == "COSINE":
            b = normalize(b)
        dots = (q @ b.T).astype(np.float64)
        if metric == "L2":
            d = qn[:, None] + (b.astype(np.float64) ** 2).sum(1)[None, :] - 2 * dots
        else:
            d = -dots
        cand_d = np.concatenate([best_d, d], axis=1)
        cand_i = np.concatenate([best_i, np.arange(start, start + b.shape[0])[None, :].repeat(nq, 0)], axis=1)
        part = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
        best_d = np.take_along_axis(cand_d, part, 1)
        best_i = np.take_along_axis(cand_i, part, 1)
    order = np.argsort(best_d, axis=1, kind="stable")
    return np.take_along_axis(best_i, order, 1).astype(np.int32)


KINDS = {"clustered": (clustered, "L2"), "face": (face, "IP"), "vehicle": (vehicle, "IP")}


def make(kind, n, nq, out, seed=42, metric=None):
    """Writes the dataset if missing; returns (name, base, query, gt paths, metric)."""
    gen, default_metric = KINDS[kind]
    metric = metric or default_metric
    name = f"{kind}-{n}"
    paths = [os.path.join(out, f"{name}_{p}") for p in ("base.fvecs", "query.fvecs", f"gt-{metric}.ivecs")]
    if all(os.path.exists(p) for p in paths):
        return name, paths[0], paths[1], paths[2], metric
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    base, queries = gen(n, nq, rng)
    write_vecs(paths[0], base, np.float32)
    write_vecs(paths[1], queries, np.float32)
    write_vecs(paths[2], ground_truth(base, queries, metric), np.int32)
    return name, paths[0], paths[1], paths[2], metric


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=sorted(KINDS), default="clustered")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--metric", choices=["L2", "IP", "COSINE"])
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "data"))
    a = ap.parse_args()
    name, b, q, g, m = make(a.kind, a.n, a.nq, a.out, a.seed, a.metric)
    print(f"{name} ({m}, seed {a.seed}): {b} {q} {g}")


if __name__ == "__main__":
    sys.exit(main())
