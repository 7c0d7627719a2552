"""``nightshift serve`` with an every-minute schedule: it starts its own Prefect server on 127.0.0.1 (the
ephemeral API has no scheduler), the schedule triggers real reindex flow runs that appear in MLflow, and
Ctrl-C (SIGINT to the process group, as a terminal sends it) stops everything cleanly."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import scifact_records, write_records
from tests.server.test_prefect_server import prefect_server_env

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parents[2]


def finished_runs(tracking_uri: str) -> list:
    client = MlflowClient(tracking_uri)
    experiment = client.get_experiment_by_name("nightshift-reindex")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "attributes.status = 'FINISHED'")


def test_every_minute_schedule_runs_real_flows_and_ctrl_c_stops_cleanly(tmp_path, workspace):
    source = write_records(tmp_path / "src", scifact_records(10))
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(yaml.safe_dump({"timezone": "Europe/Paris", "deployments": {"reindex-every-minute": {
        "flow": "reindex", "cron": "* * * * *",
        "overrides": [f"source={source}", "chunking.strategy=whole", "chunking.truncate=true", "gate.enabled=false"],
    }}}))
    env = {**prefect_server_env(tmp_path / "prefect-home"), "NIGHTSHIFT_WORKSPACE": str(workspace.workspace),
           "NIGHTSHIFT_DVC_REMOTE_URL": workspace.dvc_remote_url}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "nightshift", "serve", "--schedules", str(schedules)],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 420  # server start-up + the next minute boundary + the scheduler's loop
        while not finished_runs(workspace.tracking_uri) and time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(2)
        runs = finished_runs(workspace.tracking_uri)
        assert runs, f"no scheduled run finished within 7 minutes:\n{log.read_text()[-3000:]}"
        tags = runs[-1].data.tags
        assert tags["nightshift.status"] == "published" and tags["nightshift.prefect_flow_run_id"]
        text = log.read_text()
        assert "started a local Prefect server: UI http://127.0.0.1:" in text
        assert "serving reindex-every-minute: nightshift reindex (* * * * *)" in text
        assert "created the Prefect global concurrency limit 'nightshift-reindex'" in text
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        try:
            code = proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError(f"serve did not stop within 90 s of Ctrl-C:\n{log.read_text()[-3000:]}") from None
    assert code == 0, log.read_text()[-3000:]
    assert "stopped" in log.read_text()
    deadline = time.monotonic() + 30
    with pytest.raises(ProcessLookupError):  # nothing of serve's process group is left running
        while time.monotonic() < deadline:
            os.killpg(proc.pid, 0)
            time.sleep(0.2)
    port = int(re.search(r"started a local Prefect server: UI http://127\.0\.0\.1:(\d+)", log.read_text()).group(1))
    with pytest.raises(OSError):  # and the local Prefect server it started was stopped too
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
