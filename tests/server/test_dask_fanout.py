"""Embedding and index-building fan-out on a real Dask LocalCluster (2 workers) against a real local Prefect
server: the result equals the single-process result bit for bit (same vectors, same index)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import faiss
import numpy as np
import pytest

from tasks.index_artifact import load_index_artifact
from tasks.publishing import IndexStore
from tasks.scheduling import start_local_server, stop_server
from tests.conftest import scifact_records, write_records

pytestmark = pytest.mark.server


def reindex_cli(workspace, remote, source, api_url, *overrides):
    env = {**os.environ, "PREFECT_API_URL": api_url, "NIGHTSHIFT_WORKSPACE": str(workspace),
           "NIGHTSHIFT_DVC_REMOTE_URL": str(remote)}
    args = [sys.executable, "-m", "nightshift", "reindex", "--source", str(source), "--json"]
    for item in overrides:
        args += ["--set", item]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=900, cwd=workspace)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dask_fanout_equals_single_process_bit_for_bit(tmp_path):
    source = write_records(tmp_path / "src", scifact_records(60))
    server, api_url = start_local_server(tmp_path / "prefect-home")
    try:
        (tmp_path / "local").mkdir()
        (tmp_path / "dask").mkdir()
        # IVF-SQ8 + refine: the index is trained once and its 4 shards are added on the workers, then merged
        local = reindex_cli(tmp_path / "local", tmp_path / "remote", source, api_url, "embedder.batch_size=8",
                            "index.kind=ivfsq8")
        fanned = reindex_cli(tmp_path / "dask", tmp_path / "remote", source, api_url, "embedder.batch_size=8",
                             "index.kind=ivfsq8", "runner.kind=dask", "runner.n_workers=2", "runner.shards=4")
        from prefect.client.orchestration import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
            names = {t.name.split("-")[0] for t in client.read_task_runs()}
        assert {"embed_shard", "add_index_shard"} <= names  # the shards ran as Prefect tasks on the Dask workers
    finally:
        stop_server(server)

    assert local["n_embedded"] == fanned["n_embedded"] == local["n_chunks"] > 60
    a = load_index_artifact(IndexStore(tmp_path / "local" / "data" / "indexes").current())
    b = load_index_artifact(IndexStore(tmp_path / "dask" / "data" / "indexes").current())
    assert a.chunks.equals(b.chunks)
    va, vb = a.index.reconstruct_n(0, a.index.ntotal), b.index.reconstruct_n(0, b.index.ntotal)
    assert va.tobytes() == vb.tobytes()  # bit for bit
    assert faiss.serialize_index(a.index).tobytes() == faiss.serialize_index(b.index).tobytes()
    assert a.manifest.files["index.faiss"] == b.manifest.files["index.faiss"]
    assert np.isfinite(va).all()
