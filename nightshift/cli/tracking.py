"""``nightshift tracking sync``: push runs spooled while the MLflow server was unreachable."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import JsonOpt, SettingsOpt, emit, load_settings, run_guarded

tracking_app = typer.Typer(help="MLflow tracking helpers.", no_args_is_help=True)


@tracking_app.command("sync")
def sync(settings: Optional[Path] = SettingsOpt, as_json: bool = JsonOpt) -> None:
    """Replay the tracking writes spooled to <data_dir>/tracking-spool while MLflow was down."""

    def go() -> dict:
        from mlflow.tracking import MlflowClient

        from tasks.tracking_spool import sync as replay

        s = load_settings(settings)
        return {"synced": replay(s.data_dir / "tracking-spool", MlflowClient(s.tracking_uri))}

    result = run_guarded(go)
    emit(result, as_json, lambda r: typer.echo(
        "\n".join(f"synced run {rid}: {n} writes" for rid, n in r["synced"].items()) or "nothing to sync"))
