"""The evaluation report: report.md + report.html + PNG plots + per_query/segments/review CSVs in one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.evaluate.champion import Champion, per_query_artifact
from tasks.evaluate.gate import GateOutcome
from tasks.reporting.render import Block, to_html, to_markdown
from tasks.evaluate.review_queue import review_queue
from tasks.segments import segment_table
from tasks.trec import write_trec


@dataclass
class ReportFiles:
    folder: Path
    markdown: Path
    html: Path
    per_query: Path
    review: Path
    segments: Path
    plots: list[Path]
    n_review: int


def champion_deltas(per_query: pd.DataFrame, champion: Champion | None) -> pd.DataFrame | None:
    """Per-query Δ (tonight − champion) on the queries both scored, for the metrics both hold."""
    if champion is None:
        return None
    common = per_query.index.intersection(champion.per_query.index)
    metrics = [m for m in per_query.columns if m in champion.per_query.columns]
    if common.empty or not metrics:
        return None
    return per_query.loc[common, metrics] - champion.per_query.loc[common, metrics]


def _evidence_table(outcome: GateOutcome) -> pd.DataFrame:
    rows = [{"metric": m, "champion": e["champion_mean"], "tonight": e["candidate_mean"], "Δ": e["delta"],
             "CI low": e["ci_low"], "CI high": e["ci_high"], "p (one-sided)": e["p_value"], "n": int(e["n"]),
             "gates": "yes" if m == outcome.metric else "reported"} for m, e in outcome.evidence.items()]
    return pd.DataFrame(rows)


def _blocks(ev: Any, outcome: GateOutcome, champion: Champion | None, seg: pd.DataFrame, review: pd.DataFrame,
            plots: list[Path], run_id: str, floors: dict[str, float]) -> list[Block]:
    status = "**PASS**" if outcome.status == "pass" else "**FAIL**"
    check = ev.checked.summary
    blocks: list[Block] = [
        ("h1", f"nightshift evaluate — {ev.golden.key}"),
        ("p", f"{status} — {outcome.reason}"),
        ("p", f"MLflow run {run_id}; index {ev.index['version'] or ev.index['build']} ({ev.index['spec']}, "
              f"{ev.index['embedder']}, {ev.index['n_documents']} documents); champion: "
              + (f"{champion.run_id} ({champion.how}, since {champion.since})" if champion else "none")),
        ("h2", "Gate evidence (paired, per query)"),
        ("table", _evidence_table(outcome)) if outcome.evidence else ("p", "No comparison: " + outcome.reason),
        ("h2", "Tonight's numbers"),
        ("table", pd.DataFrame([{"measure": k, "value": v} for k, v in ev.aggregates.items()])),
        ("p", f"ANN health: {ev.system.get('ann_source', '')}. Floors: "
              + (", ".join(f"{k} ≥ {v}" for k, v in floors.items()) or "none")),
    ]
    blocks += [("img", (p.name, p.stem.replace("_", " "))) for p in plots]
    blocks += [
        ("h2", "Golden set"),
        ("p", f"{check['n_scorable']} of {check['n_queries_file']} queries scored; golden hash "
              f"{ev.golden.content_hash[:12]}, DVC version {ev.golden_version}; GX validation "
              f"{'passed' if check['gx_success'] else 'flagged the qrels below'}."),
        ("list", check["messages"] or ["every qrel points at a document in the index"]),
        ("h2", "Segments"),
        ("table", seg),
        ("h2", f"Review queue ({len(review)} rows in review_queue.csv; first 15)"),
        ("table", review.head(15)[["reason", "query_id", "query", "score", "champion_score", "delta",
                                   "first_relevant_rank"]]),
    ]
    return blocks


def write_report(folder: Path, ev: Any, outcome: GateOutcome, champion: Champion | None,
                 history: pd.DataFrame, cfg: Any, run_id: str) -> ReportFiles:
    """Everything a human looks at, written into ``folder`` (logged to MLflow by the caller)."""
    from tasks.evaluate.plots import plot_deltas, plot_history

    folder.mkdir(parents=True, exist_ok=True)
    metric = cfg.gate.metric
    deltas = champion_deltas(ev.per_query, champion)
    comparable = deltas is not None and metric in deltas.columns  # the gate's own rule: the champion holds the metric
    seg = segment_table(ev.per_query, ev.segments, deltas)
    seg.to_csv(folder / "segments.csv", index=False)
    gold = champion.per_query[metric] if comparable else None
    review = review_queue(ev.per_query, metric, ev.run, ev.checked.qrels, ev.checked.queries, gold,
                          cfg.report.review_top_n, cfg.report.zero_relevant_k)
    review.to_csv(folder / "review_queue.csv", index=False)
    write_trec(ev.run, folder / "run.trec.gz", tag="evaluate")  # the ranked documents, as served
    plots = []
    if comparable:
        primary = outcome.primary
        ci = (primary["ci_low"], primary["ci_high"]) if primary else None
        plots.append(plot_deltas(deltas[metric], metric, ci, folder / "delta_distribution.png"))
    if len(history):
        plots.append(plot_history(history, cfg.metrics, folder / "metric_history.png"))
    blocks = _blocks(ev, outcome, champion, seg, review, plots, run_id, cfg.gate.floors)
    (folder / "report.md").write_text(to_markdown(blocks), encoding="utf-8")
    (folder / "report.html").write_text(to_html(blocks, f"nightshift evaluate {ev.golden.key}", folder),
                                        encoding="utf-8")
    return ReportFiles(folder, folder / "report.md", folder / "report.html",
                       per_query_artifact(ev.per_query, folder), folder / "review_queue.csv",
                       folder / "segments.csv", plots, len(review))
