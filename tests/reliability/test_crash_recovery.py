"""kill -9 the reindex CLI at each crash point: ``current`` stays usable throughout, a rerun completes and reuses work."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tasks.faults import POINTS
from tasks.publishing import IndexStore
from tasks.retrieval import dense_search, embedder_for, open_index
from tests.conftest import scifact_records, write_records

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("prefect_harness")]


def run_cli(workspace, *args, env_extra=None, timeout=600):
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NIGHTSHIFT_WORKSPACE": str(workspace.workspace),
           "NIGHTSHIFT_DVC_REMOTE_URL": workspace.dvc_remote_url, **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "nightshift", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, cwd=workspace.workspace)


def last_json(proc):
    return json.loads(proc.stdout.strip().splitlines()[-1])


class SearchProbe(threading.Thread):
    """Searches ``current`` in a loop; records every failure."""

    def __init__(self, index_dir, query):
        super().__init__(daemon=True)
        self.index_dir, self.query = index_dir, query
        self.stop = threading.Event()
        self.n_ok, self.failures = 0, []

    def run(self):
        embedder = None
        while not self.stop.is_set():
            try:
                loaded = open_index(self.index_dir)
                embedder = embedder or embedder_for(loaded)
                hits = dense_search(loaded, embedder, [self.query], k=3)[0]
                assert hits, "no hits"
                self.n_ok += 1
            except Exception as exc:  # noqa: BLE001 - recorded and asserted on
                self.failures.append(repr(exc))
            time.sleep(0.05)


@pytest.mark.parametrize("point", POINTS)
def test_kill_at_point_keeps_current_and_rerun_completes(workspace, tmp_path, point):
    records = scifact_records(80)
    source = write_records(tmp_path / "src", records)
    first = run_cli(workspace, "reindex", "--source", str(source), "--json")
    assert first.returncode == 0, first.stderr[-2000:]
    v1 = last_json(first)["index_version"]

    for rec in records[:30]:
        rec["text"] += " A sentence added to force re-embedding."
    write_records(source, records)
    probe = SearchProbe(workspace.index_dir, records[50]["title"])
    probe.start()
    crashed = run_cli(workspace, "reindex", "--source", str(source), "--json", "--set", "embedder.batch_size=2",
                      env_extra={"NIGHTSHIFT_CRASH_AT": point})
    probe.stop.set()
    probe.join(timeout=30)
    assert crashed.returncode == -signal.SIGKILL, (point, crashed.returncode, crashed.stderr[-2000:])
    assert probe.failures == [] and probe.n_ok > 0, probe.failures[:3]

    store = IndexStore(workspace.index_dir)
    assert store.current_version() == v1, "current moved although the run crashed"
    loaded = open_index(workspace.index_dir)
    assert dense_search(loaded, embedder_for(loaded), [records[50]["title"]], k=1)[0][0].doc_id == records[50]["_id"]

    rerun = run_cli(workspace, "reindex", "--source", str(source), "--json")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    result = last_json(rerun)
    assert result["status"] == "published" and result["n_documents"] == 80
    if point in ("during_embedding", "before_index_write", "after_index_write", "after_dvc_push",
                 "before_pointer_switch"):
        assert result["n_reused"] >= 80 - 30 + 2, result  # at least the first group of the edited docs was cached
    assert store.current_version() == result["index_version"] != v1
    assert not list(store.builds.glob(".staging-*")), "crash leftovers were not cleaned"
