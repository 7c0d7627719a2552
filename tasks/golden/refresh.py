"""Drift's golden-refresh action made concrete: a labelling file for the query clusters the golden set misses.

Drift hands over the current window's queries that the golden set does not cover, each with the cluster it
fell in (``tasks.drift.steps.uncovered_queries``). From there it is ``golden init``'s sampler on those
queries: exact duplicates collapsed, queries already in the golden set dropped, near-duplicates by
embedding dropped, a sample stratified by cluster (every cluster gets ``min_per_stratum`` first, so a
small new topic is in), the pooled dense/BM25/hybrid candidates, and a ``refresh-<stamp>.csv`` under
``data/labelling/<name>/`` that ``nightshift golden label`` imports like any other labelling file.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from tasks.config.settings import Settings
from tasks.golden.config import GoldenConfig


def refresh_labelling_file(settings: Settings, config: GoldenConfig, texts: Sequence[str], vectors: np.ndarray,
                           clusters: Sequence[str], known: set[str], loaded: Any, embedder: Any,
                           index_version: str, meta: dict[str, Any]) -> dict[str, Any]:
    """Sample ``config.sample.n`` of the uncovered ``texts`` (vectors and cluster labels aligned), pool their
    candidates and write the labelling file; ``{"file": None, "reason": ...}`` when nothing is left to judge."""
    import pandas as pd

    from tasks.golden import sample as s
    from tasks.golden.steps import drop_known, write_candidates

    cfg = config.sample
    frame = pd.DataFrame({"query": list(texts), "query_id": [""] * len(texts)})
    unique = s.unique_queries(frame)
    first = {}
    for i, text in enumerate(texts):
        first.setdefault(s.fold(text), i)
    unique = unique.assign(stratum=[clusters[first[s.fold(q)]] for q in unique["query"]])
    fresh = drop_known(unique, known)
    counts = {"n_uncovered": len(texts), "n_unique": len(unique), "n_already_golden": len(unique) - len(fresh)}
    if fresh.empty:
        return {"file": None, "counts": counts, "reason": "every uncovered query is already in the golden set"}
    positions = [first[s.fold(q)] for q in fresh["query"]]
    fresh_vectors = np.asarray(vectors, dtype=np.float32)[positions]
    kept = s.near_duplicates(fresh_vectors, fresh["count"].to_numpy(), cfg.dedup_threshold, cfg.dedup_neighbors)
    candidates, candidate_vectors = fresh[kept].reset_index(drop=True), fresh_vectors[kept]
    labels = candidates["stratum"].tolist()
    chosen = s.stratified_sample(labels, cfg.n, cfg.min_per_stratum, cfg.seed)
    picked = candidates.iloc[chosen].reset_index(drop=True)
    counts.update(n_near_duplicates=int((~kept).sum()), n_sampled=len(picked), n_clusters=len(set(labels)))
    written = write_candidates(settings, config.name, "refresh", loaded, embedder, picked, candidate_vectors[chosen],
                               config.pool, config.threads, index_version,
                               {"split": config.split, **meta, "counts": counts,
                                "strata": s.describe(labels, chosen)})
    counts.update(n_rows=written.pop("n_rows"), judgments_per_query=written.pop("judgments_per_query"))
    return {**written, "counts": counts}
