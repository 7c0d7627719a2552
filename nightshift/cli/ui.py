"""``nightshift ui``: the MLflow UI on the configured store, bound to 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import SettingsOpt, load_settings, run_guarded


def ui(
    port: int = typer.Option(5000, "--port", help="Port of the MLflow UI."),
    host: str = typer.Option("127.0.0.1", "--host", help="Bind address (default: this machine only)."),
    settings: Optional[Path] = SettingsOpt,
) -> None:
    """Start the MLflow UI on the configured tracking store (Ctrl-C stops it).

    The Prefect UI comes with a Prefect server: `prefect server start --host 127.0.0.1`, then set
    PREFECT_API_URL=http://127.0.0.1:4200/api so flow runs are recorded there.
    """
    s = run_guarded(lambda: load_settings(settings))
    uri = s.tracking_uri
    typer.echo(f"MLflow UI for {uri} on http://{host}:{port} (experiments: {s.experiment_prefix}-<flow>)")
    typer.echo("MLflow 3 opens on its GenAI view: switch the toggle at the top left to 'Model training' to see "
               "nightshift's runs, metrics and charts")
    typer.echo("Prefect UI: `prefect server start --host 127.0.0.1` (http://127.0.0.1:4200)")
    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    if not s.mlflow_tracking_uri:
        cmd += ["--default-artifact-root", s.artifact_root]
    try:
        raise typer.Exit(subprocess.call(cmd, env=os.environ.copy()))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
