"""Fuse ranked lists: reciprocal-rank fusion, normalised-score fusion, chunk-to-document pooling.

A run is ``{query_id: {doc_id: score}}`` (the shape ``tasks.scoring`` consumes). Every ranking
here follows trec_eval's order, ``tasks.scoring.rank_documents``: score descending, ties broken by
doc id descending. That makes the input ranks, the ``top_k`` cut and the evaluation agree, and makes
the result independent of dict order. Inputs are never mutated.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from tasks.scoring import rank_documents

Run = Mapping[str, Mapping[str, float]]


def _check_weights(n_runs: int, weights: Sequence[float] | None) -> list[float]:
    if n_runs == 0:
        raise ValueError("nothing to fuse: no runs given")
    if weights is None:
        return [1.0] * n_runs
    weights = [float(w) for w in weights]
    if len(weights) != n_runs:
        raise ValueError(f"{len(weights)} weights for {n_runs} runs")
    if any(not math.isfinite(w) or w < 0 for w in weights) or not any(weights):
        raise ValueError(f"weights must be finite, >= 0 and not all 0, got {weights}")
    return weights


def _top(scores: dict[str, float], top_k: int) -> dict[str, float]:
    return {doc_id: scores[doc_id] for doc_id in rank_documents(scores, top_k)}


def _query_ids(runs: Sequence[Run]) -> list[str]:
    return sorted({str(qid) for run in runs for qid in run})


def rrf(runs: Sequence[Run], weights: Sequence[float] | None = None, k: float = 60,
        top_k: int = 100) -> dict[str, dict[str, float]]:
    """Reciprocal-rank fusion (Cormack et al. 2009): ``score(d) = sum_i w_i / (k + rank_i(d))``.

    ``rank_i`` is 1-based in run i's trec_eval order; a document absent from a run gets nothing
    from it. A query present in any run is fused; the result keeps the ``top_k`` best per query.
    """
    weights = _check_weights(len(runs), weights)
    if k < 0 or not math.isfinite(k):
        raise ValueError(f"k must be finite and >= 0, got {k}")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    fused: dict[str, dict[str, float]] = {}
    for qid in _query_ids(runs):
        scores: dict[str, float] = {}
        for run, weight in zip(runs, weights):
            ranked = rank_documents(run.get(qid, {}))
            for rank, doc_id in enumerate(ranked, start=1):
                scores[doc_id] = scores.get(doc_id, 0.0) + weight / (k + rank)
        fused[qid] = _top(scores, top_k)
    return fused


def _normalise(scores: Mapping[str, float], method: str) -> dict[str, float]:
    values = [float(v) for v in scores.values()]
    if not values:
        return {}
    if method == "minmax":
        low, high = min(values), max(values)
        span = high - low
        return {d: (float(s) - low) / span if span > 0 else 1.0 for d, s in scores.items()}
    if method == "zscore":
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return {d: (float(s) - mean) / std if std > 0 else 0.0 for d, s in scores.items()}
    raise ValueError(f"unknown normalisation {method!r}; use 'minmax' or 'zscore'")


def fuse_scores(runs: Sequence[Run], weights: Sequence[float] | None = None,
                norm: str = "minmax", top_k: int = 100) -> dict[str, dict[str, float]]:
    """Weighted sum of per-query normalised scores (CombSUM over each run's returned list).

    ``minmax`` maps each run's list for a query onto [0, 1]; a document a run did not return gets
    0 from it (the floor of that run). ``zscore`` standardises each list; a missing document gets
    the lowest z-score that run returned for the query.
    """
    weights = _check_weights(len(runs), weights)
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    fused: dict[str, dict[str, float]] = {}
    for qid in _query_ids(runs):
        normalised = [_normalise(run.get(qid, {}), norm) for run in runs]
        floors = [min(n.values(), default=0.0) if norm == "zscore" else 0.0 for n in normalised]
        doc_ids = {doc_id for n in normalised for doc_id in n}
        scores = {doc_id: sum(w * n.get(doc_id, floor)
                              for w, n, floor in zip(weights, normalised, floors))
                  for doc_id in doc_ids}
        fused[qid] = _top(scores, top_k)
    return fused


def chunks_to_docs(run: Run, chunk_to_doc: Mapping[str, str] | Callable[[str], str]
                   ) -> dict[str, dict[str, float]]:
    """Max-pool chunk scores to documents: a document scores as its best chunk."""
    lookup = chunk_to_doc.__getitem__ if isinstance(chunk_to_doc, Mapping) else chunk_to_doc
    pooled: dict[str, dict[str, float]] = {}
    for qid, hits in run.items():
        docs: dict[str, float] = {}
        for chunk_id, score in hits.items():
            try:
                doc_id = str(lookup(chunk_id))
            except KeyError:
                raise KeyError(f"chunk {chunk_id!r} (query {qid!r}) has no document in "
                               f"chunk_to_doc") from None
            score = float(score)
            if math.isnan(score):
                raise ValueError(f"NaN score for chunk {chunk_id!r} (query {qid!r})")
            if doc_id not in docs or score > docs[doc_id]:
                docs[doc_id] = score
        pooled[str(qid)] = docs
    return pooled


def to_run(query_ids: Sequence[str], results: Sequence[Sequence[tuple[str, float]]]
           ) -> dict[str, dict[str, float]]:
    """``{qid: {id: score}}`` from per-query (id, score) lists such as ``Bm25Index.search``."""
    if len(query_ids) != len(results):
        raise ValueError(f"{len(query_ids)} query ids but {len(results)} result lists")
    if len(set(query_ids)) != len(query_ids):
        raise ValueError("query ids must be unique")
    run: dict[str, dict[str, float]] = {}
    for qid, hits in zip(query_ids, results):
        scores: dict[str, float] = {}
        for doc_id, score in hits:
            if doc_id in scores:
                raise ValueError(f"query {qid!r} lists {doc_id!r} twice; pool chunks first "
                                 "(chunks_to_docs)")
            scores[str(doc_id)] = float(score)
        run[str(qid)] = scores
    return run
