"""The two windows of a drift check: read the log(s), validate them, cut reference and current.

Each side (``windows.reference`` / ``windows.current``, or ``--reference`` / ``--current``) is either
a window ``START..END`` over the configured log (``querylog.path``) or the path of a log file that is
used whole. The configured log is read once; only the rows of each window are validated, and
``querylog.max_invalid_share`` applies per window: a bad day last year neither refuses today's check nor
hides a bad current week. Rows without a valid timestamp belong to no window: quarantined, reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tasks.drift.config import DriftConfig
from tasks.querylogs.format import QueryLogError, read_query_log
from tasks.querylogs.validation import CheckedLog, parse_timestamps, validate_log
from tasks.querylogs.windows import is_window, parse_window, resolve_anchor, select
from tasks.config.settings import Settings

_RELATIVE_BOUND = re.compile(r"(^|\.\.)\s*-\d+[hdw]")


@dataclass
class Windows:
    reference: pd.DataFrame
    current: pd.DataFrame
    described: dict[str, dict[str, Any]]  # side -> spec, start, end, range, source, n
    quarantined: list[Any] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)  # file -> GX summary
    facts: dict[str, str] = field(default_factory=dict)  # log_hash

    def lacking(self, minimum: int) -> str | None:
        """Why the check cannot run (too few queries in a window), or None."""
        small = [f"the {side} window {d['spec']} {d['range']} has {d['n']} valid quer{'y' if d['n'] == 1 else 'ies'}"
                 for side, d in self.described.items() if d["n"] < minimum]
        if not small:
            return None
        return (f"not enough data: {' and '.join(small)}; at least {minimum} per window are needed "
                "(windows.min_queries); no test ran, no drift is reported")


def _read(config: DriftConfig, path: Path, windows: Windows) -> pd.DataFrame:
    """The log's rows; the service's log gets its feedback joined by query_id."""
    from tasks.querylogs.served import join_feedback

    raw = read_query_log(path, config.querylog.columns)
    windows.facts.setdefault("log_hash", raw.content_hash)
    return join_feedback(raw.frame.reset_index(drop=True), path)


def _validated(windows: Windows, rows: pd.DataFrame, source: str, key: str, max_share: float) -> CheckedLog:
    """Validate ``rows``; record their summary under ``key`` and each bad row once (windows may overlap)."""
    checked = validate_log(rows, source, max_share)
    seen = {q.source for q in windows.quarantined}
    windows.quarantined.extend(q for q in checked.quarantined if q.source not in seen)
    windows.validation[key] = checked.summary
    return checked


def _checked(config: DriftConfig, path: Path, windows: Windows) -> CheckedLog:
    return _validated(windows, _read(config, path, windows), str(path), str(path), config.querylog.max_invalid_share)


def _dated_log(config: DriftConfig, path: Path, windows: Windows) -> pd.DataFrame:
    """The configured log with parsed ``when``; its undated rows are quarantined (limit not applied: no window)."""
    frame = _read(config, path, windows)
    when = parse_timestamps(frame["timestamp"]) if len(frame) else pd.Series([], dtype="datetime64[ns, UTC]")
    undated = frame[when.isna().to_numpy()]
    if len(undated):
        _validated(windows, undated, f"{path} (rows without a valid timestamp)", f"{path} (no timestamp)", 1.0)
    return frame.assign(when=when.to_numpy())


def _checked_window(config: DriftConfig, log: dict[str, Any], side: str, rows: pd.DataFrame, what: str,
                    windows: Windows) -> pd.DataFrame:
    return _validated(windows, rows.drop(columns="when"), f"{log['path']} {side} window {what}",
                      f"{log['path']} ({side} window)", config.querylog.max_invalid_share).frame


def _anchor(config: DriftConfig, spec: str, frame: pd.DataFrame) -> Any:
    if not _RELATIVE_BOUND.search(spec):
        return None
    latest = frame["when"].max() if len(frame) else None
    return resolve_anchor(config.windows.anchor, None if latest is None or pd.isna(latest) else latest.to_pydatetime())


def read_windows(config: DriftConfig, settings: Settings) -> Windows:
    windows = Windows(pd.DataFrame(), pd.DataFrame(), {})
    log: dict[str, Any] = {}
    for side in ("reference", "current"):
        spec = getattr(config.windows, side).strip()
        if is_window(spec):
            if not log:
                log["path"] = config.querylog.resolved_path(settings)
                log["frame"] = _dated_log(config, log["path"], windows)
            window = parse_window(spec, _anchor(config, spec, log["frame"]))
            frame = _checked_window(config, log, side, select(log["frame"], window),
                                   f"{spec} {window.describe()}", windows)
            described = {**window.as_dict(), "range": window.describe(), "source": str(log["path"])}
        else:
            path = settings.resolve(spec)
            if not path.exists():
                raise QueryLogError(f"{side} {spec!r} is neither an existing log file nor a window START..END "
                                    "(e.g. 2025-03-03..2025-03-09 or -7d..)")
            frame = _checked(config, path, windows).frame
            described = {"spec": spec, "start": None, "end": None, "range": "(whole file)", "source": str(path)}
        setattr(windows, side, frame)
        windows.described[side] = {**described, "n": len(frame)}
    return windows
