"""Synthetic query embeddings shaped like all-MiniLM-L6-v2's, for tests and benchmarks.

Real MiniLM query embeddings (measured on 1,547 templated support queries over 7 topics)
have: unit norm, a common direction (norm of the mean ~0.33), mean cosine ~0.37 within a
topic and ~0.06 across topics, and an effective dimension (participation ratio of the
covariance spectrum) of ~34 out of 384. ``EmbeddingWorld`` reproduces these to within a few
hundredths (0.31 / 0.06 / ~34 / 0.31), so tests exercise the same geometry as production
without loading the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EmbeddingWorld:
    """Topic centres, a shared direction and an anisotropic noise basis in ``dim`` dims."""

    common: np.ndarray
    centers: np.ndarray
    basis: np.ndarray
    scales: np.ndarray

    @classmethod
    def create(cls, seed: int = 0, dim: int = 384, n_topics: int = 8) -> EmbeddingWorld:
        rng = np.random.default_rng(seed)
        common = rng.normal(size=dim)
        centers = rng.normal(size=(n_topics, dim))
        basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
        scales = (1.0 + np.arange(dim)) ** -0.5
        return cls(common=common / np.linalg.norm(common),
                   centers=centers / np.linalg.norm(centers, axis=1, keepdims=True),
                   basis=basis, scales=scales / np.sqrt((scales**2).sum()))

    def sample(self, n: int, topics: Sequence[float] | Sequence[int],
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` unit vectors (float32) and their topic ids.

        ``topics`` is either one probability per topic (len == n_topics, sums to 1) or a
        list of topic ids to draw uniformly from.
        """
        k = len(self.centers)
        probs = np.asarray(topics, dtype=np.float64)
        if len(probs) != k or not np.isclose(probs.sum(), 1.0):
            ids = np.asarray(topics, dtype=np.int64)
            probs = np.bincount(ids, minlength=k) / len(ids)
        labels = rng.choice(k, size=n, p=probs)
        noise = (rng.normal(size=(n, len(self.scales))) * self.scales) @ self.basis.T
        x = 0.33 * self.common + 0.65 * self.centers[labels] + 1.1 * noise
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32), labels


def shifted_pair(world: EmbeddingWorld, n: int, new_share: float, rng: np.random.Generator,
                 old_topics: Sequence[int] = (0, 1, 2, 3, 4), new_topic: int = 7,
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference from ``old_topics``; current with ``new_share`` of rows from ``new_topic``.

    Returns ``(reference, current, current_topic_ids)``; ``new_share=0`` is an A/A pair.
    """
    reference, _ = world.sample(n, list(old_topics), rng)
    n_new = int(round(new_share * n))
    old, old_ids = world.sample(n - n_new, list(old_topics), rng)
    new, new_ids = world.sample(n_new, [new_topic], rng)
    return reference, np.concatenate([old, new]), np.concatenate([old_ids, new_ids])
