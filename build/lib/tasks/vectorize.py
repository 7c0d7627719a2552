"""Embed chunks through the vector cache: only chunks whose (fingerprint, hash) is missing are embedded."""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from typing import Callable, Sequence

import numpy as np

from tasks.documents import Chunk
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
    ``embedder.encode`` (e.g. a Dask fan-out, ``tasks.fanout.dask_encoder``).
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
