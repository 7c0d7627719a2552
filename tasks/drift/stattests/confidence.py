"""Retrieval-confidence drift: are current queries served with lower top-1 similarity?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
from scipy.stats import betabinom, binomtest, mannwhitneyu

from tasks.drift.stattests.base import DriftResult, check_params, decide, register, validate_pair


@register("confidence")
@dataclass(frozen=True)
class ConfidenceTest:
    """One-sided Mann-Whitney test on top-1 retrieval similarity scores.

    H0: current top-1 scores are not stochastically smaller than reference scores (same
    distribution). Drift: current scores are shifted down (``alternative='less'``) at
    ``alpha``. An *increase* in confidence is never drift. ``effect_size`` is the rank-biserial
    correlation ``2·P(current < reference) - 1`` (ties count 1/2): 0 = no shift, 1 = every
    current score below every reference score.
    """

    name: ClassVar[str]
    alpha: float = 0.05
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=1,
                                 min_samples=self.min_samples)
        test = mannwhitneyu(cur, ref, alternative="less")
        p_below = 1.0 - float(test.statistic) / (len(ref) * len(cur))  # U counts cur > ref
        effect = 2.0 * p_below - 1.0
        p = float(test.pvalue)
        return DriftResult(
            name=self.name, statistic=float(test.statistic), p_value=p,
            drift=decide(p, self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"median_reference": float(np.median(ref)),
                     "median_current": float(np.median(cur)),
                     "prob_current_below": p_below},
        )


@register("coverage_gap")
@dataclass(frozen=True)
class CoverageGapTest:
    """Share of current queries whose top-1 score falls below the reference's low quantile.

    The threshold is the k-th smallest reference score, ``k = max(1, floor(quantile * n))``
    (the reference's 5th percentile by default); ``C`` = number of current scores strictly
    below it. H0: same score distribution. Drift: ``C`` is larger than H0 allows (one-sided).

    Null law: the threshold is itself estimated from n reference scores, so under H0 the
    probability mass below it is ``U ~ Beta(k, n - k + 1)`` and ``C ~ BetaBinomial(m, k,
    n - k + 1)`` exactly (continuous scores). A plain ``Binomial(m, 5%)`` test ignores the
    variance of the threshold: for m = n it roughly doubles the variance of C and its false
    alarm rate is far above alpha; it is kept as ``null='binomial'`` for comparison only.
    ``effect_size`` = observed share below minus the share expected under H0, ``k / (n+1)``.
    """

    name: ClassVar[str]
    alpha: float = 0.05
    quantile: float = 0.05
    null: Literal["beta_binomial", "binomial"] = "beta_binomial"
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)
        if not 0.0 < self.quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile}")
        if self.null not in ("beta_binomial", "binomial"):
            raise ValueError(f"unknown null {self.null!r}")

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=1,
                                 min_samples=self.min_samples)
        n, m = len(ref), len(cur)
        k = max(1, int(np.floor(self.quantile * n)))
        cutoff = float(np.partition(ref, k - 1)[k - 1])
        below = int(np.sum(cur < cutoff))
        expected = k / (n + 1)
        if self.null == "binomial":
            p = float(binomtest(below, m, self.quantile, alternative="greater").pvalue)
        else:
            p = float(betabinom.sf(below - 1, m, k, n - k + 1))
        effect = below / m - expected
        return DriftResult(
            name=self.name, statistic=float(below), p_value=p,
            drift=decide(p, self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"cutoff": cutoff, "share_below": below / m, "expected_share": expected,
                     "k": k, "null": self.null},
        )
