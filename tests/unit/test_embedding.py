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
