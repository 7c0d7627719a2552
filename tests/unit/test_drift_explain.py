"""Explaining drift: far current queries, their clusters and example texts; the 2-D map."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tasks.drift.explain import explain_drift, project_2d
from tasks.drift.stattests.synthetic import EmbeddingWorld, shifted_pair

WORLD = EmbeddingWorld.create(seed=0)


@pytest.fixture(autouse=True, scope="module")
def single_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def texts_for(ids: np.ndarray) -> list[str]:
    return [f"topic{k} query {i}" for i, k in enumerate(ids)]


def test_aa_windows_have_about_the_expected_share_of_far_queries() -> None:
    shares = []
    for seed in range(5):
        ref, cur, ids = shifted_pair(WORLD, 300, 0.0, np.random.default_rng(seed))
        shares.append(explain_drift(ref, cur, texts_for(ids)).far_share)
    assert 0.02 <= np.mean(shares) <= 0.09, shares


def test_one_new_topic_is_one_cluster_with_its_texts_as_examples() -> None:
    ref, cur, ids = shifted_pair(WORLD, 300, 0.2, np.random.default_rng(0))
    result = explain_drift(ref, cur, texts_for(ids))
    assert result.far_share > 3 * result.expected_share
    top = result.clusters[0]
    assert len(top.examples) == 3 and all(t.startswith("topic7") for t in top.examples)
    assert np.mean(ids[list(top.indices)] == 7) >= 0.7
    assert sum(c.size for c in result.clusters) == result.n_far
    assert top.size == max(c.size for c in result.clusters)


def test_two_new_topics_give_two_clusters() -> None:
    rng = np.random.default_rng(0)
    ref, _ = WORLD.sample(300, [0, 1, 2, 3, 4], rng)
    parts = [WORLD.sample(240, [0, 1, 2, 3, 4], rng), WORLD.sample(30, [6], rng),
             WORLD.sample(30, [7], rng)]
    cur, ids = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    result = explain_drift(ref, cur, texts_for(ids), max_clusters=5)
    assert 2 <= len(result.clusters) <= 5
    topics = {result.clusters[i].examples[0].split()[0] for i in range(2)}
    assert topics == {"topic6", "topic7"}


def test_reproducible_and_inputs_untouched() -> None:
    ref, cur, ids = shifted_pair(WORLD, 200, 0.2, np.random.default_rng(1))
    copies = ref.copy(), cur.copy()
    ref.flags.writeable = cur.flags.writeable = False
    texts = texts_for(ids)
    assert explain_drift(ref, cur, texts, seed=3) == explain_drift(ref, cur, texts, seed=3)
    a_ref, a_cur = project_2d(ref, cur, seed=3)
    b_ref, b_cur = project_2d(ref, cur, seed=3)
    np.testing.assert_array_equal(a_cur, b_cur)
    assert np.array_equal(ref, copies[0]) and np.array_equal(cur, copies[1])
    assert not ref.flags.writeable and not cur.flags.writeable


def test_validation() -> None:
    ref, cur, ids = shifted_pair(WORLD, 50, 0.0, np.random.default_rng(2))
    with pytest.raises(ValueError, match="texts has 3 items"):
        explain_drift(ref, cur, ["a", "b", "c"])
    with pytest.raises(ValueError, match="mismatch"):
        explain_drift(ref, cur[:, :10], texts_for(ids))


def test_project_2d_is_one_pca_map_for_both_windows() -> None:
    ref, cur, _ = shifted_pair(WORLD, 300, 0.2, np.random.default_rng(0))
    cur = cur.copy()
    cur[:5] = ref[:5]  # the same query in both windows lands on the same point
    xy_ref, xy_cur = project_2d(ref, cur, seed=0)
    assert xy_ref.shape == (300, 2) and xy_cur.shape == (300, 2)
    np.testing.assert_allclose(xy_cur[:5], xy_ref[:5], atol=1e-9)
    pooled = np.concatenate([xy_ref, xy_cur])
    np.testing.assert_allclose(pooled.mean(axis=0), 0.0, atol=1e-9)  # centred on the pool
    assert pooled[:, 0].var() >= pooled[:, 1].var() > 0
