"""Drift tests on real all-MiniLM-L6-v2 query embeddings (slow: loads the model, ~1.5k texts).

Run with ``pytest -m slow tests/unit/test_drift_real_embeddings.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tasks.drift.stattests import combine, get_test, run_tests
from tasks.drift.explain import explain_drift

pytestmark = pytest.mark.slow

TOPICS = {  # topic: (templates, verbs, objects) -> ~60-110 distinct support queries each
    "billing": (
        ["how do I {v} my {o}", "why was I charged twice for my {o}", "{o} {v} not working"],
        ["update", "cancel", "download", "change", "dispute", "view"],
        ["invoice", "subscription", "credit card", "payment method", "refund", "receipt"]),
    "account": (
        ["I forgot my {o}, how do I {v} it", "cannot {v} my {o}", "how to {v} {o} on my account"],
        ["reset", "change", "recover", "verify", "enable", "disable"],
        ["password", "username", "two-factor authentication", "login", "profile email"]),
    "shipping": (
        ["where is my {o}", "can I {v} my {o} to another address", "{o} arrived damaged, {v} it?"],
        ["ship", "redirect", "return", "deliver", "track"],
        ["order", "package", "parcel", "shipment", "international order"]),
    "api": (
        ["the {o} returns an error when I {v}", "how do I {v} with the {o}", "{o} timeout on {v}"],
        ["authenticate", "paginate", "upload", "query", "retry", "batch requests"],
        ["REST API", "Python SDK", "webhook endpoint", "GraphQL API", "client library"]),
    "vector_beta": (
        ["does the {o} support {v}", "how do I {v} in the new {o}", "enable {o} beta to {v}"],
        ["hybrid search", "reranking", "filter by metadata", "embed PDFs", "tune recall"],
        ["vector search beta", "semantic search feature", "embedding API", "RAG toolkit"]),
}
OLD = ["billing", "account", "shipping", "api"]


@pytest.fixture(scope="module")
def corpus() -> tuple[np.ndarray, np.ndarray, list[str]]:
    from tasks.embedding import load_embedder

    rows = [(topic, tpl.format(v=v, o=o)) for topic, (tpls, vs, os_) in TOPICS.items()
            for tpl, v, o in itertools.product(tpls, vs, os_)]
    texts = [text for _, text in rows]
    vectors = load_embedder("all-MiniLM-L6-v2").encode(texts, kind="query")
    return vectors, np.array([topic for topic, _ in rows]), texts


@pytest.fixture(autouse=True, scope="module")
def single_blas_thread() -> Iterator[None]:
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def windows(corpus, seed: int, new_share: float, n: int = 150):
    vectors, topics, texts = corpus
    rng = np.random.default_rng(seed)
    old = rng.permutation(np.flatnonzero(np.isin(topics, OLD)))
    n_new = int(new_share * n)
    new = rng.choice(np.flatnonzero(topics == "vector_beta"), n_new, replace=False)
    cur = np.r_[old[n:2 * n - n_new], new]
    return vectors[old[:n]], vectors[cur], [texts[i] for i in cur], topics[cur]


def test_real_embeddings_aa_calm_and_new_topic_flagged(corpus) -> None:
    golden = corpus[0][np.isin(corpus[1], OLD)][::10]
    tests = {"mmd": get_test("mmd"), "classifier": get_test("classifier"),
             "pca_ks": get_test("pca_ks"),
             "golden_staleness": get_test("golden_staleness", golden=golden)}
    for seed, share, expect in [(0, 0.0, False), (1, 0.0, False), (0, 0.25, True), (1, 0.25, True)]:
        ref, cur, _, _ = windows(corpus, seed, share)
        results, _ = run_tests([(k, t, ref, cur) for k, t in tests.items()])
        decision = combine(results)
        assert decision.drift is expect, (seed, share, decision.adjusted_p_values)


def test_real_embeddings_explanation_names_the_new_topic(corpus) -> None:
    ref, cur, texts, topics = windows(corpus, 0, 0.25)
    result = explain_drift(ref, cur, texts)
    top = result.clusters[0]
    assert result.far_share > 3 * result.expected_share
    assert np.mean(topics[list(top.indices)] == "vector_beta") >= 0.8, top.examples
