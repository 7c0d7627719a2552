"""The query log the retrieval service writes, and its feedback: daily JSONL files under the workspace.

Layout (``<workspace>/data/querylogs/served/``)::

    queries/YYYY-MM-DD.jsonl    one line per answered query (the drift flow's log format)
    feedback/YYYY-MM-DD.jsonl   one line per feedback call, joined to its query by ``query_id``

A query line: ``timestamp`` (ISO 8601, UTC), ``query`` (or, with ``hash_queries``, no text and
``query_sha256``), ``query_id``, ``retrieved_ids`` (document ids, best first), ``chunk_ids``,
``scores``, ``index_version``, ``latency_ms``, ``k``, ``filters``. A feedback line: ``timestamp``,
``query_id``, ``doc_id`` (or null: feedback on the whole answer), ``feedback`` (a number, e.g. -1/0/1,
or a short label).

Each line is written with one ``write`` on a file opened ``O_APPEND`` under an exclusive ``flock``, so
concurrent writers (threads, uvicorn worker processes) never interleave lines. A process killed in the
middle of a write can leave a torn last line: readers skip it and count it (the drift validation
quarantines it), they never fail on it.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

SERVED_DIR = Path("data") / "querylogs" / "served"
QUERIES, FEEDBACK = "queries", "feedback"


def served_dir(workspace: Path) -> Path:
    return Path(workspace) / SERVED_DIR


def daily_file(folder: Path, kind: str, when: datetime | None = None) -> Path:
    day = (when or datetime.now(timezone.utc)).astimezone(timezone.utc).date()
    return folder / kind / f"{day.isoformat()}.jsonl"


def append_line(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line atomically with respect to other writers of the same file."""
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(line)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)  # closing releases the lock


@dataclass(frozen=True)
class JsonlRead:
    records: list[dict[str, Any]]
    torn: list[tuple[str, int]]  # (file name, line number) of lines that are not one JSON object


def read_jsonl_tolerant(files: list[Path]) -> JsonlRead:
    """Every JSON-object line of ``files``; a line that is not (a torn write) is skipped and reported."""
    records, torn = [], []
    for path in files:
        with open(path, "rb") as fh:
            for number, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    value = json.loads(raw)
                except (UnicodeDecodeError, json.JSONDecodeError):
                    torn.append((path.name, number))
                    continue
                if isinstance(value, dict):
                    records.append({**value, "_file": path.name, "_line": number})
                else:
                    torn.append((path.name, number))
    return JsonlRead(records, torn)


def feedback_files(folder: Path, start: date | None = None, end: date | None = None) -> list[Path]:
    """The daily feedback files of ``folder`` (the ``served`` folder), optionally within [start, end]."""
    files = sorted((Path(folder) / FEEDBACK).glob("*.jsonl"))
    out = []
    for path in files:
        try:
            day = date.fromisoformat(path.stem)
        except ValueError:
            continue
        if (start is None or day >= start) and (end is None or day <= end):
            out.append(path)
    return out


def read_feedback(folder: Path) -> JsonlRead:
    """Feedback rows of the ``served`` folder (``timestamp``, ``query_id``, ``doc_id``, ``feedback``)."""
    return read_jsonl_tolerant(feedback_files(folder))


def feedback_by_query(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Feedback rows grouped by ``query_id`` (rows without one are dropped), in file order."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        qid = row.get("query_id")
        if isinstance(qid, str) and qid:
            grouped.setdefault(qid, []).append(row)
    return grouped


def feedback_value(rows: list[dict[str, Any]]) -> Any:
    """One query's feedback from its rows: the lowest number (a thumbs-down wins), else the last label."""
    numbers = [r["feedback"] for r in rows if isinstance(r.get("feedback"), (int, float))
               and not isinstance(r.get("feedback"), bool)]
    if numbers:
        return min(numbers)
    labels = [r["feedback"] for r in rows if isinstance(r.get("feedback"), str)]
    return labels[-1] if labels else None


def join_feedback(frame: Any, queries_dir: Path) -> Any:
    """The served queries' frame with a ``feedback`` column from ``<served>/feedback`` (joined by query_id)."""
    folder = Path(queries_dir).parent
    if Path(queries_dir).name != QUERIES or not (folder / FEEDBACK).is_dir() or "query_id" not in frame:
        return frame
    grouped = feedback_by_query(read_feedback(folder).records)
    if not grouped:
        return frame
    joined = [feedback_value(grouped[q]) if isinstance(q, str) and q in grouped else None for q in frame["query_id"]]
    existing = frame["feedback"] if "feedback" in frame else [None] * len(frame)
    out = frame.copy()
    out["feedback"] = [j if j is not None else e for j, e in zip(joined, existing)]
    return out.astype({"feedback": "object"})
