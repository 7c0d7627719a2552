"""A thread-safe LRU cache of query embeddings, keyed by (embedder fingerprint, query text)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class EmbeddingCache:
    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, fingerprint: str, text: str) -> np.ndarray | None:
        key = (fingerprint, text)
        with self._lock:
            vector = self._items.get(key)
            if vector is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return vector

    def put(self, fingerprint: str, text: str, vector: np.ndarray) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[(fingerprint, text)] = vector
            self._items.move_to_end((fingerprint, text))
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def vectors(self, retriever, texts: list[str]) -> np.ndarray:
        """The query vectors of ``texts``: cached ones, the rest embedded in one batch and cached."""
        fp = retriever.embedder.fingerprint
        found = [self.get(fp, t) for t in texts]
        missing = [i for i, v in enumerate(found) if v is None]
        if missing:
            fresh = retriever.embed([texts[i] for i in missing])
            for i, vector in zip(missing, fresh):
                found[i] = vector
                self.put(fp, texts[i], vector)
        return np.stack(found).astype(np.float32, copy=False)

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0
