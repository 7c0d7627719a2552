"""Operations end to end: backfills as of past dates (idempotent, resumable after kill -9) and the nightly
chain with its notifications. Real Prefect (test API), MLflow (SQLite), DVC (local remote), FAISS, MiniLM.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import UUID

import pytest
from mlflow.tracking import MlflowClient

from flows.nightly import nightly
from flows.reindex import reindex
from tasks.config.loader import load_config
from tasks.evaluate.champion import find_champion
from tasks.nightly.config import NightlyConfig
from tasks.nightly.steps import NightFailed
from tasks.publishing import IndexStore
from tasks.drift.config import DriftConfig
from tasks.config.settings import Settings
from tasks.tracking import Tracker
from tests.flows.conftest import BASE, GATE_ON, GOLDEN, TRUNCATED, ecfg, new_workspace, rcfg

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROOT = Path(__file__).resolve().parents[2]
DAYS = [f"2026-11-0{d}" for d in range(1, 6)]


@pytest.fixture(scope="module")
def small_golden(tmp_path_factory) -> Path:
    """The first 40 judged SciFact test queries (all inside the seeded slice): quick evaluate runs."""
    folder = tmp_path_factory.mktemp("golden") / "scifact40"
    (folder / "qrels").mkdir(parents=True)
    header, *rows = (GOLDEN / "qrels" / "test.tsv").read_text().splitlines()
    keep = sorted({r.split("\t")[0] for r in rows}, key=int)[:40]
    (folder / "qrels" / "test.tsv").write_text("\n".join([header, *(r for r in rows if r.split("\t")[0] in keep)]) + "\n")
    queries = [q for q in (GOLDEN / "queries.jsonl").read_text().splitlines() if json.loads(q)["_id"] in keep]
    (folder / "queries.jsonl").write_text("\n".join(queries) + "\n")
    return folder


def backdate(settings: Settings, when: dict[str, str]) -> None:
    """Rewrite the publication history as if each version had gone live at the given time."""
    path = IndexStore(settings.index_dir).history_file
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps({**r, "published_at": when[r["index_version"]]}) + "\n" for r in rows))


def two_published_versions(seed, tmp_path) -> tuple[Settings, str, str]:
    """v1 live from Nov 1 (its build then deleted locally: only the DVC remote has it), v2 from Nov 3."""
    ws = new_workspace(tmp_path, seed.cache)
    v1 = reindex(rcfg(seed.source, *BASE), ws)["index_version"]
    v2 = reindex(rcfg(seed.source, *TRUNCATED, "gate.enabled=false"), ws)["index_version"]
    backdate(ws, {v1: "2026-11-01T09:00:00+00:00", v2: "2026-11-03T09:00:00+00:00"})
    shutil.rmtree(IndexStore(ws.index_dir).find_version(v1))
    return ws, v1, v2


def backfill_args(golden: Path, start: str, end: str, *extra: str) -> list[str]:
    return ["backfill", "evaluate", "--start", start, "--end", end, "--set", f"golden.dir={golden}",
            "--set", "latency.n_queries=5", "--json", *extra]


def cli(settings: Settings, *args: str):
    from typer.testing import CliRunner

    from nightshift.cli.main import app

    env = {"NIGHTSHIFT_WORKSPACE": str(settings.workspace), "NIGHTSHIFT_DVC_REMOTE_URL": settings.dvc_remote_url}
    result = CliRunner(env=env).invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout.strip().splitlines()[-1])


def done_runs(settings: Settings) -> list:
    client = MlflowClient(settings.tracking_uri)
    experiment = client.get_experiment_by_name("nightshift-evaluate")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id], "tags.`nightshift.backfill_done` = 'true'")


def test_backfill_killed_midway_then_rerun_completes_the_missing_dates_once(seed, tmp_path, small_golden):
    from prefect.settings import PREFECT_API_URL

    ws, v1, v2 = two_published_versions(seed, tmp_path)
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NIGHTSHIFT_WORKSPACE": str(ws.workspace),
           "NIGHTSHIFT_DVC_REMOTE_URL": ws.dvc_remote_url}
    proc = subprocess.Popen([sys.executable, "-m", "nightshift", *backfill_args(small_golden, DAYS[0], DAYS[-1])],
                            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(done_runs(ws)) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    _, stderr = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    finished_before_kill = {r.data.tags["nightshift.as_of"] for r in done_runs(ws)}
    assert 2 <= len(finished_before_kill) < len(DAYS)

    code, summary = cli(ws, *backfill_args(small_golden, "2026-10-31", DAYS[-1], "--concurrency", "2"))
    assert code == 0, summary
    rows = {row["date"]: row for row in summary["dates"]}
    assert rows["2026-10-31"]["status"] == "skipped" and "no index was live yet" in rows["2026-10-31"]["reason"]
    for day in DAYS:
        if day in finished_before_kill:
            assert rows[day]["status"] == "skipped" and "already done" in rows[day]["reason"], rows[day]
        else:
            assert rows[day]["status"] == "pass", rows[day]
        assert rows[day]["index_version"] == (v1 if day < "2026-11-03" else v2)

    runs = done_runs(ws)  # exactly one completed run per date, tagged with its as-of date and live index
    assert sorted(r.data.tags["nightshift.as_of"] for r in runs) == DAYS
    for run in runs:
        day = run.data.tags["nightshift.as_of"]
        assert run.data.tags["nightshift.index_version"] == (v1 if day < "2026-11-03" else v2)
        assert run.info.run_name == f"evaluate as of {day}"  # readable in the MLflow runs table
    assert find_champion(Tracker(ws), "scifact:test") is None  # replaying the past never crowns a champion

    code, again = cli(ws, *backfill_args(small_golden, DAYS[0], DAYS[-1]))
    assert code == 0 and again["counts"] == {"skipped": len(DAYS)} and len(done_runs(ws)) == len(DAYS)

    code, forced = cli(ws, *backfill_args(small_golden, DAYS[1], DAYS[1], "--force"))
    assert code == 0 and forced["counts"] == {"pass": 1} and forced["dates"][0]["index_version"] == v1
    assert len(done_runs(ws)) == len(DAYS) + 1
    date_run = MlflowClient(ws.tracking_uri).get_run(forced["dates"][0]["run_id"])
    _, parent = flow_run(date_run.data.tags["nightshift.prefect_flow_run_id"])
    assert parent is not None and flow_name(parent) == "backfill"  # the date is a subflow of the backfill run


def test_backfill_refuses_flows_it_cannot_replay_and_bad_ranges(tmp_path):
    ws = new_workspace(tmp_path)
    from typer.testing import CliRunner

    from nightshift.cli.main import app

    env = {"NIGHTSHIFT_WORKSPACE": str(ws.workspace)}
    result = CliRunner(env=env).invoke(app, ["backfill", "reindex", "--start", DAYS[0], "--end", DAYS[1]])
    assert result.exit_code != 0 and "nightshift index restore" in result.output
    result = CliRunner(env=env).invoke(app, ["backfill", "evaluate", "--start", DAYS[1], "--end", DAYS[0]])
    assert result.exit_code != 0 and "is before --start" in result.output
    result = CliRunner(env=env).invoke(app, ["backfill", "evaluate", "--start", DAYS[0], "--end", DAYS[1],
                                             "--every", "weekly"])
    assert result.exit_code != 0 and "use a number of days" in result.output


def flow_run(flow_run_id: str):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(UUID(flow_run_id))
        parent = client.read_task_run(run.parent_task_run_id).flow_run_id if run.parent_task_run_id else None
    return run, parent


def flow_name(flow_run_id: UUID) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow(client.read_flow_run(flow_run_id).flow_id).name


def test_nightly_chain_evaluates_current_after_a_rejected_index_and_notifies_once_per_failure(
        seed, tmp_path, small_golden, webhook):
    ws = new_workspace(tmp_path, seed.cache)
    live = reindex(rcfg(seed.source, *BASE), ws)["index_version"]
    drift_cfg = load_config(DriftConfig, ROOT / "configs" / "drift.yaml", [
        f"querylog.path={ROOT / 'data' / 'querylogs' / 'demo'}", f"golden.dir={small_golden}",
        "tests.mmd.params.n_permutations=200"])
    config = NightlyConfig(reindex=rcfg(seed.source, *TRUNCATED, *GATE_ON), evaluate=ecfg(golden=small_golden),
                           drift=drift_cfg)

    summary = nightly(config, ws)  # findings (a rejected index, drift) are reported; only a failed step fails the night
    steps = {s["step"]: s for s in summary["steps"]}
    assert list(steps) == ["reindex", "evaluate", "drift"] and summary["status"] == "ok"
    assert steps["reindex"]["status"] == "rejected" and "publication gate" in steps["reindex"]["reason"]
    assert IndexStore(ws.index_dir).current_version() == live  # the rejected index never went live ...
    assert steps["evaluate"]["status"] == "pass" and steps["evaluate"]["ok"]  # ... and current was evaluated
    assert steps["drift"]["drift"] is True and steps["drift"]["status"] == "drift"  # the demo's last week drifted

    client = MlflowClient(ws.tracking_uri)
    nightly_ids = set()
    for step in steps.values():  # one tree per night: each subflow's parent is the same nightly flow run
        tags = client.get_run(step["run_id"]).data.tags
        run, parent = flow_run(tags["nightshift.prefect_flow_run_id"])
        assert parent is not None
        nightly_ids.add(parent)
    assert len(nightly_ids) == 1
    bodies = [m["body"] for m in webhook.received]  # one message per failure: the rejection and the drift
    assert [(b["flow"], b["event"]) for b in bodies] == [("reindex", "fail"), ("drift", "fail")]
    assert all(webhook.url not in json.dumps(b) for b in bodies)

    broken = config.model_copy(update={"reindex": rcfg(tmp_path / "no-such-source"), "run_drift": False})
    with pytest.raises(NightFailed) as night:  # a failed step fails the night, after the other steps ran
        nightly(broken, ws)
    steps = {s["step"]: s for s in night.value.args[0]["steps"]}
    assert steps["reindex"]["status"] == "failed" and "no-such-source" in steps["reindex"]["reason"]
    assert steps["evaluate"]["status"] == "pass" and IndexStore(ws.index_dir).current_version() == live
    assert (webhook.received[-1]["body"]["flow"], webhook.received[-1]["body"]["event"]) == ("reindex", "error")


INCONCLUSIVE = [*TRUNCATED, *GATE_ON, "gate.alpha=0.00001", "gate.review.enabled=true",
                "gate.review.p_value_below=0.5", "gate.review.poll_seconds=1"]  # a real drop, "not significant"


def paused_run_of(thread_result: dict, timeout: float = 180.0):
    """The reindex flow run once it is Paused (it is the only paused run on the test API)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline and "error" not in thread_result and "result" not in thread_result:
            runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.PAUSED]))))
            if runs:
                return runs[0]
            time.sleep(0.5)
    raise AssertionError(f"the flow run never paused: {thread_result}")


def in_thread(fn, *args) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def target():
        try:
            out["result"] = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            out["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def test_inconclusive_gate_pauses_for_a_typed_answer_and_a_timeout_keeps_current(seed, tmp_path):
    from prefect.flow_runs import resume_flow_run

    ws = new_workspace(tmp_path, seed.cache)
    live = reindex(rcfg(seed.source, *BASE), ws)["index_version"]

    thread, out = in_thread(reindex, rcfg(seed.source, *INCONCLUSIVE, "gate.review.timeout_seconds=2"), ws)
    thread.join(300)
    timed_out = out["result"]
    assert timed_out["status"] == "rejected" and "review timed_out" in timed_out["reason"], timed_out
    assert IndexStore(ws.index_dir).current_version() == live
    assert MlflowClient(ws.tracking_uri).get_run(timed_out["run_id"]).data.tags["nightshift.review"] == "timed_out"

    thread, out = in_thread(reindex, rcfg(seed.source, *INCONCLUSIVE, "gate.review.timeout_seconds=300"), ws)
    paused = paused_run_of(out)
    assert paused.state.state_details.run_input_keyset, "the pause carries a typed input form"
    resume_flow_run(paused.id, run_input={"approve": True, "note": "shorter chunks accepted for latency"})
    thread.join(300)
    approved = out["result"]
    assert approved["status"] == "published" and IndexStore(ws.index_dir).current_version() == approved["index_version"]
    tags = MlflowClient(ws.tracking_uri).get_run(approved["run_id"]).data.tags
    assert tags["nightshift.review"] == "approved" and tags["nightshift.review_note"].startswith("shorter chunks")
    assert tags["nightshift.gate.status"] == "inconclusive"
