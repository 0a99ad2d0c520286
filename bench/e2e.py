#!/usr/bin/env python3
"""End-to-end benchmark through pymilvus: Osprey and milvus-lite on the same data, in one run.

Starts `osprey serve` and `milvus-lite server` on free loopback ports with temporary data
directories, then for each system, through pymilvus's MilvusClient:

  * inserts the base vectors in batches of 1,000 (rows/s, default durability) from one
    client as rows (MilvusClient.insert) and times pymilvus's own encoding of the same
    batches with nothing sent (the ceiling any server can reach with single-client row
    inserts); then, each into a fresh collection, from one client as columns (the ORM's
    `Collection.insert([ids, vectors])`, whose encoding costs the client about half as
    much), and from N concurrent client processes (--insert-clients) as rows and as columns,
  * flushes, builds the same index (HNSW, M=16, efConstruction=200, L2) and loads,
  * searches single queries (limit 10) from 1 and from 8 client processes: QPS, p50/p99
    latency, recall@10 against exact ground truth computed here with numpy,
  * times a call that does no work (CheckHealth) through pymilvus's gRPC stub: the floor
    of any round trip, set by the client, the kernel and the server's transport together,
  * for Osprey, while one client searches, traces the server's socket reads and writes
    with `perf` (when it is installed and allowed) and reports how long the server holds
    each search request: from the read that brings the request in to the write that sends
    the answer. Minus the same search in-process (`osprey engine-bench`), that is what
    serving adds on the server.

Usage (creates .build-venv-e2e with pymilvus, numpy and milvus-lite on first use):

    python3 bench/e2e.py --rows 100000 --dim 128 --queries 1000
    python3 bench/e2e.py --osprey-bin .build/release/osprey --clients 1,8 --ef 64 --osprey-ef 96

The data is seeded: Gaussian clusters (--clusters) with noise, so that recall means something.
Results print as a table and go to bench/results/e2e-<time>.json.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".build-venv-e2e")
REQUIREMENTS = ["pymilvus==3.0.2", "numpy", "milvus-lite==3.2.2"]


def ensure_venv() -> None:
    """Re-runs this script inside the benchmark venv, creating it when missing."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        print(f"creating {VENV} with {', '.join(REQUIREMENTS)}", flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS])
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on port {port} after {timeout}s")


def start_osprey(binary: str, data: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    wait_port(port, proc)
    return proc, port


def start_milvus_lite(data: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    exe = os.path.join(VENV, "bin", "milvus-lite")
    proc = subprocess.Popen([exe, "server", "--host", "127.0.0.1", "--port", str(port), "--data-dir", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc, port


def make_data(rows: int, dim: int, nq: int, clusters: int, seed: int):
    import numpy as np
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(clusters, dim)).astype(np.float32)
    def sample(n):
        c = rng.integers(0, clusters, size=n)
        return (centers[c] + 0.35 * rng.normal(size=(n, dim))).astype(np.float32)
    base, queries = sample(rows), sample(nq)
    truth = np.empty((nq, 10), dtype=np.int64)
    norms = (base * base).sum(axis=1)
    for s in range(0, nq, 256):
        q = queries[s:s + 256]
        d = norms[None, :] - 2 * q @ base.T
        part = np.argpartition(d, 10, axis=1)[:, :10]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        truth[s:s + 256] = np.take_along_axis(part, order, axis=1)
    return base, queries, truth


def load(uri: str, name: str, base, index: dict) -> dict:
    from pymilvus import DataType, MilvusClient
    client = MilvusClient(uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
    client.create_collection(name, schema=schema)
    t0 = time.perf_counter()
    for s in range(0, len(base), 1000):
        chunk = base[s:s + 1000]
        client.insert(name, [{"id": s + i, "vector": v} for i, v in enumerate(chunk.tolist())])
    insert_s = time.perf_counter() - t0
    # The client's share: the same batches turned into serialized InsertRequests by pymilvus,
    # with nothing sent. No server can make single-client inserts faster than this.
    conn = client._get_connection()
    t0 = time.perf_counter()
    for s in range(0, len(base), 1000):
        chunk = base[s:s + 1000]
        request = conn._prepare_row_insert_request(name, [{"id": s + i, "vector": v} for i, v in enumerate(chunk.tolist())])
        request.SerializeToString()
    encode_s = time.perf_counter() - t0
    client.flush(name)
    params = client.prepare_index_params()
    params.add_index(field_name="vector", index_type=index["type"], metric_type="L2", params=index["params"])
    t0 = time.perf_counter()
    client.create_index(name, params)
    client.load_collection(name)
    build_s = time.perf_counter() - t0
    client.close()
    return {"insert_rows_per_s": len(base) / insert_s, "insert_s": insert_s, "index_build_s": build_s,
            "client_encode_rows_per_s": len(base) / encode_s}


def insert_worker(uri, name, base_path, shape, starts, columns, out):
    import warnings
    import numpy as np
    from pymilvus import Collection, MilvusClient, connections
    base = np.memmap(base_path, dtype=np.float32, mode="r", shape=shape)
    client = MilvusClient(uri)
    if columns:
        warnings.simplefilter("ignore")  # the ORM API is deprecated in pymilvus 3.0
        connections.connect(alias=name, uri=uri)
        collection = Collection(name, using=name)
    out.put("ready")
    for s in starts:
        chunk = np.asarray(base[s:s + 1000])
        if columns:
            collection.insert([list(range(s, s + len(chunk))), chunk.tolist()])
        else:
            client.insert(name, [{"id": s + i, "vector": v} for i, v in enumerate(chunk.tolist())])
    out.put("done")
    client.close()


def measure_insert(uri: str, name: str, base, clients: int, columns: bool = False) -> dict:
    """Rows/s of inserting `base` in batches of 1,000 from `clients` processes at once, each
    taking every clients-th batch, into a fresh collection (dropped afterwards): as rows
    through MilvusClient.insert, or as columns through the ORM's Collection.insert."""
    from pymilvus import DataType, MilvusClient
    client = MilvusClient(uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
    client.create_collection(name, schema=schema)
    tmp = tempfile.mkdtemp(prefix="e2e-insert-")
    path = os.path.join(tmp, "base.f32")
    base.tofile(path)
    out = mp.Queue()
    starts = list(range(0, len(base), 1000))
    procs = [mp.Process(target=insert_worker, args=(uri, name, path, base.shape, starts[c::clients], columns, out))
             for c in range(clients)]
    for p in procs:
        p.start()
    for _ in procs:
        assert out.get() == "ready"
    t0 = time.perf_counter()
    for _ in procs:
        assert out.get() == "done"
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    rows = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
    client.drop_collection(name)
    client.close()
    shutil.rmtree(tmp, ignore_errors=True)
    if rows != len(base):
        raise RuntimeError(f"{name}: {rows} rows after inserting {len(base)}")
    return {"clients": clients, "columns": columns, "rows_per_s": len(base) / wall, "seconds": wall}


def measure_column_insert(uri: str, name: str, base) -> dict:
    """Rows/s of inserting `base` in batches of 1,000 as columns from one client, through
    pymilvus's ORM `Collection.insert([ids, vectors])`, into a fresh collection (dropped
    afterwards). The vectors go as Python lists, pymilvus's fastest input."""
    import warnings
    from pymilvus import Collection, DataType, MilvusClient, connections
    client = MilvusClient(uri)
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=base.shape[1])
    client.create_collection(name, schema=schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ORM API is deprecated in pymilvus 3.0
        connections.connect(alias=name, uri=uri)
        collection = Collection(name, using=name)
        t0 = time.perf_counter()
        for s in range(0, len(base), 1000):
            chunk = base[s:s + 1000]
            collection.insert([list(range(s, s + len(chunk))), chunk.tolist()])
        wall = time.perf_counter() - t0
        connections.disconnect(name)
    rows = client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"]
    client.drop_collection(name)
    client.close()
    if rows != len(base):
        raise RuntimeError(f"{name}: {rows} rows after inserting {len(base)}")
    return {"rows_per_s": len(base) / wall, "seconds": wall}


def server_spans(pid: int, seconds: float) -> list[float] | None:
    """Traces the server's `read` returns and `write`/`writev` calls for `seconds` with perf
    and returns, in ms, the time from each read of at least 200 bytes (a search request;
    window updates and pings are under 20 bytes, event-loop wake-ups 8) to the thread's next
    write of more than 8 bytes (the answer). None when perf is missing or not allowed."""
    if shutil.which("perf") is None:
        return None
    tmp = tempfile.mkdtemp(prefix="e2e-perf-")
    data = os.path.join(tmp, "perf.data")
    try:
        subprocess.run(["perf", "record", "-q", "-o", data, "-p", str(pid),
                        "-e", "syscalls:sys_exit_read,syscalls:sys_enter_writev,syscalls:sys_enter_write",
                        "--", "sleep", str(seconds)], check=True, capture_output=True)
        text = subprocess.run(["perf", "script", "-i", data], check=True, capture_output=True, text=True).stdout
    except (subprocess.CalledProcessError, OSError):
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    spans, start = [], {}
    pattern = re.compile(r"\s(\d+)\s+(?:\[\d+\]\s+)?(\d+\.\d+):\s+syscalls:(sys_exit_read|sys_enter_writev|sys_enter_write):\s*(.*)")
    for line in text.splitlines():
        m = pattern.search(line)
        if not m:
            continue
        tid, t, event, rest = m.group(1), float(m.group(2)), m.group(3), m.group(4)
        if event == "sys_exit_read":
            if rest.startswith("0x") and int(rest, 16) >= 200 and tid not in start:
                start[tid] = t
        elif tid in start:
            count = re.search(r"count: (0x[0-9a-f]+)", rest)
            if event == "sys_enter_writev" or (count and int(count.group(1), 16) > 8):
                spans.append((t - start.pop(tid)) * 1000)
    return spans or None


def trivial_call_ms(uri: str, calls: int = 3000) -> float:
    """p50 round trip of CheckHealth (no work on either server) through pymilvus's gRPC
    stub: the floor that the client, the kernel and the server's transport set together."""
    from pymilvus import MilvusClient
    from pymilvus.grpc_gen import milvus_pb2
    client = MilvusClient(uri)
    stub = client._get_connection()._stub
    for _ in range(200):
        stub.CheckHealth(milvus_pb2.CheckHealthRequest())
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        stub.CheckHealth(milvus_pb2.CheckHealthRequest())
        times.append(time.perf_counter() - t0)
    client.close()
    times.sort()
    return times[len(times) // 2] * 1000


def search_worker(uri, name, queries, ids, k, search_params, duration, out):
    from pymilvus import MilvusClient
    client = MilvusClient(uri)
    client.search(name, data=[queries[0]], limit=k, search_params=search_params)  # warm-up
    latencies, found = [], {}
    deadline = time.perf_counter() + duration
    i = 0
    while time.perf_counter() < deadline:
        j = i % len(queries)
        t0 = time.perf_counter()
        res = client.search(name, data=[queries[j]], limit=k, search_params=search_params)
        latencies.append(time.perf_counter() - t0)
        found[ids[j]] = [hit["id"] for hit in res[0]]
        i += 1
    out.put((latencies, found))
    client.close()


def measure(uri: str, name: str, queries, truth, k: int, search_params: dict, clients: int, duration: float) -> dict:
    import numpy as np
    out = mp.Queue()
    procs = []
    qlist = queries.tolist()
    for c in range(clients):
        idx = list(range(c, len(qlist), clients))
        p = mp.Process(target=search_worker, args=(uri, name, [qlist[i] for i in idx], idx, k, search_params, duration, out))
        p.start()
        procs.append(p)
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
    lat = np.array([x for r in results for x in r[0]]) * 1000
    found = {}
    for r in results:
        found.update(r[1])
    recall = np.mean([len(set(found[q]) & set(truth[q][:k].tolist())) / k for q in found])
    return {"clients": clients, "qps": len(lat) / wall, "p50_ms": float(np.percentile(lat, 50)),
            "p99_ms": float(np.percentile(lat, 99)), "recall@10": float(recall), "searches": int(len(lat)),
            "queries_covered": len(found)}


def write_vecs(path: str, array, dtype) -> None:
    import numpy as np
    a = np.ascontiguousarray(array, dtype=dtype)
    rec = np.empty((a.shape[0], a.shape[1] + 1), dtype=np.int32)
    rec[:, 0] = a.shape[1]
    rec[:, 1:] = a.view(np.int32)
    rec.tofile(path)


def in_process(binary: str, base, queries, truth, ef: int, duration: float) -> dict:
    """The same searches in-process and through a native gRPC client on loopback, interleaved
    (`osprey engine-bench --grpc`): what the server adds per request without Python."""
    import numpy as np
    tmp = tempfile.mkdtemp(prefix="e2e-vecs-")
    try:
        write_vecs(os.path.join(tmp, "base.fvecs"), base, np.float32)
        write_vecs(os.path.join(tmp, "query.fvecs"), queries, np.float32)
        write_vecs(os.path.join(tmp, "gt.ivecs"), truth, np.int32)
        out = subprocess.check_output([binary, "engine-bench", "--base", os.path.join(tmp, "base.fvecs"),
                                       "--query", os.path.join(tmp, "query.fvecs"), "--gt", os.path.join(tmp, "gt.ivecs"),
                                       "--search", f"ef={ef}", "--seconds", str(duration), "--grpc"], text=True)
        return json.loads(out.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--queries", type=int, default=1_000)
    ap.add_argument("--clusters", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ef", type=int, default=64, help="HNSW ef for milvus-lite (and Osprey unless --osprey-ef)")
    ap.add_argument("--osprey-ef", type=int, help="HNSW ef for Osprey when its graph needs another ef for the same recall")
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--insert-clients", default="4", help="concurrent inserting processes for the second insert measure (empty: skip)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds of searching per setting")
    ap.add_argument("--osprey-bin", default=os.path.join(ROOT, ".build", "release", "osprey"))
    ap.add_argument("--only", choices=["osprey", "milvus-lite"], help="measure one system only")
    args = ap.parse_args()
    ensure_venv()
    import numpy as np  # noqa: F401  (venv check)

    print(f"data: {args.rows} x {args.dim} clustered (seed {args.seed}), {args.queries} queries", flush=True)
    base, queries, truth = make_data(args.rows, args.dim, args.queries, args.clusters, args.seed)
    index = {"type": "HNSW", "params": {"M": 16, "efConstruction": 200}}
    ef_of = {"osprey": args.osprey_ef or args.ef, "milvus-lite": args.ef}
    systems = [s for s in ["osprey", "milvus-lite"] if args.only in (None, s)]
    report = {"machine": os.uname().nodename, "cpus": os.cpu_count(), "rows": args.rows, "dim": args.dim,
              "queries": args.queries, "ef": ef_of, "systems": {}}
    for system in systems:
        data = tempfile.mkdtemp(prefix=f"e2e-{system}-")
        proc, port = start_osprey(args.osprey_bin, data) if system == "osprey" else start_milvus_lite(data)
        uri = f"http://127.0.0.1:{port}"
        search_params = {"metric_type": "L2", "params": {"ef": ef_of[system]}}
        try:
            used = dict(index)
            try:
                loaded = load(uri, "bench", base, used)
            except Exception as e:  # an index type the system does not have
                print(f"{system}: HNSW failed ({e}); using AUTOINDEX", flush=True)
                from pymilvus import MilvusClient
                MilvusClient(uri).drop_collection("bench")
                used = {"type": "AUTOINDEX", "params": {}}
                loaded = load(uri, "bench", base, used)
            print(f"{system}: inserted at {loaded['insert_rows_per_s']:.0f} rows/s, index {used['type']} in {loaded['index_build_s']:.1f}s", flush=True)
            inserts = []
            for c in [int(x) for x in args.insert_clients.split(",") if x]:
                for columns in (False, True):
                    r = measure_insert(uri, f"insert_{c}_{'columns' if columns else 'rows'}", base, c, columns)
                    print(f"{system}: {c} inserting clients, {'columns' if columns else 'rows'}: {r['rows_per_s']:.0f} rows/s", flush=True)
                    inserts.append(r)
            columns = measure_column_insert(uri, "insert_columns", base)
            print(f"{system}: column inserts (ORM Collection.insert), 1 client: {columns['rows_per_s']:.0f} rows/s", flush=True)
            runs = []
            for c in [int(x) for x in args.clients.split(",")]:
                r = measure(uri, "bench", queries, truth, 10, search_params, c, args.duration)
                print(f"{system}: {c} clients, ef {ef_of[system]}: {r['qps']:.0f} QPS, p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, recall@10 {r['recall@10']:.3f}", flush=True)
                runs.append(r)
            trivial = trivial_call_ms(uri)
            print(f"{system}: CheckHealth round trip through pymilvus's stub p50 {trivial:.3f} ms", flush=True)
            report["systems"][system] = {"index": used, **loaded, "concurrent_inserts": inserts,
                                         "column_insert": columns, "search": runs, "trivial_call_ms": trivial}
            if system == "osprey":
                # A separate one-client run with the server's syscalls traced (tracing slows
                # it a little, so the runs above stay untraced).
                traced = {}
                tracer = threading.Thread(target=lambda: traced.update(spans=server_spans(proc.pid, 4.0)))
                threading.Timer(1.0, tracer.start).start()
                measure(uri, "bench", queries, truth, 10, search_params, 1, 6.0)
                time.sleep(1.5)
                tracer.join()
                spans = traced.get("spans")
                if spans:
                    spans.sort()
                    report["server_span_ms"] = {"requests": len(spans), "p10": spans[len(spans) // 10],
                                                "p50": spans[len(spans) // 2], "p90": spans[9 * len(spans) // 10]}
                    print(f"osprey: server holds a search request p50 {spans[len(spans) // 2]:.3f} ms "
                          f"(p10 {spans[len(spans) // 10]:.3f}, p90 {spans[9 * len(spans) // 10]:.3f}; {len(spans)} requests traced)", flush=True)
                else:
                    print("osprey: server-side request times not measured (perf missing or not allowed)", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(data, ignore_errors=True)

    if "osprey" in report["systems"]:
        base_line = in_process(args.osprey_bin, base, queries, truth, ef_of["osprey"], args.duration)
        report["osprey_in_process"] = base_line
        one = report["systems"]["osprey"]["search"][0]
        print(f"osprey in-process: p50 {base_line['in_process_p50_ms']:.3f} ms; the same searches over a Swift gRPC client on "
              f"loopback: p50 {base_line['grpc_p50_ms']:.3f} ms, so serving adds {base_line['added_p50_ms']:.3f} ms at p50 "
              f"({base_line['added_mean_ms']:.3f} ms mean, {base_line['result_mismatches']} differing answers); "
              f"through pymilvus the round trip adds {one['p50_ms'] - base_line['in_process_p50_ms']:.2f} ms at p50", flush=True)
        if "server_span_ms" in report:
            span = report["server_span_ms"]["p50"]
            print(f"osprey server side: a search request is held {span:.3f} ms at p50, so serving adds "
                  f"{span - base_line['in_process_p50_ms']:.3f} ms on the server over the same search in-process", flush=True)

    if len(report["systems"]) == 2:
        o, m = report["systems"]["osprey"], report["systems"]["milvus-lite"]
        print("\n| measure | Osprey | milvus-lite | Osprey / milvus-lite |\n|---|---|---|---|")
        print(f"| insert rows/s, 1 client | {o['insert_rows_per_s']:.0f} | {m['insert_rows_per_s']:.0f} | {o['insert_rows_per_s'] / m['insert_rows_per_s']:.1f}x |")
        # The same encoding work was timed twice; the faster timing is the client's ceiling.
        enc = max(o["client_encode_rows_per_s"], m["client_encode_rows_per_s"])
        print(f"| pymilvus encoding alone, rows/s (nothing sent) | {o['client_encode_rows_per_s']:.0f} | {m['client_encode_rows_per_s']:.0f} | "
              f"ceiling {enc / m['insert_rows_per_s']:.1f}x |")
        co, cm = o["column_insert"]["rows_per_s"], m["column_insert"]["rows_per_s"]
        print(f"| insert rows/s, 1 client, columns (ORM Collection.insert) | {co:.0f} | {cm:.0f} | {co / cm:.1f}x |")
        for io, im in zip(o["concurrent_inserts"], m["concurrent_inserts"]):
            how = "columns (ORM Collection.insert)" if io["columns"] else "rows"
            print(f"| insert rows/s, {io['clients']} clients, {how} | {io['rows_per_s']:.0f} | {im['rows_per_s']:.0f} | {io['rows_per_s'] / im['rows_per_s']:.1f}x |")
        for ro, rm in zip(o["search"], m["search"]):
            c = ro["clients"]
            print(f"| search QPS, {c} client(s) | {ro['qps']:.0f} | {rm['qps']:.0f} | {ro['qps'] / rm['qps']:.1f}x |")
            print(f"| p50 / p99 ms, {c} client(s) | {ro['p50_ms']:.2f} / {ro['p99_ms']:.2f} | {rm['p50_ms']:.2f} / {rm['p99_ms']:.2f} | |")
            print(f"| recall@10, {c} client(s) (ef {ef_of['osprey']} / {ef_of['milvus-lite']}) | {ro['recall@10']:.3f} | {rm['recall@10']:.3f} | |")
        print(f"| CheckHealth round trip, p50 ms | {o['trivial_call_ms']:.3f} | {m['trivial_call_ms']:.3f} | |")
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    path = os.path.join(ROOT, "bench", "results", time.strftime("e2e-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
