"""Nearest-neighbour cosine distances between two sets of vectors (exact, chunked brute force).

``nearest_neighbor_distance`` answers "how far is each current query from the golden queries?" and
"how far is each new document from the indexed corpus?" (drift's novelty, staleness and explain use it;
for a corpus of millions of chunks, query the FAISS index instead).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numeric(x: Any, what: str, ndim: int) -> np.ndarray:
    """``x`` as a numeric array of rank ``ndim`` with only finite values, else ValueError."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim != ndim:
        shape = "[n]" if ndim == 1 else "[n, dim]"
        raise ValueError(f"{what} must be {ndim}-D {shape}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=tuple(range(1, ndim))).sum())
        raise ValueError(f"{what} contains NaN or inf in {bad} row(s)")
    return arr


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("zero vector: cosine distance is undefined")
    return x / norms


def nearest_neighbor_distance(x: np.ndarray, y: np.ndarray, *, exclude_self: bool = False,
                              chunk_size: int = 2048) -> np.ndarray:
    """Cosine distance ``1 - max_j cos(x_i, y_j)`` from each row of ``x`` to its nearest ``y``.

    Rows need not be normalised (a normalised copy is used). With ``exclude_self=True``,
    ``x`` and ``y`` must be the same rows and each row's match with itself is skipped
    (leave-one-out distances). Memory is bounded by ``chunk_size * len(y)`` floats.
    """
    xa = _unit_rows(as_numeric(x, "x", 2).astype(np.float64))
    ya = _unit_rows(as_numeric(y, "y", 2).astype(np.float64))
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"dimension mismatch: x has {xa.shape[1]} columns, y has {ya.shape[1]}")
    if exclude_self and xa.shape != ya.shape:
        raise ValueError("exclude_self=True needs x and y to be the same rows")
    if len(ya) - int(exclude_self) < 1:
        raise ValueError("y has no candidate neighbours")
    out = np.empty(len(xa))
    for start in range(0, len(xa), chunk_size):
        sims = xa[start:start + chunk_size] @ ya.T
        if exclude_self:
            rows = np.arange(sims.shape[0])
            sims[rows, start + rows] = -np.inf
        out[start:start + chunk_size] = 1.0 - sims.max(axis=1)
    return np.clip(out, 0.0, 2.0)
