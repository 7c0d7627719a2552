"""Segments, the review queue and the report files (markdown, HTML, PNG plots, CSVs)."""

from __future__ import annotations

import base64
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from tasks.evaluate.champion import Champion
from tasks.evaluate.config import EvaluateConfig, GateConfig, SegmentsConfig
from tasks.evaluate.gate import apply_gate
from tasks.reporting.render import to_html, to_markdown
from tasks.evaluate.report import write_report
from tasks.evaluate.review_queue import review_queue
from tasks.segments import (
    length_bucket,
    query_segments,
    script_of,
    segment_table,
)

QUERIES = {"q1": "vitamin d and bones", "q2": "Как работает индекс", "q3": "a much longer question about statins "
           "and cholesterol in older patients today", "q4": "diabetes"}
QRELS = {"q1": {"d1": 1}, "q2": {"d2": 1, "d3": 1}, "q3": {"d4": 2}, "q4": {"d5": 1}}
DOCS = {"d1": {"doc_type": "pdf", "team": "a"}, "d2": {"doc_type": "html", "language": "ru"},
        "d3": {"doc_type": "markdown", "language": "ru"}, "d4": {"doc_type": "pdf"}, "d5": {}}


def test_segment_labels_from_query_metadata_documents_and_text():
    labels = query_segments(QUERIES, QRELS, DOCS, {"q4": {"doc_type": "faq", "team": "b"}},
                            SegmentsConfig(metadata_keys=["team"], query_length_buckets=[3, 8]))
    assert labels.loc["q1"].to_dict() == {"doc_type": "pdf", "language": "script:latin", "query_length": "4-8",
                                          "meta.team": "a"}
    assert labels.loc["q2", "doc_type"] == "mixed" and labels.loc["q2", "language"] == "ru"
    assert labels.loc["q3", "query_length"] == "9+" and labels.loc["q3", "meta.team"] == "unknown"
    assert labels.loc["q4"].to_dict() == {"doc_type": "faq", "language": "script:latin", "query_length": "1-3",
                                          "meta.team": "b"}  # the query's own metadata wins
    assert script_of("Как дела") == "script:cyrillic" and script_of("東京の天気") == "script:cjk"
    assert script_of("1234 !") == "script:none" and length_bucket("a b c d e f", [5, 10]) == "6-10"


def test_segment_table_means_counts_and_deltas():
    per_query = pd.DataFrame({"ndcg@10": [1.0, 0.5, 0.0, 0.25]}, index=pd.Index(list(QRELS), name="query_id"))
    labels = query_segments(QUERIES, QRELS, DOCS, {}, SegmentsConfig(language=False, query_length_buckets=[]))
    deltas = pd.DataFrame({"ndcg@10": [0.0, -0.5, -1.0]}, index=["q1", "q2", "q3"])
    table = segment_table(per_query, labels, deltas).set_index("value")
    assert table.loc["pdf", "n_queries"] == 2 and table.loc["pdf", "ndcg@10"] == 0.5
    assert table.loc["pdf", "delta ndcg@10"] == -0.5 and np.isnan(table.loc["unknown", "delta ndcg@10"])
    buckets = pd.DataFrame({"query_length": ["21+", "6-10", "1-5", "11-20"]}, index=per_query.index)
    assert segment_table(per_query, buckets)["value"].tolist() == ["1-5", "6-10", "11-20", "21+"]


def test_review_queue_lists_most_regressed_first_then_zero_relevant_in_top_k():
    per_query = pd.DataFrame({"ndcg@10": [1.0, 0.2, 0.0, 0.6]}, index=pd.Index(list(QRELS), name="query_id"))
    champion = pd.Series({"q1": 1.0, "q2": 0.9, "q3": 0.3, "q4": 0.7})
    run = {"q1": {"d1": 0.9}, "q2": {"x": 0.9, "d2": 0.5}, "q3": {f"x{i}": 1 - i / 100 for i in range(12)} | {"d4": 0.5},
           "q4": {"d5": 0.8}}
    review = review_queue(per_query, "ndcg@10", run, QRELS, QUERIES, champion, top_n=2, k=10)
    assert review[["reason", "query_id"]].values.tolist() == [
        ["regressed", "q2"], ["regressed", "q3"], ["zero_relevant@10", "q3"]]
    first = review.iloc[0]
    assert first["delta"] == pytest.approx(-0.7) and first["first_relevant_rank"] == 2
    assert first["relevant_doc_ids"] == "d2 d3" and first["top_doc_ids"] == "x d2"
    assert review.iloc[2]["first_relevant_rank"] == 13 and review.iloc[2]["query"].startswith("a much longer")
    without = review_queue(per_query, "ndcg@10", run, QRELS, QUERIES, None)
    assert without["reason"].tolist() == ["zero_relevant@10"] and without["delta"].isna().all()


def test_render_escapes_tables_and_html():
    blocks = [("h1", "t <x>"), ("p", "**FAIL** — a|b"), ("table", pd.DataFrame({"a|b": [0.123456, None]})),
              ("list", []), ("img", ("p.png", "plot"))]
    md = to_markdown(blocks)
    assert "| a\\|b |" in md and "| a|b |" not in md and "| 0.1235 |" in md and "- (none)" in md
    assert "**FAIL** — a|b" in md  # paragraphs are not tables
    assert "![plot](p.png)" in md
    html = to_html(blocks, "title")
    assert "t &lt;x&gt;" in html and '<b class="fail">FAIL</b>' in html and '<img src="p.png"' in html


def test_write_report_produces_markdown_html_plots_and_csvs(tmp_path):
    rng = np.random.default_rng(0)
    ids = pd.Index(list(QRELS), name="query_id")
    tonight = pd.DataFrame({"ndcg@10": [0.9, 0.1, 0.0, 0.5], "mrr@10": [1.0, 0.0, 0.0, 0.5]}, index=ids)
    champ = Champion("champ-1", "promoted", "2026-01-01T00:00:00+00:00",
                     pd.DataFrame({"ndcg@10": [1.0, 0.9, 0.3, 0.5], "mrr@10": [1.0, 1.0, 0.5, 0.5]}, index=ids))
    cfg = EvaluateConfig(metrics=["ndcg@10", "mrr@10"], gate=GateConfig(min_effect=0.0, alpha=0.5))
    outcome = apply_gate(tonight, {"ndcg@10": 0.375, "ann_recall@10": 1.0}, champ, cfg.gate)
    ev = SimpleNamespace(
        golden=SimpleNamespace(key="mini:test", content_hash="ab" * 32), golden_version="f" * 32,
        checked=SimpleNamespace(queries=QUERIES, qrels=QRELS, summary={
            "n_scorable": 4, "n_queries_file": 5, "gx_success": False,
            "messages": ["1 qrels point at a document or query that does not exist"]}),
        index={"version": "v" * 32, "build": "b1", "spec": "flat", "embedder": "all-MiniLM-L6-v2", "n_documents": 5},
        per_query=tonight, run={q: {d: 1.0 for d in QRELS[q]} for q in QRELS},
        aggregates={"ndcg@10": 0.375, "mrr@10": 0.375, "latency_p95_ms": 12.5, "ann_recall@10": 1.0},
        system={"ann_source": "flat index: search is exact"},
        segments=query_segments(QUERIES, QRELS, DOCS, {}, SegmentsConfig()))
    history = pd.DataFrame({"run_id": ["a", "b"], "start_time": pd.to_datetime(["2026-01-01", "2026-01-02"]),
                            "status": ["pass", "fail"], "ndcg@10": rng.uniform(size=2), "mrr@10": [0.5, None]})
    files = write_report(tmp_path / "r", ev, outcome, champ, history, cfg, "run-42")
    md = files.markdown.read_text()
    assert md.startswith("# nightshift evaluate — mini:test") and "**FAIL** — ndcg@10: significant drop" in md
    assert "| ndcg@10 | 0.6750 | 0.3750 | -0.3000 |" in md and "champ-1 (promoted" in md
    assert "![delta distribution](delta_distribution.png)" in md and "1 qrels point at" in md
    page = files.html.read_text()
    assert "<table>" in page and 'src="delta_distribution.png"' not in page  # self-contained: plots are inlined
    inlined = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert [base64.b64decode(b) for b in inlined] == [p.read_bytes() for p in files.plots]
    assert [p.name for p in files.plots] == ["delta_distribution.png", "metric_history.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in files.plots)
    review = pd.read_csv(files.review)
    assert review["reason"].iloc[0] == "regressed" and files.n_review == len(review)
    assert pd.read_csv(files.per_query, dtype={"query_id": str}).shape == (4, 3)
    assert {"doc_type", "language", "query_length"} <= set(pd.read_csv(files.segments)["segment"])


def test_a_champion_without_the_gate_metric_passes_and_the_report_is_written(tmp_path):
    ids = pd.Index(list(QRELS), name="query_id")
    tonight = pd.DataFrame({"ndcg@10": [0.9, 0.1, 0.0, 0.5], "mrr@10": [1.0, 0.0, 0.0, 0.5]}, index=ids)
    champ = Champion("champ-2", "last passing run", "2026-01-01T00:00:00+00:00",
                     pd.DataFrame({"mrr@10": [1.0, 1.0, 0.5, 0.5]}, index=ids))  # recorded before ndcg@10 was measured
    cfg = EvaluateConfig(metrics=["ndcg@10", "mrr@10"])
    outcome = apply_gate(tonight, {"ndcg@10": 0.375, "ann_recall@10": 1.0}, champ, cfg.gate)
    assert outcome.status == "pass" and "no comparable champion" in outcome.reason
    ev = SimpleNamespace(
        golden=SimpleNamespace(key="mini:test", content_hash="ab" * 32), golden_version="f" * 32,
        checked=SimpleNamespace(queries=QUERIES, qrels=QRELS, summary={
            "n_scorable": 4, "n_queries_file": 4, "gx_success": True, "messages": []}),
        index={"version": "v" * 32, "build": "b1", "spec": "flat", "embedder": "all-MiniLM-L6-v2", "n_documents": 5},
        per_query=tonight, run={q: {d: 1.0 for d in QRELS[q]} for q in QRELS},
        aggregates={"ndcg@10": 0.375, "mrr@10": 0.375, "ann_recall@10": 1.0},
        system={"ann_source": "flat index: search is exact"},
        segments=query_segments(QUERIES, QRELS, DOCS, {}, SegmentsConfig()))
    files = write_report(tmp_path / "r", ev, outcome, champ, pd.DataFrame(), cfg, "run-43")
    assert files.plots == [] and "no comparable champion" in files.markdown.read_text()
