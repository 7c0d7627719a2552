"""MLflow tracking through an explicit client: no global MLflow state, the run id is passed around."""

from __future__ import annotations

import json
import math
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from tasks.config.settings import Settings

MAX_PARAM_LEN = 6000


class Tracker:
    """One MLflow client bound to the configured tracking URI."""

    def __init__(self, settings: Settings, retries: int = 2, backoff: float = 1.0) -> None:
        from mlflow.tracking import MlflowClient

        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.tracking_uri)
        self.retries, self.backoff = retries, backoff
        self.spooled: set[str] = set()  # runs whose writes go to the spool (order is kept per run)

    def experiment_id(self, flow: str) -> str:
        name = f"{self.settings.experiment_prefix}-{flow}"
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        location = self.settings.artifact_root.rstrip("/") + f"/{name}"
        return self.client.create_experiment(name, artifact_location=location)

    def start_run(self, flow: str, run_name: str | None = None, tags: dict[str, str] | None = None,
                  parent_run_id: str | None = None) -> str:
        tags = {"nightshift.flow": flow, "nightshift.git_commit": git_commit(),
                "nightshift.prefect_flow_run_id": prefect_flow_run_id(), **self.settings.run_tags, **(tags or {})}
        if parent_run_id:
            tags["mlflow.parentRunId"] = parent_run_id
        if run_name is None:  # readable in the MLflow runs table, instead of a random "powerful-sheep-624"
            as_of = tags.get("nightshift.as_of")
            run_name = (f"{flow} as of {as_of}" if as_of
                        else f"{flow} {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
        try:
            run = self.client.create_run(self.experiment_id(flow), run_name=run_name, tags=tags)
        except Exception as exc:  # noqa: BLE001
            if is_unreachable(exc):
                raise TrackingUnavailable(
                    f"MLflow tracking server {_safe_uri(self.settings.tracking_uri)} is unreachable, so the run "
                    "was not started (nothing was changed): start the server or point MLFLOW_TRACKING_URI / "
                    "settings.mlflow_tracking_uri at a reachable one, and rerun") from None
            raise
        return run.info.run_id

    # -- writes: retried, then spooled to disk if the server stays unreachable ------------------
    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [[mlflow_key(k), _short(v)] for k, v in flatten(params).items()]
        for start in range(0, len(items), 100):
            self._write(run_id, "batch", {"params": items[start:start + 100]})

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        now = int(time.time() * 1000)
        items = [[mlflow_key(k), float(v), now, step] for k, v in flatten(metrics).items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))]
        for start in range(0, len(items), 500):
            self._write(run_id, "batch", {"metrics": items[start:start + 500]})

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        items = [[k, _short(v)] for k, v in tags.items() if v is not None]
        if items:
            self._write(run_id, "batch", {"tags": items})

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._write(run_id, "artifact", {"path": str(path), "artifact_path": artifact_path})

    def log_dict(self, run_id: str, data: Any, name: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
            self.log_artifact(run_id, path)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self._write(run_id, "terminate", {"status": status})
        if run_id in self.spooled:
            logger().warning("MLflow was unreachable: run %s was spooled to %s; run `nightshift tracking sync` "
                             "when the server is back", run_id, self.spool_root / run_id)

    @property
    def spool_root(self) -> Path:
        return self.settings.data_dir / "tracking-spool"

    def _write(self, run_id: str, op: str, payload: dict[str, Any]) -> None:
        from tasks.tracking_spool import Spool, apply

        if run_id not in self.spooled:
            for attempt in range(self.retries + 1):
                try:
                    return apply(self.client, run_id, op, payload)
                except Exception as exc:  # noqa: BLE001 - classified below
                    if not is_unreachable(exc):
                        raise
                    if attempt < self.retries:
                        time.sleep(self.backoff * 2 ** attempt)
            self.spooled.add(run_id)
            logger().warning("MLflow at %s unreachable after %d attempts; spooling run %s to disk",
                             _safe_uri(self.settings.tracking_uri), self.retries + 1, run_id)
        Spool(self.spool_root, run_id).append(op, payload)

    def run_url_hint(self, run_id: str) -> str:
        return f"`nightshift ui`, then open run {run_id}"


class TrackingUnavailable(RuntimeError):
    """The MLflow server could not be reached when a run had to start."""


def is_unreachable(exc: BaseException) -> bool:
    """Connection-level failures (server down, refused, timed out), as opposed to bad requests."""
    text = f"{type(exc).__name__}: {exc}"
    markers = ("ConnectionError", "Connection refused", "Max retries exceeded", "ConnectTimeout",
               "ReadTimeout", "Failed to establish a new connection", "RemoteDisconnected", "timed out")
    return any(m in text for m in markers)


def _safe_uri(uri: str) -> str:
    """A tracking URI without credentials (user:password@host)."""
    if "@" in uri and "://" in uri:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return uri


def logger():
    import logging

    try:
        from prefect import get_run_logger

        return get_run_logger()
    except Exception:  # noqa: BLE001 - outside a flow run
        return logging.getLogger("nightshift.tracking")


def mlflow_key(name: str) -> str:
    """MLflow keys allow alphanumerics and ``_ - . space : /``: ``ndcg@10`` becomes ``ndcg_at_10``, ``21+`` ``21plus``.

    ``Tracker.log_params``/``log_metrics`` apply it to every (flattened) key; readers use it to find them."""
    name = name.replace("@", "_at_").replace("+", "plus")
    return "".join(c if c.isalnum() or c in "_-. :/" else "_" for c in name)


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= MAX_PARAM_LEN else text[: MAX_PARAM_LEN - 3] + "..."


@lru_cache(maxsize=None)
def git_commit(cwd: Path | None = None) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.TimeoutExpired):
        return ""


def prefect_flow_run_id() -> str:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id or "")
    except Exception:  # noqa: BLE001 - outside a flow run
        return ""
