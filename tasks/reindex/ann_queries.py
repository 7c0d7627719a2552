"""The queries the reindex validates (and tunes) its ANN index with: what users ask, not stored vectors.

Sources, in order: the golden set's queries (``gate.golden_dir``, split ``gate.split``), and a sample of the
service's query log (``data/querylogs/served/queries/*.jsonl``, most recent lines first) when present;
up to ``index.n_validation_queries`` in all, half of them from the log when both exist. With neither
(a fresh workspace without a golden set), ``validate_index`` falls back to a sample of the stored
vectors, and the manifest says so (``ann_validation.queries: "stored_vectors"``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


def golden_queries(folder: Path, split: str) -> list[str]:
    from tasks.goldenset.load import GoldenSetError, load_golden

    try:
        return list(load_golden(folder, split).queries.values())
    except (GoldenSetError, OSError, ValueError) as exc:
        log.info("ANN validation: no golden queries (%s)", str(exc).splitlines()[0][:200])
        return []


def logged_queries(workspace: Path, limit: int) -> list[str]:
    """Up to ``limit`` distinct query texts, most recent first (hashed logs have no text: none)."""
    from tasks.querylogs.served import QUERIES, read_jsonl_tolerant, served_dir

    files = sorted((served_dir(workspace) / QUERIES).glob("*.jsonl"), reverse=True)
    seen: dict[str, None] = {}
    for path in files:
        for record in reversed(read_jsonl_tolerant([path]).records):
            text = record.get("query")
            if isinstance(text, str) and text.strip():
                seen.setdefault(text, None)
            if len(seen) >= limit:
                return list(seen)
    return list(seen)


def validation_queries(settings: Any, golden_dir: str, split: str, n: int, seed: int = 0) -> tuple[list[str], str]:
    """(query texts, source label); empty when there is nothing better than stored vectors."""
    logged = logged_queries(settings.workspace, n)
    golden = golden_queries(settings.resolve(golden_dir), split)
    rng = np.random.default_rng(seed)
    if logged and golden:
        logged = logged[: n // 2]
    golden = [golden[i] for i in np.sort(rng.choice(len(golden), size=min(len(golden), n - len(logged)),
                                                    replace=False))] if golden else []
    source = "+".join(name for name, part in (("golden", golden), ("querylog", logged)) if part)
    return golden + logged, source
