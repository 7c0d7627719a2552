"""ANN validation with query embeddings (issue 11): every index kind the rule can pick is tuned on the golden
queries (and the service's query log) to ``index.min_recall_at_10``, the setting is recorded in the manifest,
MLflow and the reindex result, and every load searches with it. Real Prefect, MLflow, DVC, FAISS and MiniLM
on the 300-document SciFact slice (``tests/flows/conftest.py``)."""

from __future__ import annotations

import json

import pytest
from mlflow.tracking import MlflowClient

from flows.reindex import reindex
from tasks.ann_tuning import exact_neighbors, recall_at_k, search_params
from tasks.measure import stored_vectors
from tasks.publishing import IndexStore
from tasks.querylogs.served import QUERIES, append_line, served_dir
from tasks.reindex.ann_queries import validation_queries
from tasks.retrieval import embedder_for, open_index
from tests.flows.conftest import BASE, GATE_ON, GOLDEN, new_workspace, rcfg

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.mark.parametrize("kind", [pytest.param("hnsw", marks=pytest.mark.slow), "ivf", "ivfsq8",
                                  pytest.param("ivfpq", marks=pytest.mark.slow)])  # CI time: the rule's pick + ivf
def test_each_ann_kind_is_tuned_on_query_embeddings_and_served_with_that_setting(seed, tmp_path, kind):
    ws = new_workspace(tmp_path, seed.cache)
    logged = ["does vitamin d prevent fractures", "statins and cholesterol in the elderly", "bcg vaccine efficacy"]
    if kind == "hnsw":  # the service's query log joins the golden queries
        for text in logged:
            append_line(served_dir(ws.workspace) / QUERIES / "2026-12-01.jsonl", {"query": text, "query_id": text})
    result = reindex(rcfg(seed.source, *BASE, *GATE_ON, f"index.kind={kind}", "index.pq_m=8"), ws)
    assert result["status"] == "published", result
    loaded = open_index(ws.index_dir)
    ann = loaded.manifest.ann_validation
    assert ann["queries"] == ("golden+querylog" if kind == "hnsw" else "golden")
    assert ann["n_queries"] == 200 and ann["recall_at_10"] >= 0.95 and ann["min_recall_at_10"] == 0.95
    assert result["ann_recall_at_10"] == pytest.approx(ann["recall_at_10"], abs=1e-4)
    assert ann["search_params"] and search_params(loaded.index) == ann["search_params"]  # what queries use
    assert ann["tried"][-1]["params"] == ann["search_params"]  # the first setting reaching the target is kept

    # The same queries against exact search on the loaded index: the manifest's recall, as served.
    texts, _ = validation_queries(ws, str(GOLDEN), "test", 200)
    queries = embedder_for(loaded).encode(texts, kind="query")
    vectors, _ = stored_vectors(loaded, ws.cache_dir / "vectors.sqlite")
    truth = exact_neighbors(vectors, queries, 10)
    assert recall_at_k(loaded.index, queries, truth) == pytest.approx(ann["recall_at_10"], abs=1e-4)

    client = MlflowClient(ws.tracking_uri)
    run = client.get_run(result["run_id"])
    assert run.data.metrics["ann_recall_at_10"] == pytest.approx(ann["recall_at_10"], abs=1e-4)
    assert run.data.params["ann_queries"] == ann["queries"]
    assert json.loads(run.data.params["ann_search_params"]) == ann["search_params"]
    assert "ann_validation.json" in {a.path for a in client.list_artifacts(result["run_id"])}


def test_an_index_that_cannot_reach_the_target_is_rejected_with_its_best_recall(seed, tmp_path):
    ws = new_workspace(tmp_path, seed.cache)
    first = reindex(rcfg(seed.source, *BASE, *GATE_ON), ws)
    before = IndexStore(ws.index_dir).current()
    pq_only = reindex(rcfg(seed.source, *BASE, *GATE_ON, "index.kind=ivfpq", "index.pq_m=4", "index.refine=false",
                           "index.min_recall_at_10=0.99", "force=true"), ws)
    assert pq_only["status"] == "rejected"
    assert "at every search setting tried (best: {'nprobe':" in pq_only["reason"] and "< required 0.990" in pq_only["reason"]
    assert pq_only["ann_recall_at_10"] < 0.99
    assert IndexStore(ws.index_dir).current() == before and first["status"] == "published"


def test_flat_is_exact_and_without_golden_queries_stored_vectors_stand_in(seed, tmp_path):
    ws = new_workspace(tmp_path, seed.cache)
    flat = reindex(rcfg(seed.source, *BASE, *GATE_ON), ws)
    ann = open_index(ws.index_dir).manifest.ann_validation
    assert flat["ann_recall_at_10"] == 1.0 and ann["queries"] == "stored_vectors" and ann["search_params"] == {}
    hnsw = reindex(rcfg(seed.source, *BASE, "gate.golden_dir=missing", "index.kind=hnsw", "force=true"), ws)
    ann = open_index(ws.index_dir).manifest.ann_validation
    assert hnsw["status"] == "published" and ann["queries"] == "stored_vectors"  # said so, in the manifest
