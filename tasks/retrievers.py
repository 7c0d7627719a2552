"""Retrieval modes over one set of chunks: dense (FAISS), BM25 (bm25s) and hybrid (fusion).

Every retriever answers at the document level: chunk hits are max-pooled to their document
(``fusion.chunks_to_docs``), so runs can be scored against document qrels. The benchmark and the
evaluate flow both build their retrievers here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, Protocol, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tasks.fusion import chunks_to_docs, fuse_scores, rrf, to_run
from tasks.indexing import search as faiss_search
from tasks.registry import Registry
from tasks.rerank import RerankerConfig

Run = dict[str, dict[str, float]]


class Bm25Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    k1: float = 0.9
    b: float = 0.4
    stemmer: str | None = "porter"
    stopwords: str | None = "en"


class RetrievalConfig(BaseModel):
    """How queries are answered. ``hybrid`` fuses the dense and BM25 runs."""

    model_config = ConfigDict(extra="forbid")

    mode: str = "dense"  # a name in RETRIEVAL_MODES
    depth: int = Field(100, ge=1)  # documents returned per query
    chunk_depth: int = Field(300, ge=1)  # chunks fetched before pooling to documents
    fusion: Literal["rrf", "zscore", "minmax"] = "rrf"
    rrf_k: float = 60.0
    dense_weight: float = Field(1.0, ge=0)
    bm25_weight: float = Field(1.0, ge=0)
    bm25: Bm25Config = Field(default_factory=Bm25Config)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        return RETRIEVAL_MODES.check(value)

    def label(self) -> str:
        if self.mode != "hybrid":
            return self.mode
        return f"hybrid-{self.fusion}-{self.dense_weight:g}:{self.bm25_weight:g}"


class RetrieverSpec(RetrievalConfig):
    """What an index serves (``retriever:`` in configs/reindex.yaml; recorded in the manifest)."""

    per_document: bool = True  # one hit per document (its best chunk); false: chunks
    rerank: RerankerConfig | None = None  # a cross-encoder over the top ``rerank.top_k``
    max_k: int = Field(1000, ge=1)

    @model_validator(mode="after")
    def _depths(self) -> "RetrieverSpec":
        if self.chunk_depth < self.depth and not self.per_document:
            raise ValueError(f"chunk_depth {self.chunk_depth} must be >= depth {self.depth} when per_document is false")
        return self


def spec_of(manifest: Any, fallback: RetrievalConfig | None = None) -> RetrieverSpec:
    """The manifest's spec; an index written before specs existed serves ``fallback`` (default: dense)."""
    if getattr(manifest, "retriever", None):
        return RetrieverSpec.model_validate(manifest.retriever)
    return RetrieverSpec.model_validate((fallback or RetrievalConfig()).model_dump())


class Retriever(Protocol):
    name: str

    def retrieve(self, queries: dict[str, str], depth: int) -> Run: ...


class DenseRetriever:
    """Embed queries, search the FAISS index over chunk vectors, pool chunks to documents."""

    name = "dense"

    def __init__(self, index: Any, chunk_ids: Sequence[str], doc_ids: Sequence[str], embedder: Any,
                 chunk_depth: int = 300, threads: int = 1) -> None:
        self.index, self.embedder, self.chunk_depth, self.threads = index, embedder, chunk_depth, threads
        self.chunk_ids = list(chunk_ids)
        self.chunk_to_doc = dict(zip(self.chunk_ids, doc_ids))

    def retrieve(self, queries: dict[str, str], depth: int) -> Run:
        qids = list(queries)
        if not qids:
            return {}
        vectors = self.embedder.encode([queries[q] for q in qids], kind="query")
        scores, rows = faiss_search(self.index, vectors, self.chunk_depth, self.threads)
        chunk_run = {qid: {self.chunk_ids[r]: float(s) for s, r in zip(srow, rrow) if r >= 0}
                     for qid, srow, rrow in zip(qids, scores.tolist(), rows.tolist())}
        return _cut(chunks_to_docs(chunk_run, self.chunk_to_doc), depth)


class Bm25Retriever:
    """BM25 over the same chunk texts, pooled to documents."""

    name = "bm25"

    def __init__(self, chunk_ids: Sequence[str], doc_ids: Sequence[str], texts: Sequence[str],
                 cfg: Bm25Config | None = None, chunk_depth: int = 300) -> None:
        from tasks.lexical import Bm25Index

        cfg = cfg or Bm25Config()
        self.chunk_depth = chunk_depth
        self.chunk_to_doc = dict(zip(chunk_ids, doc_ids))
        self.index = Bm25Index.build(list(chunk_ids), list(texts), k1=cfg.k1, b=cfg.b,
                                     stemmer=cfg.stemmer, stopwords=cfg.stopwords)

    def retrieve(self, queries: dict[str, str], depth: int) -> Run:
        qids = list(queries)
        hits = self.index.search([queries[q] for q in qids], k=self.chunk_depth) if qids else []
        return _cut(chunks_to_docs(to_run(qids, hits), self.chunk_to_doc), depth)


class HybridRetriever:
    """Fuse the document runs of several retrievers (reciprocal-rank or normalised-score fusion)."""

    def __init__(self, parts: Sequence[Retriever], weights: Sequence[float], fusion: str = "rrf",
                 rrf_k: float = 60.0) -> None:
        self.parts, self.weights, self.fusion, self.rrf_k = list(parts), list(weights), fusion, rrf_k
        self.name = "hybrid"

    def retrieve(self, queries: dict[str, str], depth: int) -> Run:
        runs = [p.retrieve(queries, depth) for p in self.parts]
        if self.fusion == "rrf":
            return rrf(runs, self.weights, k=self.rrf_k, top_k=depth)
        return fuse_scores(runs, self.weights, norm=self.fusion, top_k=depth)


class RetrieverParts:
    """The stages a retrieval mode can combine, built on demand over one chunk set."""

    def __init__(self, cfg: RetrievalConfig, *, chunk_ids: Sequence[str], doc_ids: Sequence[str],
                 texts: Sequence[str], index: Any = None, embedder: Any = None, threads: int = 1) -> None:
        self.cfg, self.chunk_ids, self.doc_ids, self.texts = cfg, chunk_ids, doc_ids, texts
        self.index, self.embedder, self.threads = index, embedder, threads

    def dense(self) -> DenseRetriever:
        if self.index is None or self.embedder is None:
            raise ValueError(f"retrieval mode {self.cfg.mode!r} needs a FAISS index and an embedder")
        return DenseRetriever(self.index, self.chunk_ids, self.doc_ids, self.embedder, self.cfg.chunk_depth,
                              self.threads)

    def bm25(self) -> Bm25Retriever:
        return Bm25Retriever(self.chunk_ids, self.doc_ids, self.texts, self.cfg.bm25, self.cfg.chunk_depth)


def _hybrid(cfg: RetrievalConfig, parts: RetrieverParts) -> Retriever:
    return HybridRetriever([parts.dense(), parts.bm25()], [cfg.dense_weight, cfg.bm25_weight], cfg.fusion, cfg.rrf_k)


# The retrieval modes (``retrieval.mode``; ``grid.retrieval`` in the benchmark): one entry each.
RETRIEVAL_MODES: Registry[Callable[[RetrievalConfig, RetrieverParts], Retriever]] = Registry("retrieval mode", {
    "dense": lambda cfg, parts: parts.dense(),
    "bm25": lambda cfg, parts: parts.bm25(),
    "hybrid": _hybrid,
})


def build_retriever(cfg: RetrievalConfig, *, chunk_ids: Sequence[str], doc_ids: Sequence[str],
                    texts: Sequence[str], index: Any = None, embedder: Any = None,
                    threads: int = 1) -> Retriever:
    """The retriever for ``cfg.mode`` over one chunk set (``index``/``embedder`` needed unless bm25)."""
    parts = RetrieverParts(cfg, chunk_ids=chunk_ids, doc_ids=doc_ids, texts=texts, index=index,
                           embedder=embedder, threads=threads)
    return RETRIEVAL_MODES.lookup(cfg.mode)(cfg, parts)


def retriever_for_index(cfg: RetrievalConfig, loaded: Any, embedder: Any, threads: int = 1) -> Retriever:
    """A retriever over a loaded index artifact (``tasks.index_artifact.LoadedIndex``)."""
    frame = loaded.chunks
    return build_retriever(cfg, chunk_ids=frame["id"].astype(str).tolist(),
                           doc_ids=frame["doc_id"].astype(str).tolist(), texts=frame["text"].tolist(),
                           index=loaded.index, embedder=embedder, threads=threads)


def query_latencies_ms(retriever: Retriever, queries: dict[str, str], depth: int = 10,
                       n: int = 50, seed: int = 0) -> np.ndarray:
    """Wall-clock milliseconds of single-query retrieval (embedding + search) on a seeded sample."""
    import time

    qids = sorted(queries)
    if not qids:
        return np.zeros(0)
    rng = np.random.default_rng(seed)
    sample = [qids[i] for i in rng.choice(len(qids), size=min(n, len(qids)), replace=False)]
    retriever.retrieve({sample[0]: queries[sample[0]]}, depth)  # warm-up
    out = []
    for qid in sample:
        start = time.perf_counter()
        retriever.retrieve({qid: queries[qid]}, depth)
        out.append((time.perf_counter() - start) * 1000)
    return np.asarray(out)


def _cut(run: Run, depth: int) -> Run:
    from tasks.scoring import rank_documents

    return {qid: {d: docs[d] for d in rank_documents(docs, depth)} for qid, docs in run.items()}
