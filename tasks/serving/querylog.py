"""Writing the served queries and their feedback (format and layout: ``tasks.querylogs.served``).

One line per answered query, appended to today's file (UTC) as soon as the answer is computed; a
rejected request writes nothing. ``hash_queries`` stores ``query_sha256`` instead of the text (drift's
embedding tests then cannot run on those rows: the validation quarantines them with that reason).
``retention_days`` deletes daily files older than that many days (checked at start and once a day).
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from tasks.querylogs.served import FEEDBACK, QUERIES, append_line, daily_file


class QueryLogWriter:
    def __init__(self, folder: Path, hash_queries: bool = False, retention_days: int | None = None) -> None:
        self.folder, self.hash_queries, self.retention_days = Path(folder), hash_queries, retention_days
        self._pruned: date | None = None
        self._lock = threading.Lock()
        self.prune()

    def query(self, response: Any, k: int, filters: dict | None) -> None:
        now = datetime.now(timezone.utc)
        record: dict[str, Any] = {"timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        if self.hash_queries:
            record["query_sha256"] = hashlib.sha256(response.query.encode("utf-8")).hexdigest()
        else:
            record["query"] = response.query
        record.update(query_id=response.query_id, retrieved_ids=[h.doc_id for h in response.hits],
                      chunk_ids=[h.chunk_id for h in response.hits], scores=[h.score for h in response.hits],
                      index_version=response.index_version, latency_ms=round(response.latency_ms, 3), k=k,
                      filters=filters or None)
        append_line(daily_file(self.folder, QUERIES, now), record)
        self._daily(now.date())

    def feedback(self, query_id: str, value: Any, doc_id: str | None = None) -> None:
        now = datetime.now(timezone.utc)
        append_line(daily_file(self.folder, FEEDBACK, now),
                    {"timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                     "query_id": query_id, "doc_id": doc_id, "feedback": value})

    def _daily(self, today: date) -> None:
        if self.retention_days is not None and self._pruned != today:
            self.prune(today)

    def prune(self, today: date | None = None) -> list[Path]:
        """Delete daily files older than ``retention_days`` (None: keep everything)."""
        today = today or datetime.now(timezone.utc).date()
        removed: list[Path] = []
        with self._lock:
            self._pruned = today
            if self.retention_days is None:
                return removed
            oldest = today - timedelta(days=self.retention_days)
            for kind in (QUERIES, FEEDBACK):
                for path in sorted((self.folder / kind).glob("*.jsonl")):
                    try:
                        day = date.fromisoformat(path.stem)
                    except ValueError:
                        continue
                    if day < oldest:
                        path.unlink(missing_ok=True)
                        removed.append(path)
        return removed
