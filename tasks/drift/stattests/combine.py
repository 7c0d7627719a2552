"""One drift decision from several tests: Holm-Bonferroni at a family-wise alpha.

The decision rule
-----------------
Given the p-values p_1..p_m of the tests that ran (tests skipped for ``NotEnoughData`` do
not count in m), sort them ``p_(1) <= ... <= p_(m)``; the Holm-adjusted p-values are

    p~_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j)).

Test i is *rejected* when ``p~_i <= alpha``. Overall ``drift`` is True when at least one test
is rejected AND that test's effect size reaches its own ``threshold`` (when it has one).

Guarantee: under the global null (no drift anywhere) the probability of ``drift=True`` is at
most ``alpha``, whatever the dependence between tests. This matters: the tests here look at
the same windows (MMD, classifier and PCA-KS on the same embeddings), so their p-values are
strongly positively dependent, and procedures that assume independence do not apply.
Holm is uniformly more powerful than plain Bonferroni with the same guarantee; it is
conservative when tests are highly correlated (then a single well-chosen test is better).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from tasks.drift.stattests.base import DriftResult


def holm_adjust(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must be a 1-D sequence in [0, 1], got {p_values!r}")
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


@dataclass(frozen=True)
class DriftDecision:
    """Overall verdict; ``rejected`` lists labels whose Holm-adjusted p <= alpha."""

    drift: bool
    alpha: float
    adjusted_p_values: dict[str, float]
    rejected: tuple[str, ...]
    drifted: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)


def combine(results: Mapping[str, DriftResult] | Sequence[DriftResult], alpha: float = 0.05,
            skipped: Mapping[str, str] | None = None) -> DriftDecision:
    """Apply Holm-Bonferroni at family-wise ``alpha`` to the tests that ran.

    ``results`` is keyed by label (use labels such as ``"psi:query_length"`` when one test
    runs on several features), or a sequence whose ``name``s are unique. ``skipped`` (label ->
    reason) is passed through for the report. ``drifted`` = rejected tests whose effect size
    also reaches their threshold; ``drift`` is ``bool(drifted)``. No test ran -> no drift.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if not isinstance(results, Mapping):
        names = [r.name for r in results]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate test names {names}: pass a mapping label -> result")
        results = dict(zip(names, results, strict=True))
    labels = list(results)
    adjusted = holm_adjust([results[k].p_value for k in labels])
    adj = {k: float(a) for k, a in zip(labels, adjusted, strict=True)}
    rejected = tuple(k for k in labels if adj[k] <= alpha)
    drifted = tuple(
        k for k in rejected
        if results[k].threshold is None or results[k].effect_size >= results[k].threshold
    )
    return DriftDecision(drift=bool(drifted), alpha=alpha, adjusted_p_values=adj,
                         rejected=rejected, drifted=drifted, skipped=dict(skipped or {}))
