"""MLflow tracking server as a deployment target: a real ``mlflow server`` (SQLite backend, proxied
artifact root), the reindex flow tracking into it over HTTP; run, metrics and artifacts land on the server."""

from __future__ import annotations

import os
import sys

import pytest

from tests.conftest import scifact_records, write_records
from tests.server.processes import free_port, running

pytestmark = [pytest.mark.server, pytest.mark.usefixtures("prefect_harness")]


def test_reindex_tracks_into_a_real_mlflow_server(tmp_path):
    from mlflow.tracking import MlflowClient

    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig
    from tasks.config.settings import Settings

    port, db, store = free_port(), tmp_path / "server" / "mlflow.db", tmp_path / "server" / "artifacts"
    store.mkdir(parents=True)
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
           "--artifacts-destination", str(store), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with running(cmd, env, tmp_path / "mlflow-server.log", f"{url}/health", cwd=tmp_path):
        (tmp_path / "ws").mkdir()
        settings = Settings(workspace=tmp_path / "ws", dvc_remote_url=str(tmp_path / "dvc-remote"),
                            mlflow_tracking_uri=url, mlflow_artifact_root="mlflow-artifacts:/").resolved()
        source = write_records(tmp_path / "src", scifact_records(30))
        result = reindex(load_config(ReindexConfig, None, [f"source={source}"]), settings)
        assert result["status"] == "published", result

        client = MlflowClient(tracking_uri=url)
        run = client.get_run(result["run_id"])
        assert run.info.status == "FINISHED"
        assert run.data.tags["nightshift.index_version"] == result["index_version"]
        assert run.data.metrics["n_documents"] == 30 and run.data.metrics["n_embedded"] == result["n_embedded"] > 0
        assert run.data.params["embedder.model"] == "all-MiniLM-L6-v2"
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        listed = {a.path for a in client.list_artifacts(result["run_id"])}
        assert {"manifest.json", "result.json", "validation_summary.json"} <= listed, listed
        fetched = client.download_artifacts(result["run_id"], "result.json", str(tmp_path / "dl"))
        assert result["run_id"] in open(fetched).read()

    # the server stored everything: its SQLite file and its artifact root; nothing went to the embedded store
    on_disk = {p.name for p in store.rglob("*") if p.is_file()}
    assert {"manifest.json", "result.json"} <= on_disk, on_disk
    assert db.stat().st_size > 0
    assert not (settings.workspace / "mlflow.db").exists() and not (settings.workspace / "mlartifacts").exists()
