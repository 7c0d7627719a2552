"""``nightshift api``: the retrieval service (FastAPI on uvicorn) over the published index."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Optional

import typer

from nightshift.cli.app import ConfigOpt, SetOpt, SettingsOpt, default_config, load_settings, run_guarded


def api(
    host: Optional[str] = typer.Option(None, "--host", help="Bind address (default 127.0.0.1: this machine only)."),
    port: Optional[int] = typer.Option(None, "--port", help="Port (default 8765)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="uvicorn worker processes (default 1)."),
    config: Optional[Path] = ConfigOpt,
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
) -> None:
    """Serve the published index over HTTP: POST /search, POST /feedback, GET /health, GET /metrics.

    Queries go through the index's own retriever spec (what evaluate scores), a newly published index
    is picked up without a restart, and every answered query is appended to the query log that
    `nightshift drift` and the golden sets read. With NIGHTSHIFT_API_TOKEN set, every endpoint but
    /health needs `Authorization: Bearer <token>`. Example:

      curl -s localhost:8765/search -H 'content-type: application/json' -d '{"query": "statins", "k": 3}'
    """
    import uvicorn

    from tasks.config.loader import load_config
    from tasks.serving.app import CONFIG_ENV, SETTINGS_ENV, create_app
    from tasks.serving.config import ApiConfig

    overrides = list(set_ or []) + [f"{k}={v}" for k, v in (("host", host), ("port", port), ("workers", workers))
                                    if v is not None]
    cfg = run_guarded(lambda: load_config(ApiConfig, default_config("api", config), overrides))
    settings_path = default_config("settings", settings)
    s = run_guarded(lambda: load_settings(settings))
    typer.echo(f"nightshift api on http://{cfg.host}:{cfg.port} ({cfg.workers} worker(s)); index: {s.index_dir}; "
               f"auth: {'bearer token' if os.environ.get('NIGHTSHIFT_API_TOKEN') else 'none (set NIGHTSHIFT_API_TOKEN)'}")
    common = {"host": cfg.host, "port": cfg.port, "log_level": "warning", "access_log": False}
    if cfg.workers == 1:
        app = run_guarded(lambda: create_app(s, cfg))
        uvicorn.run(app, **common)
        return
    os.environ[CONFIG_ENV] = cfg.model_dump_json()
    if settings_path is not None:
        os.environ[SETTINGS_ENV] = str(Path(settings_path).resolve())
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="nightshift-metrics-"))
    uvicorn.run("tasks.serving.app:app_from_env", factory=True, workers=cfg.workers, **common)
