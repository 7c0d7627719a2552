"""Health checks for a published retrieval index: counts, canaries and recall against exact search."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MIN_RECALL = 0.95


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one health check."""

    name: str
    passed: bool
    detail: str = ""


class CanarySet:
    """Known questions that must keep finding their document in the top ``k`` results."""

    def __init__(self, pairs: dict[str, str], k: int = 10):
        self.pairs = dict(pairs)
        self.k = k

    def failures(self, search) -> list[str]:
        """Queries whose expected document is missing from ``search(query, k)``."""
        return [query for query, doc_id in self.pairs.items()
                if doc_id not in search(query, self.k)]


def check_counts(n_chunks: int, n_vectors: int) -> CheckResult:
    """Every chunk has exactly one vector."""
    return CheckResult("counts", n_chunks == n_vectors, f"{n_chunks} chunks, {n_vectors} vectors")


def recall_at_k(approximate: list[list[str]], exact: list[list[str]], k: int = 10) -> float:
    """Mean share of the exact top-k found by the approximate index."""
    if not exact:
        return 1.0
    hits = [len(set(a[:k]) & set(e[:k])) / max(len(e[:k]), 1) for a, e in zip(approximate, exact)]
    return sum(hits) / len(hits)


def check_recall(approximate, exact, k: int = 10,
                 minimum: float = DEFAULT_MIN_RECALL) -> CheckResult:
    """ANN recall@k against exact search on sampled queries."""
    value = recall_at_k(approximate, exact, k)
    return CheckResult("recall", value >= minimum, f"recall@{k}={value:.3f} (min {minimum})")
