"""backfill: run evaluate or drift once per date, as of that date, skipping dates already done."""

from __future__ import annotations

from prefect import flow

from tasks import backfill_tasks as t
from tasks.backfill import BackfillRequest
from tasks.flow_registry import default_settings
from tasks.settings import Settings


@flow(name="backfill", log_prints=True)
def backfill(request: BackfillRequest, settings: Settings | None = None) -> dict:
    settings = settings.resolved() if settings is not None else default_settings()
    plans = t.plan(request, settings)
    rows = t.run_all(request, plans, settings)
    summary = t.summarize(request, rows)
    print(f"backfill {request.flow} {request.start}..{request.end}: {summary['counts']}")
    return summary
