"""The reindex flow end to end on real Prefect, MLflow (SQLite), DVC (local remote), FAISS and MiniLM."""

from __future__ import annotations

import json
import re

import pytest
from mlflow.tracking import MlflowClient

from flows.reindex import reindex
from tasks.config.loader import load_config
from tasks.reindex.config import ReindexConfig
from tasks.publishing import IndexStore, ReindexBusy, ReindexLock
from tasks.retrieval import embedder_for, open_index
from tasks.retriever import dense_search
from tests.conftest import scifact_records, write_records

pytestmark = pytest.mark.usefixtures("prefect_harness")


def config(source, *overrides) -> ReindexConfig:
    return load_config(ReindexConfig, None, [f"source={source}", *overrides])


@pytest.fixture
def corpus(tmp_path):
    return write_records(tmp_path / "src", scifact_records(120))


def test_publish_then_unchanged_then_incremental(workspace, corpus):
    first = reindex(config(corpus), workspace)
    assert first["status"] == "published", first
    assert first["n_documents"] == 120 and first["n_embedded"] == first["n_chunks"] > 0
    assert len(first["index_version"]) == 32

    loaded = open_index(workspace.index_dir)
    doc = scifact_records(1)[0]
    hits = dense_search(loaded, embedder_for(loaded), [doc["title"]], k=3)[0]
    assert hits[0].doc_id == doc["_id"]
    every_chunk = dense_search(loaded, embedder_for(loaded), [doc["title"]], k=loaded.index.ntotal)[0]
    best_chunk_per_doc: dict[str, str] = {}
    for h in every_chunk:  # in score order: the first chunk seen of a document is its best
        best_chunk_per_doc.setdefault(h.doc_id, h.chunk_id)
    per_document = dense_search(loaded, embedder_for(loaded), [doc["title"]], k=10, per_document=True)[0]
    assert len(every_chunk) > len(best_chunk_per_doc) == 120  # documents of several chunks: dedup is exercised
    assert [(h.doc_id, h.chunk_id) for h in per_document] == list(best_chunk_per_doc.items())[:10]

    client = MlflowClient(workspace.tracking_uri)
    run = client.get_run(first["run_id"])
    assert run.data.tags["nightshift.index_version"] == first["index_version"]
    assert run.data.metrics["n_embedded"] == first["n_embedded"]
    assert "seconds.embed" in run.data.metrics and "ann_recall_at_10" in run.data.metrics
    assert run.data.params["embedder.model"] == "all-MiniLM-L6-v2"
    assert re.fullmatch(r"reindex \d{4}-\d\d-\d\d \d\d:\d\d UTC", run.info.run_name)
    artifacts = {a.path for a in client.list_artifacts(first["run_id"])}
    assert {"manifest.json", "validation_summary.json", "result.json"} <= artifacts

    second = reindex(config(corpus), workspace)
    assert second["status"] == "unchanged" and second["n_embedded"] == 0
    assert second["n_chunks"] == first["n_chunks"] > 0  # the published index's, not "0 chunks"
    assert second["index_version"] == first["index_version"]

    records = scifact_records(120)
    for rec in records[:5]:
        rec["text"] += " Edited sentence for the incremental test."
    deleted = {rec["_id"] for rec in records[-3:]}
    write_records(corpus, records[:-3])
    third = reindex(config(corpus), workspace)
    assert third["status"] == "published"
    assert third["n_documents"] == 117
    edited_chunks = 5  # each short SciFact abstract is one chunk
    assert third["n_embedded"] == edited_chunks, third
    assert third["n_reused"] == third["n_chunks"] - edited_chunks
    loaded = open_index(workspace.index_dir)
    assert deleted.isdisjoint(set(loaded.chunks["doc_id"]))
    assert loaded.manifest.n_documents == 117
    history = IndexStore(workspace.index_dir).history()
    assert [h["index_version"] for h in history] == [first["index_version"], third["index_version"]]


def test_bf16_preset_builds_and_serves_its_own_index(workspace, corpus):
    """`embedder.model: all-MiniLM-L6-v2-bf16` in reindex.yaml: built, published and queried with bf16."""
    result = reindex(config(corpus, "embedder.model=all-MiniLM-L6-v2-bf16"), workspace)
    assert result["status"] == "published", result
    loaded = open_index(workspace.index_dir)
    embedder = embedder_for(loaded)  # from the manifest's config; refuses a fingerprint mismatch
    assert embedder.backend == "torch-bfloat16" and loaded.manifest.embedder_fingerprint == embedder.fingerprint
    doc = scifact_records(1)[0]
    assert dense_search(loaded, embedder, [doc["title"]], k=3)[0][0].doc_id == doc["_id"]


def test_rejected_build_leaves_current_untouched(workspace, corpus):
    first = reindex(config(corpus), workspace)
    before = IndexStore(workspace.index_dir).current()
    rejected = reindex(config(corpus, "index.min_recall_at_10=1.5", "force=true"), workspace)
    assert rejected["status"] == "rejected" and "recall" in rejected["reason"]
    assert IndexStore(workspace.index_dir).current() == before
    assert IndexStore(workspace.index_dir).current_version() == first["index_version"]


def test_second_reindex_refuses_while_one_runs(workspace, corpus):
    with ReindexLock(workspace.index_dir / ".reindex.lock"):
        with pytest.raises(ReindexBusy, match="another reindex is running"):
            reindex(config(corpus), workspace)
    assert IndexStore(workspace.index_dir).current() is None


def test_quarantine_share_over_limit_fails_without_publishing(workspace, tmp_path):
    records = scifact_records(20) + [{"_id": f"empty-{i}", "title": "", "text": "   "} for i in range(5)]
    source = write_records(tmp_path / "bad", records)
    from tasks.validation import QuarantineLimitExceeded

    with pytest.raises(QuarantineLimitExceeded, match="max_quarantine_share"):
        reindex(config(source), workspace)
    assert IndexStore(workspace.index_dir).current() is None
    quarantine = list(workspace.quarantine_dir.glob("*.jsonl"))
    reasons = [json.loads(line)["reason"] for line in quarantine[0].read_text().splitlines()]
    assert len(reasons) == 5 and all(reasons)


def test_broken_source_quarantines_each_bad_file_and_indexes_the_rest(workspace, tmp_path):
    from tests.fixtures.broken_source import make_broken_source

    expected = make_broken_source(tmp_path / "broken", n_good=40, big_file_mb=50)
    result = reindex(config(expected["root"], "validation.max_quarantine_share=0.5"), workspace)
    assert result["status"] == "published", result
    quarantine = [json.loads(line) for line in
                  (workspace.quarantine_dir / f"{result['build_id']}.jsonl").read_text().splitlines()]
    reasons = {q["id"]: q["reason"] for q in quarantine}
    for qid, prefix in expected["quarantined"].items():
        assert reasons.get(qid, "").startswith(prefix), (qid, reasons.get(qid))
    loaded = open_index(workspace.index_dir)
    assert set(loaded.chunks["doc_id"]) == set(expected["good"])
    only_bad = set(expected["quarantined"]) - set(expected["good"])  # a duplicate id keeps its first copy
    assert not (set(loaded.chunks["doc_id"]) & only_bad)


def test_restore_a_version_on_a_fresh_workspace(workspace, corpus, tmp_path):
    from tasks.config.settings import Settings
    from tasks.versioning import ensure_repo, restore

    first = reindex(config(corpus), workspace)
    fresh_root = tmp_path / "fresh"
    fresh_root.mkdir()
    fresh = Settings(workspace=fresh_root, dvc_remote_url=workspace.dvc_remote_url).resolved()
    repo = ensure_repo(fresh.workspace, fresh.dvc_remote_name, fresh.dvc_remote_url)
    folder = restore(repo, first["index_version"], IndexStore(fresh.index_dir).builds, name="restored")
    from tasks.index_artifact import load_index_artifact

    restored = load_index_artifact(folder)
    original = open_index(workspace.index_dir)
    assert restored.manifest == original.manifest
    assert restored.chunks.equals(original.chunks)
