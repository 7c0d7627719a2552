"""The optional rerank stage (benchmark candidates and the retriever spec of an index): any Hugging Face cross-encoder (``AutoModelForSequenceClassification``).

The first stage's top ``top_k`` documents per query are re-scored on ``(query, title + " " + text)``
pairs; the documents below ``top_k`` keep their first-stage order underneath. A one-logit model's
logit is the score (MS MARCO cross-encoders); with two or more labels, the last label's logit.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveInt

from tasks.documents import sha256_text
from tasks.model_files import resolve_model_path, sha256_file

Run = dict[str, dict[str, float]]
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
_TOKENIZER = ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "config.json")


class RerankerConfig(BaseModel):
    """A cross-encoder (any ``AutoModelForSequenceClassification``) re-scoring the top documents."""

    model_config = ConfigDict(extra="forbid")

    model: str  # a local folder or an HF id already in the local cache
    top_k: PositiveInt = 100  # documents re-scored per query; the rest keep their order below
    batch_size: PositiveInt = 32
    max_length: PositiveInt = 512  # query + document tokens (the document is truncated)
    num_threads: int | None = None


def reranker_fingerprint(cfg: RerankerConfig) -> str:
    """sha256 of the weights, the tokenizer and model config files, and the stage's settings."""
    folder = resolve_model_path(cfg.model)
    files = {name: sha256_file(folder / name) for name in (*_WEIGHTS, *_TOKENIZER) if (folder / name).is_file()}
    settings = cfg.model_dump(mode="json", exclude={"model", "batch_size", "num_threads"})
    return sha256_text(json.dumps({"name": Path(cfg.model).name, "files": files, **settings}, sort_keys=True))[:16]


class CrossEncoder:
    def __init__(self, cfg: RerankerConfig) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        folder = resolve_model_path(cfg.model)
        self.cfg, self.threads = cfg, cfg.num_threads or os.cpu_count() or 1
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()

    def score(self, query: str, texts: list[str]) -> np.ndarray:
        """Relevance of each text to the query (higher is better)."""
        import torch

        from tasks.threads import pin_threads

        pin_threads(self.threads)
        out = []
        for start in range(0, len(texts), self.cfg.batch_size):
            part = texts[start:start + self.cfg.batch_size]
            batch = self.tokenizer([query] * len(part), part, padding=True, truncation="only_second",
                                   max_length=self.cfg.max_length, return_tensors="pt")
            with torch.inference_mode():
                logits = self.model(**batch).logits
            out.append(logits[:, -1].float().numpy())
        return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


@lru_cache(maxsize=2)
def load_cross_encoder(cfg_json: str) -> CrossEncoder:
    return CrossEncoder(RerankerConfig.model_validate_json(cfg_json))


class RerankingRetriever:
    """A first-stage retriever followed by a cross-encoder over its top ``top_k`` documents."""

    def __init__(self, first: Any, encoder: CrossEncoder, doc_texts: Mapping[str, str], top_k: int) -> None:
        self.first, self.encoder, self.doc_texts, self.top_k = first, encoder, doc_texts, top_k
        self.name = f"{getattr(first, 'name', 'retriever')}+rerank"

    def retrieve(self, queries: dict[str, str], depth: int) -> Run:
        from tasks.scoring import rank_documents

        out: Run = {}
        for qid, docs in self.first.retrieve(queries, depth).items():
            ranked = rank_documents(docs)
            head, tail = ranked[:self.top_k], ranked[self.top_k:]
            scores = self.encoder.score(queries[qid], [self.doc_texts[d] for d in head])
            # Reranked head above the tail; the tail keeps its first-stage order.
            floor = float(scores.min()) if len(head) else 0.0
            run = {d: float(s) for d, s in zip(head, scores)}
            run.update({d: floor - 1.0 - i for i, d in enumerate(tail)})
            out[qid] = run
        return out
