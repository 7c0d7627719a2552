"""Atomic publication of index builds, and the lock that keeps two reindexes apart.

Layout under ``data/indexes/``::

    builds/<build_id>/        a complete, validated index artifact (never modified after writing)
    builds/<build_id>.dvc     its DVC record: the md5 there is the index *version*
    builds/.staging-<id>/     a build in progress (removed or promoted; leftovers are from crashes)
    current -> builds/<id>    the published index: switched with one atomic rename of a symlink
    history.jsonl             one line per publication (when, which build/version, which run)
    .reindex.lock             held (flock) by the running reindex
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from tasks.faults import crash_point
from tasks.index_artifact import IndexCorrupted, read_manifest


class ReindexBusy(RuntimeError):
    """Another reindex holds the lock."""


@dataclass(frozen=True)
class IndexStore:
    root: Path

    @property
    def builds(self) -> Path:
        return self.root / "builds"

    @property
    def current_link(self) -> Path:
        return self.root / "current"

    @property
    def history_file(self) -> Path:
        return self.root / "history.jsonl"

    def staging_dir(self, build_id: str) -> Path:
        return self.builds / f".staging-{build_id}"

    def current(self) -> Path | None:
        """The published build directory, or None before the first publication."""
        if not self.current_link.is_symlink():
            return None
        target = self.current_link.resolve()
        return target if target.is_dir() else None

    def current_version(self) -> str:
        """The DVC md5 of the published build ('' before the first publication)."""
        folder = self.current()
        if folder is None:
            return ""
        return build_version(folder) or ""

    def promote(self, staging: Path, build_id: str) -> Path:
        final = self.builds / build_id
        os.replace(staging, final)
        _fsync_dir(self.builds)
        return final

    def publish(self, build_dir: Path, record: dict[str, Any]) -> None:
        """Point ``current`` at ``build_dir`` in one rename; append to the history."""
        read_manifest(build_dir)  # refuse to publish anything without a manifest
        tmp = self.root / f".current.tmp-{os.getpid()}"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(os.path.relpath(build_dir, self.root), tmp)
        crash_point("before_pointer_switch")
        os.replace(tmp, self.current_link)
        _fsync_dir(self.root)
        entry = {"published_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 "build_id": build_dir.name, **record}
        with open(self.history_file, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def history(self) -> list[dict[str, Any]]:
        if not self.history_file.is_file():
            return []
        lines = self.history_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def clean(self, keep: int) -> list[str]:
        """Remove crash leftovers (staging dirs) and all but the newest ``keep`` builds (never current)."""
        removed = []
        if not self.builds.is_dir():
            return removed
        current = self.current()
        for path in self.builds.glob(".staging-*"):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        builds = sorted((p for p in self.builds.iterdir() if p.is_dir() and not p.name.startswith(".")),
                        key=lambda p: p.name)
        for path in builds[:-keep] if keep > 0 else builds:
            if current is not None and path.resolve() == current:
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        return removed

    def find_version(self, version: str) -> Path | None:
        """A local build whose DVC md5 starts with ``version``."""
        for dvc_file in sorted(self.builds.glob("*.dvc")) if self.builds.is_dir() else []:
            md5 = read_dvc_md5(dvc_file)
            folder = dvc_file.with_suffix("")
            if md5 and md5.startswith(version) and folder.is_dir():
                try:
                    read_manifest(folder)
                except IndexCorrupted:
                    continue
                return folder
        return None


def build_version(folder: Path) -> str | None:
    """The DVC md5 of an index build folder (its ``<build>.dvc`` file): the ``index_version`` every run names."""
    return read_dvc_md5(folder.with_name(folder.name + ".dvc"))


def read_dvc_md5(dvc_file: Path) -> str | None:
    import yaml

    try:
        data = yaml.safe_load(dvc_file.read_text())
        return str(data["outs"][0]["md5"]).removesuffix(".dir")
    except (OSError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return None


class ReindexLock:
    """An exclusive ``flock`` on ``.reindex.lock``; released by the kernel even on ``kill -9``."""

    def __init__(self, path: Path, timeout: float = 0.0) -> None:
        self.path = path
        self.timeout = timeout
        self._fh = None

    def __enter__(self) -> "ReindexLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+", encoding="utf-8")
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    fh.seek(0)
                    holder = fh.read().strip() or "unknown process"
                    fh.close()
                    raise ReindexBusy(
                        f"another reindex is running ({holder}); it holds {self.path}. Wait for it, or "
                        "rerun with --set lock_timeout_seconds=600 to queue behind it") from None
                time.sleep(0.5)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} since {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.seek(0)
            self._fh.truncate()
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def iter_builds(store: IndexStore) -> Iterator[Path]:
    if store.builds.is_dir():
        yield from sorted(p for p in store.builds.iterdir() if p.is_dir() and not p.name.startswith("."))
