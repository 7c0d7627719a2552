"""Drift-test contract: the result type, input validation and the registry of tests.

A drift test is a small configured callable (a frozen dataclass holding ``alpha``, ``seed``,
``min_samples``, ... and a ``__call__(reference, current) -> DriftResult``), registered by name
like Evidently's stat tests, so the flow and the benchmark can loop over ``available_tests()``.

Every test states a null hypothesis H0 ("reference and current are drawn from the same
distribution", or a one-sided variant) and reports ``drift=True`` only when H0 is rejected at
``alpha`` (and, when the test has a ``threshold``, the effect size also reaches it). So ``alpha``
is the false-alarm rate of one test run on two samples of one distribution; ``combine.py`` turns
several tests into one decision with a family-wise false-alarm rate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np

from tasks.neighbors import as_numeric
from tasks.registry import Registry


class NotEnoughData(ValueError):
    """Too few samples to test: the caller must skip the test (never report drift)."""


@dataclass(frozen=True)
class DriftResult:
    """Outcome of one drift test.

    ``statistic`` is the test statistic the p-value is computed from; ``effect_size`` is a
    sample-size-free magnitude (0 = no drift) that each test documents; ``threshold`` is the
    minimum effect size required to call drift (``None``: the p-value alone decides).
    """

    name: str
    statistic: float
    p_value: float
    drift: bool
    effect_size: float
    alpha: float
    threshold: float | None = None
    details: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class DriftTest(Protocol):
    name: ClassVar[str]
    alpha: float
    min_samples: int

    def __call__(self, reference: Any, current: Any) -> DriftResult: ...


def decide(p_value: float, alpha: float, effect_size: float, threshold: float | None) -> bool:
    """Drift iff H0 is rejected at ``alpha`` and the effect reaches ``threshold`` (if any)."""
    return bool(p_value <= alpha and (threshold is None or effect_size >= threshold))


def check_params(alpha: float, min_samples: int) -> None:
    """Validate the parameters every test shares (called from ``__post_init__``)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if min_samples < 2:
        raise ValueError(f"min_samples must be >= 2, got {min_samples}")


def _check_sizes(name: str, sizes: dict[str, int], min_samples: int) -> None:
    small = {k: v for k, v in sizes.items() if v < min_samples}
    if small:
        raise NotEnoughData(
            f"{name}: need at least {min_samples} samples per side, got "
            + ", ".join(f"{k}={v}" for k, v in small.items())
        )


def validate_pair(name: str, reference: Any, current: Any, *, ndim: int,
                  min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Return both samples as numeric arrays (no copy) after checking them.

    Raises ``ValueError`` for non-numeric data, wrong rank, NaN/inf or a dimension mismatch,
    and ``NotEnoughData`` when a side has fewer than ``min_samples`` rows.
    Arrays are not copied: callers must not write to them.
    """
    ref = as_numeric(reference, f"{name}: reference", ndim)
    cur = as_numeric(current, f"{name}: current", ndim)
    if ndim == 2 and ref.shape[1] != cur.shape[1]:
        raise ValueError(f"{name}: dimension mismatch: reference has {ref.shape[1]} columns, "
                         f"current has {cur.shape[1]}")
    _check_sizes(name, {"reference": len(ref), "current": len(cur)}, min_samples)
    return ref, cur


def validate_categories(name: str, reference: Any, current: Any, *,
                        min_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Check two 1-D categorical samples; missing values (None/NaN) are rejected."""
    out = []
    for what, x in (("reference", reference), ("current", current)):
        arr = np.asarray(x, dtype=object)
        if arr.ndim != 1:
            raise ValueError(f"{name}: {what} must be 1-D, got shape {arr.shape}")
        missing = [v is None or (isinstance(v, float) and not np.isfinite(v)) for v in arr]
        if any(missing):
            raise ValueError(f"{name}: {what} has {sum(missing)} missing value(s); "
                             "map them to an explicit category such as 'unknown'")
        out.append(arr.astype(str))
    _check_sizes(name, {"reference": len(out[0]), "current": len(out[1])}, min_samples)
    return out[0], out[1]


def subsample(x: np.ndarray, max_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    """A uniform random subset of at most ``max_samples`` rows (no copy when not needed)."""
    if max_samples is None or len(x) <= max_samples:
        return x
    return x[np.sort(rng.choice(len(x), size=max_samples, replace=False))]


TESTS: Registry[type] = Registry("drift test")  # name -> test class; add one with @register("name")
T = TypeVar("T", bound=type)


def register(name: str) -> Callable[[T], T]:
    """Class decorator: register a drift test under ``name`` (also set as ``cls.name``)."""

    def deco(cls: T) -> T:
        TESTS.register(name, cls)
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return deco


def get_test(name: str, **params: Any) -> DriftTest:
    """Instantiate the registered test ``name`` with ``params`` (e.g. ``alpha=0.01``)."""
    try:
        cls = TESTS[name]
    except KeyError:
        raise KeyError(f"unknown drift test {name!r}; available: {available_tests()}") from None
    return cls(**params)


def available_tests() -> tuple[str, ...]:
    """Names of all registered tests, sorted."""
    return TESTS.names()


def run_tests(plan: Sequence[tuple[str, DriftTest, Any, Any]]
              ) -> tuple[dict[str, DriftResult], dict[str, str]]:
    """Run ``(label, test, reference, current)`` items; tests lacking data are skipped.

    Returns ``(results by label, skip reasons by label)``. Only ``NotEnoughData`` is caught:
    invalid input (NaN, wrong shape) is a bug upstream and propagates.
    """
    results: dict[str, DriftResult] = {}
    skipped: dict[str, str] = {}
    for label, test, reference, current in plan:
        if label in results or label in skipped:
            raise ValueError(f"duplicate label {label!r} in drift plan")
        try:
            results[label] = test(reference, current)
        except NotEnoughData as exc:
            skipped[label] = str(exc)
    return results, skipped
