"""The backfill flow's steps: plan the dates, run each as of its date, summarise."""

from __future__ import annotations

import contextvars
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from tasks.backfill import steps as b
from tasks.config.flows import get_flow_spec
from tasks.publishing import IndexStore
from tasks.config.settings import Settings
from tasks.tracking import Tracker
from tasks.versioning import local_version


def plan(request: b.BackfillRequest, settings: Settings) -> list[b.DatePlan]:
    """Resolve each date's inputs and skip what is done (unless force) or before any data."""
    from mlflow.tracking import MlflowClient

    days = b.dates(request)
    spec = get_flow_spec(request.flow)
    config_json = spec.load_config(None, request.overrides).model_dump_json()
    history = IndexStore(settings.index_dir).history()
    done = {} if request.force else b.done_keys(MlflowClient(settings.tracking_uri),
                                                 f"{settings.experiment_prefix}-{request.flow}")
    plans = []
    for day in days:
        p = b.plan_date(request.flow, day, history, request.timezone, config_json)
        if p.key:
            p.done_run_id = done.get(p.key, "")
            if p.done_run_id:
                p.skip_reason = f"already done (run {p.done_run_id}); --force reruns it"
        plans.append(p)
    return plans


_RESTORE = threading.Lock()  # one DVC restore at a time (dates share versions)


def run_date(request: b.BackfillRequest, p: b.DatePlan, settings: Settings) -> dict[str, Any]:
    """Run the flow as of ``p.day`` (its index version restored from DVC if not on disk); mark its MLflow run done
    once it completed (through the Tracker: retried, spooled if MLflow is down)."""
    with _RESTORE:  # right before the run: a reindex running meanwhile may have cleaned old local builds
        local_version(settings, p.inputs["index_version"])
    spec = get_flow_spec(request.flow)
    config = spec.load_config(None, [*request.overrides, *p.overrides])
    dated = settings.model_copy(update={"run_tags": {**settings.run_tags, **b.run_tags(p)}})
    outcome = b.outcome_of(spec.load_flow()(config, dated, return_state=True))
    if outcome["completed"] and outcome.get("run_id"):
        Tracker(settings).set_tags(outcome["run_id"], {"nightshift.backfill_done": "true"})
    return {"date": p.day.isoformat(), "status": outcome.get("status", "?"), "run_id": outcome.get("run_id", ""),
            "index_version": p.inputs.get("index_version", ""), "reason": outcome.get("reason", "")}


def run_all(request: b.BackfillRequest, plans: list[b.DatePlan], settings: Settings) -> list[dict[str, Any]]:
    """Bounded concurrency, a progress bar on stderr; skipped dates are reported, not run."""
    from tqdm.auto import tqdm

    rows = [{"date": p.day.isoformat(), "status": "skipped", "run_id": p.done_run_id,
             "index_version": p.inputs.get("index_version", ""), "reason": p.skip_reason}
            for p in plans if p.skip_reason]
    todo = [p for p in plans if not p.skip_reason]
    with tqdm(total=len(todo), desc=f"backfill {request.flow}", unit="date", file=sys.stderr,
              disable=not todo) as bar, ThreadPoolExecutor(max_workers=request.concurrency) as pool:
        # each date runs in a copy of this context: its flow run is a subflow of the backfill run (one tree in the UI)
        futures = {pool.submit(contextvars.copy_context().run, run_date, request, p, settings): p for p in todo}
        for future in as_completed(futures):
            try:
                rows.append(future.result())
            except Exception as exc:  # noqa: BLE001 - one date's failure must not stop the others
                p = futures[future]
                rows.append({"date": p.day.isoformat(), "status": "error", "run_id": "",
                             "index_version": p.inputs.get("index_version", ""), "reason": f"{type(exc).__name__}: {exc}"})
            bar.update(1)
    return sorted(rows, key=lambda r: r["date"])


def summarize(request: b.BackfillRequest, rows: list[dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    return {"flow": request.flow, "start": request.start.isoformat(), "end": request.end.isoformat(),
            "counts": counts, "dates": rows}
