"""Measure one index on the golden queries: per-query metrics, latency, and ANN health.

Per-query metrics come from ``tasks.scoring`` (trec_eval semantics; the local ``evaluate`` modules in
``metrics/`` wrap the same code and give the same numbers). ANN health is recall@k of the index's
chunk hits against exact (flat) search over the same vectors, with the golden queries as queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.index_artifact import LoadedIndex
from tasks.retrievers import Retriever, query_latencies_ms
from tasks.scoring import per_query_metrics


@dataclass
class IndexScores:
    per_query: pd.DataFrame  # index query_id, one column per metric
    run: dict[str, dict[str, float]]  # document-level run, top ``retrieval.depth``
    retriever: Retriever


def score_index(retriever: Any, queries: dict[str, str], qrels: dict[str, dict[str, int]],
                metrics: list[str], depth: int | None = None) -> IndexScores:
    """Retrieve every query through ``retriever`` (an ``IndexRetriever``) and score it against ``qrels``."""
    run = retriever.retrieve(queries, depth or retriever.spec.depth)
    return IndexScores(per_query_metrics(run, qrels, metrics), run, retriever)


def latency_ms(retriever: Retriever, queries: dict[str, str], n: int, depth: int, seed: int = 0) -> dict[str, float]:
    """p50/p95 of single-query retrieval (embedding + search) over ``n`` seeded queries."""
    if n <= 0 or not queries:
        return {}
    times = query_latencies_ms(retriever, queries, depth=depth, n=n, seed=seed)
    return {"latency_p50_ms": float(np.percentile(times, 50)), "latency_p95_ms": float(np.percentile(times, 95)),
            "latency_n": float(len(times))}


def stored_vectors(loaded: LoadedIndex, cache_path: Path | None = None) -> tuple[np.ndarray, str]:
    """The indexed vectors for exact search: from the vector cache (exact) or reconstructed from FAISS."""
    frame = loaded.chunks
    if cache_path is not None and cache_path.is_file():
        from tasks.vector_cache import VectorCache

        with VectorCache(cache_path) as cache:
            found = cache.get_many(loaded.manifest.embedder_fingerprint, frame["content_hash"])
        if all(h in found for h in frame["content_hash"]):
            return np.stack([found[h] for h in frame["content_hash"]]), "vector cache"
    import faiss

    index, source = loaded.index, "reconstructed from the index"
    if isinstance(index, faiss.IndexRefine):  # the refine index holds the full vectors
        index, source = faiss.downcast_index(index.refine_index), "the index's refine vectors"
    elif loaded.manifest.index_kind in ("ivf", "ivfsq8", "ivfpq"):
        faiss.extract_index_ivf(index).make_direct_map()
        if loaded.manifest.index_kind != "ivf":
            source = "reconstructed from quantized codes (approximate)"
    return index.reconstruct_n(0, index.ntotal), source


def ann_health(loaded: LoadedIndex, embedder: Any, queries: dict[str, str], k: int = 10, threads: int = 1,
               cache_path: Path | None = None) -> dict[str, Any]:
    """recall@k of the production index vs exact search on the golden queries (chunk level)."""
    label = f"ann_recall@{k}"
    if loaded.manifest.index_kind == "flat" or not queries:
        return {label: 1.0, "ann_source": "flat index: search is exact", "ann_n_queries": len(queries)}
    from tasks.ann_tuning import exact_neighbors, recall_at_k, search_params

    vectors, source = stored_vectors(loaded, cache_path)
    query_vectors = embedder.encode(list(queries.values()), kind="query")
    truth = exact_neighbors(vectors, query_vectors, k, threads)  # the reindex's measure (tasks/ann_tuning.py)
    return {label: recall_at_k(loaded.index, query_vectors, truth, threads), "ann_source": source,
            "ann_n_queries": len(queries), "ann_search_params": search_params(loaded.index)}
