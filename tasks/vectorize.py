"""Embed chunks and queries through the vector cache: only texts whose (fingerprint, key) is missing are embedded.

A query's key is the sha256 of ``"query"`` and its text, which keeps a query and a chunk with the same text apart
(embedders with query/passage prefixes); drift and the benchmark share these query vectors."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np

from tasks.documents import Chunk, sha256_text
from tasks.embedding import Embedder
from tasks.vector_cache import VectorCache


@dataclass
class EmbedStats:
    n_chunks: int = 0
    n_unique: int = 0
    n_reused: int = 0
    n_embedded: int = 0
    n_tokens_embedded: int = 0
    n_cache_corrupt: int = 0
    seconds_embedding: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def embed_chunks(chunks: Sequence[Chunk], embedder: Embedder, cache: VectorCache,
                 group_size: int = 512, progress: bool | None = None,
                 on_group: Callable[[int, int], None] | None = None,
                 encode: Callable[[list[str]], np.ndarray] | None = None) -> tuple[np.ndarray, EmbedStats]:
    """Vectors for ``chunks`` (aligned), embedding only what the cache lacks.

    Missing texts are sorted by length (longest first) so batches pad little, and written to the
    cache one group at a time: a crash loses at most one group of work. ``encode`` replaces
    ``embedder.encode`` (e.g. a Dask fan-out, ``tasks.reindex.fanout.dask_encoder``).
    """
    encode = encode or (lambda texts: embedder.encode(texts, kind="passage"))
    stats = EmbedStats(n_chunks=len(chunks))
    by_hash: dict[str, Chunk] = {}
    for chunk in chunks:
        by_hash.setdefault(chunk.content_hash, chunk)
    stats.n_unique = len(by_hash)
    found = cache.get_many(embedder.fingerprint, by_hash)
    stats.n_cache_corrupt = cache.n_corrupt
    missing = sorted((h for h in by_hash if h not in found), key=lambda h: -by_hash[h].n_tokens)
    stats.n_reused = stats.n_unique - len(missing)
    bar = _progress_bar(len(missing), progress)
    start = time.perf_counter()
    for offset in range(0, len(missing), group_size):
        group = missing[offset:offset + group_size]
        vectors = encode([by_hash[h].text for h in group])
        cache.put_many(embedder.fingerprint, group, vectors)
        found.update(zip(group, vectors))
        stats.n_embedded += len(group)
        stats.n_tokens_embedded += sum(by_hash[h].n_tokens for h in group)
        bar.update(len(group))
        if on_group is not None:
            on_group(stats.n_embedded, len(missing))
    bar.close()
    stats.seconds_embedding = time.perf_counter() - start
    dim = embedder.dim
    matrix = np.empty((len(chunks), dim), dtype=np.float32)
    for row, chunk in enumerate(chunks):
        matrix[row] = found[chunk.content_hash]
    return matrix, stats


def _progress_bar(total: int, enabled: bool | None):
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, desc="embedding chunks", unit="chunk", disable=not enabled or total == 0,
                file=sys.stderr)


def query_key(text: str) -> str:
    return sha256_text("query", text)


def embed_queries(texts: Sequence[str], embedder: Any, cache: VectorCache,
                  batch: int = 512) -> tuple[np.ndarray, dict[str, int]]:
    """L2-normalised query vectors (aligned with ``texts``); only texts missing from the cache are embedded."""
    keys = [query_key(t) for t in texts]
    unique = dict(zip(keys, texts))
    found = cache.get_many(embedder.fingerprint, unique)
    missing = [k for k in unique if k not in found]
    for start in range(0, len(missing), batch):
        part = missing[start:start + batch]
        vectors = embedder.encode([unique[k] for k in part], kind="query")
        cache.put_many(embedder.fingerprint, part, vectors)
        found.update(zip(part, vectors))
    matrix = np.empty((len(texts), embedder.dim), dtype=np.float32)
    for row, key in enumerate(keys):
        matrix[row] = found[key]
    return matrix, {"n_queries": len(texts), "n_unique": len(unique), "n_embedded": len(missing),
                    "n_reused": len(unique) - len(missing)}
