"""drift: query log windows -> validated -> features (cached vectors, top-1 scores) -> tests -> Holm -> report -> actions.

One MLflow run per check. Drift is information: the flow run succeeds whether or not drift is found.
"""

from __future__ import annotations

from prefect import flow

from flows.reindex import reindex
from tasks.drift import prefect_tasks as t
from tasks.config.flows import configured
from tasks.drift.config import DriftConfig
from tasks.config.settings import Settings


@flow(name="drift", log_prints=True)
def drift(config: DriftConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = configured("drift", config, settings)
    run = t.open_run(config, settings)
    try:
        windows = t.load_windows(run)
        lacking = windows.lacking(config.windows.min_queries)
        if lacking:
            record = t.not_enough_data(run, windows, lacking)
            record["actions"] = {"notify": t.notify_run(run, record)}
            return t.finish_run(run, record, windows)
        index = t.open_index(run)
        ref, cur, shared = t.featurize(run, windows, index)
        t.add_corpus_inputs(run, index, shared)
        outcome = t.run_tests(run, ref, cur, shared)
        explanation = t.explain(run, ref, cur)
        record = t.build_record(run, windows, outcome, explanation)
        files = t.report(run, windows, ref, cur, explanation, record)
        why = t.reindex_requested(run, record)
        record["actions"] = {"golden_refresh": t.flag_golden_refresh(run, record, cur, shared, explanation, index),
                             "reindex": t.trigger_reindex(run, why, reindex) if why else {"requested": False},
                             "notify": t.notify_run(run, record)}
        record = t.finish_run(run, record, windows, outcome, files)
    except BaseException as exc:
        t.fail_run(run, exc)
        raise
    print(f"drift check: {record['reason']} (report: {record['report']})")
    return record
