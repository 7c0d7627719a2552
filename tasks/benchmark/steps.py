"""The steps of a benchmark run as plain functions over a ``BenchmarkRun`` (state + tracking).

``flows/benchmark.py`` orders them; ``tasks/benchmark/prefect_tasks.py`` wraps them as Prefect tasks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.benchmark.candidates import Candidate, embedder_config, expand_grid
from tasks.benchmark.config import BenchmarkConfig, DatasetSpec
from tasks.benchmark.cost import costs
from tasks.benchmark.results import CandidateResult, ResultStore
from tasks.benchmark.workbench import Workbench
from tasks.datasets import BeirDataset
from tasks.documents import sha256_text
from tasks.config.settings import Settings
from tasks.run_state import FlowRun


class BenchmarkRun(FlowRun):
    """Everything one run carries between steps. A plain class on purpose: Prefect does not walk it."""

    def __init__(self, config: BenchmarkConfig, settings: Settings, tracker: Any, run_id: str) -> None:
        super().__init__(config, settings, tracker, run_id)
        self.records: list[dict[str, Any]] = []
        self.counts = {"n_embedded": 0, "n_reused": 0, "n_queries_embedded": 0, "n_cached_results": 0,
                       "n_computed_results": 0, "n_failed": 0}
        measure = config.measure.model_dump_json()
        self.store = ResultStore(settings.data_dir / "benchmarks", measure)
        self.vector_cache = settings.cache_dir / "vectors.sqlite"


class LoadedDataset:
    """A validated BEIR collection and its documents (plain class: Prefect does not walk the corpus)."""

    def __init__(self, spec: DatasetSpec, path: Path, name: str, data: BeirDataset) -> None:
        self.spec, self.path, self.name, self.data = spec, path, name, data


def dataset_names(specs: list[DatasetSpec], paths: list[Path]) -> list[str]:
    """Given names, else folder names, with parent folders prepended while two would clash."""
    depth = 1
    while True:
        names = [s.name or "/".join(p.parts[-depth:]) for s, p in zip(specs, paths)]
        if len(set(names)) == len(names) or depth >= max(len(p.parts) for p in paths):
            return names
        depth += 1


def load_datasets(run: BenchmarkRun) -> list[LoadedDataset]:
    """Load and validate (GX) every dataset; log each content hash on the parent run as its pin."""
    from tasks.datasets import load_beir

    specs = run.config.datasets
    paths = [run.settings.resolve(s.path) for s in specs]
    loaded = [LoadedDataset(s, p, n, load_beir(p, s.split, n))
              for s, p, n in zip(specs, paths, dataset_names(specs, paths))]
    run.tracker.log_params(run.run_id, {f"dataset.{d.name}": {
        "path": str(d.path), "split": d.spec.split, "content_hash": d.data.content_hash,
        "n_docs": len(d.data.corpus), "n_queries": len(d.data.queries)} for d in loaded})
    return loaded


def plan_candidates(run: BenchmarkRun) -> list[Candidate]:
    """Expand the grid; embedders and rerankers are loaded/hashed once per name for their fingerprints."""
    from tasks.rerank import reranker_fingerprint
    from tasks.embedding import _tokenizer_digest, load_embedder

    def embedder(name: str):
        return load_embedder(embedder_config(run.config, name))

    def tokenization(name: str) -> str:
        e = embedder(name)
        return sha256_text(_tokenizer_digest(e.tokenizer), str(e.counter.max_tokens))[:16]

    candidates = expand_grid(run.config, lambda n: embedder(n).fingerprint, tokenization, reranker_fingerprint)
    run.tracker.log_params(run.run_id, {"candidates": [c.name for c in candidates]})
    run.candidates = {c.name: c for c in candidates}
    return candidates


def open_workbench(run: BenchmarkRun, dataset: LoadedDataset) -> Workbench:
    from tasks.datasets import as_documents

    return Workbench(dataset.data, as_documents(dataset.data), run.vector_cache, run.config.measure.memory_interval_ms)


def close_workbench(run: BenchmarkRun, bench: Workbench) -> None:
    """Add the workbench's embedding counts to the run and free its memoised parts."""
    for key, value in bench.totals().items():
        run.counts[key] += value
    bench.parts.clear()


def evaluate(run: BenchmarkRun, dataset: LoadedDataset, bench: Workbench, cand: Candidate) -> dict[str, Any]:
    """A cached result for (dataset hash, fingerprint) unless ``force``, else a fresh one; one child run."""
    child = start_child(run, dataset, cand)
    result = cached_or_computed(run, dataset, bench, cand, child)
    result.dataset, result.candidate = dataset.name, cand.name  # a cached result may carry older labels
    record = {**result.record(), "child_run_id": child,
              "mode": cand.retrieval.mode + ("+rerank" if cand.reranker is not None else "")}
    if result.status == "ok":
        embedder = cand.embedder_name if cand.uses_dense else None
        record["systems"] = {**result.systems, **costs(result.systems, run.config.prices, embedder, cand.embedder.device)}
    log_child(run, child, record, result, run.store.folder(dataset.data.content_hash, cand.fingerprint))
    run.records.append(record)
    return record


def cached_or_computed(run: BenchmarkRun, dataset: LoadedDataset, bench: Workbench, cand: Candidate,
                       child: str) -> CandidateResult:
    """A failing candidate becomes a ``failed`` result (not cached, retried next run): the grid goes on."""
    from tasks.benchmark.runner import evaluate_candidate

    result = None if run.config.force else run.store.get(dataset.data.content_hash, cand.fingerprint)
    if result is not None:
        run.counts["n_cached_results"] += 1
        return result
    try:
        result = evaluate_candidate(bench, cand, run.config.measure, dataset.name)
    except Exception as exc:  # noqa: BLE001 - one candidate failing must not sink the grid
        run.counts["n_failed"] += 1
        return CandidateResult(dataset.name, dataset.data.content_hash, cand.name, cand.fingerprint,
                               status="failed", error=f"{type(exc).__name__}: {exc}"[:1000])
    result.computed_by_run_id = child
    run.store.put(result)
    run.counts["n_computed_results"] += 1
    return result


def start_child(run: BenchmarkRun, dataset: LoadedDataset, cand: Candidate) -> str:
    tags = {"nightshift.dataset": dataset.name, "nightshift.dataset_hash": dataset.data.content_hash,
            "nightshift.candidate": cand.name, "nightshift.fingerprint": cand.fingerprint}
    child = run.tracker.start_run("benchmark", f"{dataset.name} | {cand.name}", tags, parent_run_id=run.run_id)
    run.tracker.log_params(child, {"dataset": {"name": dataset.name, "path": str(dataset.path),
                                               "split": dataset.spec.split, "content_hash": dataset.data.content_hash},
                                   **cand.params()})
    return child


def log_child(run: BenchmarkRun, child: str, record: dict[str, Any], result: CandidateResult, folder: Path) -> None:
    t = run.tracker
    t.log_metrics(child, {**record["metrics"], **record["systems"]})
    t.set_tags(child, {"nightshift.status": result.status, "nightshift.cached": str(result.cached).lower(),
                       "nightshift.computed_by_run_id": result.computed_by_run_id, "nightshift.error": result.error or None})
    if result.status == "ok":
        for name in ("per_query.csv", "run.trec.gz", "result.json"):
            t.log_artifact(child, folder / name)
    t.end_run(child, "FINISHED" if result.status == "ok" else "FAILED")
