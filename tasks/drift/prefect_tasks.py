"""Prefect tasks for the drift flow: thin adapters over ``tasks.drift.steps``, the MLflow bookkeeping of a
check (one run: every test's statistic, p-value and decision; tags; report, plots, review queue) and the
actions taken on drift (flag the golden set, notify, trigger a reindex)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from typing import Any, Callable

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.drift import steps
from tasks.drift.config import DriftConfig
from tasks.config.settings import Settings
from tasks.tracking import Tracker

_opts = {"cache_policy": NO_CACHE, "persist_result": False}


def open_run(config: DriftConfig, settings: Settings) -> steps.DriftRun:
    tracker = Tracker(settings)
    run_id = tracker.start_run("drift", tags={
        "nightshift.window.reference": config.windows.reference, "nightshift.window.current": config.windows.current})
    tracker.log_params(run_id, config.model_dump(exclude={"actions": {"notify": {"channel"}}}))
    return steps.DriftRun(config, settings, tracker, run_id)


load_windows = task(name="load_query_windows", **_opts)(steps.load_windows)
open_index = task(name="open_index", **_opts)(steps.open_index)
featurize = task(name="featurize_queries", **_opts)(steps.featurize)
add_corpus_inputs = task(name="corpus_inputs", **_opts)(steps.add_corpus_inputs)
run_tests = task(name="run_drift_tests", **_opts)(steps.run_tests)
explain = task(name="explain_drift", **_opts)(steps.explain)
report = task(name="write_report", **_opts)(steps.write_drift_report)
build_record = steps.build_record
not_enough_data = steps.not_enough_data_record


def _triggered(when: list[str], record: dict[str, Any]) -> list[str]:
    drifted = [t["name"] for t in record["tests"] if t["drift"]]
    return drifted if "any" in when else [d for d in drifted if d in when]


@task(name="flag_golden_refresh", **_opts)
def flag_golden_refresh(run: steps.DriftRun, record: dict[str, Any], cur: Any = None, shared: Any = None,
                        explanation: Any = None, loaded: Any = None) -> dict[str, Any]:
    """Write the flag file (what moved, examples) and tag the run when a configured test drifted; with
    ``labelling_file``, also a labelling file for the uncovered clusters (``golden label`` imports it)."""
    cfg = run.config.actions.golden_refresh
    why = _triggered(cfg.when, record) if cfg.enabled else []
    if not why:
        return {"requested": False}
    path = run.settings.resolve(cfg.flag_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    flag = {"requested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "run_id": run.run_id,
            "golden": run.facts.get("golden"), "tests": why, "reason": record["reason"],
            "clusters": record["clusters"], "windows": record["windows"]}
    made = refresh_file(run, cur, shared, explanation, loaded) if cfg.labelling_file and cur is not None else None
    if made is not None:
        flag["labelling"] = made
    path.write_text(json.dumps(flag, indent=2, default=str), encoding="utf-8")
    run.tracker.set_tags(run.run_id, {"nightshift.golden_refresh": "requested",
                                      **({"nightshift.golden_refresh_file": made["file"]}
                                         if made and made.get("file") else {})})
    return {"requested": True, "flag_file": str(path), "tests": why, **({"labelling": made} if made else {})}


def refresh_file(run: steps.DriftRun, cur: Any, shared: Any, explanation: Any, loaded: Any) -> dict[str, Any]:
    """The labelling file for the current queries the golden set does not cover; a failure is recorded, not
    raised (the drift check's answer stands on its own)."""
    cfg = run.config.actions.golden_refresh
    if loaded is None:
        return {"file": None, "reason": "no published index: there are no candidates to pool"}
    try:
        from tasks.golden.config import GoldenConfig, PoolConfig, SampleConfig
        from tasks.golden.refresh import refresh_labelling_file
        from tasks.golden.sample import fold

        indices, clusters, how = steps.uncovered_queries(run, cur, shared, explanation)
        if not indices:
            return {"file": None, "reason": "no uncovered query: every current query is near a golden query"}
        folder = steps.golden_folder(run)
        known = {fold(t) for t in steps.golden_texts(folder, run.config.golden.split)} if folder else set()
        name = cfg.golden or (folder.name if folder else "golden")
        config = GoldenConfig(name=name, split=run.config.golden.split, sample=SampleConfig(n=cfg.n, seed=run.config.seed),
                              pool=PoolConfig(depth=cfg.pool_depth), threads=run.config.index.threads)
        with run.stage("golden_refresh"):
            made = refresh_labelling_file(run.settings, config, [cur.texts[i] for i in indices],
                                          cur.vectors[indices], clusters, known, loaded, run.embedder,
                                          run.facts.get("index_version", ""),
                                          {"drift_run_id": run.run_id, "uncovered": how})
        return {**made, "uncovered": how}
    except Exception as exc:  # noqa: BLE001 - reported in the record and the flag file
        from tasks.run_state import failure_reason

        return {"file": None, "error": failure_reason(exc)}


def reindex_requested(run: steps.DriftRun, record: dict[str, Any]) -> list[str]:
    cfg = run.config.actions.reindex
    return _triggered(cfg.when, record) if cfg.enabled else []


def trigger_reindex(run: steps.DriftRun, why: list[str], reindex_flow: Callable[..., dict]) -> dict[str, Any]:
    """Create a flow run of the reindex deployment (does not wait), or run ``reindex_flow`` as a subflow.

    A failed reindex is recorded, not raised: the drift check's answer stands on its own.
    """
    cfg = run.config.actions.reindex
    try:
        if cfg.deployment:
            from prefect.deployments import run_deployment

            flow_run = run_deployment(cfg.deployment, timeout=0)
            return {"requested": True, "how": "deployment", "deployment": cfg.deployment,
                    "flow_run_id": str(flow_run.id), "tests": why}
        from tasks.config.loader import load_config
        from tasks.reindex.config import ReindexConfig

        path = run.settings.resolve(cfg.config)
        result = reindex_flow(load_config(ReindexConfig, path if path.is_file() else None, cfg.overrides), run.settings)
        return {"requested": True, "how": "subflow", "status": result.get("status"), "run_id": result.get("run_id"),
                "index_version": result.get("index_version"), "tests": why}
    except Exception as exc:  # noqa: BLE001 - reported in the record, the check itself succeeded
        return {"requested": True, "how": "deployment" if cfg.deployment else "subflow", "tests": why,
                "error": f"{type(exc).__name__}: {exc}"[:500]}


@task(name="notify", **_opts)
def notify_run(run: steps.DriftRun, record: dict[str, Any]) -> dict[str, Any]:
    """Drift -> event "fail" (when a test named in ``actions.notify.when`` drifted), no drift -> "pass",
    not enough data or an error -> "error"; the channel's ``events`` decide what is sent. Never raises."""
    from tasks.notify import notify_and_tag

    cfg = run.config.actions.notify
    event = {"drift": "fail", "no_drift": "pass"}.get(record.get("status", ""), "error")
    if not cfg.enabled or (event == "fail" and not _triggered(cfg.when, record)):
        return {"sent": False, "channel": "none", "detail": "notify action disabled or not triggered"}
    keys = ("run_id", "status", "drift", "reason", "n_reference", "n_current", "clusters", "report", "review_queue")
    return notify_and_tag(run.tracker, run.run_id, "drift", event, record, keys, cfg.channel,  # type: ignore[arg-type]
                          drifted=[t["name"] for t in record.get("tests", []) if t["drift"]]).as_dict()


def _metrics(run: steps.DriftRun, record: dict[str, Any]) -> dict[str, float]:
    metrics: dict[str, float] = {"drift": float(record["drift"]), "n_tests": len(record["tests"]),
                                 "n_skipped": len(record["skipped"]), **run.counts}
    for row in record["tests"]:
        metrics.update({f"{row['name']}.{k}": float(row[k]) for k in ("statistic", "p_value", "p_holm", "effect_size",
                                                                       "drift")})
    if record.get("far_share") is not None:
        metrics["explain.far_share"] = record["far_share"]
    return {**metrics, "seconds_total": record["seconds"], **{f"seconds.{k}": v for k, v in run.seconds.items()}}


def _tags(run: steps.DriftRun, record: dict[str, Any]) -> dict[str, Any]:
    facts = {f"nightshift.{k}": v for k, v in run.facts.items() if k != "index_missing"}
    return {**facts, "nightshift.status": record["status"], "nightshift.drift": str(record["drift"]).lower(),
            "nightshift.drifted": ",".join(t["name"] for t in record["tests"] if t["drift"]),
            "nightshift.reason": record["reason"][:500], "nightshift.decision_rule": record["decision_rule"],
            "nightshift.index_missing": run.facts.get("index_missing")}


@task(name="finish_run", **_opts)
def finish_run(run: steps.DriftRun, record: dict[str, Any], windows: Any, outcome: Any = None,
               files: Any = None) -> dict[str, Any]:
    """Log metrics, tags and artifacts to MLflow, end the run; return the CLI's JSON record."""
    t, rid = run.tracker, run.run_id
    record.update({**{k: v for k, v in run.facts.items()}, "seconds": round(time.perf_counter() - run.started, 3),
                   "seconds_by_stage": dict(run.seconds)})
    if files is not None:
        t.log_artifact(rid, files.review)
        for path in (files.markdown, files.html, *files.plots):
            t.log_artifact(rid, path, "report")
    t.log_metrics(rid, _metrics(run, record))
    t.set_tags(rid, _tags(run, record))
    if outcome is not None:
        details = {k: {"p_value": r.p_value, "statistic": r.statistic, "effect_size": r.effect_size, "alpha": r.alpha,
                       "threshold": r.threshold, "details": r.details} for k, r in outcome.results.items()}
        t.log_dict(rid, {"results": details, "skipped": outcome.skipped}, "drift_tests.json")
    t.log_dict(rid, {"validation": windows.validation, "windows": windows.described}, "querylog_validation.json")
    if windows.quarantined:
        from tasks.validation import write_quarantine

        t.log_artifact(rid, write_quarantine(windows.quarantined, run.folder / "querylog_quarantine.jsonl"))
    t.log_dict(rid, record, "result.json")
    t.end_run(rid, "FINISHED")
    return record


def fail_run(run: steps.DriftRun, exc: BaseException) -> dict[str, Any]:
    """Record an error (best effort: the original error is what the caller re-raises) and notify."""
    from tasks.run_state import failure_reason

    record = {"run_id": run.run_id, "status": "error", "drift": False, "reason": failure_reason(exc)}
    run.mark_failed(exc, result=record)
    notify_run.fn(run, record)
    return record
