"""Dense retrieval over a published index artifact."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tasks.embedding import EmbedderConfig, load_embedder
from tasks.index_artifact import LoadedIndex, load_index_artifact
from tasks.indexing import search
from tasks.publishing import IndexStore


class NoPublishedIndex(RuntimeError):
    pass


class FingerprintMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class Hit:
    doc_id: str
    chunk_id: str
    score: float
    text: str
    metadata: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_index(index_dir: Path, version: str | None = None) -> LoadedIndex:
    """The published index (``current``), or a local build by DVC version prefix; checksums verified."""
    store = IndexStore(index_dir)
    folder = store.find_version(version) if version else store.current()
    if folder is None:
        what = f"no local build has version {version}" if version else "no index has been published yet"
        hint = ("restore it with `nightshift index restore VERSION`" if version
                else "run `nightshift reindex` first")
        raise NoPublishedIndex(f"{what} under {index_dir}; {hint}")
    return load_index_artifact(folder)


def embedder_for(loaded: LoadedIndex):
    """The embedder the index was built with; refuses one whose fingerprint differs."""
    cfg = EmbedderConfig.model_validate(loaded.manifest.embedder_config or {"model": loaded.manifest.embedder["name"]})
    embedder = load_embedder(cfg)
    check_fingerprint(loaded, embedder.fingerprint)
    return embedder


def check_fingerprint(loaded: LoadedIndex, fingerprint: str) -> None:
    if fingerprint != loaded.manifest.embedder_fingerprint:
        raise FingerprintMismatch(
            f"index {loaded.folder.name} was built with embedder {loaded.manifest.embedder_fingerprint} "
            f"but the query embedder is {fingerprint}; reindex with this embedder or query with the original")


def dense_search(loaded: LoadedIndex, embedder, queries: list[str], k: int = 10,
                 threads: int = 1, per_document: bool = False) -> list[list[Hit]]:
    """The top ``k`` chunks per query; with ``per_document``, the top ``k`` documents (each by its best chunk)."""
    check_fingerprint(loaded, embedder.fingerprint)
    vectors = embedder.encode(queries, kind="query")
    total = loaded.index.ntotal
    depth = min(k * 4 if per_document else k, total)
    scores, ids = search(loaded.index, vectors, depth, threads)  # one batched search for every query
    out = []
    for vector, row_scores, row_ids in zip(vectors, scores, ids):
        hits, deeper = _hits(loaded.chunks, row_scores, row_ids, k, per_document), depth
        while per_document and len(hits) < k and deeper < total:  # many chunks of few documents: look deeper
            deeper = min(deeper * 4, total)
            more_scores, more_ids = search(loaded.index, vector[None, :], deeper, threads)
            hits = _hits(loaded.chunks, more_scores[0], more_ids[0], k, per_document)
        out.append(hits)
    return out


def _hits(frame, scores, ids, k: int, per_document: bool) -> list[Hit]:
    hits: list[Hit] = []
    seen: set[str] = set()
    for score, idx in zip(scores.tolist(), ids.tolist()):
        if len(hits) == k:
            break
        if idx < 0:
            continue
        rec = frame.iloc[idx]
        doc_id = str(rec["doc_id"])
        if per_document and doc_id in seen:
            continue
        seen.add(doc_id)
        hits.append(Hit(doc_id=doc_id, chunk_id=str(rec["id"]), score=float(score),
                        text=str(rec["text"]), metadata=json.loads(rec["metadata"])))
    return hits
