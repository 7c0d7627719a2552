"""golden init: query log -> unique, de-duplicated, stratified sample -> pooled dense/BM25/hybrid candidates
-> a labelling file a person fills (then ``nightshift golden label FILE``). One MLflow run."""

from __future__ import annotations

from prefect import flow

from tasks.config.flows import default_settings
from tasks.config.settings import Settings
from tasks.golden import prefect_tasks as t
from tasks.golden.config import GoldenConfig


@flow(name="golden-init", log_prints=True)
def golden_init(config: GoldenConfig, settings: Settings | None = None) -> dict:
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    settings = settings.resolved() if settings is not None else default_settings()
    run = t.open_run(config, settings)
    try:
        frame = t.read_log(run)
        index = t.open_index(run)
        sampled = t.sample_queries(run, frame)
        written = t.pool_and_write(run, index, sampled)
        record = t.finish_run(run, written)
    except BaseException as exc:
        t.fail_run(run, exc)
        raise
    print(f"golden init {config.name}: {record['counts']['n_sampled']} queries, {record['counts']['n_rows']} "
          f"candidates to judge in {record['file']}")
    return record
