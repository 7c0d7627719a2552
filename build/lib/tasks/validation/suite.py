"""The engine the validators share: one cached ephemeral GX context per process, one suite run
over a DataFrame, and the turn of failing rows into ``Quarantined`` records (one per row).

Suites are declared as data (``Check``: an expectation class name, its kwargs, and how to explain
a failing row), so importing this module does not import Great Expectations (~3-5 s); the first
validation does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tasks.documents import Quarantined

T = TypeVar("T")
_CHECK_KEY = "nightshift_check"


@dataclass(frozen=True)
class ValidationOutcome(Generic[T]):
    """Records that passed, one ``Quarantined`` per failing record, a JSON-serialisable summary."""

    valid: list[T]
    quarantined: list[Quarantined]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One expectation of a suite. ``explain(row)`` says why that row failed, with its value.

    ``keep_first``: a uniqueness check whose first occurrence of each value passes (GX flags every
    occurrence of a duplicated value).
    """

    expectation: str  # a class name in great_expectations.expectations
    kwargs: dict[str, Any]
    explain: Callable[[int], str]
    keep_first: bool = False

    @property
    def column(self) -> str:
        return self.kwargs["column"]


@dataclass
class _GXRunner:
    """An ephemeral context with one pandas data source; one dataframe asset per record kind."""

    version: str = ""
    _context: Any = None
    _source: Any = None
    _definitions: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.version = gx.__version__
        self._context = gx.get_context(mode="ephemeral")
        # GX draws tqdm bars on stderr for every validation unless told not to.
        self._context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._source = self._context.data_sources.add_pandas(name="nightshift")

    def validate(self, asset: str, frame: Any, suite_name: str,
                 checks: Sequence[Check]) -> list[Any]:
        import great_expectations as gx
        import great_expectations.expectations as gxe

        expectations = [getattr(gxe, check.expectation)(**check.kwargs, meta={_CHECK_KEY: i})
                        for i, check in enumerate(checks)]
        suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
        with self._lock:  # one context shared by the threads of a process
            definition = self._definitions.get(asset)
            if definition is None:
                definition = (self._source.add_dataframe_asset(name=asset)
                              .add_batch_definition_whole_dataframe("whole"))
                self._definitions[asset] = definition
            batch = definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        return list(result.results)


_runner_lock = threading.Lock()
_runner_instance: _GXRunner | None = None


def gx_runner() -> _GXRunner:
    """The process-wide runner, built on first use (this is where GX gets imported)."""
    global _runner_instance
    with _runner_lock:
        if _runner_instance is None:
            _runner_instance = _GXRunner()
        return _runner_instance


def _raise_on_exception(result: Any, check: Check) -> None:
    """GX reports a crashed expectation as ``success=False`` with no failing rows: never let that
    pass as "nothing to quarantine"."""
    info = result.exception_info or {}
    infos = [info] if "raised_exception" in info else list(info.values())
    for item in infos:
        if isinstance(item, dict) and item.get("raised_exception"):
            raise RuntimeError(f"Great Expectations could not evaluate {check.expectation}"
                               f"({check.column}): {item.get('exception_message')}")


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def run_checks(*, stage: str, suite_name: str, frame: Any, checks: Sequence[Check],
               ids: Sequence[Any], sources: Sequence[str], started: float,
               ) -> tuple[list[int], list[Quarantined], dict[str, Any]]:
    """Validate ``frame`` (RangeIndex, one row per record) against ``checks``.

    Returns the row positions that passed, one ``Quarantined`` per failing row (its reasons joined
    with "; " in suite order), and the summary.
    """
    runner = gx_runner()
    results = sorted(runner.validate(stage, frame, suite_name, checks),
                     key=lambda r: r.expectation_config.meta[_CHECK_KEY])
    if len(results) != len(checks):
        raise RuntimeError(f"{suite_name}: {len(checks)} expectations but {len(results)} results")
    reasons: dict[int, list[str]] = {}
    per_check: list[dict[str, Any]] = []
    for result in results:
        check = checks[result.expectation_config.meta[_CHECK_KEY]]
        _raise_on_exception(result, check)
        rows = sorted(result.result.get("unexpected_index_list") or [])
        count = result.result.get("unexpected_count") or 0
        if count != len(rows):
            raise RuntimeError(f"{check.expectation}({check.column}): {count} unexpected rows "
                               f"but {len(rows)} indices returned")
        if check.keep_first:
            values, seen, later = frame[check.column], set(), []
            for row in rows:
                if values.iat[row] in seen:
                    later.append(row)
                seen.add(values.iat[row])
            rows = later
        name = f"{result.expectation_config.type}({check.column})"
        for row in rows:
            reasons.setdefault(int(row), []).append(f"{name}: {check.explain(int(row))}")
        per_check.append({
            "expectation": result.expectation_config.type, "column": check.column,
            "kwargs": _jsonable({k: v for k, v in check.kwargs.items() if k != "column"}),
            "success": bool(result.success), "unexpected_count": int(count),
            "n_quarantined": len(rows),
        })
    quarantined = [
        Quarantined(id="" if ids[row] is None else str(ids[row]), source=sources[row], stage=stage,
                    reason="; ".join(parts), detail=f"row {row} of {len(frame)}")
        for row, parts in sorted(reasons.items())
    ]
    valid_rows = [row for row in range(len(frame)) if row not in reasons]
    summary = {
        "suite": suite_name, "stage": stage, "gx_version": runner.version,
        "success": all(item["success"] for item in per_check),
        "n_rows": len(frame), "n_valid": len(valid_rows), "n_quarantined": len(quarantined),
        "seconds": round(time.perf_counter() - started, 4), "expectations": per_check,
    }
    return valid_rows, quarantined, summary


def id_checks(frame: Any, raw_ids: Sequence[Any], what: str) -> list[Check]:
    """``frame["id"]`` not null and unique (the first occurrence of a duplicated id is kept)."""
    first_row: dict[Any, int] = {}
    for row, value in enumerate(frame["id"]):
        first_row.setdefault(value, row)

    def duplicate(row: int) -> str:
        value = frame["id"].iat[row]
        return f"duplicate id {value!r}; the first occurrence (row {first_row[value]}) is kept"

    return [
        Check("ExpectColumnValuesToNotBeNull", {"column": "id"},
              lambda row: f"{what} id is missing or empty (got {raw_ids[row]!r})"),
        Check("ExpectColumnValuesToBeUnique", {"column": "id"}, duplicate, keep_first=True),
    ]


def source_of(record: Any) -> str:
    """``metadata['source']`` of a Document or Chunk, or "" when it has none."""
    metadata = getattr(record, "metadata", None)
    source = metadata.get("source", "") if isinstance(metadata, dict) else ""
    return source if isinstance(source, str) else str(source)


def clean_id(value: Any) -> str | None:
    """An id as the suites see it: None, "" and whitespace are all missing."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text if text.strip() else None
