"""Per-query retrieval metrics with trec_eval semantics, and their aggregation.

Semantics (checked against pytrec_eval, which embeds trec_eval 9):

- Ranking: score descending, ties broken by document id descending (byte-wise string order),
  as trec_eval's ``comp_sim_docno`` (``strcmp(ptr2->docno, ptr1->docno)``). Ids are compared as str.
- Relevance: a grade > 0 is relevant; grades <= 0 and unjudged documents count as non-relevant.
  nDCG uses gain = grade, discount log2(rank + 1), ideal DCG from all judged relevant documents.
- ``ndcg@k`` = trec_eval ndcg_cut_k, ``recall@k`` = recall_k, ``map@k`` = map_cut_k (AP truncated
  at k, divided by the total number of relevant documents), ``mrr@k`` = recip_rank on the top k.

Query coverage (decided here, stated in the result):

- A judged query with at least one relevant document that is absent from the run, or has an empty
  ranking, scores 0 on every metric (as ``trec_eval -c``). pytrec_eval/BEIR drop such queries,
  which would flatter a retriever that returns nothing.
- A judged query with no relevant document is excluded (every metric would be 0/0); its id goes to
  ``df.attrs["skipped_query_ids"]`` and a warning is logged.
- Run queries absent from the qrels cannot be judged; they are ignored and listed in
  ``df.attrs["unjudged_query_ids"]``.
"""

from __future__ import annotations

import heapq
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

Run = Mapping[str, Mapping[str, float]]
Qrels = Mapping[str, Mapping[str, int]]

METRIC_KINDS = ("ndcg", "recall", "mrr", "map")
DEFAULT_METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
_METRIC_RE = re.compile(r"^(ndcg|recall|mrr|map)@([1-9][0-9]*)$")


class MetricSpec(NamedTuple):
    """A parsed metric name such as ``ndcg@10``."""

    kind: str
    k: int

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.k}"


def parse_metric(name: str) -> MetricSpec:
    """Parse ``"ndcg@10"`` into ``MetricSpec("ndcg", 10)``."""
    match = _METRIC_RE.match(name.strip().lower())
    if match is None:
        raise ValueError(
            f"unknown metric {name!r}: expected <kind>@<k> with kind in {METRIC_KINDS} and k >= 1"
        )
    return MetricSpec(match.group(1), int(match.group(2)))


def rank_documents(scores: Mapping[str, float], depth: int | None = None) -> list[str]:
    """Document ids in trec_eval order (score desc, then id desc), cut at ``depth``."""
    items = [(float(score), str(doc_id)) for doc_id, score in scores.items()]
    if any(math.isnan(score) for score, _ in items):
        raise ValueError("run contains NaN scores")
    if depth is None or depth >= len(items):
        return [doc_id for _, doc_id in sorted(items, reverse=True)]
    return [doc_id for _, doc_id in heapq.nlargest(depth, items)]


def _grades(judged: Mapping[str, int]) -> dict[str, int]:
    grades: dict[str, int] = {}
    for doc_id, grade in judged.items():
        if isinstance(grade, float) and not grade.is_integer():
            raise ValueError(f"relevance grades must be integers, got {grade!r} for {doc_id!r}")
        grades[str(doc_id)] = int(grade)
    return grades


def _discounts(n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, n + 2, dtype=np.float64))


def _metric_value(spec: MetricSpec, ranked: np.ndarray, ideal: np.ndarray) -> float:
    """One metric for one query: ``ranked`` = grades of the ranking, ``ideal`` = positive grades desc."""
    top = ranked[: spec.k]
    hits = top > 0
    if spec.kind == "ndcg":
        dcg = float(np.where(hits, top, 0) @ _discounts(len(top)))
        best = ideal[: spec.k]
        return dcg / float(best @ _discounts(len(best)))
    if spec.kind == "recall":
        return float(hits.sum()) / len(ideal)
    if spec.kind == "mrr":
        first = np.flatnonzero(hits)
        return 1.0 / (first[0] + 1) if first.size else 0.0
    ranks = np.flatnonzero(hits) + 1  # map@k
    return float((np.arange(1, ranks.size + 1) / ranks).sum()) / len(ideal)


def query_metrics(
    scores: Mapping[str, float], judged: Mapping[str, int], specs: Sequence[MetricSpec]
) -> dict[str, float]:
    """All ``specs`` for one query; ``judged`` must hold at least one grade > 0."""
    grades = _grades(judged)
    ideal = np.sort(np.array([g for g in grades.values() if g > 0], dtype=np.int64))[::-1]
    if ideal.size == 0:
        raise ValueError("query has no relevant judgment (grade > 0): metrics are undefined")
    ranking = rank_documents(scores, max(spec.k for spec in specs))
    ranked = np.array([grades.get(doc_id, 0) for doc_id in ranking], dtype=np.int64)
    return {spec.label: _metric_value(spec, ranked, ideal) for spec in specs}


def parse_metrics(metrics: Iterable[str]) -> list[MetricSpec]:
    """Parse and de-duplicate-check a list of metric names."""
    specs = [parse_metric(name) for name in metrics]
    labels = [spec.label for spec in specs]
    if not specs or len(set(labels)) != len(labels):
        raise ValueError(f"metrics must be a non-empty list without duplicates, got {labels}")
    return specs


def per_query_metrics(
    run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS
) -> pd.DataFrame:
    """One row per judged query (index ``query_id``, sorted), one float column per metric."""
    specs = parse_metrics(metrics)
    run_by_id = {str(qid): docs for qid, docs in run.items()}
    rows: dict[str, dict[str, float]] = {}
    skipped: list[str] = []
    for qid, judged in sorted((str(q), j) for q, j in qrels.items()):
        if not any(grade > 0 for grade in judged.values()):
            skipped.append(qid)
            continue
        rows[qid] = query_metrics(run_by_id.get(qid, {}), judged, specs)
    df = pd.DataFrame.from_dict(rows, orient="index", columns=[s.label for s in specs], dtype=float)
    df.index.name = "query_id"
    judged_ids = {str(qid) for qid in qrels}
    df.attrs["skipped_query_ids"] = skipped
    df.attrs["unjudged_query_ids"] = sorted(set(run_by_id) - judged_ids)
    if skipped:
        logger.warning("excluded %d judged queries with no relevant document", len(skipped))
    return df


def aggregate(df: pd.DataFrame) -> dict[str, float]:
    """Mean of each metric column over the scored queries."""
    if df.empty:
        raise ValueError("no scored queries to aggregate")
    return {str(column): float(df[column].mean()) for column in df.columns}


def score_aligned(
    metric: str,
    predictions: Sequence[Mapping[str, float]],
    references: Sequence[Mapping[str, int]],
    query_ids: Sequence[str] | None = None,
) -> dict[str, object]:
    """Score parallel per-query lists (the ``evaluate`` modules' API), keeping the input order."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    ids = [str(q) for q in (range(len(references)) if query_ids is None else query_ids)]
    if len(ids) != len(references) or len(set(ids)) != len(ids):
        raise ValueError("query_ids must be unique and as many as the references")
    label = parse_metric(metric).label
    df = per_query_metrics(dict(zip(ids, predictions)), dict(zip(ids, references)), [label])
    skipped = set(df.attrs["skipped_query_ids"])
    scored = df.reindex([q for q in ids if q not in skipped])
    return {
        "metric": label,
        "score": aggregate(scored)[label],
        "per_query": scored[label].tolist(),
        "query_ids": scored.index.tolist(),
        "skipped_query_ids": [q for q in ids if q in skipped],
    }
