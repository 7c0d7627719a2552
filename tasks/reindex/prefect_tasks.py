"""Prefect tasks for the reindex flow: thin adapters over ``tasks.reindex.steps``, plus run bookkeeping."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.embedding import resolve_embedder_config
from tasks.reindex import steps
from tasks.reindex.config import ReindexConfig
from tasks.config.settings import Settings
from tasks.prefect_args import unwalked
from tasks.tracking import Tracker, flatten

_opts = {"cache_policy": NO_CACHE, "persist_result": False}


def open_run(config: ReindexConfig, settings: Settings) -> steps.ReindexRun:
    tracker = Tracker(settings)
    run_id = tracker.start_run("reindex", tags={"nightshift.source": config.source})
    tracker.log_params(run_id, {"source": config.source, "chunking": config.chunking.model_dump(),
                                "embedder": resolve_embedder_config(config.embedder).model_dump(), "index": config.index.model_dump(),
                                "retriever": config.retriever.model_dump(mode="json"),
                                "validation": config.validation.model_dump()})
    return steps.ReindexRun(config, settings, tracker, run_id)


def open_dvc(run: steps.ReindexRun):
    from tasks.versioning import ensure_repo

    s = run.settings
    return ensure_repo(s.workspace, s.dvc_remote_name, s.dvc_remote_url)


load_and_validate = task(name="load_and_validate", **_opts)(steps.load_and_validate)
is_unchanged = unwalked(task(name="check_unchanged", **_opts)(steps.is_unchanged))
snapshot_documents = unwalked(task(name="snapshot_documents", retries=2, retry_delay_seconds=[2, 10], **_opts)(
    steps.snapshot_documents))
chunk_and_validate = unwalked(task(name="chunk_documents", **_opts)(steps.chunk_and_validate))
embed = unwalked(task(name="embed_chunks", **_opts)(steps.embed))
build_validated_index = unwalked(task(name="build_index", **_opts)(steps.build_validated_index))
publication_gate = task(name="publication_gate", **_opts)(steps.publication_gate)
version_and_publish = task(name="publish_index", **_opts)(steps.version_and_publish)


@task(name="finish_run", **_opts)
def finish_run(run: steps.ReindexRun, status: str, index_version: str = "", reason: str = "",
               snapshot_version: str = "", manifest: Any = None, validation: dict | None = None) -> dict:
    """Log counts, timings, tags and artifacts to MLflow; return the CLI's JSON record."""
    record = steps.result_record(run, status, index_version, reason, snapshot_version)
    t = run.tracker
    metrics = {**{k: v for k, v in run.counts.items()}, "n_quarantined": len(run.quarantined),
               "seconds_total": record["seconds"], **{f"seconds.{k}": v for k, v in run.seconds.items()}}
    t.log_metrics(run.run_id, metrics)
    t.set_tags(run.run_id, {"nightshift.status": status, "nightshift.index_version": index_version,
                            "nightshift.snapshot_version": snapshot_version, "nightshift.reason": reason[:500],
                            "nightshift.embedder_fingerprint": run.embedder.fingerprint if run._embedder else None})
    if manifest is not None:
        t.log_dict(run.run_id, manifest.model_dump(), "manifest.json")
    if validation:
        t.log_dict(run.run_id, validation, "validation_summary.json")
    if run.quarantined and run.quarantine_file.is_file():
        t.log_artifact(run.run_id, run.quarantine_file)
    t.log_dict(run.run_id, record, "result.json")
    t.end_run(run.run_id, "FINISHED" if status in ("published", "unchanged") else "FAILED")
    return record


def human_review(run: steps.ReindexRun, gate: Any) -> Any:
    """Pause for a reviewer's answer on an inconclusive gate (in the flow, not a task: the flow run pauses)."""
    from tasks.reindex.review import ask

    cfg = run.config.gate.review
    review = ask(gate.reason, cfg.timeout_seconds, cfg.poll_seconds)
    run.tracker.set_tags(run.run_id, {"nightshift.review": review.outcome, "nightshift.review_note": review.note[:500]})
    return review


def reject(run: steps.ReindexRun, reason: str, snapshot_version: str, validation: dict | None) -> dict:
    """Finish as ``rejected`` (``current`` untouched) and send the "fail" notification."""
    record = finish_run(run, "rejected", reason=reason, snapshot_version=snapshot_version, validation=validation)
    notify_run(run, record)
    return record


def fail_run(run: steps.ReindexRun, exc: BaseException) -> dict:
    """Record a failure and notify (best effort: the original error is what the caller re-raises)."""
    try:
        record = finish_run.fn(run, "failed", reason=f"{type(exc).__name__}: {exc}")
    except Exception:  # noqa: BLE001 - never mask the original error
        record = steps.result_record(run, "failed", reason=str(exc))
    notify_run(run, record)
    return record


def notify_run(run: steps.ReindexRun, record: dict) -> Any:
    """A rejected index sends a "fail" message, a crashed run an "error" one (never raises)."""
    from tasks.notify import notify_and_tag

    event = {"rejected": "fail", "failed": "error"}.get(record.get("status", ""), "pass")
    keys = ("run_id", "status", "reason", "index_version", "n_documents", "n_quarantined", "seconds")
    return notify_and_tag(run.tracker, run.run_id, "reindex", event, record, keys, run.config.notify)


__all__ = ["open_run", "open_dvc", "finish_run", "fail_run", "notify_run", "reject", "human_review", "flatten"]
