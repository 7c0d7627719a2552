"""backfill: run evaluate or drift once per date, as of that date, skipping dates already done."""

from __future__ import annotations

from prefect import flow

from tasks.backfill import prefect_tasks as t
from tasks.backfill.config import BackfillRequest
from tasks.config.flows import default_settings
from tasks.config.settings import Settings


@flow(name="backfill", log_prints=True)
def backfill(request: BackfillRequest, settings: Settings | None = None) -> dict:
    settings = settings.resolved() if settings is not None else default_settings()
    plans = t.plan(request, settings)
    rows = t.run_all(request, plans, settings)
    summary = t.summarize(request, rows)
    print(f"backfill {request.flow} {request.start}..{request.end}: {summary['counts']}")
    return summary
