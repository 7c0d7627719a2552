"""Serving latency and throughput of ``nightshift api`` on the SciFact demo index, side by side in one run.

On this machine, loopback, a threaded load generator with bounded request counts (keep-alive
connections, one per client), the 300 SciFact test queries:

1. in-process ``Retriever.search`` (the Python API) at concurrency 1: p50/p95/p99 — the peer;
2. the service (uvicorn, 1 worker, query cache off) at concurrency 1 and 8, dense: p50/p95/p99, QPS;
   ratio service p95 / in-process p95 (target <= 1.3); dense p95 at concurrency 1 (target <= 15 ms);
3. with 2 workers (1 thread each) at concurrency 8: QPS / (single-request QPS on 1 thread x cores)
   (target >= 0.8);
4. warm cache: the same query repeated (target p95 <= 3 ms);
5. hot swap: 8 clients query for the whole of a reindex that publishes a hybrid index: failed
   requests (target 0), versions seen (old/new only), and only the new one after the switch;
6. the same measurements for hybrid. Hybrid + rerank: no cross-encoder weights install offline, so
   that row is reported as not measured.

    python benchmarks/serve_latency.py [--workspace DIR] [--requests 300] [--json]

The workspace (default: a folder under the system temp dir, kept) gets the full SciFact index; a rerun
reuses its vector cache (the first run embeds the corpus: ~4 min on 2 cores).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.server.processes import free_port, running  # noqa: E402  (real server processes, as the tests)


def env_for(ws: Path) -> dict[str, str]:
    return {**os.environ, "NIGHTSHIFT_WORKSPACE": str(ws), "NIGHTSHIFT_DVC_REMOTE_URL": str(ws.parent / "dvc-remote")}


SOURCE = ROOT / "data" / "samples" / "scifact" / "corpus.jsonl.gz"


def reindex(ws: Path, *sets: str) -> dict:
    cmd = [sys.executable, "-m", "nightshift", "reindex", "--json", "--source", str(SOURCE),
           *[a for s in sets for a in ("--set", s)]]
    proc = subprocess.run(cmd, env=env_for(ws), cwd=ROOT, capture_output=True, text=True, timeout=3600)
    if proc.returncode:
        raise SystemExit(f"reindex failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def golden_queries() -> list[str]:
    from tasks.goldenset.load import load_golden

    golden = load_golden(ROOT / "data" / "golden" / "scifact")
    return [golden.queries[q] for q in sorted(golden.queries)]


def stats(ms: list[float], seconds: float | None = None) -> dict[str, float]:
    a = np.asarray(ms)
    out = {"n": len(a), "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
           "p99_ms": float(np.percentile(a, 99))}
    if seconds:
        out["qps"] = len(a) / seconds
    return out


def in_process(ws: Path, queries: list[str]) -> dict[str, float]:
    from tasks.serving.live import Retriever

    retriever = Retriever(ws, cache_size=0)
    retriever.search(queries[0], k=10)  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        retriever.search(q, k=10)
        times.append((time.perf_counter() - start) * 1000)
    return stats(times)


def load(port: int, queries: list[str], concurrency: int, n: int, until: threading.Event | None = None
         ) -> dict:
    """``n`` requests (or until ``until`` is set) spread over ``concurrency`` keep-alive clients."""
    lock = threading.Lock()
    times, versions, failures = [], [], []
    counter = iter(range(10**9))

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter)
            if (until is None and i >= n) or (until is not None and until.is_set()):
                break
            body = json.dumps({"query": queries[i % len(queries)], "k": 10})
            start = time.perf_counter()
            try:
                conn.request("POST", "/search", body, {"content-type": "application/json"})
                response = conn.getresponse()
                payload = response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException) as exc:
                ok, payload = False, repr(exc).encode()
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                if ok:
                    times.append(elapsed)
                    versions.append((time.monotonic(), json.loads(payload)["index_version"]))
                else:
                    failures.append(payload[:200])
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {**stats(times, time.perf_counter() - start), "failures": len(failures),
            "first_failures": [f.decode(errors="replace") for f in failures[:3]], "versions": versions}


def serve(ws: Path, tmp: Path, *sets: str, workers: int = 1):
    port = free_port()
    cmd = [sys.executable, "-m", "nightshift", "api", "--port", str(port), "--workers", str(workers),
           "--set", "rate_limit.enabled=false", "--set", "querylog.enabled=false", *[a for s in sets for a in ("--set", s)]]
    return port, running(cmd, env_for(ws), tmp / f"api-{port}.log", f"http://127.0.0.1:{port}/health", timeout=300,
                         cwd=ROOT)


def measure_mode(ws: Path, tmp: Path, queries: list[str], n: int) -> dict:
    out = {"in_process_c1": in_process(ws, queries[:n])}
    port, ctx = serve(ws, tmp, "cache_size=0")
    with ctx:
        load(port, queries, 1, 10)  # warm-up
        out["service_c1"] = load(port, queries, 1, n)
        out["service_c8"] = load(port, queries, 8, n)
    port, ctx = serve(ws, tmp, "cache_size=0", "threads=1")
    with ctx:  # one request on one core: the per-core baseline of the throughput target
        load(port, queries, 1, 10)
        out["service_c1_1thread"] = load(port, queries, 1, n)
    port, ctx = serve(ws, tmp, "cache_size=0", workers=2)  # 1 thread per worker (cores // workers)
    with ctx:
        load(port, queries, 8, 16)
        out["service_c8_2workers"] = load(port, queries, 8, n)
    port, ctx = serve(ws, tmp)
    with ctx:
        out["warm_cache_c1"] = load(port, queries[:1], 1, n)  # the same query: its embedding is cached
    for row in out.values():
        row.pop("versions", None)
    c1 = out["service_c1"]
    out["ratio_service_p95_to_in_process_p95"] = c1["p95_ms"] / out["in_process_c1"]["p95_ms"]
    out["c8_qps_over_c1_qps_x_cores"] = out["service_c8_2workers"]["qps"] / (
        out["service_c1_1thread"]["qps"] * (os.cpu_count() or 1))
    return out


def hot_swap(ws: Path, tmp: Path, queries: list[str]) -> dict:
    port, ctx = serve(ws, tmp, "refresh_seconds=0.2")
    with ctx:
        stop = threading.Event()
        result: dict = {}
        loader = threading.Thread(target=lambda: result.update(load(port, queries, 8, 0, until=stop)))
        loader.start()
        old = json.loads(urlopen_health(port))["index_version"]
        published = reindex(ws, "retriever.mode=hybrid", "gate.enabled=false")
        switch = time.monotonic()
        deadline = time.monotonic() + 30
        while json.loads(urlopen_health(port))["index_version"] != published["index_version"] \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2.0)  # keep querying after the switch
        stop.set()
        loader.join()
    seen = {v for _, v in result["versions"]}
    served_at = min((t for t, v in result["versions"] if v == published["index_version"]), default=None)
    after = [v for t, v in result["versions"] if served_at is not None and t > served_at + 0.5]
    return {"requests": result["n"], "failures": result["failures"], "old_version": old,
            "new_version": published["index_version"], "versions_seen": sorted(seen),
            "only_old_or_new": seen <= {old, published["index_version"]},
            "only_new_after_switch": bool(after) and set(after) == {published["index_version"]},
            "reindex_s": published["seconds"],
            # the reindex publishes, then logs to MLflow and exits: the new version is usually answered before that
            "new_served_s_before_reindex_returned": (switch - served_at) if served_at else None,
            "p95_ms_during_swap": result["p95_ms"]}


def urlopen_health(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/health")
    body = conn.getresponse().read().decode()
    conn.close()
    return body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path(tempfile.gettempdir()) / "nightshift-serve-bench" / "ws")
    parser.add_argument("--requests", type=int, default=300, help="requests per measured cell")
    parser.add_argument("--source", type=Path, default=None, help="the corpus (default: the shipped SciFact)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    global SOURCE
    SOURCE = (args.source or SOURCE).resolve()
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    ws = args.workspace.resolve()
    ws.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    queries = golden_queries()
    dense = reindex(ws, "retriever.mode=dense", "gate.enabled=false")
    print(f"dense index {dense['index_version']} ({dense['status']}, {dense['n_chunks']} chunks)", file=sys.stderr)
    results = {"dense": measure_mode(ws, tmp, queries, args.requests)}
    results["hot_swap"] = hot_swap(ws, tmp, queries)
    results["hybrid"] = measure_mode(ws, tmp, queries, args.requests)
    results["hybrid_rerank"] = "not measured: no cross-encoder weights install offline (README 'Serving the index')"
    for mode in ("dense", "hybrid"):
        r = results[mode]
        print(f"\n{mode}: in-process p50/p95/p99 {fmt(r['in_process_c1'])}")
        for key in ("service_c1", "service_c8", "service_c1_1thread", "service_c8_2workers", "warm_cache_c1"):
            print(f"  {key:<22} p50/p95/p99 {fmt(r[key])}  QPS {r[key]['qps']:.1f}  failures {r[key]['failures']}")
        print(f"  service p95 / in-process p95 = {r['ratio_service_p95_to_in_process_p95']:.2f} (target <= 1.3); "
              f"c8 (2 workers x 1 thread) QPS / (c1 1-thread QPS x {os.cpu_count()} cores) = {r['c8_qps_over_c1_qps_x_cores']:.2f} "
              "(target >= 0.8)")
    h = results["hot_swap"]
    print(f"\nhot swap: {h['requests']} requests, {h['failures']} failed, versions {h['versions_seen']}, "
          f"only old/new {h['only_old_or_new']}, only new after the switch {h['only_new_after_switch']}, "
          f"new version answered {h['new_served_s_before_reindex_returned']} s before the reindex command returned")
    if args.json:
        print(json.dumps(results))


def fmt(r: dict) -> str:
    return f"{r['p50_ms']:.1f}/{r['p95_ms']:.1f}/{r['p99_ms']:.1f} ms"


if __name__ == "__main__":
    main()
