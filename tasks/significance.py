"""Paired significance tests on per-query scores (candidate vs champion) and the regression gate.

Differences are ``d = a - b`` (candidate minus champion, higher is better). Inputs are 1-D, finite,
equal length and aligned by query id (pandas Series are aligned by index; their id sets must match).
Randomness comes from a local ``numpy.random.default_rng(seed)``; inputs are never mutated.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

Alternative = Literal["two-sided", "less", "greater"]
_BLOCK_CELLS = 2_000_000  # resamples x queries materialised at once
_EXACT_MAX_N = 16  # enumerate all 2**n sign flips when it is no more work than sampling


def paired_differences(a: Any, b: Any) -> np.ndarray:
    """Validated ``a - b`` as a new float64 array (Series aligned by index)."""
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        if set(a.index) != set(b.index) or len(a.index) != len(b.index):
            raise ValueError("candidate and champion must be scored on the same query ids")
        b = b.reindex(a.index)
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("per-query scores must be 1-D arrays")
    if x.size == 0 or y.size == 0:
        raise ValueError("per-query scores are empty")
    if x.size != y.size:
        raise ValueError(f"mismatched lengths: {x.size} candidate vs {y.size} champion scores")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("per-query scores contain NaN or infinite values")
    return x - y


def _check_resamples(n_resamples: int) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")


def _blocks(n_resamples: int, n: int) -> Iterator[int]:
    size = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_resamples, size):
        yield min(size, n_resamples - start)


def _null_means(d: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Means of sign-flipped ``d``: all 2**n flips when cheaper (exact), else random ones."""
    n = d.size
    if n <= _EXACT_MAX_N and 2**n <= n_resamples:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        return ((2.0 * bits - 1.0) @ d) / n, True
    parts = [((2.0 * rng.integers(0, 2, size=(m, n)) - 1.0) @ d) / n for m in _blocks(n_resamples, n)]
    return np.concatenate(parts), False


def paired_permutation_test(
    a: Any,
    b: Any,
    n_resamples: int = 10_000,
    seed: int = 0,
    alternative: Alternative = "two-sided",
) -> float:
    """Sign-flip randomization test of mean(a - b) = 0; returns the p-value.

    ``alternative="less"`` tests whether the candidate ``a`` is worse than ``b``. Monte-Carlo p-values
    count the observed labelling, ``(1 + hits) / (1 + n_resamples)``, so they are never 0.
    """
    _check_resamples(n_resamples)
    d = paired_differences(a, b)
    observed = float(d.mean())
    null, exact = _null_means(d, n_resamples, np.random.default_rng(seed))
    tol = 1e-12 * max(1.0, float(np.abs(d).max()))
    if alternative == "two-sided":
        hits = np.abs(null) >= abs(observed) - tol
    elif alternative == "less":
        hits = null <= observed + tol
    elif alternative == "greater":
        hits = null >= observed - tol
    else:
        raise ValueError(f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}")
    if exact:
        return float(hits.mean())
    return (1.0 + float(hits.sum())) / (1.0 + n_resamples)


def paired_bootstrap_ci(
    a: Any, b: Any, n_resamples: int = 10_000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for mean(a - b), resampling queries with replacement."""
    _check_resamples(n_resamples)
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    d = paired_differences(a, b)
    rng = np.random.default_rng(seed)
    n = d.size
    means = np.concatenate(
        [d[rng.integers(0, n, size=(m, n))].mean(axis=1) for m in _blocks(n_resamples, n)]
    )
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class GateDecision:
    """Outcome of the regression gate; ``delta`` = mean(candidate) - mean(champion)."""

    passed: bool
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    candidate_mean: float
    champion_mean: float
    reason: str


def _fail_reason(
    delta: float,
    p_value: float,
    candidate_mean: float,
    min_effect: float,
    alpha: float,
    floor: float | None,
) -> str | None:
    if floor is not None and candidate_mean < floor:
        return f"floor breached: candidate mean {candidate_mean:.4f} < floor {floor:.4f}"
    if -delta > min_effect and p_value < alpha:
        return (
            f"significant drop {-delta:.4f} > min_effect {min_effect:.4f} "
            f"(p={p_value:.4g} < alpha={alpha})"
        )
    return None


def _pass_reason(delta: float, p_value: float, min_effect: float, alpha: float) -> str:
    if -delta <= min_effect:
        return f"delta {delta:+.4f} within min_effect {min_effect:.4f}"
    return (
        f"drop {-delta:.4f} > min_effect {min_effect:.4f} "
        f"but not significant (p={p_value:.4g} >= alpha={alpha})"
    )


def decide(
    a: Any,
    b: Any,
    min_effect: float,
    alpha: float,
    floor: float | None = None,
    n_resamples: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> GateDecision:
    """Gate candidate ``a`` against champion ``b`` (higher is better).

    FAILS only when the mean drop exceeds ``min_effect`` and the one-sided ('less') permutation test
    is significant at ``alpha``, or when the candidate mean is below the absolute ``floor``.
    """
    if min_effect < 0 or math.isnan(min_effect):
        raise ValueError(f"min_effect must be >= 0, got {min_effect}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    d = paired_differences(a, b)
    candidate_mean = float(np.mean(np.asarray(a, dtype=np.float64)))
    delta = float(d.mean())
    p_value = paired_permutation_test(a, b, n_resamples, seed, alternative="less")
    ci_low, ci_high = paired_bootstrap_ci(a, b, n_resamples, confidence, seed)
    failure = _fail_reason(delta, p_value, candidate_mean, min_effect, alpha, floor)
    return GateDecision(
        passed=failure is None,
        delta=delta,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        n=int(d.size),
        candidate_mean=candidate_mean,
        champion_mean=float(np.mean(np.asarray(b, dtype=np.float64))),
        reason=failure or _pass_reason(delta, p_value, min_effect, alpha),
    )


def evidence(decision: GateDecision) -> dict[str, float]:
    return {"delta": decision.delta, "ci_low": decision.ci_low, "ci_high": decision.ci_high,
            "p_value": decision.p_value, "n": float(decision.n),
            "candidate_mean": decision.candidate_mean, "champion_mean": decision.champion_mean}


def describe(metric: str, decision: GateDecision, confidence: float, against: str) -> str:
    """'ndcg@10: <decision reason>; Δ -0.0412, 95% CI [-0.0610, -0.0221], p=0.0001, n=300 vs <against>'."""
    return (f"{metric}: {decision.reason}; Δ {decision.delta:+.4f}, {confidence:.0%} CI "
            f"[{decision.ci_low:+.4f}, {decision.ci_high:+.4f}], p={decision.p_value:.4g}, "
            f"n={decision.n} vs {against}")
