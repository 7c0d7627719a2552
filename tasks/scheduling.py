"""Schedules (``configs/schedules.yaml``) -> Prefect deployments served by one long-lived process.

Prefect's ephemeral API has no scheduler service, so with no ``PREFECT_API_URL`` set,
``nightshift serve`` starts a local Prefect server (``prefect server start`` on 127.0.0.1, state in
``<workspace>/.prefect``) and serves the deployments against it; with ``PREFECT_API_URL`` set it uses
that server (self-hosted or Cloud).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.config.loader import ConfigError
from tasks.config.flows import FLOWS, get_flow_spec
from tasks.config.settings import Settings


class ScheduleEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    flow: str
    cron: str | None = None  # e.g. "0 2 * * *"
    interval_seconds: float | None = None  # alternative to cron
    timezone: str | None = None  # default: the file's timezone
    config: Path | None = None  # default: configs/<flow>.yaml
    overrides: list[str] = Field(default_factory=list)  # --set style
    tags: list[str] = Field(default_factory=list)
    concurrency_limit: int | None = 1  # runs of this deployment at once (None: unlimited)
    enabled: bool = True

    @field_validator("flow")
    @classmethod
    def _known(cls, value: str) -> str:
        get_flow_spec(value)
        return value


class SchedulesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    deployments: dict[str, ScheduleEntry] = Field(default_factory=dict)


def deployment_settings(settings: Settings) -> dict[str, Any]:
    """The settings as deployment parameters, which the Prefect API stores and its UI shows: never a password."""
    from urllib.parse import urlsplit

    params = settings.model_dump(mode="json")
    for key, value in params.items():
        if isinstance(value, str) and "://" in value and urlsplit(value).password is not None:
            raise ConfigError(
                f"settings.{key} contains a password, which would be stored in the Prefect deployment's parameters. "
                "Use a URL without it and give the credentials through the environment of the process that runs "
                "the flows (MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN for an MLflow "
                "server, PGPASSWORD or ~/.pgpass for PostgreSQL, AWS_* for S3).")
    return params


def build_deployments(schedules: SchedulesConfig, settings: Settings) -> list[Any]:
    """One Prefect RunnerDeployment per enabled entry; configs are validated now, not at 2 a.m."""
    from prefect.schedules import Cron, Interval

    settings_params = deployment_settings(settings)
    deployments = []
    for name, entry in schedules.deployments.items():
        if not entry.enabled:
            continue
        spec = FLOWS[entry.flow]
        config = spec.load_config(entry.config, entry.overrides)
        tz = entry.timezone or schedules.timezone
        if entry.cron:
            schedule = [Cron(entry.cron, timezone=tz)]
        elif entry.interval_seconds:
            schedule = [Interval(entry.interval_seconds, timezone=tz)]
        else:
            schedule = []
        deployments.append(spec.load_flow().to_deployment(
            name=name, schedules=schedule, concurrency_limit=entry.concurrency_limit,
            parameters={"config": config.model_dump(mode="json"), "settings": settings_params},
            tags=["nightshift", entry.flow, *entry.tags],
            description=f"nightshift {entry.flow} ({entry.cron or entry.interval_seconds or 'manual'})"))
    return deployments


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child (Linux): SIGTERM when the parent dies, so a ``kill -9`` of serve never orphans the server."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def start_local_server(home: Path, port: int | None = None, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """``prefect server start`` bound to 127.0.0.1 with its own PREFECT_HOME; returns (process, API URL)."""
    port = port or free_port()
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    # its own session: a terminal's Ctrl-C reaches serve only, which pauses its deployments on the still
    # running server and then stops it (stop_server)
    with open(home / "server.log", "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the local Prefect server exited (code {proc.returncode}); see {home / 'server.log'}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(1)
    proc.terminate()
    raise RuntimeError(f"the local Prefect server did not answer on {url} within {timeout:.0f}s; see {home / 'server.log'}")


def stop_server(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """SIGTERM the server's session (the CLI and its uvicorn child), SIGKILL what is left after ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
