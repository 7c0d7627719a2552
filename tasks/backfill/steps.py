"""Backfills: run a flow once per date *as of that date*, idempotently.

As of day D means the inputs that were live at the end of D (in ``tz``):
- evaluate: the index version published last on or before D (``data/indexes/history.jsonl``),
  restored from the DVC remote when its build is no longer local;
- drift: the query-log windows anchored at D, and the index live at D for the confidence tests.
Each run is tagged ``nightshift.as_of=D``, ``nightshift.backfill_key`` (a hash of flow, date, resolved
inputs and config) and, once it completed, ``nightshift.backfill_done=true``: a date whose key has a
completed run is skipped unless ``force``. A run killed midway has no done tag and is redone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo


from tasks.documents import sha256_text
from tasks.backfill.config import BackfillRequest

BACKFILLABLE = ("evaluate", "drift")


class NoDataYet(ValueError):
    """The date is before any data existed."""


@dataclass
class DatePlan:
    day: date
    overrides: list[str] = field(default_factory=list)
    inputs: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    skip_reason: str = ""  # non-empty: not run (before any data, or already done)
    done_run_id: str = ""


def dates(request: BackfillRequest) -> list[date]:
    if request.flow not in BACKFILLABLE:
        raise ValueError(f"backfill supports {', '.join(BACKFILLABLE)}; got {request.flow!r} (a reindex as of a past "
                         "date is `nightshift index restore VERSION`: indexes are versioned, not rebuilt)")
    if request.end < request.start:
        raise ValueError(f"--end {request.end} is before --start {request.start}")
    n = (request.end - request.start).days // request.every_days + 1
    return [request.start + timedelta(days=i * request.every_days) for i in range(n)]


def end_of_day(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=ZoneInfo(tz))


def live_publication(history: list[dict[str, Any]], day: date, tz: str) -> dict[str, Any]:
    """The last publication at or before the end of ``day``; ``NoDataYet`` if there was none."""
    cutoff = end_of_day(day, tz)
    live = [h for h in history if datetime.fromisoformat(h["published_at"]) <= cutoff and h.get("index_version")]
    if not live:
        first = min((h["published_at"] for h in history), default=None)
        when = f"the first index was published at {first}" if first else "no index has ever been published"
        raise NoDataYet(f"{day}: no index was live yet ({when})")
    return max(live, key=lambda h: h["published_at"])


def plan_date(flow: str, day: date, history: list[dict[str, Any]], tz: str,
              config_json: str) -> DatePlan:
    plan = DatePlan(day)
    try:
        live = live_publication(history, day, tz)
    except NoDataYet as exc:
        plan.skip_reason = str(exc)
        return plan
    version = live["index_version"]
    plan.inputs = {"index_version": version, "published_at": live["published_at"]}
    if flow == "evaluate":
        plan.overrides = [f"index_version={version}"]
    else:
        plan.overrides = [f"index.version={version}", f"windows.anchor={day.isoformat()}"]
        plan.inputs["anchor"] = day.isoformat()
    plan.key = sha256_text(flow, day.isoformat(), json.dumps(plan.inputs, sort_keys=True), config_json)[:24]
    return plan


def run_tags(plan: DatePlan) -> dict[str, str]:
    return {"nightshift.as_of": plan.day.isoformat(), "nightshift.backfill_key": plan.key,
            "nightshift.index_version": plan.inputs.get("index_version", "")}


def done_keys(client: Any, experiment_name: str) -> dict[str, str]:
    """Backfill key -> run id of a completed run with it, for the whole experiment in one (paged) search."""
    exp = client.get_experiment_by_name(experiment_name)
    if exp is None:
        return {}
    done: dict[str, str] = {}
    token = None
    while True:
        page = client.search_runs([exp.experiment_id], "tags.`nightshift.backfill_done` = 'true'",
                                  max_results=1000, page_token=token)
        for run in page:
            done.setdefault(run.data.tags.get("nightshift.backfill_key", ""), run.info.run_id)
        token = page.token
        if not token:
            return done


def outcome_of(state: Any) -> dict[str, Any]:
    """The per-date flow's record (a failing gate's exception carries its record too)."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        record = getattr(result, "record", None)
        if isinstance(record, dict):
            return {**record, "completed": True}
        return {"status": "error", "reason": f"{type(result).__name__}: {result}", "completed": False}
    return {**(result if isinstance(result, dict) else {}), "completed": True}
