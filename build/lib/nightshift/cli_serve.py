"""``nightshift serve``: run every schedule of configs/schedules.yaml in one long-lived process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from nightshift.cli import SettingsOpt, app, fail, load_settings, run_guarded


@app.command()
def serve(
    schedules: Path = typer.Option(Path("configs/schedules.yaml"), "--schedules",
                                   help="Schedules file: a cron (with timezone) and parameters per flow."),
    settings: Optional[Path] = SettingsOpt,
    limit: Optional[int] = typer.Option(None, "--limit", help="Flow runs executing at once (default: unlimited)."),
) -> None:
    """Register a Prefect deployment per schedule and run them all in this process (Ctrl-C stops it).

    With PREFECT_API_URL set, deployments go to that Prefect server (self-hosted or Cloud) and appear
    in its UI. Without it, a local Prefect server is started on 127.0.0.1 (state in
    <workspace>/.prefect; its UI URL is printed) because the ephemeral API has no scheduler.
    Trigger a deployment by hand: `prefect deployment run nightly/nightly`.
    """
    from tasks.config_loader import load_config
    from tasks.scheduling import SchedulesConfig, build_deployments, start_local_server, stop_server

    s = run_guarded(lambda: load_settings(settings))
    plan = run_guarded(lambda: load_config(SchedulesConfig, schedules))
    server = None
    if not os.environ.get("PREFECT_API_URL"):
        server, url = run_guarded(lambda: start_local_server(s.workspace / ".prefect"))
        os.environ["PREFECT_API_URL"] = url
        typer.echo(f"started a local Prefect server: UI http://{url.split('/')[2]} (API {url})")
    try:
        from prefect import serve as prefect_serve

        from tasks.concurrency import REINDEX_LIMIT, ensure_reindex_limit

        if run_guarded(ensure_reindex_limit):
            typer.echo(f"created the Prefect global concurrency limit {REINDEX_LIMIT!r} (1 slot): reindexes never overlap")
        deployments = run_guarded(lambda: build_deployments(plan, s))
        if not deployments:
            fail(f"{schedules}: no enabled deployment (set enabled: true on one)")
        for d in deployments:
            typer.echo(f"serving {d.name}: {d.description}")
        prefect_serve(*deployments, limit=limit)
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            stop_server(server)
    typer.echo("stopped")
