"""The cross-encoder rerank stage on a tiny random BERT cross-encoder built here (no weights exist offline)."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch

from tasks.benchmark.config import RerankerConfig
from tasks.rerank import CrossEncoder, RerankingRetriever, reranker_fingerprint

WORDS = ("the of and in to is cell cells protein gene cancer patients study risk vitamin bone "
         "fracture deficiency cholesterol statins trial mice").split()


def build_tiny_cross_encoder(folder: Path, seed: int = 0) -> Path:
    """A 2-layer, hidden-32 BERT sequence classifier (one logit) and its WordPiece tokenizer."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = list(dict.fromkeys(specials + list(string.ascii_lowercase)
                               + [f"##{c}" for c in string.ascii_lowercase] + WORDS))
    tokenizer = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)})
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1, initializer_range=0.5)
    BertForSequenceClassification(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class FixedRetriever:
    """A first stage that returns a fixed run (the reranker's input)."""

    name = "fixed"

    def __init__(self, run):
        self.run = run

    def retrieve(self, queries, depth):
        return {q: dict(self.run[q]) for q in queries}


TEXTS = {"d1": "vitamin deficiency and bone fracture", "d2": "statins and cholesterol trial",
         "d3": "gene study in mice", "d4": "cancer patients risk", "d5": "the protein of cells"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce"))


def test_tiny_cross_encoder_loads_and_scores_like_the_model(tiny):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cfg = RerankerConfig(model=str(tiny), max_length=64, batch_size=2)
    encoder = CrossEncoder(cfg)
    scores = encoder.score("vitamin bone", list(TEXTS.values()))
    tok, model = AutoTokenizer.from_pretrained(str(tiny)), AutoModelForSequenceClassification.from_pretrained(str(tiny))
    with torch.inference_mode():
        batch = tok(["vitamin bone"] * 5, list(TEXTS.values()), padding=True, return_tensors="pt")
        expected = model.eval()(**batch).logits[:, 0].numpy()
    assert scores.shape == (5,)
    assert scores == pytest.approx(expected, abs=1e-5)  # batching/padding does not change a score
    assert len(set(scores.round(4))) > 1  # a random model still separates the documents


def test_rerank_reorders_the_head_and_keeps_the_tail_below(tiny):
    encoder = CrossEncoder(RerankerConfig(model=str(tiny), max_length=64))
    first = FixedRetriever({"q": {"d1": 5.0, "d2": 4.0, "d3": 3.0, "d4": 2.0, "d5": 1.0}})
    run = RerankingRetriever(first, encoder, TEXTS, top_k=3).retrieve({"q": "vitamin bone"}, depth=5)["q"]
    scores = encoder.score("vitamin bone", [TEXTS[d] for d in ("d1", "d2", "d3")])
    head = [d for _, d in sorted(zip(scores, ("d1", "d2", "d3")), reverse=True)]
    ranking = sorted(run, key=run.get, reverse=True)
    assert ranking[:3] == head
    assert ranking[3:] == ["d4", "d5"]  # first-stage order, below every reranked document


def test_fingerprint_follows_the_weights_and_the_stage_settings(tiny, tmp_path):
    cfg = RerankerConfig(model=str(tiny))
    assert reranker_fingerprint(cfg) == reranker_fingerprint(RerankerConfig(model=str(tiny), batch_size=7))
    assert reranker_fingerprint(cfg) != reranker_fingerprint(RerankerConfig(model=str(tiny), top_k=10))
    other = build_tiny_cross_encoder(tmp_path / "other", seed=1)
    assert reranker_fingerprint(cfg) != reranker_fingerprint(RerankerConfig(model=str(other)))


def test_missing_model_is_a_clear_error(tmp_path):
    from tasks.model_files import ModelNotFound

    with pytest.raises(ModelNotFound, match="neither a packaged model"):
        CrossEncoder(RerankerConfig(model=str(tmp_path / "no-such-model")))
