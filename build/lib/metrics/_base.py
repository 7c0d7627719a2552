"""Shared body of the local ``evaluate`` retrieval metrics; imported only by those modules.

Inputs, one item per query: ``predictions`` = a run ``{doc_id: score}``, ``references`` = qrels
``{doc_id: grade}``. Dicts are JSON-encoded into the declared string features (evaluate needs fixed
features; a run's keys are not), so JSON strings are accepted as well. The numbers come from
``tasks.scoring`` (trec_eval semantics; queries without a relevant judgment are skipped and listed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Callable

import datasets
import evaluate

from tasks.scoring import score_aligned

FEATURES = datasets.Features(
    {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
)

INPUTS_DESCRIPTION = """
Args:
    predictions: per query, a run {doc_id: score} (dict or JSON string); higher score ranks first,
        ties broken by doc_id descending (trec_eval).
    references: per query, qrels {doc_id: graded relevance int} (dict or JSON string); grade > 0 is relevant.
    k: cutoff (default: the module's default_k).
    query_ids: optional ids, one per query (default "0", "1", ...).
Returns:
    metric ("ndcg@10"...), score (mean over scored queries), per_query, query_ids, skipped_query_ids
    (queries with no relevant judgment: metric undefined, excluded from the mean).
"""


def _grade(value: Any) -> int:
    if float(value) != int(value):
        raise ValueError(f"relevance grades must be integers, got {value!r}")
    return int(value)


def _encode(items: Sequence[Any] | None, cast: Callable[[Any], Any]) -> list[str] | None:
    if items is None:
        return None
    return [_encode_one(item, cast) for item in items]


def _encode_one(item: Any, cast: Callable[[Any], Any]) -> str:
    if isinstance(item, str):
        return item
    if not isinstance(item, Mapping):
        raise TypeError(f"expected a dict doc_id -> value or a JSON string, got {type(item).__name__}")
    return json.dumps({str(doc_id): cast(value) for doc_id, value in item.items()})


class RetrievalMetric(evaluate.Metric):
    """Base class: subclasses set ``kind`` and ``default_k`` and a one-line docstring."""

    kind: str = ""
    default_k: int = 10

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=(self.__doc__ or "").strip(),
            citation="",
            inputs_description=INPUTS_DESCRIPTION,
            features=FEATURES,
            reference_urls=["https://github.com/usnistgov/trec_eval"],
        )

    def add_batch(self, *, predictions: Any = None, references: Any = None, **kwargs: Any) -> None:
        """Add a batch of runs and qrels (dicts are JSON-encoded)."""
        super().add_batch(
            predictions=_encode(predictions, float), references=_encode(references, _grade), **kwargs
        )

    def add(self, *, prediction: Any = None, reference: Any = None, **kwargs: Any) -> None:
        """Add one query's run and qrels (dicts are JSON-encoded)."""
        super().add(
            prediction=None if prediction is None else _encode_one(prediction, float),
            reference=None if reference is None else _encode_one(reference, _grade),
            **kwargs,
        )

    def _compute(
        self,
        predictions: Sequence[str],
        references: Sequence[str],
        k: int | None = None,
        query_ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        cutoff = self.default_k if k is None else int(k)
        return score_aligned(
            f"{self.kind}@{cutoff}",
            [json.loads(p) for p in predictions],
            [json.loads(r) for r in references],
            query_ids,
        )
