"""What every flow run carries between its steps: config, settings, tracker, MLflow run id, stage timings."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from tasks.config.settings import Settings


class FlowRun:
    """Base of every flow's run (``ReindexRun``, ``EvaluateRun``, ``DriftRun``, ``BenchmarkRun``, ``GoldenRun``). A plain class on purpose: Prefect does not walk it."""

    def __init__(self, config: Any, settings: Settings, tracker: Any, run_id: str) -> None:
        self.config, self.settings, self.tracker, self.run_id = config, settings, tracker, run_id
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """``with run.stage("embed"):`` adds the block's wall time to ``run.seconds[name]`` (logged as seconds.<name>)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    def mark_failed(self, exc: BaseException, status: str = "error", result: dict[str, Any] | None = None) -> None:
        """Tag the MLflow run with ``status`` and the error, log ``result`` as result.json, end it FAILED.

        Best effort: the original error is what the caller re-raises, so a tracking failure here is swallowed.
        """
        try:
            self.tracker.set_tags(self.run_id, {"nightshift.status": status, "nightshift.reason": failure_reason(exc)})
            if result is not None:
                self.tracker.log_dict(self.run_id, result, "result.json")
            self.tracker.end_run(self.run_id, "FAILED")
        except Exception:  # noqa: BLE001 - never mask the original error
            pass


def failure_reason(exc: BaseException) -> str:
    """``Type: message`` of a failed run, cut to what an MLflow tag holds."""
    return f"{type(exc).__name__}: {exc}"[:500]
