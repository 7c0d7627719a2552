"""The golden-set staleness test: are the current queries farther from the golden queries than the reference ones?

Distances come from ``tasks.neighbors.nearest_neighbor_distance``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.stats import mannwhitneyu

from tasks.drift.stattests.base import (
    DriftResult,
    check_params,
    decide,
    register,
    validate_pair,
)
from tasks.neighbors import nearest_neighbor_distance


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
