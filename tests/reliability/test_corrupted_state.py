"""Corrupted state and remote faults: detected at load with a clear message, never served; publication refused
loudly when the DVC remote cannot take the build, with ``current`` unchanged.

One published workspace (30 SciFact docs) is built per module; each test corrupts its own copy.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import scifact_records, write_records

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_harness")]


def config(source, *overrides):
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig

    return load_config(ReindexConfig, None, [f"source={source}", *overrides])


@pytest.fixture(scope="module")
def published(tmp_path_factory, prefect_harness):
    from flows.reindex import reindex
    from tasks.config.settings import Settings

    root = tmp_path_factory.mktemp("corrupted-state")
    (root / "ws").mkdir()
    settings = Settings(workspace=root / "ws", dvc_remote_url=str(root / "dvc-remote")).resolved()
    source = write_records(root / "src", scifact_records(30))
    result = reindex(config(source), settings)
    assert result["status"] == "published", result
    return SimpleNamespace(settings=settings, source=source, result=result)


@pytest.fixture
def ws(published, tmp_path):
    """A private copy of the published workspace (``current`` is a relative symlink: copied as is)."""
    from tasks.config.settings import Settings

    shutil.copytree(published.settings.workspace, tmp_path / "ws", symlinks=True)
    return Settings(workspace=tmp_path / "ws", dvc_remote_url=published.settings.dvc_remote_url).resolved()


def current_file(settings, name):
    from tasks.publishing import IndexStore

    return IndexStore(settings.index_dir).current() / name


def test_truncated_index_is_refused_at_load_and_by_the_cli(ws, published):
    from tasks.index_artifact import IndexCorrupted
    from tasks.retrieval import open_index

    index_file = current_file(ws, "index.faiss")
    os.truncate(index_file, index_file.stat().st_size // 2)
    with pytest.raises(IndexCorrupted, match="index.faiss does not match its manifest checksum"):
        open_index(ws.index_dir)
    env = {**os.environ, "NIGHTSHIFT_WORKSPACE": str(ws.workspace)}
    proc = subprocess.run([sys.executable, "-m", "nightshift", "search", "vitamin D", "--json"], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ws.workspace)
    assert proc.returncode == 1 and proc.stdout.strip() == "", proc.stdout[-500:]
    assert "does not match its manifest checksum" in proc.stderr.strip().splitlines()[-1]
    assert "nightshift index restore" in proc.stderr and "Traceback" not in proc.stderr


def test_reindex_rebuilds_a_corrupted_current(ws, published):
    from flows.reindex import reindex
    from tasks.retrieval import open_index

    index_file = current_file(ws, "index.faiss")
    os.truncate(index_file, index_file.stat().st_size // 2)
    result = reindex(config(published.source), ws)
    assert result["status"] == "published", result
    assert open_index(ws.index_dir).index.ntotal == published.result["n_chunks"]


def test_manifest_that_does_not_match_is_refused(ws):
    from tasks.index_artifact import IndexCorrupted
    from tasks.retrieval import FingerprintMismatch, embedder_for, open_index
    from tasks.retriever import dense_search

    manifest_file = current_file(ws, "manifest.json")
    original = json.loads(manifest_file.read_text())
    manifest_file.write_text(json.dumps({**original, "embedder_fingerprint": "0" * 16}))
    loaded = open_index(ws.index_dir)
    with pytest.raises(FingerprintMismatch, match=f"built with embedder {'0' * 16} but the query embedder is"):
        embedder_for(loaded)
    from tasks.embedding import EmbedderConfig, load_embedder

    with pytest.raises(FingerprintMismatch):
        dense_search(loaded, load_embedder(EmbedderConfig.model_validate(original["embedder_config"])), ["x"], k=3)
    manifest_file.write_text(json.dumps({**original, "n_chunks": original["n_chunks"] + 1}))
    with pytest.raises(IndexCorrupted, match=f"manifest {original['n_chunks'] + 1}"):
        open_index(ws.index_dir)


def test_cache_rows_with_wrong_bytes_are_re_embedded_not_served(ws, published):
    from mlflow.tracking import MlflowClient

    from flows.reindex import reindex
    from tasks.retrieval import embedder_for, open_index

    chunks = open_index(ws.index_dir).chunks
    flipped, cut = chunks["content_hash"].iloc[0], chunks["content_hash"].iloc[1]
    with sqlite3.connect(ws.cache_dir / "vectors.sqlite") as db:
        (blob,) = db.execute("SELECT vec FROM vectors WHERE hash=?", [flipped]).fetchone()
        db.execute("UPDATE vectors SET vec=? WHERE hash=?", [bytes(b ^ 0x5A for b in blob), flipped])  # crc kept
        db.execute("UPDATE vectors SET vec=substr(vec, 1, 100) WHERE hash=?", [cut])
    result = reindex(config(published.source, "force=true"), ws)
    assert result["status"] == "published" and result["n_embedded"] == 2 and result["n_reused"] == result["n_chunks"] - 2, result
    assert MlflowClient(ws.tracking_uri).get_run(result["run_id"]).data.metrics["n_cache_corrupt"] == 2
    loaded = open_index(ws.index_dir)
    rows = [int(np.flatnonzero(loaded.chunks["content_hash"] == h)[0]) for h in (flipped, cut)]
    served = np.stack([loaded.index.reconstruct(r) for r in rows])
    fresh = embedder_for(loaded).encode(list(loaded.chunks["text"].iloc[rows]), "passage")
    np.testing.assert_allclose(served, fresh, atol=1e-5)


@pytest.mark.parametrize("remote", ["regular-file", "refusing-http"])
def test_unreachable_dvc_remote_refuses_publication_and_keeps_current(ws, published, tmp_path, remote):
    from mlflow.tracking import MlflowClient

    from flows.reindex import reindex
    from tasks.publishing import IndexStore
    from tasks.retrieval import embedder_for, open_index
    from tasks.retriever import dense_search
    from tests.server.processes import free_port

    before = IndexStore(ws.index_dir).current_version()
    if remote == "regular-file":
        url = str(tmp_path / "remote-is-a-file")
        open(url, "w").close()
        expected = url
    else:
        url, expected = f"http://127.0.0.1:{free_port()}/dvc", "settings.dvc_remote_url"
    broken = ws.model_copy(update={"dvc_remote_url": url})
    with pytest.raises(Exception) as caught:
        reindex(config(published.source, "force=true"), broken)
    assert expected in str(caught.value), str(caught.value)
    tags = MlflowClient(ws.tracking_uri).search_runs(
        [MlflowClient(ws.tracking_uri).get_experiment_by_name("nightshift-reindex").experiment_id],
        order_by=["attributes.start_time DESC"], max_results=1)[0].data.tags
    assert tags["nightshift.status"] == "failed" and expected in tags["nightshift.reason"]
    assert IndexStore(ws.index_dir).current_version() == before == published.result["index_version"]
    loaded = open_index(ws.index_dir)
    assert dense_search(loaded, embedder_for(loaded), [scifact_records(3)[2]["title"]], k=1)[0][0].doc_id == \
        scifact_records(3)[2]["_id"]
