"""What every flow run carries between its steps: config, settings, tracker, MLflow run id, stage timings."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from tasks.config.settings import Settings


class FlowRun:
    """Base of ``ReindexRun``, ``EvaluateRun`` and ``DriftRun``. A plain class on purpose: Prefect does not walk it."""

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
