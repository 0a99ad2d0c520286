#!/usr/bin/env python3
"""Runs one dataset through Osprey, faiss-cpu and hnswlib in one run and prints a comparison.

    python3 bench/compare.py --kind clustered --n 100000 --nq 1000

On first use it creates a virtual environment (.build-venv-bench next to the package, ignored by
git), installs numpy, faiss-cpu and hnswlib from PyPI into it, and re-runs itself there. It
builds `osprey` in release mode unless --osprey names a binary.

What is measured (same machine, same data, same process tree, one after the other):
  HNSW, single-query: QPS from the CPU time of the searching process (one thread), so other work
    sharing the machine does not skew the comparison; wall-clock QPS is printed as well. One thread answering queries one at a time. Osprey: `osprey bench` (one
    query per call); hnswlib: knn_query over all queries with num_threads=1; faiss IndexHNSWFlat
    with omp threads = 1. Both peers thus run without per-call Python overhead.
    Builds use every core for all three. QPS at recall@k >= 0.90/0.95/0.99 is the best QPS over
    the ef sweep among settings reaching that recall.
  IVF_FLAT / IVF_SQ8 (nlist=--nlist), single-query: Osprey one query per call; faiss IndexIVFFlat /
    IndexIVFScalarQuantizer(QT_8bit) with omp threads = 1; QPS from CPU time; nprobe swept.
  IVF_PQ (nlist=--nlist, m=--pq-m, nbits=8), single-query: Osprey one query per call against faiss
    IndexIVFPQ (IVF{nlist},PQ{m}x8, its precomputed tables on, as by default) with omp threads = 1;
    nprobe swept. Then with exact re-ranking: Osprey built with refine=true and searched with
    refine_k = each of --refine-k, against faiss IVF{nlist},PQ{m}x8,RFlat with k_factor the same;
    nprobe swept for each. Plain PQ rarely reaches 0.90 recall@10, so its table is per nprobe.
    faiss's memory adds its precomputed table (nlist x m x 256 floats, kept in memory but not
    serialised) to the serialised size.
  FLAT, batch: all queries in one call on every core (Osprey FLAT vs faiss IndexFlat).
  Every search setting is timed --repeat times (default 3) for every system and the fastest run
    counts, which keeps the comparison fair when other work shares the machine.
  Memory: Osprey's own accounting (vectors + links); peers: the size of their serialised index,
    which for both is their in-memory layout.
"""
import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VENV = os.path.join(ROOT, ".build-venv-bench")


def ensure_venv():
    # Idle OpenMP threads must not spin, or they would count as CPU time of single-thread searches.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    py = os.path.join(VENV, "bin", "python3")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([py, "-m", "pip", "install", "-q", "numpy", "faiss-cpu", "hnswlib"])
    os.execv(py, [py] + sys.argv)


def osprey_binary(path):
    if path:
        return path
    env = dict(os.environ, OSPREY_CORE_ONLY="1")
    scratch = os.path.join(ROOT, ".build-index-release")
    subprocess.check_call(["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", "osprey"], cwd=ROOT, env=env)
    return os.path.join(scratch, "release", "osprey")


def run_osprey(binary, files, metric, index, build, sweep, k, batch, threads=None, repeat=3, search=""):
    cmd = [binary, "bench", "--base", files[0], "--query", files[1], "--gt", files[2], "--metric", metric,
           "--index", index, "--k", str(k), "--repeat", str(repeat)]
    if build:
        cmd += ["--build", build]
    if sweep:
        cmd += ["--sweep", sweep]
    if search:
        cmd += ["--search", search]
    if batch:
        cmd += ["--batch"]
    if threads:
        cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def recall(found, truth, k):
    hits = 0
    for f, t in zip(found, truth):
        hits += len(set(f[:k].tolist()) & set(t[:k].tolist()))
    return hits / (len(truth) * k)


def best_of(repeat, run):
    """Runs `run()` `repeat` times; returns its last result and the shortest wall and CPU
    times (each the minimum on its own)."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = run()
        wall, cpu = min(wall, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
    return result, wall, cpu


def best_qps(points, target):
    ok = [p["qps"] for p in points if p["recall"] >= target]
    return max(ok) if ok else None


def fmt(x, digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", default="clustered", choices=["clustered", "face", "vehicle"])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--nq", type=int, default=1000)
    ap.add_argument("--metric", choices=["L2", "IP", "COSINE"])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--M", type=int, default=16)
    ap.add_argument("--efc", type=int, default=200)
    ap.add_argument("--nlist", type=int, default=1024)
    ap.add_argument("--efs", default="10,16,24,32,48,64,96,128,192,256,384")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per setting; the fastest counts")
    ap.add_argument("--osprey", help="path to a release `osprey` binary (default: build one)")
    ap.add_argument("--pq-m", type=int, default=32, help="IVF_PQ sub-quantizers (must divide the dimension)")
    ap.add_argument("--refine-k", default="2,4,8", help="IVF_PQ re-ranking factors to sweep (refine_k / k_factor)")
    ap.add_argument("--pq-probes", default="1,2,4,8,16,32,64", help="IVF_PQ nprobe values")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: hnsw,faiss-hnsw,ivf,pq,pq-refine,flat")
    ap.add_argument("--out", help="also write the markdown table here")
    a = ap.parse_args()
    ensure_venv()

    import numpy as np
    import faiss
    import hnswlib

    sys.path.insert(0, HERE)
    import datasets

    skip = set(filter(None, a.skip.split(",")))
    name, bpath, qpath, gpath, metric = datasets.make(a.kind, a.n, a.nq, os.path.join(HERE, "data"), metric=a.metric)
    files = (bpath, qpath, gpath)
    base = datasets.read_fvecs(bpath)
    queries = datasets.read_fvecs(qpath)
    gt = datasets.read_ivecs(gpath)
    n, dim = base.shape
    cores = os.cpu_count()
    binary = osprey_binary(a.osprey)
    load = os.getloadavg()
    print(f"dataset {name}: {n} x {dim}, {len(queries)} queries, metric {metric}, k={a.k}; cores {cores}; "
          f"load average {load[0]:.2f}", flush=True)
    rows = []
    efs = [int(e) for e in a.efs.split(",") if int(e) >= a.k]

    if "hnsw" not in skip:
        # Osprey HNSW
        pts = run_osprey(binary, files, metric, "HNSW", f"M={a.M},efConstruction={a.efc}",
                         "ef=" + ",".join(map(str, efs)), a.k, batch=False, repeat=a.repeat)
        for p in pts:
            p["qps_wall"], p["qps"] = p["qps"], p["qps_cpu"]
        osp = {"system": "Osprey HNSW", "points": pts, "build_s": pts[0]["build_s"], "build_cpu_s": pts[0]["build_cpu_s"],
               "mib": pts[0]["index_mib"]}
        print("osprey hnsw (ef, recall, cpu qps, wall qps)",
              [(p["search"]["ef"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in pts], flush=True)

        # hnswlib
        space = {"L2": "l2", "IP": "ip", "COSINE": "cosine"}[metric]
        h = hnswlib.Index(space=space, dim=dim)
        t0, c0 = time.perf_counter(), time.process_time()
        h.init_index(max_elements=n, M=a.M, ef_construction=a.efc, random_seed=100)
        h.add_items(base, np.arange(n), num_threads=cores)
        hb, hbc = time.perf_counter() - t0, time.process_time() - c0
        path = os.path.join(HERE, "data", "_hnswlib.bin")
        h.save_index(path)
        hmib = os.path.getsize(path) / 2**20
        os.remove(path)
        hpts = []
        for ef in efs:
            h.set_ef(ef)
            (labels, _), dt, ct = best_of(a.repeat, lambda: h.knn_query(queries, k=a.k, num_threads=1))
            hpts.append({"ef": ef, "recall": recall(labels, gt, a.k), "qps": len(queries) / ct, "qps_wall": len(queries) / dt})
        print("hnswlib (ef, recall, cpu qps, wall qps)",
              [(p["ef"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in hpts], flush=True)
        hl = {"system": "hnswlib", "points": hpts, "build_s": hb, "build_cpu_s": hbc, "mib": hmib}
        del h

        peers = [hl]
        if "faiss-hnsw" not in skip:
            fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
            fb = base if metric != "COSINE" else datasets.normalize(base)
            fq = queries if metric != "COSINE" else datasets.normalize(queries)
            fi = faiss.IndexHNSWFlat(dim, a.M, fm)
            fi.hnsw.efConstruction = a.efc
            faiss.omp_set_num_threads(cores)
            t0, c0 = time.perf_counter(), time.process_time()
            fi.add(fb)
            fbt, fbc = time.perf_counter() - t0, time.process_time() - c0
            fmib = len(faiss.serialize_index(fi)) / 2**20
            faiss.omp_set_num_threads(1)
            fpts = []
            for ef in efs:
                fi.hnsw.efSearch = ef
                (_, labels), dt, ct = best_of(a.repeat, lambda: fi.search(fq, a.k))
                fpts.append({"ef": ef, "recall": recall(labels, gt, a.k), "qps": len(queries) / ct, "qps_wall": len(queries) / dt})
            print("faiss hnsw (ef, recall, cpu qps, wall qps)",
                  [(p["ef"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in fpts], flush=True)
            peers.append({"system": "faiss IndexHNSWFlat", "points": fpts, "build_s": fbt, "build_cpu_s": fbc, "mib": fmib})
            faiss.omp_set_num_threads(cores)
            del fi
        rows.append(("HNSW single-query, 1 thread", osp, peers))

    if "ivf" not in skip:
        fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
        fb = base if metric != "COSINE" else datasets.normalize(base)
        fq = queries if metric != "COSINE" else datasets.normalize(queries)
        probes = [p for p in (1, 2, 4, 8, 16, 32, 64, 128) if p <= a.nlist]
        for kind, factory in (("IVF_FLAT", f"IVF{a.nlist},Flat"), ("IVF_SQ8", f"IVF{a.nlist},SQ8")):
            pts = run_osprey(binary, files, metric, kind, f"nlist={a.nlist}", "nprobe=" + ",".join(map(str, probes)), a.k,
                             batch=False, repeat=a.repeat)
            for p in pts:
                p["qps_wall"], p["qps"] = p["qps"], p["qps_cpu"]
            osp = {"system": f"Osprey {kind}", "points": pts, "build_s": pts[0]["build_s"],
                   "build_cpu_s": pts[0]["build_cpu_s"], "mib": pts[0]["index_mib"]}
            print(f"osprey {kind} (nprobe, recall, cpu qps, wall qps)",
                  [(p["search"]["nprobe"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in pts], flush=True)
            fi = faiss.index_factory(dim, factory, fm)
            faiss.omp_set_num_threads(cores)
            t0, c0 = time.perf_counter(), time.process_time()
            fi.train(fb)
            fi.add(fb)
            fbt, fbc = time.perf_counter() - t0, time.process_time() - c0
            fmib = len(faiss.serialize_index(fi)) / 2**20
            faiss.omp_set_num_threads(1)
            fpts = []
            for nprobe in probes:
                fi.nprobe = nprobe
                (_, labels), dt, ct = best_of(a.repeat, lambda: fi.search(fq, a.k))
                fpts.append({"recall": recall(labels, gt, a.k), "qps": len(queries) / ct, "qps_wall": len(queries) / dt})
            print(f"faiss {factory} (recall, cpu qps, wall qps)",
                  [(round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in fpts], flush=True)
            faiss.omp_set_num_threads(cores)
            rows.append((f"{kind} (nlist={a.nlist}), single-query, 1 thread", osp,
                         [{"system": f"faiss {factory}", "points": fpts, "build_s": fbt, "build_cpu_s": fbc, "mib": fmib}]))
            del fi

    pq_tables = []
    if "pq" not in skip:
        fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
        fb = base if metric != "COSINE" else datasets.normalize(base)
        fq = queries if metric != "COSINE" else datasets.normalize(queries)
        probes = [p for p in map(int, a.pq_probes.split(",")) if p <= a.nlist]
        factors = [int(f) for f in a.refine_k.split(",") if f]
        build = f"nlist={a.nlist},m={a.pq_m},nbits=8"
        variants = [("plain", None)] + ([] if "pq-refine" in skip else [("refine", factors)])
        for variant, fs in variants:
            search = ";".join(f"refine_k={f}" for f in fs) if fs else ""
            pts = run_osprey(binary, files, metric, "IVF_PQ", build + (",refine=true" if fs else ""),
                             "nprobe=" + ",".join(map(str, probes)), a.k, batch=False, repeat=a.repeat, search=search)
            for p in pts:
                p["qps_wall"], p["qps"] = p["qps"], p["qps_cpu"]
                p["setting"] = (int(p["search"].get("refine_k", 1)), int(p["search"]["nprobe"]))
            sysname = f"Osprey IVF_PQ{' refine' if fs else ''}"
            osp = {"system": sysname, "points": pts, "build_s": pts[0]["build_s"], "build_cpu_s": pts[0]["build_cpu_s"],
                   "mib": pts[0]["index_mib"]}
            print(f"{sysname} ((refine_k, nprobe), recall, cpu qps, wall qps)",
                  [(p["setting"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in pts], flush=True)
            factory = f"IVF{a.nlist},PQ{a.pq_m}x8" + (",RFlat" if fs else "")
            fi = faiss.index_factory(dim, factory, fm)
            faiss.omp_set_num_threads(cores)
            t0, c0 = time.perf_counter(), time.process_time()
            fi.train(fb)
            fi.add(fb)
            fbt, fbc = time.perf_counter() - t0, time.process_time() - c0
            ivf = faiss.downcast_index(faiss.extract_index_ivf(fi))
            fmib = (len(faiss.serialize_index(fi)) + ivf.precomputed_table.size() * 4) / 2**20
            faiss.omp_set_num_threads(1)
            fpts = []
            for f in (fs or [1]):
                if fs:
                    faiss.downcast_index(fi).k_factor = f
                for nprobe in probes:
                    ivf.nprobe = nprobe
                    (_, labels), dt, ct = best_of(a.repeat, lambda: fi.search(fq, a.k))
                    fpts.append({"setting": (f, nprobe), "recall": recall(labels, gt, a.k), "qps": len(queries) / ct,
                                 "qps_wall": len(queries) / dt})
            print(f"faiss {factory} ((k_factor, nprobe), recall, cpu qps, wall qps)",
                  [(p["setting"], round(p["recall"], 4), round(p["qps"]), round(p["qps_wall"])) for p in fpts], flush=True)
            faiss.omp_set_num_threads(cores)
            peer = {"system": f"faiss {factory}", "points": fpts, "build_s": fbt, "build_cpu_s": fbc, "mib": fmib}
            title = (f"IVF_PQ (nlist={a.nlist}, m={a.pq_m}, nbits=8){' with exact re-ranking' if fs else ''}, "
                     f"single-query, 1 thread")
            rows.append((title, osp, [peer]))
            pq_tables.append((title, osp, peer))
            del fi

    if "flat" not in skip:
        pts = run_osprey(binary, files, metric, "FLAT", "", "", a.k, batch=True, threads=cores, repeat=a.repeat)
        osp = {"system": "Osprey FLAT", "points": pts, "build_s": pts[0]["build_s"], "mib": pts[0]["index_mib"]}
        fm = faiss.METRIC_L2 if metric == "L2" else faiss.METRIC_INNER_PRODUCT
        fb = base if metric != "COSINE" else datasets.normalize(base)
        fq = queries if metric != "COSINE" else datasets.normalize(queries)
        fi = faiss.IndexFlat(dim, fm)
        t0 = time.perf_counter()
        fi.add(fb)
        fbt = time.perf_counter() - t0
        faiss.omp_set_num_threads(cores)
        (_, labels), dt, _ = best_of(a.repeat, lambda: fi.search(fq, a.k))
        fpts = [{"recall": recall(labels, gt, a.k), "qps": len(queries) / dt}]
        rows.append((f"FLAT, {len(queries)} queries in one batch, {cores} threads", osp,
                     [{"system": "faiss IndexFlat", "points": fpts, "build_s": fbt, "mib": n * dim * 4 / 2**20}]))

    lines = [f"### {name}: {n:,} × {dim}, {metric}, {len(queries)} queries, recall@{a.k}", "",
             f"Machine: {platform.machine()}, {cores} cores, {platform.platform()}; "
             f"load average at start {load[0]:.2f}; faiss {faiss.__version__}, hnswlib {importlib.metadata.version('hnswlib')}", ""]
    for title, osp, peers in rows:
        lines += [f"**{title}**", "",
                  "| system | QPS @0.90 | QPS @0.95 | QPS @0.99 | best recall | build s (wall) | build CPU s | memory MiB |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for s in [osp] + peers:
            q = [best_qps(s["points"], t) for t in (0.90, 0.95, 0.99)]
            lines.append(f"| {s['system']} | {fmt(q[0])} | {fmt(q[1])} | {fmt(q[2])} | "
                         f"{max(p['recall'] for p in s['points']):.4f} | {s['build_s']:.2f} | "
                         f"{fmt(s.get('build_cpu_s'), 2)} | {s['mib']:.1f} |")
        for p in peers:
            r = []
            for t in (0.90, 0.95, 0.99):
                o, x = best_qps(osp["points"], t), best_qps(p["points"], t)
                r.append(f"{o / x:.2f}×" if o and x else "—")
            bc = (f"{osp['build_cpu_s'] / p['build_cpu_s']:.2f}×" if osp.get("build_cpu_s") and p.get("build_cpu_s") else "—")
            lines.append(f"| *Osprey / {p['system']}* | {r[0]} | {r[1]} | {r[2]} | | "
                         f"{osp['build_s'] / p['build_s']:.2f}× | {bc} | {osp['mib'] / p['mib']:.2f}× |")
        lines.append("")
    for title, osp, peer in pq_tables:
        # Per setting, so that recall below the targets is compared too: (refine_k, nprobe).
        lines += [f"*{title}: per setting*", "",
                  "| refine_k | nprobe | Osprey recall | Osprey QPS | faiss recall | faiss QPS | QPS ratio |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        theirs = {p["setting"]: p for p in peer["points"]}
        for p in osp["points"]:
            f = theirs.get(p["setting"])
            if f is None:
                continue
            lines.append(f"| {p['setting'][0]} | {p['setting'][1]} | {p['recall']:.4f} | {fmt(p['qps'])} | "
                         f"{f['recall']:.4f} | {fmt(f['qps'])} | {p['qps'] / f['qps']:.2f}× |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
