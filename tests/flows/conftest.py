"""Shared by the flow tests: a 300-document SciFact slice that holds the qrels of 100 test queries, embedded
once per session in two variants (whole documents cut at 256 tokens, and the same cut at 64 tokens: a real
regression); each test starts from a fresh workspace seeded with that vector cache, so reindexes embed nothing.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from tasks.config.loader import load_config
from tasks.reindex.config import ReindexConfig
from tasks.evaluate.config import EvaluateConfig
from tasks.config.settings import Settings
from tests.conftest import scifact_records, write_records
from tests.webhooks import Recorder

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "golden" / "scifact"
BASE = ["chunking.strategy=whole", "chunking.truncate=true"]  # one chunk per document, cut at 256 tokens
TRUNCATED = [*BASE, "embedder.max_tokens=64"]  # the same, cut at 64 tokens: a real regression
GATE_ON = [f"gate.golden_dir={GOLDEN}"]


def slice_records(n_queries: int = 100, n_docs: int = 300) -> list[dict]:
    """Every document judged for the first ``n_queries`` test queries, then corpus order up to ``n_docs``."""
    rows = [line.split("\t") for line in (GOLDEN / "qrels" / "test.tsv").read_text().splitlines()[1:]]
    queries = sorted({q for q, _, _ in rows}, key=int)[:n_queries]
    needed = {d for q, d, _ in rows if q in queries}
    records = scifact_records()
    chosen = [r for r in records if r["_id"] in needed]
    return chosen + [r for r in records if r["_id"] not in needed][: n_docs - len(chosen)]


def rcfg(source: Path, *overrides: str) -> ReindexConfig:
    return load_config(ReindexConfig, None, [f"source={source}", *overrides])


def ecfg(*overrides: str, golden: Path = GOLDEN) -> EvaluateConfig:
    return load_config(EvaluateConfig, None, [f"golden.dir={golden}", "latency.n_queries=5", *overrides])


def new_workspace(root: Path, cache: Path | None = None) -> Settings:
    settings = Settings(workspace=root / "ws", dvc_remote_url=str(root / "dvc-remote")).resolved()
    settings.workspace.mkdir(parents=True)
    if cache is not None:  # a consistent copy of the seeded vector cache (SQLite backup API)
        settings.cache_dir.mkdir(parents=True)
        with sqlite3.connect(cache) as src, sqlite3.connect(settings.cache_dir / "vectors.sqlite") as dst:
            src.backup(dst)
    return settings


@pytest.fixture(scope="session")
def seed(tmp_path_factory, prefect_harness):
    from flows.reindex import reindex

    root = tmp_path_factory.mktemp("evaluate-seed")
    source = write_records(root / "src", slice_records())
    settings = new_workspace(root)
    assert reindex(rcfg(source, *BASE), settings)["status"] == "published"
    assert reindex(rcfg(source, *TRUNCATED, "gate.enabled=false"), settings)["status"] == "published"
    return SimpleNamespace(source=source, cache=settings.cache_dir / "vectors.sqlite")


@pytest.fixture
def webhook(monkeypatch):
    """A real HTTP server on 127.0.0.1 that records what it receives; $NIGHTSHIFT_WEBHOOK_URL points at it."""
    server = Recorder()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("NIGHTSHIFT_WEBHOOK_URL", server.url)
    yield server
    server.shutdown()
    server.server_close()


