"""The one query path: an ``IndexRetriever`` built from an index artifact and the retriever spec in its manifest.

The publication gate, ``evaluate``, ``nightshift search``, drift's confidence tests, the Python API and
the HTTP service all query an index through this class, so what one of them measures is what the
others serve.

Per query: each stage the spec's mode needs (dense: FAISS over chunk vectors; bm25: ``bm25s`` over
chunk texts) returns its top ``chunk_depth`` chunks, filters applied inside the search; with
``per_document`` each stage is max-pooled to documents and cut at ``depth``, the stages are fused
(``hybrid``: RRF or normalised scores), an optional cross-encoder re-scores the top ``rerank.top_k``,
and the first ``k`` are returned — so a result for ``k`` is the prefix of the result for any larger
``k`` up to ``depth`` (evaluate at depth 100 and the service at k = 10 agree). Without
``per_document`` the same happens on chunks.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tasks.filters import MetadataTable
from tasks.index_artifact import BM25_DIR
from tasks.fusion import chunks_to_docs, fuse_scores, rrf
from tasks.retrieval import Hit, check_fingerprint, embedder_for
from tasks.retrievers import RetrieverSpec, spec_of
from tasks.scoring import rank_documents

NEEDS_BM25 = ("bm25", "hybrid")
NEEDS_DENSE = ("dense", "hybrid")


def faiss_search(index: Any, vectors: np.ndarray, k: int, threads: int = 1,
                 allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top ``k`` rows per query; with ``allowed`` (a row mask) only those rows, k of them whenever k exist.

    The mask goes into the search as a FAISS ``IDSelectorBatch`` (Flat, IVF and HNSW take it in their
    search parameters, keeping the index's own nprobe/efSearch). An index type that does not take a
    selector, or an ANN search that returns fewer than k allowed rows (a very selective filter on HNSW),
    falls back to a deeper unfiltered search cut to the allowed rows, doubling up to the whole index.
    """
    import faiss

    from tasks.indexing import search

    if allowed is None:
        return search(index, vectors, k, threads)
    rows = np.flatnonzero(allowed).astype(np.int64)
    k = min(k, len(rows))
    if k == 0:
        return np.zeros((len(vectors), 0), np.float32), np.zeros((len(vectors), 0), np.int64)
    faiss.omp_set_num_threads(threads)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    try:
        selector = faiss.IDSelectorBatch(rows)
        scores, ids = index.search(x, k, params=_selector_params(index, selector))
        if (ids >= 0).sum(axis=1).min() >= k:
            return scores, ids
    except (RuntimeError, TypeError, AttributeError):
        pass
    return _post_filtered(index, x, k, threads, allowed)


def _selector_params(index: Any, selector: Any) -> Any:
    import faiss

    if isinstance(index, faiss.IndexRefine):  # the selector filters the base's candidates; re-ranking keeps k_factor
        return faiss.IndexRefineSearchParameters(
            k_factor=index.k_factor, base_index_params=_selector_params(faiss.downcast_index(index.base_index), selector))
    if hasattr(index, "hnsw"):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch)
    if hasattr(index, "nprobe"):
        return faiss.SearchParametersIVF(sel=selector, nprobe=index.nprobe)
    return faiss.SearchParameters(sel=selector)


def _post_filtered(index: Any, x: np.ndarray, k: int, threads: int, allowed: np.ndarray):
    from tasks.indexing import search

    depth = min(index.ntotal, max(4 * k, 64))
    while True:
        scores, ids = search(index, x, depth, threads)
        keep = (ids >= 0) & allowed[np.clip(ids, 0, None)]
        if keep.sum(axis=1).min() >= k or depth >= index.ntotal:
            break
        depth = min(index.ntotal, depth * 4)
    out_s = np.full((len(x), k), -np.inf, np.float32)
    out_i = np.full((len(x), k), -1, np.int64)
    for q in range(len(x)):
        sel = np.flatnonzero(keep[q])[:k]
        out_s[q, :len(sel)], out_i[q, :len(sel)] = scores[q, sel], ids[q, sel]
    return out_s, out_i


@dataclass(frozen=True)
class Ranked:
    """One query's result before it becomes hits: item ids (doc or chunk) best first, scores, chunk rows."""

    ids: list[str]
    scores: list[float]
    rows: list[int]  # the row of the chunk each item shows (its best chunk for a document)


class IndexRetriever:
    """A loaded index answering queries with its manifest's spec (thread-safe)."""

    def __init__(self, loaded: Any, embedder: Any, spec: RetrieverSpec, version: str = "", threads: int = 1) -> None:
        check_fingerprint(loaded, embedder.fingerprint)  # never query an index with another model's vectors
        self.loaded, self.embedder, self.spec, self.threads = loaded, embedder, spec, threads
        self.version = version or loaded.folder.name
        frame = loaded.chunks
        self.chunk_ids = frame["id"].astype(str).tolist()
        self.doc_ids = frame["doc_id"].astype(str).tolist()
        self.row_of = {c: i for i, c in enumerate(self.chunk_ids)}
        self.texts = frame["text"].astype(str).tolist()  # hits are built from these lists, not pandas lookups
        self.raw_metadata = frame["metadata"].tolist()
        self.metadata = MetadataTable(frame["metadata"].tolist())
        self._bm25 = self._reranker = None
        self._lock = threading.Lock()  # HF fast tokenizers must not be used from two threads at once
        self.name = spec.label() + ("+rerank" if spec.rerank else "")

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def open(cls, folder: Path | Any, spec: RetrieverSpec | None = None, version: str = "", threads: int = 1,
             verify: bool = True) -> "IndexRetriever":
        """From a build folder (checksums verified) or a ``LoadedIndex``; ``spec`` overrides the manifest's."""
        from tasks.index_artifact import LoadedIndex, load_index_artifact

        loaded = folder if isinstance(folder, LoadedIndex) else load_index_artifact(Path(folder), verify=verify)
        retriever = cls(loaded, embedder_for(loaded), spec or spec_of(loaded.manifest), version, threads)
        retriever.warm()
        return retriever

    def warm(self) -> None:
        """Load every part the spec needs now (not on the first query)."""
        if self.spec.mode in NEEDS_BM25:
            self.bm25
        if self.spec.rerank is not None:
            self.reranker

    @property
    def bm25(self):
        if self._bm25 is None:
            from tasks.lexical import Bm25Index

            folder = self.loaded.folder / BM25_DIR
            if folder.is_dir():
                self._bm25 = Bm25Index.load(folder)
            else:  # an index written before BM25 was part of the artifact: build it from the chunk texts
                b = self.spec.bm25
                self._bm25 = Bm25Index.build(self.chunk_ids, self.loaded.chunks["text"].tolist(), k1=b.k1, b=b.b,
                                             stemmer=b.stemmer, stopwords=b.stopwords)
        return self._bm25

    @property
    def reranker(self):
        if self._reranker is None and self.spec.rerank is not None:
            from tasks.rerank import load_cross_encoder

            self._reranker = load_cross_encoder(self.spec.rerank.model_dump_json())
        return self._reranker

    # -- querying -------------------------------------------------------------------------
    def embed(self, queries: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self.embedder.encode(list(queries), kind="query")

    def search(self, queries: Sequence[str], k: int = 10, filters: Mapping[str, Any] | None = None,
               vectors: np.ndarray | None = None) -> list[list[Hit]]:
        """The top ``k`` hits per query (``vectors``: the queries' embeddings, if the caller has them)."""
        return [self._hits(r) for r in self.rank(queries, k, filters, vectors)]

    def rank(self, queries: Sequence[str], k: int, filters: Mapping[str, Any] | None = None,
             vectors: np.ndarray | None = None) -> list[Ranked]:
        if not 1 <= k <= self.spec.max_k:
            raise ValueError(f"k must be between 1 and {self.spec.max_k}, got {k}")
        allowed = self.metadata.mask(filters)
        queries = list(queries)
        if not queries:
            return []
        stages = []
        if self.spec.mode in NEEDS_DENSE:
            if vectors is None:
                vectors = self.embed(queries)
            stages.append(self._dense(vectors, k, allowed))
        if self.spec.mode in NEEDS_BM25:
            stages.append(self._lexical(queries, allowed))
        return [self._finish(query, [s[q] for s in stages], k) for q, query in enumerate(queries)]

    def retrieve(self, queries: dict[str, str], depth: int) -> dict[str, dict[str, float]]:
        """The document-level run ``{qid: {doc_id: score}}`` of the top ``depth`` (what evaluate scores)."""
        qids = list(queries)
        ranked = self.rank([queries[q] for q in qids], depth) if qids else []
        run = {}
        for qid, r in zip(qids, ranked):
            if self.spec.per_document:
                run[qid] = dict(zip(r.ids, r.scores))
            else:
                run[qid] = chunks_to_docs({qid: dict(zip(r.ids, r.scores))}, dict(zip(self.chunk_ids, self.doc_ids)))[qid]
        return run

    def top_similarity(self, vectors: np.ndarray) -> np.ndarray:
        """Cosine similarity of each query vector's nearest chunk (drift's confidence input)."""
        scores, _ = faiss_search(self.loaded.index, vectors, 1, self.threads)
        return scores[:, 0] if scores.shape[1] else np.zeros(len(vectors), np.float32)

    # -- stages ---------------------------------------------------------------------------
    def _dense(self, vectors: np.ndarray, k: int, allowed: np.ndarray | None) -> list[dict[str, float]]:
        total = self.loaded.index.ntotal
        depth = min(max(self.spec.chunk_depth, k), total)
        scores, rows = faiss_search(self.loaded.index, vectors, depth, self.threads, allowed)
        out = [self._chunk_run(s, r) for s, r in zip(scores, rows)]
        if self.spec.per_document:  # many chunks of few documents: look deeper until k documents (or none left)
            for q, run in enumerate(out):
                deeper = depth
                while len({self.doc_ids[self.row_of[c]] for c in run}) < k and deeper < total:
                    deeper = min(deeper * 4, total)
                    s, r = faiss_search(self.loaded.index, vectors[q:q + 1], deeper, self.threads, allowed)
                    run = out[q] = self._chunk_run(s[0], r[0])
                    if len(run) < deeper:
                        break
        return out

    def _lexical(self, queries: list[str], allowed: np.ndarray | None) -> list[dict[str, float]]:
        out = []
        for query in queries:
            scores = self.bm25.scores(query)
            if allowed is not None:
                scores = np.where(allowed, scores, 0.0)
            out.append(dict(self.bm25._top_k(scores, self.spec.chunk_depth)))
        return out

    def _chunk_run(self, scores: np.ndarray, rows: np.ndarray) -> dict[str, float]:
        return {self.chunk_ids[r]: float(s) for s, r in zip(scores.tolist(), rows.tolist()) if r >= 0}

    def _pool(self, run: dict[str, float]) -> tuple[dict[str, float], dict[str, int]]:
        """Max-pool a chunk run to documents: each document's best score and the row of that chunk."""
        scores: dict[str, float] = {}
        best: dict[str, int] = {}
        for chunk, score in run.items():
            row = self.row_of[chunk]
            doc = self.doc_ids[row]
            if doc not in scores or score > scores[doc]:
                scores[doc], best[doc] = score, row
        return scores, best

    def _finish(self, query: str, stage_runs: list[dict[str, float]], k: int) -> Ranked:
        spec = self.spec
        if spec.per_document:
            pooled = [self._pool(run) for run in stage_runs]
            runs = [{d: s[d] for d in rank_documents(s, spec.depth)} for s, _ in pooled]
            width = max(spec.depth, k)
        else:
            runs, width = stage_runs, max(spec.chunk_depth, k)
        fused = self._fuse(runs, width)
        ids = rank_documents(fused, width)
        if spec.per_document:  # a document shows its best dense chunk, else its best BM25 chunk
            rows = [next(best[i] for _, best in pooled if i in best) for i in ids]
        else:
            rows = [self.row_of[i] for i in ids]
        scores = [float(fused[i]) for i in ids]
        if self.reranker is not None and ids:
            ids, scores, rows = self._rerank(query, ids, scores, rows)
        return Ranked(ids[:k], scores[:k], rows[:k])

    def _fuse(self, runs: list[dict[str, float]], width: int) -> dict[str, float]:
        spec = self.spec
        if len(runs) == 1:
            return runs[0]
        if not any(runs):
            return {}
        weights = [spec.dense_weight, spec.bm25_weight]
        wrapped = [{"q": run} for run in runs]
        if spec.fusion == "rrf":
            return rrf(wrapped, weights, k=spec.rrf_k, top_k=width)["q"]
        return fuse_scores(wrapped, weights, norm=spec.fusion, top_k=width)["q"]

    def _rerank(self, query: str, ids: list[str], scores: list[float], rows: list[int]):
        """Re-score the top ``rerank.top_k``; the rest keep their order below (as the benchmark's stage)."""
        top = self.spec.rerank.top_k
        texts = [self.texts[r] for r in rows[:top]]
        with self._lock:
            new = dict(zip(ids[:top], self.reranker.score(query, texts).tolist()))
        head = rank_documents(new)
        floor = min(new.values())
        position = {item: i for i, item in enumerate(ids)}
        order = [position[i] for i in head] + list(range(len(head), len(ids)))
        out_scores = [new[i] for i in head] + [floor - 1.0 - j for j in range(len(ids) - len(head))]
        return [ids[i] for i in order], out_scores, [rows[i] for i in order]

    def _hits(self, ranked: Ranked) -> list[Hit]:
        import json

        return [Hit(doc_id=self.doc_ids[row], chunk_id=self.chunk_ids[row], score=score, text=self.texts[row],
                    metadata=json.loads(meta) if isinstance(meta := self.raw_metadata[row], str) else dict(meta or {}))
                for score, row in zip(ranked.scores, ranked.rows)]


def dense_search(loaded: Any, embedder: Any, queries: Sequence[str], k: int = 10, threads: int = 1,
                 per_document: bool = False) -> list[list[Hit]]:
    """Dense hits through an ``IndexRetriever`` with a dense spec: the top ``k`` chunks, or with
    ``per_document`` the top ``k`` documents, each by its best chunk."""
    spec = RetrieverSpec(mode="dense", per_document=per_document, depth=max(100, k), chunk_depth=max(300, k),
                         max_k=max(1000, k))
    return IndexRetriever(loaded, embedder, spec, threads=threads).search(queries, k)
