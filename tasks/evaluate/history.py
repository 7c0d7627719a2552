"""Metric history of the evaluation runs on one golden set, read back from MLflow."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pandas as pd

from tasks.evaluate.champion import FLOW, GOLDEN_TAG, STATUS_TAG
from tasks.tracking import mlflow_key


def metric_history(tracker: Any, golden_key: str, n: int, metrics: list[str]) -> pd.DataFrame:
    """The last ``n`` completed runs (pass or fail), oldest first: run_id, start_time, status, metrics."""
    columns = ["run_id", "start_time", "status", *metrics]
    experiment = tracker.client.get_experiment_by_name(f"{tracker.settings.experiment_prefix}-{FLOW}")
    if experiment is None:
        return pd.DataFrame(columns=columns)
    runs = tracker.client.search_runs([experiment.experiment_id], filter_string=f"tags.`{GOLDEN_TAG}` = '{golden_key}'",
                                      order_by=["attributes.start_time DESC"], max_results=3 * n)
    runs = [r for r in runs if r.data.tags.get(STATUS_TAG) in ("pass", "fail")][:n]  # not errored runs
    rows = [{"run_id": r.info.run_id,
             "start_time": datetime.fromtimestamp(r.info.start_time / 1000, timezone.utc),
             "status": r.data.tags.get(STATUS_TAG, ""), **{m: r.data.metrics.get(mlflow_key(m)) for m in metrics}}
            for r in runs]
    return pd.DataFrame(rows, columns=columns).iloc[::-1].reset_index(drop=True)
