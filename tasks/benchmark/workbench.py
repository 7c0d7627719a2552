"""The parts candidates share on one dataset, each built once: chunks, vectors, FAISS and BM25 indexes.

Vectors come from the shared vector cache (``<cache_dir>/vectors.sqlite``), so a rerun embeds
nothing; query vectors are cached there too (key = sha256 of ``"query"`` + text). Every part carries
the time and the peak memory its construction took, charged to each candidate that uses it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tasks.benchmark.candidates import Candidate
from tasks.benchmark.systems import (
    PeakMemory, Throughput, bm25_bytes, faiss_bytes, measure_throughput, pin_threads)
from tasks.datasets import BeirDataset
from tasks.documents import Chunk, Document


@dataclass
class Part:
    value: Any
    seconds: float = 0.0
    peak_rss: int = 0
    peak_delta: int = 0  # peak RSS over the RSS when its construction began
    nbytes: int = 0
    info: dict[str, Any] = field(default_factory=dict)


class CachedQueries:
    """An embedder whose query vectors come from the vector cache unless ``live`` (latency runs).

    Every call pins the OpenMP thread count first (``threads``; see ``systems.pin_threads``).
    """

    def __init__(self, embedder: Any, cache_path: Path, threads: int) -> None:
        self.inner, self.cache_path, self.threads = embedder, cache_path, threads
        self.live, self.n_embedded = False, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: list[str], kind: str = "passage") -> np.ndarray:
        pin_threads(self.threads)
        if kind != "query" or self.live:
            return self.inner.encode(texts, kind=kind)
        from tasks.vector_cache import VectorCache
        from tasks.vectorize import embed_queries

        with VectorCache(self.cache_path) as cache:
            vectors, stats = embed_queries(texts, self.inner, cache)
        self.n_embedded += stats["n_embedded"]
        return vectors


class Workbench:
    """Memoised parts for one dataset; ``counts`` sums what was embedded or reused."""

    def __init__(self, data: BeirDataset, documents: list[Document], cache_path: Path,
                 memory_interval_ms: int = 5) -> None:
        self.data, self.documents, self.cache_path = data, documents, cache_path
        self.interval = memory_interval_ms
        self.parts: dict[tuple, Part] = {}
        self.counts = {"n_embedded": 0, "n_reused": 0}
        self._queries: dict[str, CachedQueries] = {}

    def totals(self) -> dict[str, int]:
        """Chunks embedded / taken from the vector cache, and queries embedded, on this dataset."""
        return {**self.counts, "n_queries_embedded": sum(q.n_embedded for q in self._queries.values())}

    def _part(self, key: tuple, build: Callable[[], Part]) -> Part:
        if key not in self.parts:
            with PeakMemory(self.interval) as mem:
                start = time.perf_counter()
                part = build()
                part.seconds = part.seconds or time.perf_counter() - start
            part.peak_rss, part.peak_delta = mem.peak, mem.delta
            self.parts[key] = part
        return self.parts[key]

    def embedder(self, cand: Candidate) -> CachedQueries:
        from tasks.embedding import load_embedder

        inner = load_embedder(cand.embedder)
        threads = cand.embedder.num_threads or os.cpu_count() or 1
        return self._queries.setdefault(inner.fingerprint, CachedQueries(inner, self.cache_path, threads))

    def chunks(self, cand: Candidate) -> Part:
        from tasks.chunking import chunk_documents

        counter = self.embedder(cand).counter
        return self._part(("chunks", cand.tokenization, cand.chunking.fingerprint()),
                          lambda: Part(chunk_documents(self.documents, counter, cand.chunking)))

    def vectors(self, cand: Candidate) -> Part:
        embedder = self.embedder(cand)
        chunks = self.chunks(cand)
        return self._part(("vectors", embedder.fingerprint, cand.tokenization, cand.chunking.fingerprint()),
                          lambda: self._embed(embedder.inner, chunks.value, embedder.threads))

    def _embed(self, embedder: Any, chunks: list[Chunk], threads: int) -> Part:
        from tasks.vector_cache import VectorCache
        from tasks.vectorize import embed_chunks

        pin_threads(threads)
        with VectorCache(self.cache_path) as cache:
            matrix, stats = embed_chunks(chunks, embedder, cache, group_size=16 * embedder.batch_size)
        self.counts["n_embedded"] += stats.n_embedded
        self.counts["n_reused"] += stats.n_reused
        return Part(matrix, info=stats.as_dict())

    def throughput(self, cand: Candidate, n: int, seed: int) -> Throughput:
        embedder = self.embedder(cand)
        chunks = self.chunks(cand).value
        return self._part(("throughput", embedder.fingerprint, cand.tokenization, cand.chunking.fingerprint(), n, seed),
                          lambda: Part(measure_throughput(embedder.inner, chunks, n, seed, embedder.threads))).value

    def faiss(self, cand: Candidate) -> Part:
        from tasks.indexing import build_index, choose_index_spec, validate_index

        vectors = self.vectors(cand).value
        dim, cfg = vectors.shape[1], cand.index

        def build() -> Part:
            spec = choose_index_spec(len(vectors), dim, cfg)
            start = time.perf_counter()
            index = build_index(vectors, spec, seed=cfg.seed, threads=cfg.threads)
            seconds = time.perf_counter() - start
            queries = None
            if spec.kind != "flat":  # tuned as the reindex tunes, on the collection's queries (cached vectors)
                texts = list(self.data.queries.values())[: cfg.n_validation_queries]
                queries = self.embedder(cand).encode(texts, kind="query") if texts else None
            check = validate_index(index, vectors, cfg.min_recall_at_10, queries, "benchmark_queries",
                                   cfg.n_validation_queries, seed=cfg.seed, threads=cfg.threads,
                                   margin=cfg.tuning_margin)
            return Part(index, seconds, nbytes=faiss_bytes(index),
                        info={"index_spec": spec.describe(), "ann_recall_at_10": check.recall_at_10,
                              "ann_search_params": check.search_params})

        return self._part(("faiss", self.embedder(cand).fingerprint, cand.tokenization, cand.chunking.fingerprint(),
                           cfg.model_dump_json()), build)

    def bm25(self, cand: Candidate) -> Part:
        from tasks.retrievers import Bm25Retriever

        chunks = self.chunks(cand).value
        cfg = cand.retrieval

        def build() -> Part:
            start = time.perf_counter()
            retriever = Bm25Retriever([c.id for c in chunks], [c.doc_id for c in chunks],
                                      [c.text for c in chunks], cfg.bm25, cfg.chunk_depth)
            return Part(retriever, time.perf_counter() - start, nbytes=bm25_bytes(retriever.index))

        return self._part(("bm25", cand.tokenization, cand.chunking.fingerprint(), cfg.bm25.model_dump_json(),
                           cfg.chunk_depth), build)
