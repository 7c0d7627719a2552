"""Population stability index on reference-quantile bins, tested with chi-square homogeneity."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.stats import chi2_contingency

from tasks.drift.stattests.base import DriftResult, check_params, decide, register, validate_pair


def quantile_edges(reference: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner bin edges at the reference's ``1/n_bins ... (n_bins-1)/n_bins`` quantiles.

    Duplicate edges (discrete features such as token counts) are merged, so there may be
    fewer than ``n_bins`` bins. Bins are ``(-inf, e1], (e1, e2], ..., (e_last, inf)``.
    """
    qs = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    return np.unique(np.quantile(reference, qs, method="inverted_cdf"))


def bin_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of ``x`` in the bins defined by ``edges`` (right-closed)."""
    return np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)


def population_stability_index(ref_counts: np.ndarray, cur_counts: np.ndarray,
                               eps: float = 1e-4) -> float:
    """PSI = sum (c - r) * ln(c / r) over bins, shares floored at ``eps`` (empty bins)."""
    r = np.maximum(ref_counts / ref_counts.sum(), eps)
    c = np.maximum(cur_counts / cur_counts.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


@register("psi")
@dataclass(frozen=True)
class PSITest:
    """PSI for a scalar feature (query length, OOV rate, top-1 score ...).

    H0: reference and current values come from the same distribution (hence the same
    probabilities for the reference-quantile bins). Drift: the chi-square test of homogeneity
    on the 2 x bins table of counts rejects at ``alpha`` (and PSI >= ``threshold`` if set; the
    industry rule of thumb is 0.1 "moderate", 0.25 "major").

    Why homogeneity, not goodness of fit against the reference shares: the reference is a
    sample too. Bins cut at the reference's own quantiles make the current counts
    overdispersed (Dirichlet-multinomial); a goodness-of-fit test against fixed shares would
    then have expectation about ``(bins - 1) * (1 + m/n)`` under H0, doubling false alarms when
    m = n. The homogeneity statistic has expectation ``bins - 1`` here. ``effect_size`` = PSI.
    """

    name: ClassVar[str]
    alpha: float = 0.05
    n_bins: int = 10
    eps: float = 1e-4
    min_samples: int = 20
    threshold: float | None = None

    def __post_init__(self) -> None:
        check_params(self.alpha, self.min_samples)
        if self.n_bins < 2:
            raise ValueError("n_bins must be >= 2")

    def __call__(self, reference: np.ndarray, current: np.ndarray) -> DriftResult:
        ref, cur = validate_pair(self.name, reference, current, ndim=1,
                                 min_samples=self.min_samples)
        edges = quantile_edges(ref, self.n_bins)
        rc, cc = bin_counts(ref, edges), bin_counts(cur, edges)
        psi = population_stability_index(rc, cc, self.eps)
        keep = (rc + cc) > 0
        if keep.sum() < 2:  # a constant feature in both windows: nothing can differ
            stat, p, dof = 0.0, 1.0, 0
        else:
            test = chi2_contingency(np.vstack([rc[keep], cc[keep]]), correction=False)
            stat, p, dof = float(test.statistic), float(test.pvalue), int(test.dof)
        return DriftResult(
            name=self.name, statistic=stat, p_value=p,
            drift=decide(p, self.alpha, psi, self.threshold), effect_size=psi,
            alpha=self.alpha, threshold=self.threshold,
            details={"psi": psi, "edges": edges.tolist(), "reference_counts": rc.tolist(),
                     "current_counts": cc.tolist(), "dof": dof},
        )
