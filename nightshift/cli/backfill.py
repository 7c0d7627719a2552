"""``nightshift backfill``: run a flow as of past dates, idempotently."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import (JsonOpt, SetOpt, SettingsOpt, emit, json_stdout, load_settings, quiet_tracebacks,
    run_guarded)


def backfill(
    flow: str = typer.Argument(..., help="evaluate | drift"),
    start: datetime = typer.Option(..., "--start", formats=["%Y-%m-%d"], help="First date (YYYY-MM-DD)."),
    end: datetime = typer.Option(..., "--end", formats=["%Y-%m-%d"], help="Last date (YYYY-MM-DD), inclusive."),
    every: str = typer.Option("1d", "--every", help="Step between dates, in days (e.g. 1d, 7d)."),
    concurrency: int = typer.Option(1, "--concurrency", help="Dates run at once."),
    force: bool = typer.Option(False, "--force", help="Rerun dates already done with the same inputs."),
    timezone: str = typer.Option("UTC", "--timezone", help="Time zone of the dates (end of day is the cut-off)."),
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Run FLOW once per date as of that date: the index version live then (restored from DVC if needed)
    and, for drift, the query-log windows ending then. Each MLflow run is tagged nightshift.as_of=<date>.

    Idempotent: a date already done with the same inputs is skipped unless --force; a backfill killed
    midway completes only the missing dates when rerun. Dates before any index existed are reported.
    """
    from nightshift.cli.render import print_backfill

    def go() -> dict:
        from flows.backfill import backfill as backfill_flow
        from tasks.backfill.config import BackfillRequest

        quiet_tracebacks()
        request = BackfillRequest(flow=flow, start=start.date(), end=end.date(), every_days=_days(every),
                                  concurrency=concurrency, force=force, timezone=timezone, overrides=list(set_ or []))
        with json_stdout(as_json):
            return backfill_flow(request, load_settings(settings))

    summary = run_guarded(go)
    emit(summary, as_json, print_backfill)
    if summary["counts"].get("error"):
        raise typer.Exit(1)


def _days(every: str) -> int:
    text = every.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise typer.BadParameter(f"--every {every!r}: use a number of days such as 1d or 7d")
    return int(text)
