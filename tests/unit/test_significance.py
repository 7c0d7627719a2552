"""Paired permutation test, bootstrap CI and the regression gate."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tasks.significance import (
    GateDecision,
    decide,
    paired_bootstrap_ci,
    paired_permutation_test,
)


def scores(n: int, seed: int) -> np.ndarray:
    """Per-query-like scores in [0, 1] with many exact 0s and 1s."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.beta(0.8, 0.8, n) * 1.2 - 0.1, 0.0, 1.0)


def test_exact_sign_flip_p_values_by_hand():
    a, b = [1.0] * 5, [0.0] * 5  # 2**5 flips, one has mean >= 1, two have |mean| >= 1
    assert paired_permutation_test(a, b, alternative="greater") == 1 / 32
    assert paired_permutation_test(a, b) == 2 / 32
    assert paired_permutation_test(a, b, alternative="less") == 1.0
    assert paired_permutation_test(b, a, alternative="less") == 1 / 32
    # d = [3, -1, 2]: the 8 sign-flip sums are 4, 0, 6, 2, -2, -6, 0, -4 (observed 4)
    assert paired_permutation_test([3, 0, 2], [0, 1, 0], alternative="less") == 7 / 8
    assert paired_permutation_test([3, 0, 2], [0, 1, 0], alternative="greater") == 2 / 8
    assert paired_permutation_test([3, 0, 2], [0, 1, 0]) == 4 / 8


def test_monte_carlo_p_value_agrees_with_scipy_permutation_test():
    a, b = scores(60, 1), scores(60, 2)
    b = np.clip(b * 0.5 + a * 0.5 + 0.03, 0, 1)
    ours = paired_permutation_test(a, b, n_resamples=20_000, seed=1, alternative="less")
    ref = stats.permutation_test(
        (a, b), lambda x, y, axis: np.mean(x - y, axis=axis), permutation_type="samples",
        n_resamples=20_000, alternative="less", random_state=5,
    ).pvalue
    assert 0.0 < ours < 0.5
    assert ours == pytest.approx(ref, abs=0.01)


def test_monte_carlo_p_value_counts_the_observed_labelling():
    a, b = np.zeros(300), np.ones(300)  # no random flip reaches the observed mean
    assert paired_permutation_test(a, b, n_resamples=999, alternative="less") == 1 / 1000


def test_gate_uses_the_one_sided_test():
    # d = -1 five times: exact one-sided p = 1/32 < 0.05 (the two-sided 2/32 would not be)
    decision = decide([0.0] * 5, [1.0] * 5, min_effect=0.5, alpha=0.05)
    assert decision.p_value == 1 / 32 and not decision.passed


def test_a_a_gives_p_one_and_never_fails():
    a = scores(300, 0)
    assert paired_permutation_test(a, a.copy()) == 1.0
    assert paired_permutation_test(a, a.copy(), alternative="less") == 1.0
    decision = decide(a, a.copy(), min_effect=0.0, alpha=0.05)
    assert decision.passed and decision.p_value == 1.0
    assert decision.delta == 0.0 and decision.ci_low == 0.0 == decision.ci_high
    assert "within min_effect" in decision.reason


def test_large_real_drop_fails():
    champion = scores(300, 4)
    candidate = np.clip(champion - 0.08 + np.random.default_rng(5).normal(0, 0.05, 300), 0, 1)
    decision = decide(candidate, champion, min_effect=0.02, alpha=0.05)
    assert isinstance(decision, GateDecision)
    assert not decision.passed and "significant drop" in decision.reason
    assert decision.p_value < 0.001 and decision.n == 300
    assert decision.ci_low < decision.delta < decision.ci_high < -0.02
    assert decision.champion_mean - decision.candidate_mean == pytest.approx(-decision.delta)


def test_small_or_noisy_drops_pass_with_their_reason():
    champion = scores(300, 6)
    tiny = decide(champion - 0.005, champion, min_effect=0.01, alpha=0.05)
    assert tiny.passed and "within min_effect" in tiny.reason  # significant but below min_effect
    noisy = np.clip(champion + np.random.default_rng(7).normal(-0.02, 0.5, 300), 0, 1)
    outcome = decide(noisy[:20], champion[:20], min_effect=0.0, alpha=0.01)
    assert outcome.passed == (outcome.p_value >= 0.01 or outcome.delta >= 0)


def test_floor_breach_fails_even_without_a_drop():
    a = np.full(50, 0.30)
    decision = decide(a, a.copy(), min_effect=0.05, alpha=0.05, floor=0.35)
    assert not decision.passed and "floor breached" in decision.reason
    assert decide(a, a.copy(), min_effect=0.05, alpha=0.05, floor=0.25).passed


def test_false_alarm_rate_is_calibrated_under_the_null():
    alpha, sims, n = 0.05, 200, 80
    rng = np.random.default_rng(11)
    fails, rejections = 0, 0
    for seed in range(sims):
        base = rng.random(n)
        a = np.clip(base + rng.normal(0, 0.15, n), 0, 1)
        b = np.clip(base + rng.normal(0, 0.15, n), 0, 1)
        decision = decide(a, b, min_effect=0.0, alpha=alpha, n_resamples=1000, seed=seed)
        fails += not decision.passed
        rejections += paired_permutation_test(a, b, n_resamples=1000, seed=seed) < alpha
    slack = 3 * np.sqrt(alpha * (1 - alpha) / sims)
    assert fails / sims <= alpha + slack
    assert alpha - slack <= rejections / sims <= alpha + slack  # two-sided: neither dead nor trigger-happy


def test_bootstrap_ci_matches_scipy_percentile_bootstrap():
    d = np.random.default_rng(31).normal(0.1, 0.3, 100)
    ours = paired_bootstrap_ci(d, np.zeros(100), n_resamples=20_000, confidence=0.9, seed=0)
    ref = stats.bootstrap((d,), np.mean, confidence_level=0.9, n_resamples=20_000,
                          method="percentile", random_state=1).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), abs=0.003)


def test_bootstrap_ci_covers_the_true_mean_difference():
    rng = np.random.default_rng(21)
    covered = 0
    for seed in range(100):
        d = rng.normal(0.1, 0.3, 100)
        low, high = paired_bootstrap_ci(d, np.zeros(100), n_resamples=1000, confidence=0.9, seed=seed)
        covered += low <= 0.1 <= high
    assert 0.80 <= covered / 100 <= 0.97


def test_seeded_results_are_reproducible_and_inputs_untouched():
    a, b = scores(100, 8), scores(100, 9)
    a0, b0 = a.copy(), b.copy()
    assert decide(a, b, 0.01, 0.05, seed=3) == decide(a, b, 0.01, 0.05, seed=3)
    assert paired_bootstrap_ci(a, b, seed=1) != paired_bootstrap_ci(a, b, seed=2)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


def test_series_are_aligned_by_query_id():
    a = pd.Series([0.9, 0.1, 0.5], index=["q1", "q2", "q3"])
    b = pd.Series([0.5, 0.9, 0.1], index=["q3", "q1", "q2"])
    assert paired_permutation_test(a, b) == 1.0  # identical once aligned
    with pytest.raises(ValueError, match="same query ids"):
        paired_permutation_test(a, b.rename(index={"q3": "q4"}))


@pytest.mark.parametrize(
    ("a", "b", "message"),
    [([], [], "empty"), ([0.1, 0.2], [0.1], "mismatched lengths"),
     ([0.1, np.nan], [0.1, 0.2], "NaN"), ([[0.1]], [[0.1]], "1-D")],
)
def test_bad_inputs_raise_clear_errors(a, b, message):
    for call in (paired_permutation_test, paired_bootstrap_ci):
        with pytest.raises(ValueError, match=message):
            call(a, b)
    with pytest.raises(ValueError, match=message):
        decide(a, b, min_effect=0.01, alpha=0.05)


def test_bad_parameters_raise():
    a = [0.1, 0.2]
    with pytest.raises(ValueError, match="alpha"):
        decide(a, a, min_effect=0.01, alpha=1.5)
    with pytest.raises(ValueError, match="min_effect"):
        decide(a, a, min_effect=-0.1, alpha=0.05)
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap_ci(a, a, confidence=1.0)
    with pytest.raises(ValueError, match="alternative"):
        paired_permutation_test(a, a, alternative="lower")
    with pytest.raises(ValueError, match="n_resamples"):
        paired_permutation_test(a, a, n_resamples=0)


def test_ten_thousand_resamples_of_300_queries_is_fast():
    a, b = scores(300, 12), scores(300, 13)
    decide(a, b, 0.01, 0.05, n_resamples=100)  # warm-up
    start = time.perf_counter()
    decide(a, b, 0.01, 0.05, n_resamples=10_000)
    assert time.perf_counter() - start < 1.0
