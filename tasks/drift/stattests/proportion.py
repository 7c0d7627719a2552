"""Feedback drift: is the share of queries with negative feedback higher now than in the reference?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.stats import fisher_exact

from tasks.drift.stattests.base import DriftResult, check_params, decide, register, validate_pair


@register("proportion")
@dataclass(frozen=True)
class ProportionTest:
    """One-sided Fisher exact test on a 0/1 indicator per query (1 = the query got negative feedback).

    H0: the current rate is not higher than the reference rate. Drift: it is higher at ``alpha``
    (a falling rate is never drift). Exact, hence conservative: the false-alarm rate is at most
    ``alpha`` at any sample size (``tests/unit/test_drift_feedback.py`` measures it).
    ``effect_size`` is the difference of the rates (current - reference).
    """

    name: ClassVar[str]
    alpha: float = 0.05
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=1, min_samples=self.min_samples)
        if not (np.isin(ref, (0, 1)).all() and np.isin(cur, (0, 1)).all()):
            raise ValueError(f"{self.name}: expects 0/1 indicators")
        c, r = int(cur.sum()), int(ref.sum())
        table = [[c, len(cur) - c], [r, len(ref) - r]]
        odds, p = fisher_exact(table, alternative="greater")
        rate_cur, rate_ref = c / len(cur), r / len(ref)
        effect = rate_cur - rate_ref
        return DriftResult(
            name=self.name, statistic=float(odds) if np.isfinite(odds) else 1e9, p_value=float(p),
            drift=decide(float(p), self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"rate_reference": rate_ref, "rate_current": rate_cur, "n_reference": len(ref),
                     "n_current": len(cur)})
