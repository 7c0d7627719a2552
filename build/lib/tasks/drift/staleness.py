"""Coverage helpers: nearest-neighbour cosine distances, and the golden-set staleness test.

``nearest_neighbor_distance`` answers "how far is each current query from the golden
queries?" and "how far is each new document from the indexed corpus?" (exact, chunked
brute force; for a corpus of millions of chunks, query the FAISS index instead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.stats import mannwhitneyu

from tasks.drift.base import (
    DriftResult,
    as_numeric,
    check_params,
    decide,
    register,
    validate_pair,
)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("zero vector: cosine distance is undefined")
    return x / norms


def nearest_neighbor_distance(x: np.ndarray, y: np.ndarray, *, exclude_self: bool = False,
                              chunk_size: int = 2048) -> np.ndarray:
    """Cosine distance ``1 - max_j cos(x_i, y_j)`` from each row of ``x`` to its nearest ``y``.

    Rows need not be normalised (a normalised copy is used). With ``exclude_self=True``,
    ``x`` and ``y`` must be the same rows and each row's match with itself is skipped
    (leave-one-out distances). Memory is bounded by ``chunk_size * len(y)`` floats.
    """
    xa = _unit_rows(as_numeric(x, "x", 2).astype(np.float64))
    ya = _unit_rows(as_numeric(y, "y", 2).astype(np.float64))
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"dimension mismatch: x has {xa.shape[1]} columns, y has {ya.shape[1]}")
    if exclude_self and xa.shape != ya.shape:
        raise ValueError("exclude_self=True needs x and y to be the same rows")
    if len(ya) - int(exclude_self) < 1:
        raise ValueError("y has no candidate neighbours")
    out = np.empty(len(xa))
    for start in range(0, len(xa), chunk_size):
        sims = xa[start:start + chunk_size] @ ya.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        out[start:start + chunk_size] = 1.0 - sims.max(axis=1)
    return np.clip(out, 0.0, 2.0)


@register("golden_staleness")
@dataclass(frozen=True)
class GoldenStalenessTest:
    """Are current queries farther from the golden (evaluation) queries than reference ones?

    Configured with the golden query embeddings (``golden``). For each query, d = cosine
    distance to its nearest golden query. H0: reference and current queries are equally far
    from the golden set (same distribution of d). Drift: current distances are stochastically
    larger (one-sided Mann-Whitney): the golden set no longer covers today's traffic, so the
    evaluation flow measures the wrong thing. The golden set is fixed (not sampled with the
    windows), so distances are iid functions of the queries and the test is valid as is.
    ``effect_size`` is the rank-biserial ``2·P(d_current > d_reference) - 1``.
    """

    name: ClassVar[str]
    golden: np.ndarray = field(repr=False, compare=False, default_factory=lambda: np.empty((0, 0)))
    alpha: float = 0.05
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)
        if np.asarray(self.golden).ndim != 2 or len(self.golden) == 0:
            raise ValueError("golden_staleness needs golden=<[n_golden, dim] embeddings>")

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=2,
                                 min_samples=self.min_samples)
        d_ref = nearest_neighbor_distance(ref, self.golden)
        d_cur = nearest_neighbor_distance(cur, self.golden)
        test = mannwhitneyu(d_cur, d_ref, alternative="greater")
        p = float(test.pvalue)
        effect = 2.0 * float(test.statistic) / (len(ref) * len(cur)) - 1.0
        return DriftResult(
            name=self.name, statistic=float(test.statistic), p_value=p,
            drift=decide(p, self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"median_distance_reference": float(np.median(d_ref)),
                     "median_distance_current": float(np.median(d_cur)),
                     "n_golden": len(self.golden)},
        )
