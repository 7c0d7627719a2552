"""The grid as candidates: one per combination of registry names, fingerprinted, duplicates dropped.

A candidate's fingerprint = embedder fingerprint + chunking fingerprint + index spec + retrieval
config (+ reranker fingerprint). Axes a candidate does not use are left out: BM25 needs no embedder
and no FAISS index, only the chunks, which depend on the chunking config and on the tokenizer
(chunk sizes are counted in the embedder's tokens). So ``bm25`` over the same chunks is one
candidate however many embedders and indexes the grid lists.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any, Callable

from tasks.benchmark.config import NONE, BenchmarkConfig, RerankerConfig
from tasks.chunking import ChunkingConfig
from tasks.documents import sha256_text
from tasks.embedding import EmbedderConfig, resolve_embedder_config
from tasks.indexing import IndexConfig
from tasks.retrievers import RetrievalConfig

BENCHMARK_VERSION = 1  # bump when a change in this package moves results for an unchanged candidate


@dataclass(frozen=True)
class Candidate:
    name: str
    embedder_name: str
    embedder: EmbedderConfig
    chunker_name: str
    chunking: ChunkingConfig
    index_name: str | None
    index: IndexConfig | None
    retrieval_name: str
    retrieval: RetrievalConfig
    reranker_name: str | None
    reranker: RerankerConfig | None
    fingerprint: str
    tokenization: str  # the tokenizer + token limit that sized the chunks

    @property
    def uses_dense(self) -> bool:
        return self.retrieval.mode in ("dense", "hybrid")

    def reindex_spec(self) -> dict[str, Any]:
        """This candidate as the sections of configs/reindex.yaml that build and serve it (``nightshift adopt``)."""
        retriever = {**self.retrieval.model_dump(mode="json"), "per_document": True,
                     "rerank": self.reranker.model_dump(mode="json") if self.reranker else None}
        return {"candidate": self.name, "fingerprint": self.fingerprint,
                "names": {"embedder": self.embedder_name, "chunker": self.chunker_name, "index": self.index_name,
                          "retrieval": self.retrieval_name, "reranker": self.reranker_name},
                "retriever": retriever, "embedder": self.embedder.model_dump(mode="json", exclude_defaults=True),
                "chunking": self.chunking.model_dump(mode="json"),
                "index": self.index.model_dump(mode="json", exclude_defaults=True) if self.index else None}

    def params(self) -> dict[str, Any]:
        """What MLflow logs as the child run's params."""
        out: dict[str, Any] = {"candidate": self.name, "fingerprint": self.fingerprint,
                               "chunker": self.chunker_name, "chunking": self.chunking.model_dump(mode="json"),
                               "retrieval": {"name": self.retrieval_name, **self.retrieval.model_dump(mode="json")},
                               "tokenizer_of": self.embedder_name}
        if self.uses_dense:
            out["embedder"] = {"name": self.embedder_name, **self.embedder.model_dump(mode="json")}
            out["index"] = {"name": self.index_name, **self.index.model_dump(mode="json")}
        if self.reranker is not None:
            out["reranker"] = {"name": self.reranker_name, **self.reranker.model_dump(mode="json")}
        return out


def embedder_config(config: BenchmarkConfig, name: str) -> EmbedderConfig:
    """A registry entry, else a preset / local folder / cached HF id of that name."""
    entry = config.registry.embedders.get(name)
    return resolve_embedder_config(entry if entry is not None else name)


def expand_grid(config: BenchmarkConfig, embedder_fingerprint: Callable[[str], str],
                tokenization_key: Callable[[str], str],
                reranker_fingerprint: Callable[[RerankerConfig], str]) -> list[Candidate]:
    """Every combination of ``config.grid`` names, in grid order, without duplicates.

    The callables give the fingerprints that need the model files (loaded once per name by the caller).
    """
    grid, reg = config.grid, config.registry
    tokenizations = {tokenization_key(e) for e in grid.embedders}
    seen: set[str] = set()
    out: list[Candidate] = []
    for emb, chunk, idx, ret, rr in itertools.product(grid.embedders, grid.chunkers, grid.indexes,
                                                      grid.retrieval, grid.rerankers):
        retrieval, reranker = reg.retrieval[ret], None if rr == NONE else reg.rerankers[rr]
        dense = retrieval.mode in ("dense", "hybrid")
        parts: dict[str, Any] = {
            "version": BENCHMARK_VERSION, "chunking": reg.chunkers[chunk].fingerprint(),
            "tokenization": tokenization_key(emb), "retrieval": retrieval.model_dump(mode="json"),
            "embedder": embedder_fingerprint(emb) if dense else None,
            "index": reg.indexes[idx].model_dump(mode="json") if dense else None,
            "reranker": reranker_fingerprint(reranker) if reranker is not None else None}
        fingerprint = sha256_text(json.dumps(parts, sort_keys=True))[:20]
        if fingerprint in seen:
            continue
        seen.add(fingerprint)
        label = ([emb] if dense else []) + [chunk] + ([idx] if dense else []) + [ret]
        name = "/".join(label) + (f"+{rr}" if reranker is not None else "")
        if not dense and len(tokenizations) > 1:
            name += f"@{emb}"
        out.append(Candidate(name, emb, embedder_config(config, emb), chunk, reg.chunkers[chunk],
                             idx if dense else None, reg.indexes[idx] if dense else None, ret,
                             retrieval, rr if reranker is not None else None, reranker, fingerprint,
                             tokenization_key(emb)))
    return out
