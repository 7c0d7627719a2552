"""Benchmark results and their cache, keyed by (dataset content hash, candidate fingerprint).

A result is a folder ``<data_dir>/benchmarks/<dataset hash[:16]>/<fingerprint>-<measure>/`` holding
``result.json`` (quality and systems metrics), ``per_query.csv`` and ``run.trec.gz`` (the ranked
lists, TREC format, so anyone can re-score them). It is written to a temporary folder and renamed,
so a crash never leaves half a result; a folder whose files are missing or unreadable is a miss.
Only successful results are stored: a failed candidate is retried on the next run.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.documents import sha256_text
from tasks.trec import read_trec, write_trec

RESULT, PER_QUERY, RUN = "result.json", "per_query.csv", "run.trec.gz"
FORMAT_VERSION = 2  # bump when result.json changes shape: older results become misses


@dataclass
class CandidateResult:
    dataset: str
    dataset_hash: str
    candidate: str
    fingerprint: str
    status: str = "ok"  # ok | failed
    metrics: dict[str, float] = field(default_factory=dict)
    systems: dict[str, float] = field(default_factory=dict)
    error: str = ""
    computed_by_run_id: str = ""  # the MLflow child run that computed it
    created_at: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    cached: bool = False
    per_query: pd.DataFrame | None = field(default=None, repr=False)
    run: dict[str, dict[str, float]] | None = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("per_query"), out.pop("run")
        return out


class ResultStore:
    def __init__(self, root: Path, measure_key: str) -> None:
        self.root = Path(root)
        self.measure_key = sha256_text(f"v{FORMAT_VERSION}", measure_key)[:8]

    def folder(self, dataset_hash: str, fingerprint: str) -> Path:
        return self.root / dataset_hash[:16] / f"{fingerprint}-{self.measure_key}"

    def get(self, dataset_hash: str, fingerprint: str) -> CandidateResult | None:
        folder = self.folder(dataset_hash, fingerprint)
        try:
            data = json.loads((folder / RESULT).read_text(encoding="utf-8"))
            per_query = pd.read_csv(folder / PER_QUERY, dtype={"query_id": str}).set_index("query_id")
            run = read_trec(folder / RUN)
        except (OSError, ValueError, KeyError):
            return None
        if data.get("dataset_hash") != dataset_hash or data.get("fingerprint") != fingerprint:
            return None
        result = CandidateResult(**{k: v for k, v in data.items() if k in CandidateResult.__dataclass_fields__})
        result.per_query, result.run, result.cached = per_query, run, True
        return result

    def put(self, result: CandidateResult) -> Path:
        if result.status != "ok" or result.per_query is None or result.run is None:
            raise ValueError("only successful results with per-query scores and a run are stored")
        folder = self.folder(result.dataset_hash, result.fingerprint)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-"))
        try:
            record = {**result.record(), "cached": False}
            (tmp / RESULT).write_text(json.dumps(record, indent=1, sort_keys=True), encoding="utf-8")
            result.per_query.to_csv(tmp / PER_QUERY)
            write_trec(result.run, tmp / RUN)
            if folder.exists():
                shutil.rmtree(folder)
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return folder
