"""The drift flow end to end on the shipped demo logs: real Prefect, MLflow (SQLite), DVC (local remote), FAISS and
MiniLM. A 60-document SciFact slice is indexed once per module; the first check embeds the demo queries into the
workspace's vector cache, so later checks embed only queries they have not seen (reruns are cheap).

- normal week (SciFact test queries) vs the reference weeks (SciFact train queries): no drift;
- drifted week (20% NFCorpus queries mixed in): drift, the far cluster is the NFCorpus queries, the golden set is
  flagged for refresh, a webhook receives the alert, MLflow holds every test's statistic/p-value/decision;
- edge cases (empty window, 3 queries, non-text queries, a missing column): a clear message, never a drift;
- no published index: the index tests are skipped with the reason; new documents unlike the corpus: corpus drift
  (and, in the slow tier, the reindex action running the reindex flow as a subflow).
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from flows.drift import drift
from flows.reindex import reindex
from tasks.config.loader import load_config
from tasks.reindex.config import ReindexConfig
from tasks.drift.config import DriftConfig
from tasks.querylogs.format import QueryLogError
from tasks.retrieval import NoPublishedIndex
from tasks.config.settings import Settings
from tests.conftest import MIXED, scifact_records, write_records
from tests.flows.conftest import new_workspace

pytestmark = pytest.mark.usefixtures("prefect_harness")

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "querylogs" / "demo"
GOLDEN = ROOT / "data" / "golden" / "scifact"
NORMAL_WEEK = "windows.current=2025-03-03..2025-03-09"
SLICE = ["chunking.strategy=whole", "chunking.truncate=true"]
N_DOCS = 60


def dcfg(*overrides: str) -> DriftConfig:
    """configs/drift.yaml with absolute data paths (the workspace is a temporary folder)."""
    return load_config(DriftConfig, ROOT / "configs" / "drift.yaml",
                       [f"querylog.path={DEMO}", f"golden.dir={GOLDEN}", "tests.mmd.params.n_permutations=1000",
                        *overrides])


@pytest.fixture(scope="module")
def drift_seed(tmp_path_factory, prefect_harness):
    """One workspace with a published 60-document SciFact index; the normal week checked once (embeds the queries)."""
    root = tmp_path_factory.mktemp("drift-seed")
    source = write_records(root / "src", scifact_records(N_DOCS))
    settings = new_workspace(root)
    built = reindex(load_config(ReindexConfig, None, [f"source={source}", *SLICE, "gate.enabled=false"]), settings)
    assert built["status"] == "published"
    normal = drift(dcfg(NORMAL_WEEK), settings)
    return SimpleNamespace(settings=settings, source=source, normal=normal,
                           cache=settings.cache_dir / "vectors.sqlite")


def mlflow_run(settings: Settings, run_id: str):
    client = MlflowClient(settings.tracking_uri)
    paths = {a.path for a in client.list_artifacts(run_id)} | {a.path for a in client.list_artifacts(run_id, "report")}
    return client.get_run(run_id), paths


def test_normal_week_is_no_drift_with_every_test_logged(drift_seed) -> None:
    r = drift_seed.normal
    assert r["status"] == "no_drift" and r["drift"] is False, r["reason"]
    assert (r["n_reference"], r["n_current"]) == (809, 300) and r["reason"].startswith("no drift: smallest Holm")
    names = {t["name"] for t in r["tests"]}
    assert names == {"mmd", "classifier", "pca_ks", "query_length", "oov_rate", "confidence", "coverage_gap",
                     "novelty", "golden_staleness"}
    assert set(r["skipped"]) == {"language", "corpus_drift", "feedback"}
    assert "no new documents" in r["skipped"]["corpus_drift"] and "no feedback" in r["skipped"]["feedback"]
    flag = drift_seed.settings.resolve(dcfg().actions.golden_refresh.flag_file)  # where a refresh request would go
    assert r["actions"]["golden_refresh"] == {"requested": False} and not flag.exists()
    run, paths = mlflow_run(drift_seed.settings, r["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["nightshift.drift"] == "false"
    assert {"result.json", "drift_tests.json", "review_queue.csv", "querylog_validation.json", "report/report.md",
            "report/report.html", "report/projection.png", "report/distributions.png"} <= paths
    for t in r["tests"]:
        assert run.data.metrics[f"{t['name']}.p_value"] == pytest.approx(t["p_value"])
        assert run.data.metrics[f"{t['name']}.drift"] == 0.0 and t["p_holm"] >= t["p_value"]
    assert run.data.metrics["n_reference"] == 809 and "Holm" in run.data.tags["nightshift.decision_rule"]
    assert run.data.tags["nightshift.embedder_fingerprint"] and run.data.tags["nightshift.log_hash"]


def uncached_queries(seed, log: Path) -> int:
    """How many distinct queries of ``log`` the shared vector cache lacks now."""
    from tasks.retrieval import embedder_for, open_index
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import query_key

    keys = {query_key(json.loads(line)["query"]) for line in log.read_text().splitlines() if line.strip()}
    fingerprint = embedder_for(open_index(seed.settings.index_dir)).fingerprint  # drift embeds with the index's model
    with VectorCache(seed.cache) as cache:
        found = cache.get_many(fingerprint, keys)
    return len(keys - set(found))


def test_drifted_week_is_drift_explained_by_the_nfcorpus_cluster_with_actions(drift_seed, webhook) -> None:
    flag = drift_seed.settings.workspace / "flags" / "golden.json"
    new_to_cache = uncached_queries(drift_seed, DEMO / "drifted_week.jsonl")  # 60 (the NFCorpus ones) in file order
    r = drift(dcfg(f"actions.golden_refresh.flag_file={flag}"), drift_seed.settings)  # current: the last 7 days
    assert r["status"] == "drift" and r["drift"] is True and r["windows"]["current"]["spec"] == "-7d.."
    drifted = {t["name"] for t in r["tests"] if t["drift"]}
    assert {"mmd", "novelty", "query_length"} <= drifted
    review = pd.read_csv(r["review_queue"])
    top = review[review["cluster"] == 1]
    # 20% of the week is NFCorpus; the cluster is >= 75% NFCorpus (about 5% of SciFact queries are "far" by
    # construction) and its representative examples are NFCorpus queries
    assert len(top) >= 30 and top["query_id"].str.startswith("nfcorpus:").mean() >= 0.75
    assert top[top["is_example"]]["query_id"].str.startswith("nfcorpus:").all()
    assert r["clusters"][0]["size"] == len(top) and r["far_share"] > 3 * r["expected_far_share"]
    assert review["query_id"].str.startswith("nfcorpus:").sum() >= 0.6 * 60  # most of the 60 injected queries
    saved = json.loads(flag.read_text())
    assert saved["run_id"] == r["run_id"] and "novelty" in saved["tests"] and saved["clusters"][0]["examples"]
    check_refresh_file(drift_seed.settings, r["actions"]["golden_refresh"], saved)
    [alert] = webhook.received
    body = alert["body"]
    assert body["event"] == "fail" and body["flow"] == "drift" and body["drift"] is True
    assert body["text"].startswith("[nightshift drift] FAIL: drift: ") and set(body["drifted"]) == drifted
    run, _ = mlflow_run(drift_seed.settings, r["run_id"])
    assert run.data.tags["nightshift.golden_refresh"] == "requested" and run.data.metrics["drift"] == 1.0
    assert run.data.metrics["embed.n_embedded"] == new_to_cache  # only queries new to the vector cache
    assert run.data.tags["nightshift.drifted"] == ",".join(t["name"] for t in r["tests"] if t["drift"])


def check_refresh_file(settings: Settings, action: dict, saved: dict) -> None:
    """The golden-refresh action's labelling file: the uncovered (NFCorpus) queries with pooled candidates, one
    ``golden label`` away from a new golden version."""
    from tasks.golden.label import import_labels

    made = action["labelling"]
    assert saved["labelling"]["file"] == made["file"] and made["uncovered"] == "far from every golden query"
    with open(made["file"], newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    week = [json.loads(line) for line in (DEMO / "drifted_week.jsonl").read_text().splitlines() if line.strip()]
    nfcorpus = {q["query"].strip() for q in week if q["query_id"].startswith("nfcorpus:")}
    queries = {row["query"] for row in rows}
    counts = made["counts"]
    # the 240 SciFact queries of the week are golden queries (covered): what is left is the NFCorpus topic
    assert counts["n_uncovered"] >= 0.5 * 60 and len(queries) == counts["n_sampled"] == min(50, counts["n_unique"])
    assert len(queries & nfcorpus) >= 0.9 * len(queries)
    assert {row["source"] for row in rows} == {"refresh"} and all(row["stratum"].startswith("cluster") for row in rows)
    assert made["pool"] == {"depth": 10, "retrievers": ["dense", "bm25", "hybrid"]} and made["golden"] == "scifact"
    for row in rows:  # a person's verdict: nothing in a 60-document SciFact slice answers a nutrition question
        row["relevance"] = "0"
    with open(made["file"], "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    version = import_labels(settings, made["file"], by="test")
    assert version["version"] == 1 and version["n_queries"] == len(queries) and version["n_qrels"] == len(rows)


def test_edge_cases_give_a_clear_message_and_never_drift(drift_seed, tmp_path, webhook) -> None:
    started_ms = int(time.time() * 1000)
    empty = drift(dcfg("windows.current=2025-04-01..2025-04-07"), drift_seed.settings)
    assert empty["status"] == "not_enough_data" and empty["drift"] is False and empty["tests"] == []
    assert "the current window 2025-04-01..2025-04-07" in empty["reason"] and "has 0 valid queries" in empty["reason"]
    assert webhook.received[-1]["body"]["event"] == "error"  # on-call learns the check could not answer
    three = tmp_path / "three.jsonl"
    three.write_text("".join(json.dumps({"timestamp": f"2025-03-1{i}T10:00:00Z", "query": f"query {i}"}) + "\n"
                             for i in range(3)))
    tiny = drift(dcfg(f"windows.current={three}"), drift_seed.settings)
    assert tiny["status"] == "not_enough_data" and "has 3 valid queries" in tiny["reason"] and not tiny["drift"]
    run, _ = mlflow_run(drift_seed.settings, tiny["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["nightshift.status"] == "not_enough_data"
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text("".join(json.dumps({"timestamp": "2025-03-10T10:00:00Z", "query": i}) + "\n" for i in range(50)))
    with pytest.raises(QueryLogError, match=r"50 of 50 rows \(100.0%\) failed validation.*query is not text"):
        drift(dcfg(f"windows.current={numbers}"), drift_seed.settings)
    renamed = tmp_path / "renamed.jsonl"
    renamed.write_text("".join(json.dumps({"ts": "2025-03-10T10:00:00Z", "query": "q"}) + "\n" for _ in range(50)))
    with pytest.raises(QueryLogError, match="missing required column 'timestamp'"):
        drift(dcfg(f"windows.current={renamed}"), drift_seed.settings)
    failed = MlflowClient(drift_seed.settings.tracking_uri).search_runs(
        [MlflowClient(drift_seed.settings.tracking_uri).get_experiment_by_name("nightshift-drift").experiment_id],
        f"tags.`nightshift.status` = 'error' and attributes.start_time >= {started_ms}")  # this test's runs
    assert len(failed) == 2 and all(r.info.status == "FAILED" for r in failed)


def test_cli_json_line_exit_codes_and_one_line_errors(drift_seed, monkeypatch, tmp_path) -> None:
    from nightshift.cli.main import app

    monkeypatch.setenv("NIGHTSHIFT_WORKSPACE", str(drift_seed.settings.workspace))
    monkeypatch.setenv("NIGHTSHIFT_DVC_REMOTE_URL", drift_seed.settings.dvc_remote_url)
    base = ["drift", "--set", f"querylog.path={DEMO}", "--set", f"golden.dir={GOLDEN}",
            "--set", "tests.mmd.params.n_permutations=1000", "--json"]
    runner = CliRunner()
    drifted = runner.invoke(app, [*base, "--fail-on-drift"])
    assert drifted.exit_code == 2, drifted.output
    record = json.loads(drifted.stdout.strip().splitlines()[-1])
    assert record["drift"] is True and (record["n_reference"], record["n_current"]) == (809, 300)
    assert {"run_id", "drift", "tests", "n_reference", "n_current"} <= set(record)
    assert set(record["tests"][0]) >= {"name", "statistic", "p_value", "drift"}
    tiny = runner.invoke(app, [*base, "--current", "2025-04-01..2025-04-07", "--fail-on-drift"])
    assert tiny.exit_code == 0 and json.loads(tiny.stdout.strip().splitlines()[-1])["status"] == "not_enough_data"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"timestamp": "2025-03-10", "text": "q"}) + "\n")
    error = runner.invoke(app, [*base, "--current", str(bad)])
    assert error.exit_code == 1 and "Traceback" not in error.output
    assert error.stderr.strip().splitlines()[-1].startswith(f"error: query log {bad}: missing required column 'query'")
    window = runner.invoke(app, [*base, "--reference", "last month"])
    assert window.exit_code == 1 and "neither an existing log file nor a window" in window.stderr


def test_without_an_index_the_index_tests_are_skipped_and_query_drift_still_found(drift_seed, tmp_path) -> None:
    bare = new_workspace(tmp_path, drift_seed.cache)
    r = drift(dcfg(), bare)
    assert r["drift"] is True and "mmd" in {t["name"] for t in r["tests"] if t["drift"]}
    for label in ("confidence", "coverage_gap", "oov_rate", "corpus_drift"):
        assert "no index has been published yet" in r["skipped"][label] and "index.required=false" in r["skipped"][label]
    with pytest.raises(NoPublishedIndex, match="run `nightshift reindex` first"):
        drift(dcfg("index.required=true"), bare)


def corpus_with_new_documents(folder: Path) -> Path:
    """The indexed SciFact documents plus the on-call runbooks, postmortems, FAQ ... of data/samples/mixed."""
    both = write_records(folder, scifact_records(N_DOCS))
    for path in MIXED.rglob("*"):
        if path.is_file():
            target = both / "mixed" / path.relative_to(MIXED)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    return both


def test_new_documents_unlike_the_corpus_are_corpus_drift(drift_seed, tmp_path) -> None:
    both = corpus_with_new_documents(tmp_path / "both")
    r = drift(dcfg(NORMAL_WEEK, f"corpus.source={both}", "tests.corpus_drift.params.min_samples=10"), drift_seed.settings)
    corpus = next(t for t in r["tests"] if t["name"] == "corpus_drift")
    assert corpus["drift"] and r["drift"] and corpus["effect_size"] > 0.5
    assert {t["name"] for t in r["tests"] if t["drift"]} == {"corpus_drift"}  # the queries did not move
    run, _ = mlflow_run(drift_seed.settings, r["run_id"])
    assert run.data.metrics["corpus_n_new_documents"] >= 10 and run.data.metrics["corpus_n_holdout"] == N_DOCS // 3
    assert r["actions"]["reindex"] == {"requested": False}  # the reindex action is off by default


def test_the_index_source_is_read_with_the_reindex_include_exclude_rules(drift_seed, tmp_path) -> None:
    both = corpus_with_new_documents(tmp_path / "both")
    ws = new_workspace(tmp_path, drift_seed.cache)  # an index of `both` that excluded mixed/ on purpose
    built = reindex(load_config(ReindexConfig, None, [f"source={both}", "exclude=[mixed/*]", *SLICE,
                                                      "gate.enabled=false"]), ws)
    assert built["status"] == "published" and built["n_documents"] == N_DOCS
    r = drift(dcfg(NORMAL_WEEK, "corpus.source=index"), ws)
    assert "no new documents" in r["skipped"]["corpus_drift"] and not r["drift"]  # excluded files are not "new"


@pytest.mark.slow
def test_corpus_drift_triggers_the_reindex_subflow(drift_seed, tmp_path) -> None:
    ws = new_workspace(tmp_path, drift_seed.cache)
    shutil.copytree(drift_seed.settings.index_dir, ws.index_dir, symlinks=True)
    both = corpus_with_new_documents(tmp_path / "both")
    r = drift(dcfg(NORMAL_WEEK, f"corpus.source={both}", "tests.corpus_drift.params.min_samples=10",
                   "actions.reindex.enabled=true", f"actions.reindex.config={tmp_path / 'none.yaml'}",
                   f"actions.reindex.overrides=[source={both}, {', '.join(SLICE)}, gate.enabled=false]"), ws)
    action = r["actions"]["reindex"]
    assert action["how"] == "subflow" and action["status"] == "published" and action["tests"] == ["corpus_drift"]
    again = drift(dcfg(NORMAL_WEEK, f"corpus.source={both}"), ws)  # the new documents are indexed now
    assert "no new documents" in again["skipped"]["corpus_drift"] and not again["drift"]
