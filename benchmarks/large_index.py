"""Large corpora (issue 7): build and query a 1M-vector, 384-d FAISS index on this machine.

Vectors are synthetic, drawn from a Gaussian mixture fitted on real all-MiniLM-L6-v2 vectors of the
4,230 chunks of the first 2,000 SciFact documents (embedded once through the project's vector cache,
kept in /tmp): 1,024 k-means cluster means (~4 real chunks each) + a shared rank-64 within-cluster
covariance + isotropic noise, then L2-normalised (``synthetic_vectors.py``). Why not real vectors
repeated with noise: 1M copies of 4k vectors make ~240 near-duplicates per vector, so every query's
10 nearest neighbours would be copies of one passage (an easy, unrealistic ANN problem). The fit is
checked against the real vectors (table 1). Queries are 500 real SciFact queries embedded with
``kind="query"``; ground truth is exact FAISS search.

Reported per index kind (the rule's choice, plus flat/ivf/ivfpq): build time, RSS delta, serialized
bytes, recall@10 vs exact, QPS at 1 and 2 FAISS threads (``faiss.omp_set_num_threads``). Then the
reindex cost model: load+chunk and index build/validate/write grow with corpus size N, embedding with
the changed chunks only; index build measured at 10k/100k/1M.

    python benchmarks/large_index.py                # 1M vectors (~30 min on 2 cores at load ~9)
    python benchmarks/large_index.py --n 100000     # quick
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from synthetic_vectors import Mixture, neighbour_stats, real_vectors  # sibling module (run as a script)


def rss_mb() -> float:
    import psutil

    gc.collect()
    return psutil.Process().memory_info().rss / 2**20


def qps(index, queries: np.ndarray, threads: int, min_seconds: float = 2.0) -> float:
    from tasks.indexing import search

    import faiss

    faiss.omp_set_num_threads(threads)
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < min_seconds:
        search(index, queries, 10, threads)
        n += len(queries)
    return n / (time.perf_counter() - start)


def index_bytes(index) -> tuple[int, float]:
    """Serialized size, and the seconds to write + sha256 it (what the index artifact writer does)."""
    import faiss

    from tasks.model_files import sha256_file

    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        path = Path(tmp) / "index.faiss"
        start = time.perf_counter()
        faiss.write_index(index, str(path))
        sha256_file(path)
        return path.stat().st_size, time.perf_counter() - start


def recall_at_10(index, queries: np.ndarray, truth: np.ndarray) -> float:
    from tasks.indexing import search

    got = search(index, queries, 10, threads=1)[1]
    return float(np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth.tolist(), got.tolist())]))


def ef_sweep(index, queries: np.ndarray, truth: np.ndarray, values: list[int]) -> list[dict]:
    """HNSW only: recall@10 and 1-thread QPS as efSearch grows (no rebuild needed)."""
    default, rows = index.hnsw.efSearch, []
    for ef in values:
        index.hnsw.efSearch = ef
        rows.append({"ef_search": ef, "recall_at_10": recall_at_10(index, queries, truth),
                     "qps_1_thread": qps(index, queries, 1)})
        print(f"  ef_search sweep: {rows[-1]}", flush=True)
    index.hnsw.efSearch = default
    return rows


def measure_index(kind: str, x: np.ndarray, queries: np.ndarray, truth: np.ndarray, args) -> tuple[dict, object]:
    from tasks.indexing import IndexConfig, build_index, choose_index_spec

    import faiss

    nlist = args.ivf_nlist if kind != "auto" else None  # auto: the rule's own parameters
    spec = choose_index_spec(len(x), x.shape[1], IndexConfig(kind=kind, ivf_nlist=nlist))
    before = rss_mb()
    faiss.omp_set_num_threads(args.build_threads)
    start = time.perf_counter()
    index = build_index(x, spec, seed=0, threads=args.build_threads)
    build_s = time.perf_counter() - start
    rss = rss_mb() - before
    recall = recall_at_10(index, queries, truth)
    nbytes, write_s = index_bytes(index)
    row = {"index": kind, "spec": spec.describe(), "n": len(x), "build_s": build_s, "rss_delta_mb": rss,
           "index_mb": nbytes / 2**20, "write_sha256_s": write_s, "recall_at_10": recall,
           "qps_1_thread": qps(index, queries, 1), "qps_2_threads": qps(index, queries, 2)}
    print(f"  {kind}: {row}", flush=True)
    return row, index


def curve_point(index, x: np.ndarray, spec_text: str, build_s: float, write_s: float | None = None) -> dict:
    """One point of the index-cost curve: build (given), the reindex's own validation, write + sha256."""
    from tasks.indexing import IndexConfig, validate_index

    cfg = IndexConfig()
    start = time.perf_counter()
    check = validate_index(index, x, cfg.min_recall_at_10, cfg.n_validation_queries, threads=1)
    point = {"n": len(x), "spec": spec_text, "build_s": build_s, "validate_s": time.perf_counter() - start,
             "write_sha256_s": index_bytes(index)[1] if write_s is None else write_s,
             "validation_recall_at_10": check.recall_at_10}
    print(f"  curve: {point}", flush=True)
    return point


def build_curve(x: np.ndarray, sizes: list[int], threads: int) -> list[dict]:
    """Index cost vs N for the index rule's choice at each N."""
    from tasks.indexing import IndexConfig, build_index, choose_index_spec

    out = []
    for n in sizes:
        spec = choose_index_spec(n, x.shape[1], IndexConfig())
        start = time.perf_counter()
        index = build_index(x[:n], spec, seed=0, threads=threads)
        out.append(curve_point(index, x[:n], spec.describe(), time.perf_counter() - start))
        del index
    return out


def cost_model(curve: list[dict], costs: dict, shares=(0.001, 0.01, 0.1, 1.0)) -> list[dict]:
    """Reindex seconds = load+chunk(N) + embed(changed share x N) + index(N) (build, validate, write)."""
    rows = []
    for point in curve:
        n = point["n"]
        fixed = costs["load_s_per_chunk"] * n + point["build_s"] + point["validate_s"] + point["write_sha256_s"]
        row = {"n": n, "corpus_part_s": fixed}
        for share in shares:
            row[f"{share:g}"] = fixed + costs["embed_s_per_chunk"] * share * n
        row["break_even_share"] = fixed / (costs["embed_s_per_chunk"] * n)
        rows.append(row)
    return rows


def fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(fmt(r[c]) for c in cols) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the large index")
    parser.add_argument("--real-docs", type=int, default=2000, help="SciFact docs whose vectors fit the mixture")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--kinds", default="flat,auto,ivf,ivfpq", help="index kinds (auto = the index rule)")
    parser.add_argument("--ivf-nlist", type=int, default=1024, help="nlist for ivf/ivfpq (the rule's 4*sqrt(N) "
                        "= 4,000 at 1M trains k-means on 1M points: ~15 min here)")
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--ef-search", default="64,128,256,512", help="efSearch values tried on the rule's HNSW")
    parser.add_argument("--sizes", default="10000,100000", help="extra corpus sizes for the build-cost curve")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nightshift-scale/vectors.sqlite"))
    parser.add_argument("--out", type=Path, default=None, help="also write all results as JSON")
    args = parser.parse_args()

    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    import faiss

    t0, load_before = time.perf_counter(), os.getloadavg()
    real, queries, costs = real_vectors(args.real_docs, args.queries, args.cache)
    mixture = Mixture.fit(real)
    fidelity = [{"vectors": "real SciFact (MiniLM)", **neighbour_stats(real, queries)},
                {"vectors": "synthetic (same n)", **neighbour_stats(mixture.sample(len(real), seed=1), queries)}]
    x = mixture.sample(args.n, seed=2)
    print(f"real vectors + mixture + {args.n:,} samples: {time.perf_counter() - t0:.0f} s", flush=True)

    faiss.omp_set_num_threads(1)
    exact = faiss.IndexFlatIP(x.shape[1])
    exact.add(x)
    truth = exact.search(queries, 10)[1]
    del exact
    rows, sweep, curve = [], [], build_curve(x, sorted({int(s) for s in args.sizes.split(",") if int(s) < args.n}),
                                  args.build_threads)
    for kind in args.kinds.split(","):
        row, index = measure_index(kind, x, queries, truth, args)
        rows.append(row)
        if kind == "auto":  # the largest point of the curve: the rule's build measured above
            curve.append(curve_point(index, x, row["spec"], row["build_s"], row["write_sha256_s"]))
            if row["spec"].startswith("hnsw"):
                sweep = ef_sweep(index, queries, truth, [int(v) for v in args.ef_search.split(",")])
        del index
    model = cost_model(curve, costs)

    cols = ["vectors", "pair_cos_mean", "pair_cos_std", "nn1_cos_mean", "query_top1_cos", "query_top10_cos",
            "top10_pc_variance_share"]
    report = "\n\n".join([
        f"### Synthetic vs real vectors ({len(real):,} each)\n\n" + table(fidelity, cols),
        f"### {args.n:,} vectors x {x.shape[1]}, {len(queries)} real queries, build threads {args.build_threads}\n\n"
        + table(rows, ["index", "spec", "build_s", "rss_delta_mb", "index_mb", "recall_at_10", "qps_1_thread",
                       "qps_2_threads"]),
        "### The rule's HNSW: efSearch vs recall@10 (real queries) and QPS\n\n"
        + table(sweep, ["ef_search", "recall_at_10", "qps_1_thread"]),
        "### Index cost vs corpus size (rule's choice; validate = the reindex's recall check)\n\n"
        + table(curve, ["n", "spec", "build_s", "validate_s", "write_sha256_s", "validation_recall_at_10"]),
        f"### Reindex cost model (seconds): load+chunk {costs['load_s_per_chunk'] * 1e3:.2f} ms/chunk, "
        f"embedding {costs['embed_s_per_chunk'] * 1e3:.1f} ms/changed chunk; columns = changed share\n\n"
        + table(model, ["n", "corpus_part_s", "0.001", "0.01", "0.1", "1", "break_even_share"]),
    ])
    load = f"load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end (2 cores)"
    print("\n" + report + f"\n\ntotal wall time: {time.perf_counter() - t0:.0f} s; {load}")
    if args.out:
        results = {"fidelity": fidelity, "indexes": rows, "ef_sweep": sweep, "curve": curve, "model": model,
                   "costs": costs, "args": {k: str(v) for k, v in vars(args).items()}}
        args.out.write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
