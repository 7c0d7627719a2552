"""Comparison table, Pareto front, recommendation within budget, cost, report files, result cache."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from tasks.benchmark.config import Budget, Prices
from tasks.benchmark.cost import costs
from tasks.benchmark.report import comparison_table, pareto_flags, recommend, to_markdown
from tasks.benchmark.results import CandidateResult, ResultStore
from tasks.trec import read_trec, write_trec

METRICS = ["ndcg@10", "recall@100"]


def record(dataset, candidate, ndcg, docs_per_s, p95, status="ok", **systems):
    return {"dataset": dataset, "candidate": candidate, "status": status, "fingerprint": candidate,
            "dataset_hash": dataset, "cached": False, "child_run_id": "", "error": "", "mode": "dense",
            "metrics": {"ndcg@10": ndcg, "recall@100": 0.9} if status == "ok" else {},
            "systems": {"docs_per_s": docs_per_s, "query_p95_ms": p95, "index_bytes": 1000,
                        "usd_per_1k_queries": 0.001, **systems} if status == "ok" else {}}


RECORDS = [record("a", "slow-best", 0.70, 10, 50), record("a", "fast-good", 0.65, 100, 20),
           record("a", "dominated", 0.60, 50, 30), record("a", "too-slow-query", 0.80, 5, 500),
           record("b", "slow-best", 0.55, 12, 60), record("b", "fast-good", 0.62, 90, 25),
           record("b", "dominated", 0.50, 40, 30), record("b", "too-slow-query", 0.75, 5, 400),
           record("a", "broken", 0, 0, 0, status="failed"), record("b", "broken", 0, 0, 0, status="failed")]


def test_pareto_front_is_per_dataset_and_ignores_failures():
    table = comparison_table(RECORDS, METRICS)
    front = set(table[table["pareto"]].apply(lambda r: (r["dataset"], r["candidate"]), axis=1))
    assert front == {("a", "fast-good"), ("a", "slow-best"), ("a", "too-slow-query"),
                     ("b", "fast-good"), ("b", "too-slow-query")}  # on b, fast-good beats slow-best on both
    by_recall = pareto_flags(table, "recall@100")  # every recall is 0.9: only each dataset's fastest is on that front
    assert {(d, c) for d, c, f in zip(table["dataset"], table["candidate"], by_recall) if f} == {
        ("a", "fast-good"), ("b", "fast-good")}
    on_budget_metric = comparison_table(RECORDS, METRICS, pareto_metric="recall@100")  # what the plot draws
    assert on_budget_metric["pareto"].tolist() == by_recall


def test_recommendation_is_best_mean_quality_within_budget_with_reason():
    table = comparison_table(RECORDS, METRICS)
    rec = recommend(table, Budget(max_query_p95_ms=100))
    assert rec.candidate == "fast-good"  # mean 0.635 > slow-best (0.70 + 0.55) / 2 = 0.625
    assert rec.score == pytest.approx(0.635)
    assert "too-slow-query" in rec.excluded and "query_p95_ms 500 > 100" in rec.excluded["too-slow-query"]
    assert "failed on a" in rec.excluded["broken"]
    assert "best mean ndcg@10 0.6350 over 2 dataset(s)" in rec.reason and "max_query_p95_ms=100" in rec.reason
    unlimited = recommend(table, Budget(max_query_p95_ms=None))
    assert unlimited.candidate == "too-slow-query"
    none = recommend(table, Budget(max_query_p95_ms=1))
    assert none.candidate is None and none.reason.startswith("no candidate within the budget")


def test_min_throughput_budget():
    rec = recommend(comparison_table(RECORDS, METRICS), Budget(max_query_p95_ms=None, min_docs_per_s=80))
    assert rec.candidate == "fast-good"
    assert "docs_per_s 5 < 80" in rec.excluded["too-slow-query"]


def test_costs_self_hosted_and_api():
    prices = Prices(cpu_hour_usd=3.6, gpu_hour_usd=36.0, api_usd_per_1m_tokens={"api-model": 0.02})
    systems = {"tokens_per_s": 1000.0, "query_mean_ms": 10.0, "query_mean_tokens": 20.0}
    cpu = costs(systems, prices, "local")
    assert cpu["usd_per_1m_tokens"] == pytest.approx(1.0)  # 1000 s at $0.001/s
    assert cpu["usd_per_1k_queries"] == pytest.approx(0.01)  # 10 s at $0.001/s
    assert costs(systems, prices, "local", "cuda:0")["usd_per_1m_tokens"] == pytest.approx(10.0)
    api = costs(systems, prices, "api-model")
    assert api["usd_per_1m_tokens"] == 0.02
    assert api["usd_per_1k_queries"] == pytest.approx(1000 * (20 * 0.02 / 1e6) + 0.01)


def test_markdown_table_rounds_for_reading():
    table = pd.DataFrame([{"c": "x", "q": 0.123456, "n": 125997.0, "s": 1234.5678, "m": math.nan}])
    md = to_markdown(table, ["c", "q", "n", "s", "m"])
    assert md.splitlines() == ["| c | q | n | s | m |", "|---|---|---|---|---|", "| x | 0.1235 | 125,997 | 1,234.6 | - |"]


def test_report_files_and_json_results(tmp_path):
    from tasks.benchmark.config import BenchmarkConfig
    from tasks.benchmark.summary import json_results, write_report

    cfg = BenchmarkConfig.model_validate({"measure": {"metrics": METRICS}})
    report = write_report(RECORDS, cfg, tmp_path / "r")
    names = {p.name for p in report.files}
    assert names == {"comparison.csv", "comparison.md", "by_dataset.md", "recommendation.json", "pareto.png",
                     "by_dataset.png"}
    for png in ("pareto.png", "by_dataset.png"):
        assert (tmp_path / "r" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(tmp_path / "r" / "comparison.csv")) == len(RECORDS)
    assert json.loads((tmp_path / "r" / "recommendation.json").read_text())["candidate"] == "fast-good"
    by_dataset = (tmp_path / "r" / "by_dataset.md").read_text().splitlines()
    assert by_dataset[0].startswith("| ndcg@10 |") and by_dataset[-1].startswith("| mean |")
    on_recall = write_report(RECORDS, BenchmarkConfig.model_validate(
        {"measure": {"metrics": METRICS}, "budget": {"metric": "recall@100"}}), tmp_path / "recall")
    front = pd.read_csv(on_recall.folder / "comparison.csv").query("pareto")  # the front the plot draws
    assert set(zip(front["dataset"], front["candidate"])) == {("a", "fast-good"), ("b", "fast-good")}
    rows = json_results(RECORDS, METRICS)
    assert rows[0]["ndcg@10"] == 0.70 and rows[-1]["ndcg@10"] is None and rows[-1]["status"] == "failed"


def result(per_query_values=(1.0, 0.5)) -> CandidateResult:
    per_query = pd.DataFrame({"ndcg@10": list(per_query_values)}, index=pd.Index(["q1", "q2"], name="query_id"))
    run = {"q1": {"d1": 0.9, "d2": 0.9, "d3": 0.1}, "q2": {"d2": 1 / 3}}
    return CandidateResult("ds", "h" * 64, "cand", "fp1", metrics={"ndcg@10": 0.75}, systems={"docs_per_s": 3.0},
                           per_query=per_query, run=run)


def test_result_store_round_trip_and_misses(tmp_path):
    store = ResultStore(tmp_path, "measure-a")
    assert store.get("h" * 64, "fp1") is None
    folder = store.put(result())
    got = store.get("h" * 64, "fp1")
    assert got is not None and got.cached and got.metrics == {"ndcg@10": 0.75}
    assert got.run == result().run  # scores survive exactly (ties included)
    assert got.per_query["ndcg@10"].tolist() == [1.0, 0.5] and list(got.per_query.index) == ["q1", "q2"]
    assert ResultStore(tmp_path, "measure-b").get("h" * 64, "fp1") is None  # other measurement settings
    (folder / "run.trec.gz").write_bytes(b"garbage")
    assert store.get("h" * 64, "fp1") is None  # unreadable: a miss, recomputed
    with pytest.raises(ValueError, match="only successful results"):
        store.put(CandidateResult("ds", "h" * 64, "cand", "fp2", status="failed"))


def test_trec_file_is_in_trec_eval_order(tmp_path):
    write_trec({"q1": {"a": 0.5, "b": 0.5, "c": 0.9}}, tmp_path / "r.gz")
    assert read_trec(tmp_path / "r.gz") == {"q1": {"c": 0.9, "b": 0.5, "a": 0.5}}
    import gzip

    lines = gzip.open(tmp_path / "r.gz", "rt").read().splitlines()
    assert [line.split()[2:4] for line in lines] == [["c", "1"], ["b", "2"], ["a", "3"]]


def test_peak_memory_sees_native_allocations():
    from tasks.benchmark.systems import PeakMemory

    import mmap

    size = 64 * 2**20
    block = mmap.mmap(-1, size)  # fresh anonymous pages, outside Python's heap (as FAISS/torch allocate)
    with PeakMemory(interval_ms=1) as mem:
        for offset in range(0, size, mmap.PAGESIZE):  # touch every page: now resident
            block[offset] = 1
    block.close()  # freed only after the block: the last sample sees it however threads were scheduled
    assert mem.delta >= 48 * 2**20
