"""Write a benchmark's report files: comparison table (CSV + markdown), figures, recommendation."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from tasks.benchmark.config import BenchmarkConfig
from tasks.benchmark.plots import dataset_bars, pareto_plot
from tasks.benchmark.report import Recommendation, comparison_table, pivot_markdown, recommend, to_markdown

TABLE_COLUMNS = ("dataset", "candidate", "status", "docs_per_s",
                 "query_p50_ms", "query_p95_ms", "peak_delta_mb", "index_bytes", "build_s",
                 "usd_per_1m_tokens", "usd_per_1k_queries", "pareto", "cached")
JSON_SYSTEMS = ("docs_per_s", "tokens_per_s", "query_p50_ms", "query_p95_ms", "peak_rss_mb", "peak_delta_mb", "index_bytes",
                "build_s", "usd_per_1m_tokens", "usd_per_1k_queries")


@dataclass
class Report:
    folder: Path
    files: list[Path]
    recommendation: Recommendation


def write_report(records: Sequence[dict[str, Any]], config: BenchmarkConfig, folder: Path,
                 candidates: dict[str, Any] | None = None) -> Report:
    """The report files; ``candidates`` (name -> Candidate) lets the recommendation name its reindex spec."""
    import dataclasses

    metrics = config.measure.metrics
    folder.mkdir(parents=True, exist_ok=True)
    table = comparison_table(records, metrics, config.budget.metric)  # the front the Pareto plot draws
    rec = recommend(table, config.budget)
    if rec.candidate and candidates and rec.candidate in candidates:
        rec = dataclasses.replace(rec, spec=candidates[rec.candidate].reindex_spec())
    columns = [*TABLE_COLUMNS[:3], *metrics, *TABLE_COLUMNS[3:]]
    files = [folder / "comparison.csv", folder / "comparison.md", folder / "by_dataset.md",
             folder / "recommendation.json"]
    table.to_csv(files[0], index=False)
    files[1].write_text(to_markdown(table, columns) + f"\n**Recommended:** {rec.candidate or 'none'} — {rec.reason}\n",
                        encoding="utf-8")
    files[2].write_text(pivot_markdown(table, config.budget.metric), encoding="utf-8")
    files[3].write_text(json.dumps(rec.as_dict(), indent=1), encoding="utf-8")
    files.append(pareto_plot(table, config.budget.metric, folder / "pareto.png", rec.candidate))
    files.append(dataset_bars(table, config.budget.metric, folder / "by_dataset.png"))
    return Report(folder, files, rec)


def _number(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def json_results(records: Sequence[dict[str, Any]], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """The CLI's ``results`` list: one flat object per (dataset, candidate); null where not measured."""
    out = []
    for r in records:
        row = {"dataset": r["dataset"], "candidate": r["candidate"], "status": r["status"],
               **{m: _number(r["metrics"].get(m)) for m in metrics},
               **{k: _number(r["systems"].get(k)) for k in JSON_SYSTEMS},
               "cached": r["cached"], "fingerprint": r["fingerprint"], "dataset_hash": r["dataset_hash"],
               "child_run_id": r["child_run_id"]}
        if r.get("error"):
            row["error"] = r["error"]
        out.append(row)
    return out
