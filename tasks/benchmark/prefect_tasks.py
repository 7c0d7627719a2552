"""Prefect tasks for the benchmark flow: thin adapters over ``tasks.benchmark.steps``, plus run bookkeeping."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.benchmark import steps
from tasks.benchmark.config import BenchmarkConfig
from tasks.config.settings import Settings
from tasks.prefect_args import unwalked
from tasks.tracking import Tracker

_opts = {"cache_policy": NO_CACHE, "persist_result": False}


def open_run(config: BenchmarkConfig, settings: Settings) -> steps.BenchmarkRun:
    tracker = Tracker(settings)
    run_id = tracker.start_run("benchmark")
    tracker.log_params(run_id, {"grid": config.grid.model_dump(), "measure": config.measure.model_dump(),
                                "prices": config.prices.model_dump(), "budget": config.budget.model_dump(),
                                "force": config.force})
    tracker.log_dict(run_id, config.model_dump(mode="json"), "config.json")
    return steps.BenchmarkRun(config, settings, tracker, run_id)


load_datasets = task(name="load_datasets", **_opts)(steps.load_datasets)
plan_candidates = task(name="plan_candidates", **_opts)(steps.plan_candidates)
open_workbench = unwalked(task(name="prepare_dataset", **_opts)(steps.open_workbench))  # the corpus: not walked
close_workbench = task(name="release_dataset", **_opts)(steps.close_workbench)
evaluate = task(name="evaluate_candidate", task_run_name="{cand.name}", **_opts)(steps.evaluate)


@task(name="report", **_opts)
def finish_run(run: steps.BenchmarkRun) -> dict[str, Any]:
    """Comparison table, figures and recommendation on the parent run; the CLI's JSON record."""
    from tasks.benchmark.summary import json_results, write_report

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report = write_report(run.records, run.config, run.settings.reports_dir / "benchmark" / f"{stamp}-{run.run_id[:8]}",
                          getattr(run, "candidates", {}))
    rec = report.recommendation
    t = run.tracker
    for path in report.files:
        t.log_artifact(run.run_id, path)
    seconds = time.perf_counter() - run.started
    t.log_metrics(run.run_id, {**run.counts, "n_results": len(run.records), "seconds_total": seconds,
                               **({f"recommended.{rec.metric}": rec.score} if rec.score is not None else {})})
    t.set_tags(run.run_id, {"nightshift.status": "finished", "nightshift.recommended": rec.candidate or "none",
                            "nightshift.recommendation_reason": rec.reason[:5000]})
    failed_all = bool(run.records) and all(r["status"] != "ok" for r in run.records)
    t.end_run(run.run_id, "FAILED" if failed_all else "FINISHED")
    return {"run_id": run.run_id, "results": json_results(run.records, run.config.measure.metrics),
            "recommended": rec.candidate, "reason": rec.reason, "report_dir": str(report.folder),
            "recommended_spec": rec.spec,
            **run.counts, "seconds": round(seconds, 3)}


def fail_run(run: steps.BenchmarkRun, exc: BaseException) -> None:
    """Mark the parent run failed (best effort: the original error is what the caller re-raises)."""
    run.mark_failed(exc, status="failed")
