"""Date windows over a query log: ``START..END`` with absolute dates or days relative to an anchor.

Syntax (UTC; a window is half-open ``[start, end)``):

- ``2025-02-03..2025-03-02``: absolute dates; an END given as a date is inclusive (the whole day).
- ``2025-03-03T06:00..2025-03-04T06:00``: datetimes (no offset = UTC), END exclusive.
- ``-35d..-7d``, ``-7d..``, ``-12h..``, ``-2w..-1w``: relative to the anchor.
- an empty side is open: ``..2025-03-02`` is everything up to and including 2025-03-02.

The anchor (``windows.anchor``): ``now``, ``latest`` (the last timestamp in the log) or a date.
Relative windows count whole days back from the END of the anchor's day: with anchor
2025-03-16, ``-7d..`` is 2025-03-10 00:00 to 2025-03-17 00:00, i.e. the 7 days ending that day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd

from tasks.querylogs.format import QueryLogError

_RELATIVE = re.compile(r"^-(\d+)([hdw])$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval; ``spec`` is what the user wrote."""

    spec: str
    start: datetime | None
    end: datetime | None

    def describe(self) -> str:
        start = self.start.isoformat(timespec="minutes") if self.start else "-inf"
        end = self.end.isoformat(timespec="minutes") if self.end else "+inf"
        return f"[{start}, {end})"

    def as_dict(self) -> dict[str, str | None]:
        return {"spec": self.spec, "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None}


def is_window(value: str) -> bool:
    return ".." in value


def _utc(value: pd.Timestamp) -> datetime:
    ts = value.tz_localize("UTC") if value.tzinfo is None else value.tz_convert("UTC")
    return ts.to_pydatetime()


def day_end(moment: datetime) -> datetime:
    """Midnight after ``moment`` (UTC)."""
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.utc) + timedelta(days=1)


def resolve_anchor(anchor: str, latest: datetime | None) -> datetime:
    """The end of the anchor's day: ``now``, ``latest`` (needs the log's last timestamp) or a date."""
    if anchor == "now":
        return day_end(datetime.now(timezone.utc))
    if anchor == "latest":
        if latest is None:
            raise QueryLogError("windows.anchor=latest but the query log has no valid timestamp")
        return day_end(latest)
    try:
        return day_end(_utc(pd.Timestamp(anchor)))
    except ValueError:
        raise QueryLogError(f"windows.anchor {anchor!r}: expected now, latest or a date such as 2025-03-16") from None


def _bound(text: str, anchor: datetime | None, is_end: bool, spec: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    match = _RELATIVE.match(text)
    if match:
        if anchor is None:
            raise QueryLogError(f"window {spec!r}: a relative bound needs an anchor")
        return anchor - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        moment = pd.Timestamp(text)
    except ValueError:
        raise QueryLogError(f"window {spec!r}: {text!r} is not a date, a datetime or -<N>d/-<N>h/-<N>w") from None
    is_date = re.fullmatch(r"\d{4}-\d{2}-\d{2}", text) is not None
    return day_end(_utc(moment)) if is_end and is_date else _utc(moment)


def parse_window(spec: str, anchor: datetime | None = None) -> Window:
    """Parse ``START..END`` (see the module docstring)."""
    if not is_window(spec):
        raise QueryLogError(f"window {spec!r}: expected START..END, e.g. 2025-03-03..2025-03-09 or -7d..")
    left, right = spec.split("..", 1)
    start, end = _bound(left, anchor, False, spec), _bound(right, anchor, True, spec)
    if start is not None and end is not None and start >= end:
        raise QueryLogError(f"window {spec!r} is empty: it starts at {start.isoformat()} and ends at "
                            f"{end.isoformat()}")
    return Window(spec, start, end)


def select(frame: pd.DataFrame, window: Window, column: str = "when") -> pd.DataFrame:
    """The rows whose ``column`` (UTC timestamps) falls in ``window``."""
    mask = pd.Series(True, index=frame.index)
    if window.start is not None:
        mask &= frame[column] >= pd.Timestamp(window.start)
    if window.end is not None:
        mask &= frame[column] < pd.Timestamp(window.end)
    return frame[mask]
