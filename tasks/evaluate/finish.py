"""The end of an evaluate run: log the decision and its evidence to MLflow, write and log the report,
build the CLI's JSON record, notify. Everything is logged BEFORE the flow fails on a gate failure."""

from __future__ import annotations

import time
from typing import Any

from tasks.evaluate.champion import SINCE_TAG, STATUS_TAG, Champion, champion_stamp
from tasks.evaluate.gate import GateOutcome, outcome_record
from tasks.evaluate.history import metric_history
from tasks.evaluate.report import ReportFiles, write_report
from tasks.evaluate.steps import EvaluateRun, Evaluation
from tasks.notify import Delivery, notify_and_tag


def run_metrics(ev: Evaluation, outcome: GateOutcome) -> dict[str, float]:
    """Aggregates, golden-set counts, gate evidence per metric and segment means (``Tracker`` makes the keys MLflow's)."""
    check = ev.checked.summary
    metrics = dict(ev.aggregates)
    metrics.update({"n_queries": len(ev.per_query), **{f"golden.{k}": check[k] for k in (
        "n_queries_file", "n_scorable", "n_dangling", "n_unjudged", "n_no_relevant", "n_stale") if k in check}})
    for metric, values in outcome.evidence.items():
        metrics.update({f"gate.{metric}.{k}": v for k, v in values.items()})
    for dimension in ev.segments.columns:
        for value, ids in ev.per_query.groupby(ev.segments[dimension].reindex(ev.per_query.index)).groups.items():
            for metric in ev.per_query.columns:
                metrics[f"segment.{dimension}.{value}.{metric}"] = float(ev.per_query.loc[ids, metric].mean())
    return metrics


def log_results(run: EvaluateRun, ev: Evaluation, outcome: GateOutcome) -> None:
    """Metrics and the decision's tags (the champion tag comes last, in ``finish_run``)."""
    run.tracker.log_metrics(run.run_id, run_metrics(ev, outcome))
    run.tracker.set_tags(run.run_id, {STATUS_TAG: outcome.status, "nightshift.reason": outcome.reason[:500],
                                      "nightshift.champion_run_id": outcome.champion_run_id or ""})


def report(run: EvaluateRun, ev: Evaluation, outcome: GateOutcome, champion: Champion | None) -> ReportFiles:
    cfg = run.config
    with run.stage("report"):
        history = metric_history(run.tracker, cfg.golden_key, cfg.report.history_nights, cfg.metrics)
        return write_report(run.folder, ev, outcome, champion, history, cfg, run.run_id)


def result_record(run: EvaluateRun, ev: Evaluation, outcome: GateOutcome, files: ReportFiles) -> dict[str, Any]:
    """The ``--json`` object: run_id, status, metrics, champion_run_id, delta, ci_low, ci_high, p_value, n_queries."""
    compared = bool(outcome.evidence)
    return {"run_id": run.run_id, **outcome_record(outcome), "metrics": ev.aggregates,
            "n_queries": outcome.n_queries if compared else len(ev.per_query), "n_scored": len(ev.per_query),
            "golden": ev.golden.key, "golden_hash": ev.golden.content_hash, "golden_version": ev.golden_version,
            "golden_label_version": run.golden_label_version, "n_stale": ev.checked.summary.get("n_stale", 0),
            "relabel_queue": run.relabel_queue,
            "golden_messages": ev.checked.summary["messages"], "index_version": ev.index["version"],
            "index_build": ev.index["build"], "retriever": ev.index.get("retriever", ""),
            "run_file": str(files.folder / "run.trec.gz"), "report": str(files.html), "review_queue": str(files.review),
            "n_review": files.n_review, "seconds": round(time.perf_counter() - run.started, 3),
            "seconds_by_stage": dict(run.seconds)}


def finish_run(run: EvaluateRun, ev: Evaluation, outcome: GateOutcome, files: ReportFiles) -> dict[str, Any]:
    """Log the report and CSVs, the JSON record; crown a passing run; end the MLflow run (FAILED when the gate failed).

    A passing (live, not backfilled) run becomes the champion only once its ``per_query.csv`` is logged:
    a run that fails before that must never be found as a champion it cannot serve as."""
    from tasks.evaluate.champion import JUDGMENTS_ARTIFACT, judgment_fingerprints

    t, rid = run.tracker, run.run_id
    judgments = files.folder / JUDGMENTS_ARTIFACT  # what the next run's gate compares across golden versions
    judgment_fingerprints(ev.checked.qrels).to_csv(judgments, index_label="query_id")
    for path in (files.per_query, files.review, files.segments, files.folder / "run.trec.gz", judgments):
        t.log_artifact(rid, path)
    for path in (files.markdown, files.html, *files.plots):
        t.log_artifact(rid, path, "report")
    record = result_record(run, ev, outcome, files)
    t.log_metrics(rid, {"seconds_total": record["seconds"],
                        **{f"seconds.{k}": v for k, v in run.seconds.items()}})
    t.log_dict(rid, record, "result.json")
    if outcome.status == "pass" and not run.settings.run_tags.get("nightshift.as_of"):  # backfills replay, never crown
        t.set_tags(rid, {SINCE_TAG: champion_stamp()})
    t.end_run(rid, "FINISHED" if outcome.status == "pass" else "FAILED")
    return record


def notify_run(run: EvaluateRun, event: str, record: dict[str, Any]) -> Delivery:
    """Send the summary (never raises); the outcome (not the URL) is tagged on the run."""
    keys = ("run_id", "status", "reason", "metrics", "champion_run_id", "delta", "ci_low", "ci_high", "p_value",
            "n_queries", "golden", "index_version", "report", "review_queue", "n_review")
    return notify_and_tag(run.tracker, run.run_id, "evaluate", event, record, keys, run.config.notify)  # type: ignore[arg-type]


def fail_run(run: EvaluateRun, exc: BaseException) -> dict[str, Any]:
    """Record an error (best effort: the original error is what the caller re-raises) and notify."""
    from tasks.run_state import failure_reason

    record = {"run_id": run.run_id, "status": "error", "reason": failure_reason(exc)}
    run.mark_failed(exc, result=record)  # status tag: STATUS_TAG ("nightshift.status")
    notify_run(run, "error", record)
    return record
