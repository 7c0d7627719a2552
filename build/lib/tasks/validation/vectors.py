"""The vector suite: what must hold before embeddings enter a FAISS index.

numpy computes one row of facts per vector (dimension, dtype, non-finite count, L2 norm); GX checks
them, so the summary and the quarantine records have the same shape as for documents and chunks.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.documents import Quarantined
from tasks.validation.suite import Check, clean_id, id_checks, run_checks


@dataclass(frozen=True)
class VectorValidationOutcome:
    """``valid``: ids that passed; ``mask[i]``: row i of the input passed (``vectors[mask]``)."""

    valid: list[str]
    mask: np.ndarray
    quarantined: list[Quarantined]
    summary: dict[str, Any]


def _row_facts(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the number of NaN/inf components and the L2 norm (float64)."""
    values = vectors if np.issubdtype(vectors.dtype, np.floating) else vectors.astype(np.float64)
    with np.errstate(all="ignore"):
        n_nonfinite = (~np.isfinite(values)).sum(axis=1)
        norms = np.linalg.norm(values, axis=1).astype(np.float64)
    return n_nonfinite.astype(np.float64), norms


def validate_vectors(ids: Sequence[str], vectors: np.ndarray, dim: int, *,
                     norm_tolerance: float = 1e-3) -> VectorValidationOutcome:
    """Run the vector suite: shape (n, dim), float32, finite, non-zero, L2 norm within 1±tol.

    A wrong dim or dtype quarantines every row (the quarantine limit then stops the run); input
    that cannot be attributed to rows (not 2-D, or a row count different from ``len(ids)``) raises.
    """
    import pandas as pd

    started = time.perf_counter()
    ids = list(ids)
    vectors = np.asarray(vectors)
    if vectors.size == 0 and not ids:
        vectors = vectors.reshape(0, vectors.shape[-1] if vectors.ndim == 2 else dim)
    if vectors.ndim != 2 or vectors.shape[0] != len(ids):
        raise ValueError(f"vectors of shape {vectors.shape} do not match {len(ids)} ids "
                         "(expected a 2-D array with one row per id)")
    if not (np.issubdtype(vectors.dtype, np.number) or vectors.dtype == np.bool_):
        raise ValueError(f"vectors must be numeric, got dtype {vectors.dtype}")
    n, width = vectors.shape
    n_nonfinite, norms = _row_facts(vectors)
    frame = pd.DataFrame({
        "id": pd.Series([clean_id(i) for i in ids], dtype="object"),
        "dim": np.full(n, width, dtype=np.int64),
        "dtype": pd.Series([str(vectors.dtype)] * n, dtype="str"),
        "n_nonfinite": n_nonfinite,
        "norm": norms,
    })
    low, high = 1.0 - norm_tolerance, 1.0 + norm_tolerance
    checks = [
        *id_checks(frame, ids, "vector"),
        Check("ExpectColumnValuesToBeInSet", {"column": "dim", "value_set": [int(dim)]},
              lambda r: f"vector has {width} dimensions; the embedder's dim is {dim}"),
        Check("ExpectColumnValuesToBeInSet", {"column": "dtype", "value_set": ["float32"]},
              lambda r: f"vector dtype is {vectors.dtype}; expected float32"),
        Check("ExpectColumnValuesToBeBetween", {"column": "n_nonfinite", "max_value": 0},
              lambda r: f"vector has {int(n_nonfinite[r])} NaN/inf components"),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "norm", "min_value": 0.0, "strict_min": True},
              lambda r: "zero vector (L2 norm 0)"),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "norm", "min_value": low, "max_value": high},
              lambda r: (f"L2 norm {norms[r]:.6g} is outside 1±{norm_tolerance:g}; "
                         "vectors must be L2-normalised")),
    ]
    valid_rows, quarantined, summary = run_checks(
        stage="vector", suite_name="nightshift.vectors", frame=frame, checks=checks,
        ids=list(frame["id"]), sources=[""] * n, started=started)
    mask = np.zeros(n, dtype=bool)
    mask[valid_rows] = True
    return VectorValidationOutcome([ids[row] for row in valid_rows], mask, quarantined, summary)
