"""Local Hugging Face ``evaluate`` modules for retrieval metrics; they load offline from this folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import evaluate

METRIC_NAMES = ("ndcg_at_k", "recall_at_k", "mrr_at_k", "map_at_k")


def metric_path(name: str) -> Path:
    """Absolute path of the module script ``metrics/<name>/<name>.py``."""
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric module {name!r}; available: {METRIC_NAMES}")
    return Path(__file__).resolve().parent / name / f"{name}.py"


def load_metric(name: str, **kwargs: Any) -> evaluate.EvaluationModule:
    """``evaluate.load`` one of our modules (in-memory by default); imports evaluate lazily (~5 s)."""
    import evaluate

    kwargs.setdefault("keep_in_memory", True)
    return evaluate.load(str(metric_path(name)), **kwargs)
