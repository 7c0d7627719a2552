"""Chi-square test of homogeneity for a categorical feature (e.g. detected language)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.stats import chi2 as chi2_dist

from tasks.drift.stattests.base import DriftResult, check_params, decide, register, validate_categories


def chi2_statistic(table: np.ndarray) -> np.ndarray:
    """Pearson chi-square of 2 x K tables; ``table`` is [..., 2, K] (vectorised over ...)."""
    rows = table.sum(axis=-1, keepdims=True)
    cols = table.sum(axis=-2, keepdims=True)
    expected = rows * cols / table.sum(axis=(-2, -1), keepdims=True)
    return ((table - expected) ** 2 / expected).sum(axis=(-2, -1))


@register("chi2")
@dataclass(frozen=True)
class Chi2Test:
    """Category shares of current vs reference.

    H0: reference and current labels come from the same categorical distribution.
    Drift: Pearson's chi-square of homogeneity on the 2 x K table rejects at ``alpha``.
    Categories seen only in current (e.g. a new language) are columns like any other; they
    are listed in ``details['unseen_categories']`` with their share of current.

    p-value: the chi-square approximation when every expected count is >= ``min_expected``;
    otherwise (rare or unseen categories) a Monte Carlo test that draws the reference row
    from the multivariate hypergeometric law of the table given its margins (the exact
    permutation null), p = (1 + #{chi2_sim >= chi2_obs}) / (1 + n_permutations).
    ``effect_size`` is Cramer's V = sqrt(chi2 / N), in [0, 1].
    """

    name: ClassVar[str]
    alpha: float = 0.05
    min_expected: float = 5.0
    n_permutations: int = 2000
    seed: int = 0
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_categories(self.name, reference, current,
                                       min_samples=self.min_samples)
        categories, codes = np.unique(np.concatenate([ref, cur]), return_inverse=True)
        k = len(categories)
        table = np.vstack([np.bincount(codes[: len(ref)], minlength=k),
                           np.bincount(codes[len(ref):], minlength=k)]).astype(np.int64)
        n_total = int(table.sum())
        ref_share, cur_share = table[0] / len(ref), table[1] / len(cur)
        unseen = {str(c): float(s) for c, s in zip(categories[table[0] == 0],
                                                   cur_share[table[0] == 0], strict=True)}
        if k < 2:
            stat, p, method = 0.0, 1.0, "constant"
        else:
            stat = float(chi2_statistic(table.astype(np.float64)))
            expected = table.sum(1, keepdims=True) * table.sum(0) / n_total
            if expected.min() >= self.min_expected:
                p, method = float(chi2_dist.sf(stat, k - 1)), "asymptotic"
            else:
                rng = np.random.default_rng(self.seed)
                col = table.sum(axis=0)
                sim_ref = rng.multivariate_hypergeometric(col, len(ref), size=self.n_permutations)
                sims = chi2_statistic(np.stack([sim_ref, col - sim_ref], axis=1).astype(np.float64))
                p = float((1 + np.sum(sims >= stat - 1e-9)) / (1 + self.n_permutations))
                method = "monte_carlo"
        effect = float(np.sqrt(stat / n_total))
        return DriftResult(
            name=self.name, statistic=stat, p_value=p,
            drift=decide(p, self.alpha, effect, self.threshold), effect_size=effect,
            alpha=self.alpha, threshold=self.threshold,
            details={"method": method, "categories": categories.tolist(),
                     "reference_share": ref_share.tolist(), "current_share": cur_share.tolist(),
                     "unseen_categories": unseen, "unseen_share": float(sum(unseen.values()))},
        )
