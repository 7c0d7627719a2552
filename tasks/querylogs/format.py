"""Read a query log (a JSONL/JSONL.gz/Parquet file or a folder of them) into one DataFrame.

The frame has the canonical column names (``timestamp``, ``query`` and whichever optional
columns exist), plus ``_file`` and ``_line`` so that every message can point at a line.
Nothing is validated here beyond "is it a log and does it have the required columns": value
checks are the GX suite's job (``tasks.querylogs.validation``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict

from tasks.model_files import sha256_file

SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".parquet")
REQUIRED = ("timestamp", "query")
OPTIONAL = ("query_id", "retrieved_ids", "scores", "feedback")


class QueryLogError(ValueError):
    """The log cannot be used as given; the message names the file, line or column."""


class LogColumns(BaseModel):
    """Which column of the log holds each field (the defaults are the documented names)."""

    model_config = ConfigDict(extra="forbid")

    timestamp: str = "timestamp"
    query: str = "query"
    query_id: str = "query_id"
    retrieved_ids: str = "retrieved_ids"
    scores: str = "scores"
    feedback: str = "feedback"


@dataclass(frozen=True)
class RawLog:
    frame: pd.DataFrame  # canonical columns + _file, _line
    files: tuple[Path, ...]
    content_hash: str  # sha256 over the files' sha256: the data pin logged with the run


def log_files(path: Path) -> list[Path]:
    """``path`` itself, or every log file below the folder ``path`` (sorted)."""
    if path.is_file():
        if not path.name.endswith(SUFFIXES):
            raise QueryLogError(f"query log {path}: unsupported file type; expected one of {', '.join(SUFFIXES)}")
        return [path]
    if not path.is_dir():
        raise QueryLogError(f"query log {path} does not exist")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise QueryLogError(f"query log folder {path} holds no {', '.join(SUFFIXES)} file")
    return files


def _read_jsonl(path: Path) -> pd.DataFrame:
    """Records of a JSONL(.gz) file (the BEIR reader's checks: valid JSON, one object per line), with line numbers.

    One exception: an unterminated last line that is not JSON is a torn write (a writer killed mid-line, as
    the service's log can have after ``kill -9``). It becomes a row marked ``_torn`` that the validation
    quarantines with that reason, instead of making the whole log unreadable."""
    from tasks.datasets import DatasetError, _read_bytes, _read_jsonl as read_records

    try:
        body, torn_line = _split_torn_tail(_read_bytes(path))
        records = read_records(path, body)
    except DatasetError as exc:
        raise QueryLogError(f"query log {exc}") from None
    except UnicodeDecodeError as exc:
        raise QueryLogError(f"query log {path}: not UTF-8 ({exc})") from None
    lines = [n for n, line in enumerate(body.decode("utf-8-sig").splitlines(), start=1) if line.strip()]
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame["_line"] = lines
    if torn_line is not None:
        torn = pd.DataFrame([{"_line": torn_line, "_torn": True}])
        frame = pd.concat([frame, torn], ignore_index=True) if len(frame) else torn
    return frame


def _split_torn_tail(data: bytes) -> tuple[bytes, int | None]:
    """``(data, None)``, or ``(data without its last line, that line's number)`` when the last line is
    unterminated and not a JSON value (not even UTF-8: a multi-byte character cut in two)."""
    if not data or data.endswith(b"\n"):
        return data, None
    cut = data.rfind(b"\n") + 1
    try:
        json.loads(data[cut:].decode("utf-8-sig" if cut == 0 else "utf-8"))
        return data, None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return data[:cut], data.count(b"\n") + 1


def _read_one(path: Path, columns: LogColumns) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path) if path.name.endswith(".parquet") else _read_jsonl(path)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, QueryLogError):
            raise
        raise QueryLogError(f"query log {path}: unreadable ({type(exc).__name__}: {exc})") from None
    if "_line" not in frame:
        frame["_line"] = range(1, len(frame) + 1)
    if frame.empty:
        return pd.DataFrame(columns=[*REQUIRED, "_file", "_line"])
    mapping = columns.model_dump()
    only_torn = "_torn" in frame and bool(frame["_torn"].eq(True).all())
    for field in REQUIRED:
        if mapping[field] not in frame.columns and not only_torn:
            present = ", ".join(str(c) for c in frame.columns if c != "_line")
            raise QueryLogError(
                f"query log {path}: missing required column {mapping[field]!r} ({field}); it has "
                f"columns: {present}. Map another column with --set querylog.columns.{field}=NAME")
    keep = {mapping[f]: f for f in (*REQUIRED, *OPTIONAL) if mapping[f] in frame.columns}
    extra = [c for c in ("_line", "_torn") if c in frame.columns]
    out = frame[[*keep, *extra]].rename(columns=keep)
    out.insert(len(out.columns), "_file", path.name)
    for field in REQUIRED:  # a file whose only row is torn still has the required columns
        if field not in out.columns:
            out[field] = None
    return out.astype({c: "object" for c in out.columns if c not in ("_line",)})


def read_query_log(path: Path | str, columns: LogColumns | None = None) -> RawLog:
    """Every record of the log at ``path`` with canonical column names (no value checks)."""
    from tasks.documents import sha256_text

    files = log_files(Path(path))
    frames = [_read_one(p, columns or LogColumns()) for p in files]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*REQUIRED])
    digest = sha256_text(*(f"{p.name}:{sha256_file(p)}" for p in files))
    return RawLog(frame.reset_index(drop=True), tuple(files), digest)
