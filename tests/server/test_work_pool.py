"""The production path of prefect.yaml, as the README gives it: a real Prefect server, a process work pool,
``prefect deploy --all`` from the repository root, a deployment run with parameters, and a process worker
that pulls it (``--run-once``) and runs the reindex in its working directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import scifact_records, write_records
from tests.server.processes import free_port, running
from tests.server.test_prefect_server import prefect_server_env

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]


def prefect(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, (args, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def test_prefect_yaml_matches_the_serve_schedules():
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    schedules = yaml.safe_load((ROOT / "configs" / "schedules.yaml").read_text())["deployments"]
    assert set(schedules) == set(deployments)
    for name, entry in schedules.items():
        assert deployments[name]["entrypoint"].startswith(f"flows/{entry['flow']}.py:"), name
        if "cron" not in entry:
            assert "schedules" not in deployments[name], name
            continue
        assert deployments[name]["schedules"][0]["cron"] == entry["cron"], name
        assert deployments[name]["schedules"][0].get("active", True) == entry.get("enabled", True), name


def test_deploy_all_then_a_process_worker_runs_a_deployment(tmp_path, workspace):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    server_env = prefect_server_env(tmp_path / "server-home")
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
           "--no-services"]
    with running(cmd, server_env, tmp_path / "server.log", f"{api}/health", timeout=120):
        env = {**prefect_server_env(tmp_path / "client-home"), "PREFECT_API_URL": api, "NIGHTSHIFT_HOME": str(ROOT)}
        prefect(env, "work-pool", "create", "nightshift-process", "--type", "process")
        deployed = prefect(env, "--no-prompt", "deploy", "--all")
        for name in ("nightly", "reindex-hourly", "evaluate", "drift", "benchmark-weekly"):
            assert f"/{name}' successfully created" in deployed.stdout.replace("\n", ""), deployed.stdout[-2000:]

        source = write_records(tmp_path / "src", scifact_records(8))
        params = {"config": {"source": str(source), "chunking": {"strategy": "whole", "truncate": True},
                             "gate": {"enabled": False}},
                  "settings": {"workspace": str(workspace.workspace), "dvc_remote_url": workspace.dvc_remote_url}}
        prefect(env, "deployment", "run", "reindex/reindex-hourly", "--params", json.dumps(params))
        worker = tmp_path / "worker"
        worker.mkdir()
        prefect(env, "worker", "start", "--pool", "nightshift-process", "--run-once", cwd=worker)

    client = MlflowClient(workspace.tracking_uri)
    [run] = client.search_runs([client.get_experiment_by_name("nightshift-reindex").experiment_id])
    assert run.data.tags["nightshift.status"] == "published" and run.data.metrics["n_documents"] == 8
