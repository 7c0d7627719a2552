"""Large corpora (issue 11): every index kind at N vectors, its search parameters tuned to the recall target
on query embeddings, then measured on held-out queries — the table ``index.kind: auto`` is derived from.

Vectors are synthetic, drawn from a Gaussian mixture fitted on real all-MiniLM-L6-v2 vectors of the
4,230 chunks of the first 2,000 SciFact documents (``synthetic_vectors.py``; table 1 checks the fit).
Queries are real SciFact queries embedded with ``kind="query"``: the first ``--tune-queries`` (200)
tune each index as the reindex does (``tasks/ann_tuning.py``: the cheapest efSearch / nprobe /
k_factor reaching ``--target``), the next ``--queries`` (500) measure it. Ground truth is exact search.

Per index: build seconds (train + add, 2 threads), RSS growth while building, serialized MB, the tuned
parameters, recall@10 on the held-out queries, QPS at 1 and 2 FAISS threads (batches of all held-out
queries); for the quantized kinds also the index loaded with ``IO_FLAG_MMAP`` (RSS after load, QPS).

    python benchmarks/large_index.py --n 100000             # ~5 min
    python benchmarks/large_index.py --n 1000000 --json     # ~40 min without hnsw (add it: --kinds ...,hnsw)

With ``--json`` the last stdout line is one JSON object:
``{"n", "rule_choice": {"spec", "recall_at_10", "qps_2_threads", "build_s"}, "rows": [...]}``.
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

    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < min_seconds:
        search(index, queries, 10, threads)
        n += len(queries)
    return n / (time.perf_counter() - start)


def mmap_row(index, queries: np.ndarray, truth: np.ndarray) -> dict:
    """The index written, then read back memory-mapped (FAISS IO_FLAG_MMAP): RSS it adds, QPS."""
    import faiss

    from tasks.ann_tuning import apply_search_params, recall_at_k, search_params

    params = search_params(index)
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:
        path = Path(tmp) / "index.faiss"
        faiss.write_index(index, str(path))
        before = rss_mb()
        mapped = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        apply_search_params(mapped, params)
        loaded_mb = rss_mb() - before
        row = {"mmap_load_rss_mb": loaded_mb, "mmap_recall_at_10": recall_at_k(mapped, queries, truth, 1),
               "mmap_qps_2_threads": qps(mapped, queries, 2), "mmap_rss_after_queries_mb": rss_mb() - before}
        del mapped
    return row


def measure(kind: str, x: np.ndarray, tune_q: np.ndarray, tune_truth: np.ndarray, queries: np.ndarray,
            truth: np.ndarray, args, **overrides) -> dict:
    from tasks.ann_tuning import recall_at_k, tune
    from tasks.benchmark.systems import faiss_bytes
    from tasks.indexing import IndexConfig, build_index, choose_index_spec

    cfg = IndexConfig(kind=kind, ivf_nlist=args.ivf_nlist, **overrides)
    spec = choose_index_spec(len(x), x.shape[1], cfg)
    before = rss_mb()
    start = time.perf_counter()
    index = build_index(x, spec, seed=0, threads=args.build_threads)
    build_s = time.perf_counter() - start
    rss = rss_mb() - before
    start = time.perf_counter()
    tuning = tune(index, tune_q, tune_truth, min(1.0, args.target + args.margin), threads=1)
    row = {"index": kind + ("" if overrides.get("refine", True) or kind not in ("ivfpq", "ivfsq8") else "-norefine"),
           "spec": spec.describe(), "n": len(x), "build_s": build_s, "tune_s": time.perf_counter() - start,
           "rss_delta_mb": rss, "index_mb": faiss_bytes(index) / 2**20, "params": json.dumps(tuning.params),
           "tuned_ok": tuning.ok, "tune_recall_at_10": tuning.recall_at_10,
           "recall_at_10": recall_at_k(index, queries, truth, 1),
           "qps_1_thread": qps(index, queries, 1), "qps_2_threads": qps(index, queries, 2)}
    if kind in ("ivfsq8", "ivfpq", "ivf") and args.mmap:
        row.update(mmap_row(index, queries, truth))
    print(f"  {row}", flush=True)
    del index
    return row


def fmt(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def table(rows: list[dict], cols: list[str]) -> str:
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    return "\n".join(lines + ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the index")
    parser.add_argument("--real-docs", type=int, default=2000, help="SciFact docs whose vectors fit the mixture")
    parser.add_argument("--tune-queries", type=int, default=200, help="queries the tuning sees")
    parser.add_argument("--queries", type=int, default=500, help="held-out queries recall and QPS are measured on")
    parser.add_argument("--kinds", default="flat,ivf,ivfsq8,ivfpq,ivfpq-norefine,hnsw",
                        help="index kinds; auto = the rule's choice at --n; ivfpq-norefine = IVF-PQ without re-ranking")
    parser.add_argument("--target", type=float, default=0.95, help="recall@10 the tuning aims for")
    parser.add_argument("--margin", type=float, default=0.01, help="tuned to target + margin (index.tuning_margin)")
    parser.add_argument("--ivf-nlist", type=int, default=None, help="nlist for IVF kinds (default: the rule's)")
    parser.add_argument("--build-threads", type=int, default=2)
    parser.add_argument("--no-mmap", dest="mmap", action="store_false", help="skip the memory-mapped load rows")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/nightshift-scale/vectors.sqlite"))
    parser.add_argument("--out", type=Path, default=None, help="also write all results as JSON")
    parser.add_argument("--json", action="store_true", help="last stdout line: the JSON summary (see above)")
    args = parser.parse_args()

    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    from tasks.ann_tuning import exact_neighbors
    from tasks.indexing import IndexConfig, choose_index_spec

    t0, load_before = time.perf_counter(), os.getloadavg()
    real, all_queries, _ = real_vectors(args.real_docs, args.tune_queries + args.queries, args.cache)
    tune_q, queries = all_queries[: args.tune_queries], all_queries[args.tune_queries:]
    mixture = Mixture.fit(real)
    fidelity = [{"vectors": "real SciFact (MiniLM)", **neighbour_stats(real, queries)},
                {"vectors": "synthetic (same n)", **neighbour_stats(mixture.sample(len(real), seed=1), queries)}]
    x = mixture.sample(args.n, seed=2)
    tune_truth, truth = exact_neighbors(x, tune_q, 10, 2), exact_neighbors(x, queries, 10, 2)
    print(f"real vectors + mixture + {args.n:,} samples + exact truth: {time.perf_counter() - t0:.0f} s", flush=True)

    rule = choose_index_spec(args.n, x.shape[1], IndexConfig())
    rows = []
    for kind in args.kinds.split(","):
        kind = rule.kind if kind == "auto" else kind
        if kind == "ivfpq-norefine":
            rows.append(measure("ivfpq", x, tune_q, tune_truth, queries, truth, args, refine=False))
        else:
            rows.append(measure(kind, x, tune_q, tune_truth, queries, truth, args))
    chosen = next((r for r in rows if r["spec"] == rule.describe() or r["index"] == rule.kind), None)

    cols = ["vectors", "pair_cos_mean", "pair_cos_std", "nn1_cos_mean", "query_top1_cos", "query_top10_cos",
            "top10_pc_variance_share"]
    report = "\n\n".join([
        f"### Synthetic vs real vectors ({len(real):,} each)\n\n" + table(fidelity, cols),
        f"### {args.n:,} vectors x {x.shape[1]}: tuned on {len(tune_q)} queries to recall@10 >= {args.target} + {args.margin}, "
        f"measured on {len(queries)} others; build threads {args.build_threads}\n\n"
        + table(rows, ["index", "spec", "params", "build_s", "rss_delta_mb", "index_mb", "tune_recall_at_10",
                       "recall_at_10", "qps_1_thread", "qps_2_threads"]),
        "### Memory-mapped load (IO_FLAG_MMAP)\n\n"
        + table([r for r in rows if "mmap_load_rss_mb" in r],
                ["index", "index_mb", "mmap_load_rss_mb", "mmap_recall_at_10", "mmap_qps_2_threads",
                 "mmap_rss_after_queries_mb"]),
        f"The rule (index.kind: auto) at {args.n:,}: {rule.describe()}",
    ])
    load = f"load average {load_before[0]:.1f} at start, {os.getloadavg()[0]:.1f} at end (2 cores)"
    print("\n" + report + f"\n\ntotal wall time: {time.perf_counter() - t0:.0f} s; {load}", flush=True)
    summary = {"n": args.n, "rule_choice": {"spec": rule.describe(), **({k: chosen[k] for k in (
        "recall_at_10", "qps_2_threads", "build_s")} if chosen else {})}, "rows": rows,
        "fidelity": fidelity, "load_average": [load_before[0], os.getloadavg()[0]]}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2, default=float))
    if args.json:
        print(json.dumps(summary, default=float))


if __name__ == "__main__":
    main()
