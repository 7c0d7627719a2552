"""evaluate: golden set -> validated against current -> per-query metrics -> gate vs champion -> report.

The flow run FAILS (after logging the run, the report and the notification) when the gate fails.
"""

from __future__ import annotations

from prefect import flow

from tasks.evaluate import prefect_tasks as t
from tasks.evaluate.config import EvaluateConfig
from tasks.config.flows import configured
from tasks.config.settings import Settings


@flow(name="evaluate", log_prints=True)
def evaluate(config: EvaluateConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = configured("evaluate", config, settings)
    run = t.open_run(config, settings)
    try:
        golden = t.load_golden(run)
        index = t.open_index(run)
        checked = t.check_golden(run, golden, index)
        golden_version = t.version_golden(run, golden)
        evaluation = t.evaluate_index(run, index, golden, checked, golden_version)
        t.queue_relabel(run, index, evaluation)
        champion = t.resolve_champion(run)
        outcome = t.gate(run, evaluation, champion)
        t.log_results(run, evaluation, outcome)
        files = t.report(run, evaluation, outcome, champion)
        record = t.finish_run(run, evaluation, outcome, files)
    except BaseException as exc:
        t.fail_run(run, exc)
        raise
    t.notify(run, record["status"], record)
    print(f"evaluate {record['status'].upper()}: {record['reason']} (report: {record['report']})")
    if record["status"] == "fail":
        raise t.GateFailed(record)
    return record
