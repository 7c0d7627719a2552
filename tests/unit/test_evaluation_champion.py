"""Champion resolution and promotion on a real MLflow SQLite store, and the metric history read back."""

from __future__ import annotations

import pandas as pd
import pytest

from tasks.evaluate.champion import (
    SINCE_TAG,
    ChampionError,
    champion_stamp,
    find_champion,
    mlflow_key,
    per_query_artifact,
    promote,
)
from tasks.evaluate.history import metric_history
from tasks.tracking import Tracker


def evaluation_run(tracker: Tracker, tmp_path, status: str, ndcg: float, golden: str | None = None,
                   stamp: float | None = None, per_query: bool = True) -> str:
    run_id = tracker.start_run("evaluate", tags={"nightshift.golden": golden or tracker.key, "nightshift.status": status})
    frame = pd.DataFrame({"ndcg@10": [ndcg, ndcg / 2]}, index=pd.Index(["1", "03"], name="query_id"))
    if per_query:
        folder = tmp_path / run_id
        folder.mkdir()
        tracker.log_artifact(run_id, per_query_artifact(frame, folder))
    tracker.log_metrics(run_id, {mlflow_key("ndcg@10"): ndcg})
    if status == "pass":
        tracker.set_tags(run_id, {SINCE_TAG: champion_stamp(stamp)})
    tracker.end_run(run_id, "FINISHED" if status == "pass" else "FAILED")
    return run_id


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One MLflow SQLite store for the module (creating one costs seconds); tests use their own golden key."""
    from tasks.config.settings import Settings

    root = tmp_path_factory.mktemp("champion")
    return Tracker(Settings(workspace=root, dvc_remote_url=str(root / "remote")).resolved())


@pytest.fixture
def tracker(store, request):
    store.key = f"{request.node.name}:test"
    return store


def test_no_runs_no_champion(tracker):
    assert find_champion(tracker, tracker.key) is None


def test_last_passing_run_is_the_champion_and_failures_never_are(tracker, tmp_path):
    old = evaluation_run(tracker, tmp_path, "pass", 0.70, stamp=1_000)
    new = evaluation_run(tracker, tmp_path, "pass", 0.71, stamp=2_000)
    evaluation_run(tracker, tmp_path, "fail", 0.50)
    evaluation_run(tracker, tmp_path, "pass", 0.99, golden="other:" + tracker.key, stamp=3_000)  # another golden set
    champ = find_champion(tracker, tracker.key)
    assert champ.run_id == new and champ.how == "last passing run"
    assert champ.per_query.index.tolist() == ["1", "03"]  # query ids stay strings ("03" keeps its zero)
    assert champ.per_query["ndcg@10"].tolist() == [0.71, 0.355]  # full precision survives the CSV
    assert find_champion(tracker, tracker.key, exclude_run_id=new).run_id == old


def test_promoted_run_wins_until_a_later_run_passes(tracker, tmp_path):
    evaluation_run(tracker, tmp_path, "pass", 0.70, stamp=1_000)
    failed = evaluation_run(tracker, tmp_path, "fail", 0.60)
    done = promote(tracker, failed)
    assert done["promoted"] == failed and done["golden"] == tracker.key and done["status"] == "fail"
    champ = find_champion(tracker, tracker.key)
    assert champ.run_id == failed and champ.how == "promoted"
    tags = tracker.client.get_run(failed).data.tags
    assert tags["nightshift.promoted_at"] and tags["nightshift.promoted_by"]
    later = evaluation_run(tracker, tmp_path, "pass", 0.61)  # stamped now: after the promotion
    assert find_champion(tracker, tracker.key).run_id == later


def test_promote_refuses_what_cannot_be_a_champion(tracker, tmp_path):
    with pytest.raises(ChampionError, match="no MLflow run 'nope'"):
        promote(tracker, "nope")
    reindex_run = tracker.start_run("reindex")
    with pytest.raises(ChampionError, match="not a nightshift evaluate run"):
        promote(tracker, reindex_run)
    bare = evaluation_run(tracker, tmp_path, "fail", 0.5, per_query=False)
    with pytest.raises(ChampionError, match="has no readable per_query.csv"):
        promote(tracker, bare)
    assert find_champion(tracker, tracker.key) is None


def test_metric_history_is_oldest_first_and_skips_errored_runs(tracker, tmp_path):
    ids = [evaluation_run(tracker, tmp_path, s, v) for s, v in (("pass", 0.7), ("fail", 0.6), ("pass", 0.72))]
    tracker.start_run("evaluate", tags={"nightshift.golden": tracker.key, "nightshift.status": "error"})
    history = metric_history(tracker, tracker.key, 2, ["ndcg@10"])
    assert history["run_id"].tolist() == ids[1:] and history["ndcg@10"].tolist() == [0.6, 0.72]
    assert history["status"].tolist() == ["fail", "pass"]
    assert metric_history(tracker, "none:test", 5, ["ndcg@10"]).empty
    assert mlflow_key("segment.query_length.21+.ndcg@10") == "segment.query_length.21plus.ndcg_at_10"
