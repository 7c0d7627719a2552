import numpy as np
import pytest

from tasks.embedding import EmbedderConfig, load_embedder, resolve_embedder_config
from tasks.model_files import ModelNotFound, resolve_model_path

TEXTS = ["hello world", "Vitamin D deficiency is associated with fractures in older adults.", "x " * 400]


@pytest.fixture(scope="module")
def minilm():
    return load_embedder("all-MiniLM-L6-v2")


def test_matches_sentence_transformers_and_is_normalised(minilm):
    from sentence_transformers import SentenceTransformer

    from tasks.model_files import locate_packaged_model

    reference = SentenceTransformer(str(locate_packaged_model("all-MiniLM-L6-v2")), device="cpu")
    ours = minilm.encode(TEXTS)
    theirs = reference.encode(TEXTS, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (3, 384)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_settings_come_from_the_model_config(minilm):
    assert minilm.max_tokens == 256 and minilm.settings.pooling == "mean" and minilm.settings.normalize
    assert minilm.counter.max_tokens == 254  # [CLS] and [SEP]


def test_order_and_batching_do_not_change_vectors(minilm):
    a = minilm.encode(TEXTS)
    b = minilm.encode(TEXTS[::-1])[::-1]
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_fingerprint_covers_prefix_and_length():
    base = load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2"))
    prefixed = load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2", query_prefix="query: "))
    shorter = load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2", max_tokens=64))
    assert len({base.fingerprint, prefixed.fingerprint, shorter.fingerprint}) == 3
    assert load_embedder("all-MiniLM-L6-v2").fingerprint == base.fingerprint  # deterministic
    q = prefixed.encode(["fractures"], kind="query")
    p = prefixed.encode(["fractures"], kind="passage")
    assert not np.allclose(q, p)


def test_int8_onnx_preset_is_close_to_torch(minilm):
    int8 = load_embedder("all-MiniLM-L6-v2-int8-onnx")
    cos = (int8.encode(TEXTS) * minilm.encode(TEXTS)).sum(axis=1)
    assert (cos > 0.98).all() and int8.fingerprint != minilm.fingerprint


def test_preset_fields_can_be_overridden():
    cfg = resolve_embedder_config(EmbedderConfig(model="all-MiniLM-L6-v2-int8-onnx", batch_size=8))
    assert cfg.backend == "onnx" and cfg.tokenizer == "all-MiniLM-L6-v2" and cfg.batch_size == 8


def test_unknown_model_says_what_to_do():
    with pytest.raises(ModelNotFound, match="nightshift runs offline"):
        resolve_model_path("no-such-org/no-such-model")


# The bf16 preset: same weights in bfloat16 (AMX on this CPU). Bound measured on SciFact texts:
# max |bf16 - fp32| per component ~3e-3, cosine >= 0.9999 (benchmarks/RESULTS.md "Embedding speed").
BF16_MAX_ABS_DIFF, BF16_MIN_COSINE = 1e-2, 0.999


def test_bf16_preset_is_another_embedder_close_to_fp32(minilm):
    from tests.conftest import scifact_records

    bf16 = load_embedder("all-MiniLM-L6-v2-bf16")
    assert bf16.fingerprint != minilm.fingerprint and bf16.backend == "torch-bfloat16" and minilm.backend == "torch"
    assert (bf16.dim, bf16.max_tokens, bf16.settings) == (minilm.dim, minilm.max_tokens, minilm.settings)
    texts = TEXTS + [r["title"] + " " + r["text"] for r in scifact_records(32)]
    for kind in ("passage", "query"):
        a, b = minilm.encode(texts, kind=kind), bf16.encode(texts, kind=kind)
        assert b.dtype == np.float32 and b.shape == a.shape
        np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
        diff = float(np.abs(a - b).max())
        assert 1e-5 < diff < BF16_MAX_ABS_DIFF  # really bf16 (not silently fp32), and close
        assert (a * b).sum(axis=1).min() > BF16_MIN_COSINE


def test_bf16_preset_loads_by_name_in_a_config_as_reindex_and_benchmark_do(minilm):
    from tasks.benchmark.candidates import embedder_config
    from tasks.benchmark.config import BenchmarkConfig
    from tasks.reindex.config import ReindexConfig

    by_name = load_embedder("all-MiniLM-L6-v2-bf16")
    # reindex.yaml `embedder: {model: all-MiniLM-L6-v2-bf16}` (and the manifest's copy the search loads)
    reindex_cfg = ReindexConfig.model_validate({"source": "x", "embedder": {"model": "all-MiniLM-L6-v2-bf16"}})
    assert load_embedder(reindex_cfg.embedder).fingerprint == by_name.fingerprint
    manifest_copy = resolve_embedder_config(reindex_cfg.embedder).model_dump()  # what the manifest stores
    assert load_embedder(EmbedderConfig.model_validate(manifest_copy)).fingerprint == by_name.fingerprint
    tuned = load_embedder(EmbedderConfig(model="all-MiniLM-L6-v2-bf16", batch_size=8))
    assert tuned.fingerprint == by_name.fingerprint and tuned.batch_size == 8  # batch size: speed, not vectors
    # `nightshift benchmark --model all-MiniLM-L6-v2-bf16` resolves the grid name the same way
    cfg = embedder_config(BenchmarkConfig(), "all-MiniLM-L6-v2-bf16")
    assert cfg.dtype == "bfloat16" and load_embedder(cfg).fingerprint == by_name.fingerprint
    assert load_embedder(embedder_config(BenchmarkConfig(), "all-MiniLM-L6-v2")).fingerprint == minilm.fingerprint
