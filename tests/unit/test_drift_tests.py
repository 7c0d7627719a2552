"""Drift tests: registry, validation, A/A calm, shifted windows flagged, calibration, purity."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from scipy.stats import binom
from threadpoolctl import threadpool_limits

from tasks.drift.stattests import NotEnoughData, available_tests, get_test, register, run_tests
from tasks.drift.stattests.mmd import mmd2_permutations, squared_distances
from tasks.neighbors import nearest_neighbor_distance
from tasks.drift.stattests.synthetic import EmbeddingWorld, shifted_pair

WORLD = EmbeddingWorld.create(seed=0)
EMBEDDING_TESTS = {
    "mmd": {"n_permutations": 200},
    "classifier": {},
    "pca_ks": {},
    "golden_staleness": {"golden": WORLD.sample(40, [0, 1, 2, 3, 4], np.random.default_rng(99))[0]},
}
SCALAR_TESTS = {"psi": {}, "confidence": {}, "coverage_gap": {}}
PARAMS = {**EMBEDDING_TESTS, **SCALAR_TESTS, "chi2": {}}
SEEDED = {"mmd", "classifier", "chi2"}  # the tests that draw random numbers


@pytest.fixture(autouse=True, scope="module")
def single_blas_thread() -> Iterator[None]:
    """Small matrices: 2 OpenBLAS threads on a busy 2-core box ran 100x slower than 1."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def max_false_alarms(reps: int, alpha: float) -> int:
    """Upper 99.9% binomial bound: a calibrated test exceeds it once in 1,000 runs."""
    return int(binom.ppf(0.999, reps, alpha))


def test_registry_lists_every_test_and_rejects_unknown_or_duplicate_names() -> None:
    assert set(available_tests()) == {*EMBEDDING_TESTS, *SCALAR_TESTS, "chi2", "proportion"}
    assert get_test("mmd", alpha=0.01).alpha == 0.01
    with pytest.raises(KeyError, match="unknown drift test"):
        get_test("nope")
    with pytest.raises(ValueError, match="already registered"):
        register("mmd")(type("Other", (), {}))
    with pytest.raises(ValueError, match="alpha"):
        get_test("psi", alpha=1.5)
    with pytest.raises(ValueError, match="golden"):
        get_test("golden_staleness")


@pytest.mark.parametrize("name", [*EMBEDDING_TESTS, *SCALAR_TESTS, "chi2"])
def test_input_validation(name: str) -> None:
    test = get_test(name, **PARAMS[name])
    rng = np.random.default_rng(0)
    if name == "chi2":
        good = rng.choice(["en", "fr"], 50)
        with pytest.raises(NotEnoughData):
            test(good, good[:3])
        with pytest.raises(ValueError, match="missing"):
            test(good, np.r_[good[:49], None])
        return
    shape = (50, 384) if name in EMBEDDING_TESTS else (50,)
    good = rng.normal(size=shape)
    with pytest.raises(NotEnoughData, match="at least 20"):
        test(good, good[:3])
    bad = good.copy()
    bad[7] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        test(good, bad)
    wrong = good[:, :100] if good.ndim == 2 else good[:, None]
    with pytest.raises(ValueError, match="mismatch|must be"):
        test(good, wrong)


@pytest.mark.parametrize("name", list(EMBEDDING_TESTS))
def test_embedding_tests_calm_on_aa_and_flag_new_topic(name: str) -> None:
    test = get_test(name, **EMBEDDING_TESTS[name])
    aa = [test(*shifted_pair(WORLD, 300, 0.0, np.random.default_rng(s))[:2]) for s in range(6)]
    assert sum(r.drift for r in aa) <= 1, [r.p_value for r in aa]
    shifted = [test(*shifted_pair(WORLD, 300, 0.2, np.random.default_rng(s))[:2]) for s in range(3)]
    assert all(r.drift for r in shifted), [r.p_value for r in shifted]
    assert min(r.effect_size for r in shifted) > max(r.effect_size for r in aa)


@pytest.mark.parametrize("name", [*EMBEDDING_TESTS, *SCALAR_TESTS, "chi2"])
def test_seeded_reproducible_and_inputs_untouched(name: str) -> None:
    rng = np.random.default_rng(3)
    if name in EMBEDDING_TESTS:
        ref, cur, _ = shifted_pair(WORLD, 120, 0.1, rng)
    elif name == "chi2":
        ref, cur = rng.choice(["en", "fr", "de"], 120), rng.choice(["en", "fr", "ja"], 120)
    else:
        ref, cur = rng.normal(size=120), rng.normal(-0.2, size=120)
    copies = ref.copy(), cur.copy()
    ref.flags.writeable = cur.flags.writeable = False  # any in-place write would raise
    first, second = (get_test(name, **PARAMS[name])(ref, cur) for _ in range(2))
    assert (first.p_value, first.statistic) == (second.p_value, second.statistic)
    assert np.array_equal(ref, copies[0]) and np.array_equal(cur, copies[1])
    assert not ref.flags.writeable and ref.dtype == copies[0].dtype


def test_mmd_vectorised_matches_direct_formula_and_seed_changes_permutations() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    k = np.exp(-squared_distances(np.concatenate([x, y])) / 2)
    kxx, kyy, kxy = k[:7, :7], k[7:, 7:], k[:7, 7:]
    direct = ((kxx.sum() - np.trace(kxx)) / 42 + (kyy.sum() - np.trace(kyy)) / 20
              - 2 * kxy.mean())
    labels = np.r_[np.ones(7, bool), np.zeros(5, bool)]
    assert mmd2_permutations(k, labels[:, None])[0] == pytest.approx(direct)
    ref, cur, _ = shifted_pair(WORLD, 100, 0.0, rng)
    assert get_test("mmd", seed=1)(ref, cur).p_value != get_test("mmd", seed=2)(ref, cur).p_value


@pytest.mark.parametrize("name,params", [("mmd", {"n_permutations": 99}),
                                         ("classifier", {}), ("pca_ks", {})])
def test_embedding_tests_false_alarm_rate_is_at_most_alpha(name: str, params: dict) -> None:
    reps, alarms = 100, 0
    for s in range(reps):
        test = get_test(name, **params, **({"seed": s} if name in SEEDED else {}))
        alarms += test(*shifted_pair(WORLD, 40, 0.0, np.random.default_rng(s))[:2]).drift
    assert alarms <= max_false_alarms(reps, 0.05)


def test_classifier_permutation_null_detects_shift() -> None:
    test = get_test("classifier", null="permutation", n_permutations=19, n_folds=3)
    result = test(*shifted_pair(WORLD, 80, 0.5, np.random.default_rng(0))[:2])
    assert result.drift and result.p_value == pytest.approx(1 / 20)
    assert result.details["null_mean"] < result.statistic


def test_pca_ks_reference_fit_overfits_when_dim_exceeds_n() -> None:
    """Why ``fit_on='pooled'`` is the default: flat spectrum, n=50 < dim=384, A/A pairs."""
    rng = np.random.default_rng(0)
    pairs = [(rng.normal(size=(50, 384)), rng.normal(size=(50, 384))) for _ in range(10)]
    assert sum(get_test("pca_ks", fit_on="reference")(a, b).drift for a, b in pairs) >= 8
    assert sum(get_test("pca_ks")(a, b).drift for a, b in pairs) <= 2


@pytest.mark.parametrize("name", list(SCALAR_TESTS))
def test_scalar_tests_calibrated_and_powerful(name: str) -> None:
    rng = np.random.default_rng(1)
    reps = 400
    alarms = sum(get_test(name)(rng.random(300), rng.random(300)).drift for _ in range(reps))
    assert alarms <= max_false_alarms(reps, 0.05)
    if name == "confidence":
        lower = rng.beta(2, 2, 300) * 0.8
    else:  # psi and coverage_gap: 20% of current piles up at the bottom
        lower = np.r_[rng.random(240), rng.random(60) * 0.02]
    assert get_test(name)(rng.random(300), lower).drift


def test_coverage_gap_plain_binomial_null_is_anticonservative() -> None:
    """Why the beta-binomial null: the 5th percentile is estimated from the reference too."""
    rng = np.random.default_rng(2)
    pairs = [(rng.random(300), rng.random(300)) for _ in range(400)]
    binomial = sum(get_test("coverage_gap", null="binomial")(a, b).drift for a, b in pairs)
    exact = sum(get_test("coverage_gap")(a, b).drift for a, b in pairs)
    assert exact <= max_false_alarms(400, 0.05) < binomial


def test_coverage_gap_counts_strictly_below_the_reference_quantile() -> None:
    ref = np.arange(100) / 100  # k = 5: the cutoff is 0.04
    none_below = get_test("coverage_gap")(ref, np.full(50, 0.04))
    assert none_below.statistic == 0 and none_below.p_value == 1.0
    many_below = get_test("coverage_gap")(ref, np.r_[np.full(40, 0.5), np.zeros(10)])
    assert many_below.statistic == 10 and many_below.details["cutoff"] == 0.04
    assert many_below.effect_size == pytest.approx(10 / 50 - 5 / 101) and many_below.drift


def test_confidence_higher_scores_are_not_drift() -> None:
    rng = np.random.default_rng(0)
    result = get_test("confidence")(rng.random(300), rng.random(300) + 0.5)
    assert not result.drift and result.effect_size < -0.5


def test_psi_handles_discrete_and_constant_features() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.poisson(8, 500)
    assert not get_test("psi")(lengths, rng.poisson(8, 400)).drift
    longer = get_test("psi", threshold=0.1)(lengths, rng.poisson(12, 400))
    assert longer.drift and longer.effect_size > 0.25
    flat = get_test("psi")(np.zeros(50), np.zeros(50))
    assert flat.p_value == 1.0 and flat.effect_size == 0.0


def test_chi2_reports_unseen_categories_and_is_calibrated_with_rare_ones() -> None:
    rng = np.random.default_rng(0)
    langs, probs = ["en", "fr", "de", "it", "pt"], [0.85, 0.08, 0.04, 0.02, 0.01]
    ref = rng.choice(langs, 300, p=probs)
    new = get_test("chi2")(ref, np.r_[rng.choice(langs, 255, p=probs), ["ja"] * 45])
    assert new.drift and new.details["unseen_categories"] == {"ja": pytest.approx(0.15)}
    results = [get_test("chi2", n_permutations=500, seed=s)(rng.choice(langs, 100, p=probs),
                                                            rng.choice(langs, 100, p=probs))
               for s in range(200)]
    assert {r.details["method"] for r in results} == {"monte_carlo"}
    assert sum(r.drift for r in results) <= max_false_alarms(200, 0.05)


def test_nearest_neighbor_distance_matches_brute_force() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=(50, 8)) * 3.0  # not normalised
    unit = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in (x, y)]
    cos = unit[0] @ unit[1].T
    np.testing.assert_allclose(nearest_neighbor_distance(x, y, chunk_size=7), 1 - cos.max(1))
    loo = nearest_neighbor_distance(y, y, exclude_self=True)
    assert loo.min() > 1e-6 and nearest_neighbor_distance(y, y).max() < 1e-9
    with pytest.raises(ValueError, match="zero vector"):
        nearest_neighbor_distance(np.zeros((2, 8)), y)


def test_run_tests_skips_only_when_data_is_short() -> None:
    rng = np.random.default_rng(0)
    plan = [("psi:len", get_test("psi"), rng.random(100), rng.random(100)),
            ("confidence", get_test("confidence"), rng.random(100), rng.random(3))]
    results, skipped = run_tests(plan)
    assert list(results) == ["psi:len"] and "confidence" in skipped
    with pytest.raises(ValueError, match="NaN"):
        run_tests([("psi", get_test("psi"), rng.random(100), np.full(100, np.nan))])
