"""The MLflow server stops mid-run: the run's writes are spooled to disk, then synced when it is back.
Down when a run must start: a one-line error saying what to do, nothing changed."""

from __future__ import annotations

import os
import sys

import pytest

from tests.server.processes import free_port, running

pytestmark = pytest.mark.server


def server_cmd(tmp_path, port):
    db, store = tmp_path / "server" / "mlflow.db", tmp_path / "server" / "artifacts"
    store.mkdir(parents=True, exist_ok=True)
    return [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
            "--artifacts-destination", str(store), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]


def test_writes_are_spooled_while_down_and_synced_after(tmp_path):
    from mlflow.tracking import MlflowClient

    from tasks.config.settings import Settings
    from tasks.tracking import Tracker, TrackingUnavailable
    from tasks.tracking_spool import pending, sync

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    settings = Settings(workspace=tmp_path / "ws", mlflow_tracking_uri=url,
                        mlflow_artifact_root="mlflow-artifacts:/").resolved()
    artifact = tmp_path / "report.md"
    artifact.write_text("# nightly report\n")

    with running(server_cmd(tmp_path, port), env, tmp_path / "a.log", f"{url}/health", cwd=tmp_path):
        tracker = Tracker(settings, retries=1, backoff=0.1)
        run_id = tracker.start_run("evaluate", tags={"nightshift.as_of": "2026-11-03"})
        tracker.log_params(run_id, {"k": 10})
    # the server is gone now, mid-run
    tracker.log_metrics(run_id, {"ndcg@10": 0.64, "n_queries": 300})
    tracker.set_tags(run_id, {"nightshift.status": "pass"})
    tracker.log_artifact(run_id, artifact)
    tracker.end_run(run_id)
    assert run_id in tracker.spooled and [p.name for p in pending(tracker.spool_root)] == [run_id]
    with pytest.raises(TrackingUnavailable, match="unreachable, so the run was not started"):
        Tracker(settings, retries=0).start_run("evaluate")

    with running(server_cmd(tmp_path, port), env, tmp_path / "b.log", f"{url}/health", cwd=tmp_path):
        client = MlflowClient(url)
        assert client.get_run(run_id).info.status == "RUNNING"
        assert sync(tracker.spool_root, client) == {run_id: 4}
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.metrics == {"ndcg_at_10": 0.64, "n_queries": 300.0}  # MLflow-safe key
        assert run.data.tags["nightshift.status"] == "pass" and run.data.params["k"] == "10"
        assert [a.path for a in client.list_artifacts(run_id)] == ["report.md"]
    assert pending(tracker.spool_root) == []
