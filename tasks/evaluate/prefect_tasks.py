"""Prefect tasks for the evaluate flow: thin adapters over ``steps`` and ``finish``."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.evaluate import finish, steps

_opts = {"cache_policy": NO_CACHE, "persist_result": False}


class GateFailed(RuntimeError):
    """The regression gate failed; ``record`` is the run's JSON record (already logged to MLflow)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__(f"evaluation gate failed: {record.get('reason', '')}")
        self.record = record


open_run = steps.open_run
load_golden = task(name="load_golden", **_opts)(steps.load_golden)
open_index = task(name="open_index", **_opts)(steps.open_index)
check_golden = task(name="validate_golden", **_opts)(steps.check_golden)
version_golden = task(name="version_golden", retries=2, retry_delay_seconds=[2, 10], **_opts)(steps.version_golden)
evaluate_index = task(name="evaluate_index", **_opts)(steps.evaluate_index)
queue_relabel = task(name="queue_relabel", **_opts)(steps.queue_relabel)
resolve_champion = task(name="resolve_champion", retries=2, retry_delay_seconds=[2, 10], **_opts)(
    steps.resolve_champion)
gate = task(name="gate", **_opts)(steps.gate)
log_results = task(name="log_results", **_opts)(finish.log_results)
report = task(name="write_report", **_opts)(finish.report)
finish_run = task(name="finish_run", **_opts)(finish.finish_run)
notify = task(name="notify", **_opts)(finish.notify_run)
fail_run = finish.fail_run
