"""The single-query fast path (tasks/query_embedding.py) returns the batched path's vectors: real model, small data."""

import numpy as np
import pytest

from tasks.embedding import BatchedEmbedder, EmbedderConfig, load_embedder

ODD = ["x " * 400, "", "héllo wörld — 中文 🙂", "a", "Vitamin D deficiency is associated with fractures."]
MAX_ABS_DIFF = 1e-5  # measured ~2e-7 on the 300 SciFact queries (fp32)


@pytest.fixture(scope="module")
def minilm():
    return load_embedder("all-MiniLM-L6-v2")


@pytest.fixture(scope="module")
def queries():
    from pathlib import Path

    from tasks.datasets import load_beir

    data = load_beir(Path(__file__).resolve().parents[2] / "data" / "samples" / "scifact")
    return [data.queries[q] for q in sorted(data.queries)[:12]]


def one_by_one(embedder, texts):
    return np.concatenate([embedder.encode([t], kind="query") for t in texts])


def test_one_query_takes_the_fast_path_and_equals_the_batch(minilm, queries):
    import torch

    texts = queries + ODD
    batched = minilm.encode(texts, kind="query")
    single = one_by_one(minilm, texts)
    assert minilm._single is not None and isinstance(minilm._single.graph(), torch.jit.ScriptModule)
    assert single.dtype == np.float32 and single.shape == (len(texts), 384)
    assert float(np.abs(single - batched).max()) < MAX_ABS_DIFF
    np.testing.assert_allclose(np.linalg.norm(single, axis=1), 1.0, atol=1e-5)
    # the long text is cut at the model's 256 tokens, as the batched tokenizer call cuts it
    assert len(minilm._single.ids(ODD[0])) == minilm.max_tokens


def test_same_top_10_as_the_batched_path(minilm, queries):
    from tests.conftest import scifact_records

    docs = minilm.encode([r["title"] + " " + r["text"] for r in scifact_records(48)])
    batched = minilm.encode(queries, kind="query") @ docs.T
    single = one_by_one(minilm, queries) @ docs.T
    for b, s in zip(batched, single):
        assert list(np.argsort(-b, kind="stable")[:10]) == list(np.argsort(-s, kind="stable")[:10])


def test_thread_count_is_one_inside_and_restored_after(minilm):
    import torch

    from tasks.query_embedding import one_thread

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with one_thread():
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        minilm.encode(["statins and cholesterol"], kind="query")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_fingerprint_unchanged_and_prefix_and_pooling_follow_the_config(minilm):
    # same model and precision, same vectors: the fingerprint (cache key, manifest check) is the historical one
    assert load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2", backend="torch")).fingerprint == minilm.fingerprint
    for cfg in (EmbedderConfig(model="all-MiniLM-L6-v2", query_prefix="query: "),
                EmbedderConfig(model="all-MiniLM-L6-v2", pooling="cls"),
                EmbedderConfig(model="all-MiniLM-L6-v2", pooling="max")):
        e = load_embedder(cfg)
        single = one_by_one(e, ODD)
        assert float(np.abs(single - BatchedEmbedder.encode(e, ODD, kind="query")).max()) < MAX_ABS_DIFF
        assert float(np.abs(single - one_by_one(minilm, ODD)).max()) > 1e-3  # the option really changed the vector


def test_bf16_fast_path_keeps_bf16_vectors_and_its_own_fingerprint(minilm):
    bf16 = load_embedder("all-MiniLM-L6-v2-bf16")
    single = one_by_one(bf16, ODD)
    batched_one = np.concatenate([BatchedEmbedder.encode(bf16, [t], kind="query") for t in ODD])
    assert float(np.abs(single - batched_one).max()) < MAX_ABS_DIFF  # the same bf16 forward, unpadded
    assert float(np.abs(single - one_by_one(minilm, ODD)).max()) > 1e-5  # really bf16, not fp32
    assert bf16.fingerprint != minilm.fingerprint


def test_passages_and_batches_stay_on_the_batched_path():
    e = load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2", batch_size=16))  # its own instance
    e.encode(["one passage"], kind="passage")
    e.encode(["two", "queries"], kind="query")
    assert e._single is None
