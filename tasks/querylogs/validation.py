"""The query-log suite (Great Expectations, through ``tasks.validation.suite``).

Each failing row is quarantined with the reason and its file/line; the rest is used. When more
than ``max_invalid_share`` of the rows fail, the log is refused with the first reasons, so a log
of numbers, or of empty strings, never reaches a drift test (it would look like drift).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tasks.documents import Quarantined
from tasks.querylogs.format import QueryLogError
from tasks.validation.quarantine import percent_pair
from tasks.validation.records import _got, _text_facts, _text_or_none
from tasks.validation.suite import Check, run_checks


@dataclass(frozen=True)
class CheckedLog:
    frame: pd.DataFrame  # valid rows, with ``when`` (UTC timestamps); RangeIndex
    quarantined: list[Quarantined]
    summary: dict[str, Any]


def parse_timestamps(values: pd.Series) -> pd.Series:
    """UTC timestamps from ISO strings, epoch seconds or datetimes; NaT where it is none of these."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    is_num = values.map(lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                        and math.isfinite(v))
    is_text = values.map(lambda v: isinstance(v, str))
    is_time = values.map(lambda v: isinstance(v, (pd.Timestamp, np.datetime64)) or hasattr(v, "isoformat"))
    if is_num.any():
        out[is_num] = pd.to_datetime(values[is_num].astype("float64"), unit="s", utc=True, errors="coerce")
    if is_text.any():
        out[is_text] = pd.to_datetime(values[is_text], utc=True, errors="coerce", format="ISO8601")
    if (is_time & ~is_text & ~is_num).any():
        mask = is_time & ~is_text & ~is_num
        out[mask] = pd.to_datetime(values[mask], utc=True, errors="coerce")
    return out


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _list_of(value: Any, kind: str) -> bool:
    """None/NaN (absent), or a list of finite numbers (``kind='number'``) / of ids (``'id'``)."""
    if _is_missing(value):
        return True
    if not isinstance(value, (list, tuple, np.ndarray)):
        return False
    if kind == "number":
        return all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in value)
    return all(isinstance(v, (str, int, np.integer)) and not isinstance(v, bool) for v in value)


def _optional_checks(raw: pd.DataFrame, facts: dict[str, Any]) -> list[Check]:
    checks: list[Check] = []
    for column, kind in (("scores", "number"), ("retrieved_ids", "id")):
        if column in raw:
            facts[f"{column}_ok"] = raw[column].map(lambda v, k=kind: _list_of(v, k)).to_numpy()
            checks.append(Check("ExpectColumnValuesToBeInSet", {"column": f"{column}_ok", "value_set": [True]},
                                lambda r, c=column, k=kind: f"{c} is not a list of {k}s (got {raw[c].iat[r]!r:.80})"))
    if "scores" in raw and "retrieved_ids" in raw:
        same = [_is_missing(s) or _is_missing(i) or len(s) == len(i)
                for s, i in zip(raw["scores"], raw["retrieved_ids"])]
        facts["lengths_match"] = np.array(same)
        checks.append(Check("ExpectColumnValuesToBeInSet", {"column": "lengths_match", "value_set": [True]},
                            lambda r: "scores and retrieved_ids have different lengths"))
    if "feedback" in raw:
        facts["feedback_ok"] = raw["feedback"].map(
            lambda v: _is_missing(v) or (isinstance(v, (int, float, np.number)) and not isinstance(v, bool))
            or (isinstance(v, str) and len(v) <= 64)).to_numpy()
        checks.append(Check("ExpectColumnValuesToBeInSet", {"column": "feedback_ok", "value_set": [True]},
                            lambda r: f"feedback must be a number or a label of at most 64 characters "
                                      f"(got {raw['feedback'].iat[r]!r:.80})"))
    return checks


def validate_log(raw: pd.DataFrame, source: str, max_invalid_share: float = 0.05) -> CheckedLog:
    """Validate every row; quarantine failures; refuse the log above ``max_invalid_share``."""
    started = time.perf_counter()
    raw = raw.reset_index(drop=True)
    when = parse_timestamps(raw["timestamp"]) if len(raw) else pd.Series([], dtype="datetime64[ns, UTC]")
    if raw.empty:
        return CheckedLog(raw.assign(when=when), [], {"n_rows": 0, "n_valid": 0, "n_quarantined": 0})
    queries = list(raw["query"])
    facts: dict[str, Any] = {"when": when.to_numpy(), **_text_facts([_text_or_none(q) for q in queries],
                                                                    cleanliness=False)}
    checks = [
        Check("ExpectColumnValuesToNotBeNull", {"column": "when"},
              lambda r: f"timestamp is missing or not a date (got {raw['timestamp'].iat[r]!r:.60})"),
        Check("ExpectColumnValuesToNotBeNull", {"column": "n_chars"},
              lambda r: f"query is not text (got {_got(queries[r])}: {queries[r]!r:.60})"),
        Check("ExpectColumnValuesToBeBetween", {"column": "n_chars_stripped", "min_value": 1},
              lambda r: "query is empty or whitespace only"),
        *_optional_checks(raw, facts),
    ]
    if "_torn" in raw:  # first: its reason is the one that explains the row
        facts["intact"] = raw["_torn"].map(lambda v: v is not True).to_numpy()
        checks.insert(0, Check("ExpectColumnValuesToBeInSet", {"column": "intact", "value_set": [True]},
                               lambda r: "incomplete last line (a writer was killed mid-line): not a JSON object"))
    frame = pd.DataFrame({k: v for k, v in facts.items()})
    ids = [q if isinstance(q, str) and q else f"line {n}" for q, n in
           zip(raw.get("query_id", pd.Series([None] * len(raw))), raw["_line"])]
    sources = [f"{f}:{n}" for f, n in zip(raw["_file"], raw["_line"])]
    valid, quarantined, summary = run_checks(stage="querylog", suite_name="nightshift.querylog", frame=frame,
                                             checks=checks, ids=ids, sources=sources, started=started)
    if len(quarantined) / len(raw) > max_invalid_share:
        first = "; ".join(f"{q.source}: {q.reason}" for q in quarantined[:3])
        share, limit = percent_pair(len(quarantined) / len(raw), max_invalid_share)
        raise QueryLogError(f"query log {source}: {len(quarantined)} of {len(raw)} rows ({share}) failed "
                            f"validation, more than querylog.max_invalid_share={limit}. "
                            f"First: {first}")
    good = raw.iloc[valid].assign(when=when.iloc[valid].to_numpy()).reset_index(drop=True)
    return CheckedLog(good, quarantined, summary)
