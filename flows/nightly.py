"""nightly: reindex -> evaluate -> drift, as subflows: one tree per night in the Prefect UI.

Evaluate always runs, on whatever ``current`` is after reindex (published, unchanged, rejected or
failed: a rejected or failed reindex leaves the previous index live, and that is what is evaluated).
The night fails at the end if any step failed, after all of them ran.
"""

from __future__ import annotations

from prefect import flow

from flows.drift import drift
from flows.evaluate import evaluate
from flows.reindex import reindex
from tasks.config.flows import configured
from tasks.nightly.config import NightlyConfig
from tasks.nightly.steps import NightFailed, night_status, step_summary
from tasks.config.settings import Settings


@flow(name="nightly", log_prints=True)
def nightly(config: NightlyConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = configured("nightly", config, settings)
    steps = []
    if config.run_reindex:
        steps.append(step_summary("reindex", reindex(config.reindex, settings, return_state=True)))
    steps.append(step_summary("evaluate", evaluate(config.evaluate, settings, return_state=True)))
    if config.run_drift:
        steps.append(step_summary("drift", drift(config.drift, settings, return_state=True)))
    summary = {"status": night_status(steps), "steps": steps}
    for step in steps:
        print(f"{step['step']}: {step.get('status')} {step.get('reason', '')}".rstrip())
    if summary["status"] != "ok":
        raise NightFailed(summary)
    return summary
