"""What the drift tests look at, computed from query texts.

- query vectors come from ``tasks.vectorize.embed_queries`` (the shared vector cache);
- scalar features: length in words, out-of-vocabulary rate against a FIXED vocabulary (the
  indexed corpus), the Unicode script (a language proxy);
- top-1 retrieval similarity against the published index;
- novelty: similarity of each query to its nearest neighbour in a fixed part of the reference.

Every feature is a function of one query and of things that do not depend on the windows (the
embedder, the index, a reference split drawn with a seed), so reference and current values are
exchangeable under "no drift" and the tests' null distributions hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tasks.segments import script_of

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def word_counts(texts: Iterable[str]) -> np.ndarray:
    return np.array([len(t.split()) for t in texts], dtype=np.float64)


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Lower-cased alphabetic words of ``texts`` (e.g. every indexed chunk)."""
    vocab: set[str] = set()
    for text in texts:
        vocab.update(words(text))
    return frozenset(vocab)


def oov_rates(texts: Iterable[str], vocab: frozenset[str]) -> np.ndarray:
    """Share of each query's words missing from ``vocab`` (0 for a query without words)."""
    out = []
    for text in texts:
        ws = words(text)
        out.append(sum(w not in vocab for w in ws) / len(ws) if ws else 0.0)
    return np.array(out, dtype=np.float64)


def scripts(texts: Iterable[str]) -> np.ndarray:
    return np.array([script_of(t) for t in texts], dtype=object)


def top1_scores(retriever: Any, vectors: np.ndarray) -> np.ndarray:
    """Similarity of each query's best chunk, through the index's ``IndexRetriever`` (its dense stage, the
    index's tuned search parameters): inner product = cosine for unit vectors."""
    if len(vectors) == 0:
        return np.empty(0)
    return np.asarray(retriever.top_similarity(vectors), dtype=np.float64)


def logged_top1(scores: Sequence[Any]) -> np.ndarray:
    """Top-1 scores from the log's ``scores`` lists (NaN where a row has none)."""
    return np.array([max(s) if isinstance(s, (list, tuple, np.ndarray)) and len(s) else np.nan
                     for s in scores], dtype=np.float64)


def novelty_scores(reference: np.ndarray, current: np.ndarray, holdout_share: float, seed: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Nearest-neighbour cosine similarity to a seeded 'base' part of the reference.

    The reference is split once into base (``1 - holdout_share``) and holdout; returns the
    similarities of the holdout rows and of the current rows to their nearest base row. Given the
    base, holdout and current rows are iid under "no drift", so a tail test on these two samples
    (``coverage_gap``) is exact: "more current queries than usual have no close reference query".
    """
    from tasks.neighbors import nearest_neighbor_distance

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(reference))
    n_hold = int(round(holdout_share * len(reference)))
    if n_hold < 1 or n_hold >= len(reference) or len(current) == 0:
        return np.empty(0), np.empty(0)
    base, hold = reference[order[n_hold:]], reference[order[:n_hold]]
    return (1.0 - nearest_neighbor_distance(hold, base), 1.0 - nearest_neighbor_distance(current, base))


NEGATIVE_LABELS = frozenset({"down", "thumbs_down", "negative", "bad", "irrelevant", "wrong", "-1"})


def negative_feedback(values: Sequence[Any]) -> np.ndarray:
    """1 where a query's feedback is negative (a number < 0, or a label such as ``down``/``bad``), else 0."""
    def negative(v: Any) -> bool:
        if isinstance(v, bool) or v is None:
            return False
        if isinstance(v, (int, float, np.number)):
            return bool(v < 0)
        return isinstance(v, str) and v.strip().lower() in NEGATIVE_LABELS

    return np.array([1.0 if negative(v) else 0.0 for v in values], dtype=np.float64)
