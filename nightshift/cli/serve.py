"""``nightshift serve``: run every schedule of configs/schedules.yaml in one long-lived process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import SettingsOpt, fail, load_settings, run_guarded


def serve(
    schedules: Path = typer.Option(Path("configs/schedules.yaml"), "--schedules",
                                   help="Schedules file: a cron (with timezone) and parameters per flow."),
    settings: Optional[Path] = SettingsOpt,
    limit: Optional[int] = typer.Option(None, "--limit", help="Flow runs executing at once (default: unlimited)."),
) -> None:
    """Register a Prefect deployment per schedule and run them all in this process (Ctrl-C stops it).

    With PREFECT_API_URL set (in the environment or the active Prefect profile: `prefect config set
    PREFECT_API_URL=...`), deployments go to that Prefect server (self-hosted or Cloud) and appear
    in its UI. Without it, a local Prefect server is started on 127.0.0.1 (state in
    <workspace>/.prefect; its UI URL is printed) because the ephemeral API has no scheduler.
    Trigger a deployment by hand: `prefect deployment run nightly/nightly`.
    """
    from tasks.config.loader import load_config
    from tasks.scheduling import SchedulesConfig, build_deployments, start_local_server, stop_server

    s = run_guarded(lambda: load_settings(settings))
    plan = run_guarded(lambda: load_config(SchedulesConfig, schedules))
    server = None
    if not os.environ.get("PREFECT_API_URL") and (profile_url := run_guarded(profile_api_url)):
        os.environ["PREFECT_API_URL"] = profile_url
        typer.echo(f"using the Prefect API of the active Prefect profile: {profile_url}")
    if not os.environ.get("PREFECT_API_URL"):
        server, url = run_guarded(lambda: start_local_server(s.workspace / ".prefect"))
        os.environ["PREFECT_API_URL"] = url
        typer.echo(f"started a local Prefect server: UI http://{url.split('/')[2]} (API {url})")
    signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM (systemd, kill, a supervisor) stops the local server too
    try:
        from prefect import serve as prefect_serve

        from tasks.reindex.concurrency import REINDEX_LIMIT, ensure_reindex_limit

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


def profile_api_url() -> str:
    """PREFECT_API_URL of the active Prefect profile, or "". Read in a child process: importing Prefect here
    would fix this process's settings before serve has chosen the API (and started a local server if none)."""
    code = "from prefect.settings import PREFECT_API_URL as u; print('PREFECT_API_URL=' + (u.value() or ''))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False,
                         env={k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"})
    lines = [line for line in out.stdout.splitlines() if line.startswith("PREFECT_API_URL=")]
    return lines[-1].split("=", 1)[1].strip() if out.returncode == 0 and lines else ""


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
