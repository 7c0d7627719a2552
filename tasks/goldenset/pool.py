"""Pooled candidates to judge (TREC pooling): the union of the top ``depth`` documents of several retrievers.

Each retriever is an ``IndexRetriever`` over the published index (the one query path) with the
index's own spec but another ``mode`` (``dense``, ``bm25``, ``hybrid``; no rerank), so the labels a
person gives are not biased toward what today's served configuration happens to rank first. A
candidate remembers each retriever's rank (``found_by``); candidates are ordered by their best rank.
The pool depth is the number of documents taken from *each* retriever per query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

POOL_MODES = ("dense", "bm25", "hybrid")


@dataclass
class Candidate:
    doc_id: str
    passage: str  # the chunk that ranked it best
    ranks: dict[str, int] = field(default_factory=dict)  # retriever -> 1-based rank

    @property
    def best(self) -> int:
        return min(self.ranks.values())

    def found_by(self) -> str:
        return " ".join(f"{m}:{r}" for m, r in sorted(self.ranks.items(), key=lambda kv: (kv[1], kv[0])))


def pool_retrievers(loaded: Any, embedder: Any, modes: Sequence[str], depth: int, threads: int = 1,
                    version: str = "") -> dict[str, Any]:
    """One ``IndexRetriever`` per mode, each returning ``depth`` documents."""
    from tasks.retriever import IndexRetriever
    from tasks.retrievers import spec_of

    base = spec_of(loaded.manifest)
    out: dict[str, Any] = {}
    for mode in modes:
        spec = base.model_copy(update={"mode": mode, "rerank": None, "per_document": True,
                                       "depth": max(depth, 1), "max_k": max(base.max_k, depth)})
        retriever = IndexRetriever(loaded, embedder, spec, version, threads)
        shared = next((r._bm25 for r in out.values() if r._bm25 is not None), None)
        if shared is not None:  # one BM25 index for the bm25 and hybrid retrievers
            retriever._bm25 = shared
        retriever.warm()
        out[mode] = retriever
    return out


def pool_candidates(retrievers: dict[str, Any], queries: dict[str, str], depth: int,
                    vectors: Any = None, batch: int = 64) -> dict[str, list[Candidate]]:
    """``{query_id: candidates best rank first}`` from the top ``depth`` of every retriever.

    ``vectors`` (aligned with ``queries``): query embeddings if the caller has them (embedded once)."""
    import numpy as np

    qids = list(queries)
    texts = [queries[q] for q in qids]
    pooled: dict[str, dict[str, Candidate]] = {q: {} for q in qids}
    any_retriever = next(iter(retrievers.values()))
    for start in range(0, len(qids), batch):
        part = texts[start:start + batch]
        part_vectors = (any_retriever.embed(part) if vectors is None
                        else np.asarray(vectors[start:start + batch], dtype=np.float32))
        for mode, retriever in retrievers.items():
            for offset, ranked in enumerate(retriever.rank(part, depth, vectors=part_vectors)):
                found = pooled[qids[start + offset]]
                for rank, (doc, row) in enumerate(zip(ranked.ids, ranked.rows), start=1):
                    cand = found.get(doc)
                    if cand is None:
                        cand = found[doc] = Candidate(doc, retriever.texts[row])
                    elif rank < cand.best:  # show the chunk of the retriever that ranked it best
                        cand.passage = retriever.texts[row]
                    cand.ranks[mode] = rank
    return {q: sorted(c.values(), key=lambda c: (c.best, -len(c.ranks), c.doc_id)) for q, c in pooled.items()}


def label_rows(queries: dict[str, str], pooled: dict[str, list[Candidate]], hashes: dict[str, str],
               titles: dict[str, str], source: str, passage_chars: int,
               extra: dict[str, dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """Rows of a labelling file (``tasks.goldenset.labelfile.COLUMNS``) for the pooled candidates."""
    from tasks.goldenset.labelfile import flat

    rows = []
    for qid, candidates in pooled.items():
        for cand in candidates:
            rows.append({"query_id": qid, "query": queries[qid], "doc_id": cand.doc_id, "relevance": "",
                         "title": flat(titles.get(cand.doc_id, ""), 200), "passage": flat(cand.passage, passage_chars),
                         "source": source, "found_by": cand.found_by(), "doc_hash": hashes.get(cand.doc_id, ""),
                         **(extra or {}).get(qid, {})})
    return rows
