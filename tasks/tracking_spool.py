"""When the MLflow server goes away mid-run, tracking writes are spooled to disk and synced later.

Layout: ``<data_dir>/tracking-spool/<run_id>/ops.jsonl`` (one write per line, in order) and
``files/`` (copies of artifacts). ``nightshift tracking sync`` replays every spooled run, in order,
and removes it once the server took all of it. Nothing is lost: the run's metrics, tags, artifacts
and final status arrive late, not never. A lock per run (``.locks/<run_id>``) keeps a flow that is still
spooling and a sync from racing: a write made during a replay waits, then is kept for the next sync.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def _locked(root: Path, run_id: str) -> Iterator[None]:
    """One run's spool is written by its flow and drained by ``sync``, never both at once."""
    locks = root / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with open(locks / run_id, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class Spool:
    def __init__(self, root: Path, run_id: str) -> None:
        self.root, self.folder = root, root / run_id
        self.run_id = run_id

    def append(self, op: str, payload: dict[str, Any]) -> None:
        with _locked(self.root, self.run_id):
            self.folder.mkdir(parents=True, exist_ok=True)
            if op == "artifact":
                files = self.folder / "files" / uuid.uuid4().hex
                files.mkdir(parents=True)
                payload = {**payload, "path": str(shutil.copy2(payload["path"], files))}
            with open(self.folder / "ops.jsonl", "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"op": op, **payload}) + "\n")


def apply(client: Any, run_id: str, op: str, payload: dict[str, Any]) -> None:
    """One tracking write through an MlflowClient."""
    from mlflow.entities import Metric, Param, RunTag

    if op == "batch":
        client.log_batch(run_id, params=[Param(k, v) for k, v in payload.get("params", [])],
                         metrics=[Metric(k, v, ts, step) for k, v, ts, step in payload.get("metrics", [])],
                         tags=[RunTag(k, v) for k, v in payload.get("tags", [])])
    elif op == "artifact":
        client.log_artifact(run_id, payload["path"], payload.get("artifact_path"))
    elif op == "terminate":
        client.set_terminated(run_id, status=payload["status"])
    else:
        raise ValueError(f"unknown spooled operation {op!r}")


def pending(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if (p / "ops.jsonl").is_file()) if root.is_dir() else []


def sync(root: Path, client: Any, on_run: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Replay every spooled run; a run is removed only when all its writes went through."""
    synced: dict[str, int] = {}
    for folder in pending(root):
        with _locked(root, folder.name):  # a run still spooling waits; its writes land in this replay or the next
            if not (folder / "ops.jsonl").is_file():  # another sync drained it meanwhile
                continue
            lines = (folder / "ops.jsonl").read_text(encoding="utf-8").splitlines()
            done_file = folder / "done"
            start = int(done_file.read_text()) if done_file.is_file() else 0
            for i, line in enumerate(lines[start:], start=start):
                item = json.loads(line)
                apply(client, folder.name, item.pop("op"), item)
                done_file.write_text(str(i + 1))  # resume here if the sync itself is interrupted
            synced[folder.name] = len(lines)
            shutil.rmtree(folder)
        if on_run:
            on_run(folder.name, len(lines))
    return synced
