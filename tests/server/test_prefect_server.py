"""Prefect server as a deployment target: a real ``prefect server start`` on 127.0.0.1, the CLI's reindex
pointed at it with PREFECT_API_URL; the flow run is recorded on that server (read back with its client)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import scifact_records, write_records
from tests.server.processes import free_port, running

pytestmark = pytest.mark.server


def prefect_server_env(home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_UI_ENABLED": "false"}


def read_flow_runs(api_url: str) -> list:
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        assert client.api_url.host == "127.0.0.1"
        return client.read_flow_runs()


def test_cli_reindex_is_recorded_on_a_real_prefect_server(tmp_path, workspace):
    from mlflow.tracking import MlflowClient

    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    cmd = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port),
           "--no-services"]
    env = prefect_server_env(tmp_path / "prefect-home")
    with running(cmd, env, tmp_path / "prefect-server.log", f"{api}/health", timeout=120):
        source = write_records(tmp_path / "src", scifact_records(20))
        cli_env = {**prefect_server_env(tmp_path / "cli-home"), "PREFECT_API_URL": api,
                   "NIGHTSHIFT_WORKSPACE": str(workspace.workspace),
                   "NIGHTSHIFT_DVC_REMOTE_URL": workspace.dvc_remote_url}
        proc = subprocess.run([sys.executable, "-m", "nightshift", "reindex", "--source", str(source), "--json"],
                              env=cli_env, capture_output=True, text=True, timeout=600, cwd=workspace.workspace)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert result["status"] == "published" and result["n_documents"] == 20

        runs = read_flow_runs(api)
        tag = MlflowClient(workspace.tracking_uri).get_run(result["run_id"]).data.tags
        flow_run_id = tag["nightshift.prefect_flow_run_id"]
        matching = [r for r in runs if str(r.id) == flow_run_id]
        assert len(matching) == 1, ([str(r.id) for r in runs], flow_run_id)
        assert matching[0].state.is_completed(), matching[0].state
        assert matching[0].parameters["config"]["source"] == str(source)
    # the CLI used the server, not an ephemeral API of its own
    assert not (tmp_path / "cli-home" / "prefect.db").exists()
