"""The drift family (tasks/drift/plan.py) and the query features: skipping rules, Holm, novelty validity."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tasks.config.loader import load_config
from tasks.drift.stattests.synthetic import EmbeddingWorld, shifted_pair
from tasks.drift.config import DriftConfig
from tasks.querylogs.features import (
    logged_top1,
    novelty_scores,
    oov_rates,
    vocabulary,
    word_counts,
)
from tasks.drift.plan import (
    SharedInputs,
    WindowFeatures,
    build_plan,
    explain_decision,
    make_test,
    result_rows,
    run_family,
)
from tasks.vectorize import query_key

WORLD = EmbeddingWorld.create(seed=0)
FAST = ["tests.mmd.params.n_permutations=300"]


@pytest.fixture(autouse=True, scope="module")
def single_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def window(vectors: np.ndarray, rng: np.random.Generator, shift: float = 0.0, language: str = "script:latin"
           ) -> WindowFeatures:
    n = len(vectors)
    scalars = {"query_length": rng.poisson(12, n).astype(float), "oov_rate": rng.beta(1, 20, n),
               "top1_score": rng.normal(0.65 - shift, 0.1, n)}
    return WindowFeatures([f"q{i}" for i in range(n)], vectors, scalars, np.array([language] * n, dtype=object))


def pair(share: float, seed: int, n: int = 200) -> tuple[WindowFeatures, WindowFeatures]:
    rng = np.random.default_rng(seed)
    ref, cur, _ = shifted_pair(WORLD, n, share, rng)
    return window(ref, rng), window(cur, rng, shift=0.15 * share)


def test_unavailable_constant_and_small_inputs_are_skipped_with_their_reason() -> None:
    cfg = load_config(DriftConfig, None, FAST)
    ref, cur = pair(0.0, 1)
    shared = SharedInputs(golden=None, unavailable={"top1_score": "no index has been published yet"})
    plan, skipped = build_plan(cfg, ref, cur, shared)
    assert skipped == {"language": "language is script:latin for every query of both windows: nothing can differ",
                       "confidence": "no index has been published yet",
                       "coverage_gap": "no index has been published yet", "golden_staleness": "no golden set",
                       "corpus_drift": "no new documents to compare with the index",
                       "feedback": "no feedback in the query log"}
    assert [label for label, *_ in plan] == ["mmd", "classifier", "pca_ks", "query_length", "oov_rate", "novelty"]
    assert all(test.alpha == cfg.alpha for _, test, *_ in plan)
    small = run_family(cfg, WindowFeatures(ref.texts[:10], ref.vectors[:10], {}), cur, shared)
    assert not small.decision.drift and "need at least 20 samples per side" in small.skipped["mmd"]


def test_family_is_calm_on_a_and_a_and_flags_a_new_topic_with_reasons() -> None:
    cfg = load_config(DriftConfig, None, FAST)
    golden = WORLD.sample(60, [0, 1, 2, 3, 4], np.random.default_rng(5))[0]
    calm = run_family(cfg, *pair(0.0, 2), SharedInputs(golden=golden))
    assert not calm.decision.drift and len(calm.results) == 9
    assert explain_decision(calm, None).startswith("no drift: smallest Holm-adjusted p-value")
    moved = run_family(cfg, *pair(0.3, 3), SharedInputs(golden=golden))
    rows = {r["name"]: r for r in result_rows(moved)}
    assert moved.decision.drift and rows["mmd"]["drift"] and rows["novelty"]["drift"]
    assert rows["mmd"]["p_holm"] >= rows["mmd"]["p_value"]
    assert explain_decision(moved, None).startswith("drift: ") and "rejected by Holm over 9 tests" in \
        explain_decision(moved, None)


def test_seed_and_alpha_come_from_the_config_unless_a_test_sets_them() -> None:
    cfg = load_config(DriftConfig, None, [*FAST, "seed=7", "alpha=0.01", "tests.classifier.params.seed=3"])
    plan, _ = build_plan(cfg, *pair(0.0, 4), SharedInputs())
    tests = {label: test for label, test, *_ in plan}
    assert tests["mmd"].seed == 7 and tests["classifier"].seed == 3 and tests["query_length"].alpha == 0.01


def test_novelty_split_is_seeded_and_has_a_valid_null() -> None:
    rng = np.random.default_rng(0)
    ref, cur, _ = shifted_pair(WORLD, 300, 0.0, rng)
    a = novelty_scores(ref, cur, 1 / 3, seed=1)
    assert len(a[0]) == 100 and len(a[1]) == 300
    assert np.array_equal(a[0], novelty_scores(ref, cur, 1 / 3, seed=1)[0])
    cfg = load_config(DriftConfig, None, FAST)
    test = make_test(cfg.tests["novelty"], cfg)
    p_values = []
    for seed in range(200):  # A/A: the beta-binomial null on held-out vs current similarities
        r, c, _ = shifted_pair(WORLD, 120, 0.0, np.random.default_rng(100 + seed))
        p_values.append(test(*novelty_scores(r, c, 1 / 3, seed)).p_value)
    assert np.mean(np.array(p_values) <= 0.05) <= 0.1  # binomial 99.9% bound for 200 trials at 5% is ~0.1
    r, c, _ = shifted_pair(WORLD, 120, 0.3, np.random.default_rng(9))
    assert test(*novelty_scores(r, c, 1 / 3, 0)).p_value < 0.01


def test_scalar_features() -> None:
    vocab = vocabulary(["Vitamin D lowers the risk", "of fractures in 2020"])
    assert vocab == frozenset({"vitamin", "d", "lowers", "the", "risk", "of", "fractures", "in"})
    assert oov_rates(["vitamin D and tempeh", "", "12 34"], vocab).tolist() == [0.5, 0.0, 0.0]
    assert word_counts(["a b  c", "one"]).tolist() == [3.0, 1.0]
    assert query_key("x") != query_key("x ") and len(query_key("x")) == 64
    assert np.array_equal(logged_top1([[0.5, 0.8], None, []]), [0.8, np.nan, np.nan], equal_nan=True)
