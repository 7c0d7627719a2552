"""Holm-Bonferroni decision across drift tests."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.stats import binom
from threadpoolctl import threadpool_limits

from tasks.drift.stattests import DriftResult, combine, get_test, holm_adjust, run_tests
from tasks.drift.stattests.synthetic import EmbeddingWorld, shifted_pair


@pytest.fixture(autouse=True, scope="module")
def single_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def result(name: str, p: float, effect: float = 0.5, threshold: float | None = None) -> DriftResult:
    return DriftResult(name=name, statistic=0.0, p_value=p, drift=p <= 0.05,
                       effect_size=effect, alpha=0.05, threshold=threshold)


def test_holm_adjusted_values_by_hand() -> None:
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, max(0.04*1, 0.06)=0.06
    np.testing.assert_allclose(holm_adjust([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm_adjust([0.5, 0.9]), [1.0, 1.0])
    assert holm_adjust([]).size == 0
    with pytest.raises(ValueError):
        holm_adjust([0.1, float("nan")])
    with pytest.raises(ValueError):
        holm_adjust([1.2])


def test_holm_is_monotone_and_at_least_raw_and_beats_bonferroni() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(8) ** 3
    adj = holm_adjust(p)
    order = np.argsort(p)
    assert np.all(np.diff(adj[order]) >= 0) and np.all(adj >= p) and np.all(adj <= 1)
    assert np.all(adj <= np.minimum(p * len(p), 1.0) + 1e-12)


def test_combine_rejects_gates_on_effect_and_passes_skips_through() -> None:
    results = {"mmd": result("mmd", 0.001), "psi:len": result("psi", 0.02),
               "psi:oov": result("psi", 0.004, effect=0.05, threshold=0.1)}
    decision = combine(results, alpha=0.05, skipped={"chi2": "not enough data"})
    assert decision.adjusted_p_values == pytest.approx({"mmd": 0.003, "psi:len": 0.02,
                                                        "psi:oov": 0.008})
    assert decision.rejected == ("mmd", "psi:len", "psi:oov")
    assert decision.drifted == ("mmd", "psi:len") and decision.drift
    assert decision.skipped == {"chi2": "not enough data"}
    # a raw p of 0.02 alone is drift; with two more tests it no longer survives Holm
    calm = combine([result("a", 0.02), result("b", 0.5), result("c", 0.9)])
    assert not calm.drift and calm.adjusted_p_values["a"] == pytest.approx(0.06)


def test_combine_edge_cases() -> None:
    assert not combine({}).drift
    with pytest.raises(ValueError, match="duplicate"):
        combine([result("psi", 0.1), result("psi", 0.2)])
    with pytest.raises(ValueError, match="alpha"):
        combine([result("a", 0.1)], alpha=0.0)


@pytest.mark.parametrize("dependence", ["independent", "identical"])
def test_family_wise_false_alarm_rate_at_most_alpha(dependence: str) -> None:
    rng = np.random.default_rng(1)
    reps, m = 2000, 5
    p = rng.random((reps, m))
    if dependence == "identical":
        p = np.repeat(p[:, :1], m, axis=1)
    alarms = sum(combine([result(f"t{j}", float(row[j])) for j in range(m)]).drift for row in p)
    assert alarms <= binom.ppf(0.999, reps, 0.05)
    if dependence == "independent":  # exact FWER here is 1 - (1 - alpha/m)^m = 0.049
        assert alarms >= binom.ppf(0.001, reps, 1 - (1 - 0.05 / m) ** m)


def test_end_to_end_decision_on_embedding_like_windows() -> None:
    world = EmbeddingWorld.create(seed=0)
    golden = world.sample(40, [0, 1, 2, 3, 4], np.random.default_rng(9))[0]
    tests = {"mmd": get_test("mmd", n_permutations=200), "pca_ks": get_test("pca_ks"),
             "golden_staleness": get_test("golden_staleness", golden=golden)}
    decisions = []
    for share in (0.0, 0.2):
        ref, cur, _ = shifted_pair(world, 300, share, np.random.default_rng(4))
        plan = [(name, test, ref, cur) for name, test in tests.items()]
        plan.append(("confidence", get_test("confidence"), np.ones(3), np.ones(3)))
        results, skipped = run_tests(plan)
        decisions.append(combine(results, skipped=skipped))
    calm, shifted = decisions
    assert not calm.drift and set(calm.skipped) == {"confidence"}
    assert shifted.drift and set(shifted.drifted) == {"mmd", "pca_ks", "golden_staleness"}
