"""benchmark: datasets x candidates (embedder, chunker, FAISS index, retrieval mode, reranker) -> evidence.

One MLflow parent run per benchmark and one child run per (dataset, candidate); results already
computed for the same (dataset content hash, candidate fingerprint) are reused unless ``force``.
The parent gets the comparison table, the Pareto plot, the per-dataset chart and the recommendation.
"""

from __future__ import annotations

from prefect import flow

from tasks.benchmark import prefect_tasks as t
from tasks.benchmark.config import BenchmarkConfig
from tasks.config.flows import configured
from tasks.config.settings import Settings


@flow(name="benchmark", log_prints=True)
def benchmark(config: BenchmarkConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = configured("benchmark", config, settings)
    run = t.open_run(config, settings)
    try:
        datasets = t.load_datasets(run)
        candidates = t.plan_candidates(run)
        for dataset in datasets:
            bench = t.open_workbench(run, dataset)
            for candidate in candidates:
                t.evaluate(run, dataset, bench, candidate)
            t.close_workbench(run, bench)
        return t.finish_run(run)
    except BaseException as exc:
        t.fail_run(run, exc)
        raise
