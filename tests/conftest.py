"""Shared test setup: offline environment, real components (Prefect, MLflow, DVC, FAISS, MiniLM) on small data."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from nightshift.offline import apply_offline_defaults

apply_offline_defaults()

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT / "data" / "samples" / "scifact"
MIXED = ROOT / "data" / "samples" / "mixed"


@pytest.fixture(scope="session")
def prefect_harness():
    """A real, temporary Prefect API (SQLite) for the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def scifact_records(n: int | None = None) -> list[dict]:
    """The first ``n`` records of the shipped SciFact corpus."""
    out = []
    with gzip.open(SCIFACT / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            out.append(json.loads(line))
            if n is not None and len(out) >= n:
                break
    return out


def write_records(folder: Path, records: list[dict], name: str = "corpus.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / name, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec) + "\n")
    return folder


@pytest.fixture
def workspace(tmp_path):
    """Settings for an isolated workspace: its own data dir, MLflow SQLite store and DVC remote."""
    from tasks.config.settings import Settings

    (tmp_path / "ws").mkdir()
    return Settings(workspace=tmp_path / "ws", dvc_remote_url=str(tmp_path / "dvc-remote")).resolved()
