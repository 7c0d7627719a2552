"""Retrieval metrics: hand-computed cases, pytrec_eval (trec_eval) on real runs, and evaluate loading."""

from __future__ import annotations

import csv
import gzip
import json
import math
import socket
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from tasks.scoring import (
    aggregate,
    parse_metric,
    per_query_metrics,
    query_metrics,
    rank_documents,
    score_aligned,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
METRICS = ("ndcg@10", "recall@100", "mrr@10", "map@100")
L2, L3, L4, L5 = (math.log2(x) for x in (2, 3, 4, 5))


def scores_for(run, qrels, metrics):
    return query_metrics(run, qrels, [parse_metric(m) for m in metrics])


# --- hand-computed -----------------------------------------------------------------------------


def test_ties_break_by_doc_id_descending_like_trec_eval():
    assert rank_documents({"a": 1.0, "b": 1.0, "c": 2.0, "x": 1.0}) == ["c", "x", "b", "a"]
    # ids compare as strings (trec_eval strcmp), not as numbers: "9" > "10"
    assert rank_documents({"10": 0.5, "9": 0.5, "100": 0.5}) == ["9", "100", "10"]
    assert rank_documents({"a": 1.0, "b": 1.0, "x": 1.0}, depth=2) == ["x", "b"]


def test_binary_example_by_hand():
    run = {"d1": 0.9, "d2": 0.8, "d3": 0.7, "d4": 0.6}
    qrels = {"d2": 1, "d4": 1, "d5": 1, "d1": 0}
    got = scores_for(run, qrels, ["ndcg@3", "recall@3", "mrr@3", "map@3", "recall@4", "map@4", "mrr@1"])
    assert got["ndcg@3"] == pytest.approx((1 / L3) / (1 + 1 / L3 + 1 / L4))
    assert got["recall@3"] == pytest.approx(1 / 3)
    assert got["mrr@3"] == pytest.approx(1 / 2)
    assert got["map@3"] == pytest.approx((1 / 2) / 3)
    assert got["recall@4"] == pytest.approx(2 / 3)
    assert got["map@4"] == pytest.approx((1 / 2 + 2 / 4) / 3)
    assert got["mrr@1"] == 0.0


def test_recall_and_map_divide_by_all_relevant_even_beyond_k():
    got = scores_for({"a": 2.0, "b": 1.0}, {"a": 1, "b": 1, "c": 1}, ["recall@1", "map@1", "ndcg@1"])
    assert got == {"recall@1": pytest.approx(1 / 3), "map@1": pytest.approx(1 / 3), "ndcg@1": 1.0}


def test_graded_example_with_ties_by_hand():
    # all tied: trec_eval order is x, c, b, a -> grades 0, 2, 1, 1 ; judged -1 and 0 are non-relevant
    run = {"a": 1.0, "b": 1.0, "c": 1.0, "x": 1.0}
    qrels = {"a": 1, "b": 1, "c": 2, "d": -1, "e": 0}
    got = scores_for(run, qrels, ["ndcg@3", "ndcg@5", "recall@3", "mrr@3", "map@3"])
    ideal3 = 2 / L2 + 1 / L3 + 1 / L4
    assert got["ndcg@3"] == pytest.approx((2 / L3 + 1 / L4) / ideal3)
    assert got["ndcg@5"] == pytest.approx((2 / L3 + 1 / L4 + 1 / L5) / ideal3)
    assert got["recall@3"] == pytest.approx(2 / 3)
    assert got["mrr@3"] == pytest.approx(1 / 2)
    assert got["map@3"] == pytest.approx((1 / 2 + 2 / 3) / 3)


def test_negative_grade_counts_as_non_relevant():
    qrels = {"a": 1, "n": -1, "z": 0}
    assert scores_for({"n": 2.0, "a": 1.0}, qrels, ["ndcg@2"]) == scores_for(
        {"z": 2.0, "a": 1.0}, qrels, ["ndcg@2"]
    )
    assert scores_for({"n": 2.0, "a": 1.0}, qrels, ["ndcg@2"])["ndcg@2"] == pytest.approx(1 / L3)


def test_ideal_dcg_uses_all_judged_relevant_docs_not_only_retrieved():
    got = scores_for({"a": 1.0}, {"a": 1, "b": 3}, ["ndcg@10"])
    assert got["ndcg@10"] == pytest.approx(1 / (3 + 1 / L3))


def test_query_coverage_rules():
    run = {"q1": {"a": 1.0}, "q_unjudged": {"a": 1.0}, "q_norel": {"a": 1.0}}
    qrels = {"q1": {"a": 2}, "q_missing": {"b": 1}, "q_norel": {"a": 0}}
    df = per_query_metrics(run, qrels, METRICS)
    assert list(df.index) == ["q1", "q_missing"]
    assert df.loc["q1"].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert df.loc["q_missing"].tolist() == [0.0, 0.0, 0.0, 0.0]  # as trec_eval -c
    assert df.attrs["skipped_query_ids"] == ["q_norel"]
    assert df.attrs["unjudged_query_ids"] == ["q_unjudged"]
    assert aggregate(df) == {m: 0.5 for m in METRICS}


def test_per_query_metrics_columns_and_index():
    run, qrels = {"2": {"a": 1.0}, "1": {"b": 1.0}}, {2: {"a": 1}, 1: {"a": 1}}
    df = per_query_metrics(run, qrels, ["mrr@5", "ndcg@1"])
    assert list(df.columns) == ["mrr@5", "ndcg@1"]
    assert list(df.index) == ["1", "2"] and df.index.name == "query_id"
    assert df["mrr@5"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name", ["ndcg", "ndcg@0", "p@10", "ndcg@-1", "ndcg@ten"])
def test_parse_metric_rejects_bad_names(name):
    with pytest.raises(ValueError, match="unknown metric"):
        parse_metric(name)


def test_parse_metric_accepts_case_and_space():
    assert parse_metric(" NDCG@10 ") == ("ndcg", 10)


def test_invalid_inputs_raise():
    with pytest.raises(ValueError, match="NaN"):
        per_query_metrics({"q": {"a": float("nan")}}, {"q": {"a": 1}})
    with pytest.raises(ValueError, match="integers"):
        per_query_metrics({"q": {"a": 1.0}}, {"q": {"a": 1.5}})
    with pytest.raises(ValueError, match="duplicates"):
        per_query_metrics({}, {"q": {"a": 1}}, ["ndcg@10", "NDCG@10"])
    with pytest.raises(ValueError, match="no scored queries"):
        aggregate(per_query_metrics({}, {"q": {"a": 0}}))


def test_inputs_are_not_mutated():
    run, qrels = {"q": {"b": 1.0, "a": 1.0}}, {"q": {"a": 1, "b": 0}}
    before = json.dumps([run, qrels])
    per_query_metrics(run, qrels)
    assert json.dumps([run, qrels]) == before


def test_score_aligned_keeps_input_order_and_lists_skipped():
    out = score_aligned(
        "mrr@10",
        [{"a": 1.0}, {"a": 1.0}, {"b": 2.0, "a": 1.0}],
        [{"a": 1}, {"a": 0}, {"a": 1}],
        query_ids=["z", "y", "x"],
    )
    assert out["query_ids"] == ["z", "x"] and out["per_query"] == [1.0, 0.5]
    assert out["skipped_query_ids"] == ["y"] and out["score"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="predictions but"):
        score_aligned("mrr@10", [{}], [])


# --- real collections vs pytrec_eval (trec_eval 9) ----------------------------------------------


def read_qrels(name: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with open(DATA / name / "qrels" / "test.tsv", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        assert next(reader) == ["query-id", "corpus-id", "score"]
        for qid, doc_id, grade in reader:
            qrels[qid][doc_id] = int(grade)
    return dict(qrels)


def bm25_run(name: str, qrels: dict[str, dict[str, int]], depth: int = 100) -> dict[str, dict[str, float]]:
    bm25s = pytest.importorskip("bm25s")
    with gzip.open(DATA / name / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(line) for line in handle]
    with open(DATA / name / "queries.jsonl", encoding="utf-8") as handle:
        queries = {q["_id"]: q["text"] for q in map(json.loads, handle) if q["_id"] in qrels}
    retriever = bm25s.BM25()
    texts = [f"{d['title']} {d['text']}" for d in docs]
    retriever.index(bm25s.tokenize(texts, show_progress=False), show_progress=False)
    qids = sorted(queries)
    tokens = bm25s.tokenize([queries[q] for q in qids], show_progress=False)
    hits, scores = retriever.retrieve(tokens, k=depth, show_progress=False, n_threads=1)
    return {
        qid: {docs[i]["_id"]: float(s) for i, s in zip(row_hits, row_scores)}
        for qid, row_hits, row_scores in zip(qids, hits, scores)
    }


def tied_random_run(qrels: dict[str, dict[str, int]], doc_ids: list[str], seed: int = 0) -> dict:
    """Relevant docs + 150 random docs per query, integer scores 0..4: ties everywhere."""
    rng = np.random.default_rng(seed)
    run = {}
    for qid in sorted(qrels):
        pool = set(qrels[qid]) | {doc_ids[i] for i in rng.choice(len(doc_ids), 150, replace=False)}
        run[qid] = {d: float(rng.integers(0, 5)) for d in sorted(pool)}
    return run


TREC_MEASURES = {  # ours -> trec_eval measure name
    "ndcg@10": "ndcg_cut_10", "ndcg@3": "ndcg_cut_3", "recall@100": "recall_100",
    "recall@10": "recall_10", "map@100": "map_cut_100", "map@10": "map_cut_10",
}
COMPARED = (*TREC_MEASURES, "mrr@10")


def pytrec_reference(run, qrels) -> dict[str, dict[str, float]]:
    pytrec_eval = pytest.importorskip("pytrec_eval")
    measures = {".".join(name.rsplit("_", 1)) for name in TREC_MEASURES.values()} | {"recip_rank"}
    out = {}
    for qid, m in pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run).items():
        out[qid] = {ours: m[theirs] for ours, theirs in TREC_MEASURES.items()}
        rr = m["recip_rank"]  # RR@10 = RR when the first relevant doc is within rank 10, else 0
        out[qid]["mrr@10"] = rr if rr >= 0.1 - 1e-12 else 0.0
    return out


def max_abs_diff(run, qrels) -> float:
    ours = per_query_metrics(run, qrels, COMPARED)
    ref = pytrec_reference(run, qrels)
    assert sorted(ref) == list(ours.index)  # every judged query is in the run here
    return max(abs(ours.at[q, m] - ref[q][m]) for q in ref for m in COMPARED)


@pytest.fixture(scope="module")
def scifact_qrels():
    if not (DATA / "scifact").is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    return read_qrels("scifact")


def test_matches_pytrec_eval_on_scifact_bm25(scifact_qrels):
    run = bm25_run("scifact", scifact_qrels)
    assert max_abs_diff(run, scifact_qrels) < 1e-12
    ndcg = aggregate(per_query_metrics(run, scifact_qrels))["ndcg@10"]
    assert 0.5 < ndcg < 0.8  # a sane BM25 on SciFact, not a degenerate run


def test_matches_pytrec_eval_on_scifact_with_massive_ties(scifact_qrels):
    with gzip.open(DATA / "scifact" / "corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        doc_ids = [json.loads(line)["_id"] for line in handle]
    run = tied_random_run(scifact_qrels, doc_ids)
    assert max_abs_diff(run, scifact_qrels) < 1e-12
    # breaking the same ties by doc id ascending gives other numbers: the tie rule is exercised
    ascending = {q: sorted(docs, key=lambda d: (-docs[d], d)) for q, docs in run.items()}
    asc_run = {q: {d: float(len(order) - i) for i, d in enumerate(order)} for q, order in ascending.items()}
    ours = per_query_metrics(run, scifact_qrels).to_numpy()
    assert not np.allclose(ours, per_query_metrics(asc_run, scifact_qrels).to_numpy())


def test_matches_pytrec_eval_on_graded_cranfield_bm25():
    if not (DATA / "cranfield").is_dir():
        pytest.skip(f"shared data not found at {DATA}")
    qrels = read_qrels("cranfield")
    assert max(g for docs in qrels.values() for g in docs.values()) == 4  # graded
    run = bm25_run("cranfield", qrels)
    assert max_abs_diff(run, qrels) < 1e-12


# --- the evaluate modules -----------------------------------------------------------------------


def test_evaluate_modules_load_offline_and_match_scoring(monkeypatch):
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    from metrics import load_metric

    rng = np.random.default_rng(3)
    ids = [f"q{i}" for i in range(40)]
    run = {q: {f"d{j}": float(rng.integers(0, 4)) for j in range(30)} for q in ids}
    qrels = {q: {f"d{j}": int(rng.integers(0, 4)) for j in rng.choice(30, 5, replace=False)} for q in ids}
    qrels["q0"] = {"d1": 0}  # no relevant judgment: skipped and listed
    expected = per_query_metrics(run, qrels, ["ndcg@10", "recall@20", "mrr@10", "map@20"])
    for name, label, k in [("ndcg_at_k", "ndcg@10", None), ("recall_at_k", "recall@20", 20),
                           ("mrr_at_k", "mrr@10", 10), ("map_at_k", "map@20", 20)]:
        module = load_metric(name)
        kwargs = {} if k is None else {"k": k}
        out = module.compute(predictions=[run[q] for q in ids], references=[qrels[q] for q in ids],
                             query_ids=ids, **kwargs)
        assert out["metric"] == label
        assert out["query_ids"] == ids[1:] and out["skipped_query_ids"] == ["q0"]
        assert out["per_query"] == expected.loc[ids[1:], label].tolist()
        assert out["score"] == pytest.approx(aggregate(expected)[label], abs=1e-15)


def test_evaluate_module_accepts_json_strings_and_batches():
    from metrics import load_metric

    module = load_metric("mrr_at_k")
    module.add_batch(predictions=['{"a": 1.0, "b": 2.0}'], references=['{"a": 1}'])
    module.add(prediction={"a": 1.0}, reference={"a": 1})
    out = module.compute()
    assert out["per_query"] == [0.5, 1.0] and out["query_ids"] == ["0", "1"]
    with pytest.raises(ValueError, match="unknown metric module"):
        load_metric("precision_at_k")
