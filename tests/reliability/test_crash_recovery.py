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
from tasks.retrieval import embedder_for, open_index
from tasks.retriever import dense_search
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
    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.reindex.config import ReindexConfig

    records = scifact_records(40)
    source = write_records(tmp_path / "src", records)
    v1 = reindex(load_config(ReindexConfig, None, [f"source={source}"]), workspace)["index_version"]

    old_texts = set(open_index(workspace.index_dir).chunks["text"])
    for rec in records[:20]:  # edits at both ends: first and last chunks of each document change
        rec["text"] = "A revised opening sentence. " + rec["text"] + " A sentence added to force re-embedding."
    write_records(source, records)
    probe = SearchProbe(workspace.index_dir, records[30]["title"])
    probe.start()
    crashed = run_cli(workspace, "reindex", "--source", str(source), "--json", "--set", "embedder.batch_size=1",
                      env_extra={"NIGHTSHIFT_CRASH_AT": point})
    probe.stop.set()
    probe.join(timeout=30)
    assert crashed.returncode == -signal.SIGKILL, (point, crashed.returncode, crashed.stderr[-2000:])
    assert probe.failures == [] and probe.n_ok > 0, probe.failures[:3]

    store = IndexStore(workspace.index_dir)
    assert store.current_version() == v1, "current moved although the run crashed"
    loaded = open_index(workspace.index_dir)
    assert dense_search(loaded, embedder_for(loaded), [records[30]["title"]], k=1)[0][0].doc_id == records[30]["_id"]

    result = reindex(load_config(ReindexConfig, None, [f"source={source}"]), workspace)
    assert result["status"] == "published" and result["n_documents"] == 40
    n_new = len(set(open_index(workspace.index_dir).chunks["text"]) - old_texts)  # chunk texts never embedded before
    assert n_new > 16, "the edit must span more than one embedding group for the crash to land mid-embedding"
    if point == "after_load":
        assert result["n_embedded"] == n_new, (result, n_new)
    else:  # the crashed run had cached at least its first group (16 x batch_size = 16 chunks)
        assert result["n_embedded"] <= n_new - 16, (result, n_new)
    assert store.current_version() == result["index_version"] != v1
    assert not list(store.builds.glob(".staging-*")), "crash leftovers were not cleaned"


def test_kill_during_an_incremental_update_keeps_current_and_rerun_completes(workspace, tmp_path):
    """The update works on a copy of ``current``'s index: a kill -9 mid-update leaves the published files as they were."""
    from flows.reindex import reindex
    from tasks.config.loader import load_config
    from tasks.index_artifact import read_manifest, verify_files
    from tasks.reindex.config import ReindexConfig

    records = scifact_records(40)
    source = write_records(tmp_path / "src", records)
    v1 = reindex(load_config(ReindexConfig, None, [f"source={source}"]), workspace)["index_version"]
    store = IndexStore(workspace.index_dir)
    published = store.current()
    records[3]["text"] += " One edited sentence."
    write_records(source, records)
    probe = SearchProbe(workspace.index_dir, records[30]["title"])
    probe.start()
    crashed = run_cli(workspace, "reindex", "--source", str(source), "--json",
                      env_extra={"NIGHTSHIFT_CRASH_AT": "during_incremental_update"})
    probe.stop.set()
    probe.join(timeout=30)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr[-2000:])
    assert probe.failures == [] and probe.n_ok > 0, probe.failures[:3]
    assert store.current_version() == v1 and store.current() == published
    verify_files(published, read_manifest(published))  # every published file still matches its checksum

    result = reindex(load_config(ReindexConfig, None, [f"source={source}"]), workspace)
    assert result["status"] == "published" and result["index_build"] == "incremental", result
    assert store.current_version() == result["index_version"] != v1
    assert not list(store.builds.glob(".staging-*")), "crash leftovers were not cleaned"
