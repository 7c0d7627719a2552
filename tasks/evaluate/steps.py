"""The steps of an evaluate run as plain functions over an ``EvaluateRun``.

``flows/evaluate.py`` orders them; ``tasks/evaluate/prefect_tasks.py`` wraps them as Prefect tasks;
reporting and the final MLflow record live in ``tasks/evaluate/finish.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from tasks.evaluate.champion import GOLDEN_TAG, Champion, as_of_stamp, find_champion
from tasks.evaluate.config import EvaluateConfig
from tasks.evaluate.gate import GateOutcome, apply_gate
from tasks.goldenset.load import GoldenCheck, GoldenSet
from tasks.index_artifact import LoadedIndex
from tasks.run_state import FlowRun
from tasks.config.settings import Settings


class EvaluateRun(FlowRun):
    """What one run carries between steps."""

    def __init__(self, config: EvaluateConfig, settings: Settings, tracker: Any, run_id: str) -> None:
        super().__init__(config, settings, tracker, run_id)
        self.folder = settings.reports_dir / "evaluate" / run_id
        self.index_version = ""
        self.golden_label_version = ""  # "<name>@v<N>" for a set written by `nightshift golden label`
        self.documents: Any = None  # tonight's document content hashes (tasks.goldenset.content)
        self.staleness: Any = None  # stale qrels found by check_golden (tasks.goldenset.stale)
        self.relabel_queue = ""  # the labelling file queue_relabel wrote for them


@dataclass
class Evaluation:
    """Tonight's measurements of one index on one golden set."""

    golden: GoldenSet
    checked: GoldenCheck
    golden_version: str
    index: dict[str, Any]  # version, build, spec, embedder fingerprint, n_chunks
    per_query: pd.DataFrame
    run: dict[str, dict[str, float]]
    aggregates: dict[str, float]  # quality metrics + latency + ANN health
    system: dict[str, Any]  # non-numeric facts (ANN exact-vector source)
    segments: pd.DataFrame  # segment labels per query
    retriever: Any = None  # the IndexRetriever that produced ``run`` (reused for relabel candidates)


def open_run(config: EvaluateConfig, settings: Settings) -> EvaluateRun:
    from tasks.tracking import Tracker

    tracker = Tracker(settings)
    run_id = tracker.start_run("evaluate", tags={GOLDEN_TAG: config.golden_key})
    tracker.log_params(run_id, config.model_dump(exclude={"notify"}))
    return EvaluateRun(config, settings, tracker, run_id)


def load_golden(run: EvaluateRun) -> GoldenSet:
    from tasks.goldenset.load import load_golden as load

    from tasks.goldenset.store import read_info, resolve_golden

    with run.stage("load_golden"):
        golden = load(resolve_golden(run.settings, run.config.golden.dir), run.config.golden.split)
    info = read_info(golden.folder)  # a set written by `nightshift golden label` knows its version number
    run.golden_label_version = f"{golden.name}@v{info['version']}" if info.get("version") else ""
    run.tracker.set_tags(run.run_id, {"nightshift.golden_hash": golden.content_hash,
                                      "nightshift.golden_label_version": run.golden_label_version})
    return golden


def open_index(run: EvaluateRun) -> LoadedIndex:
    from tasks.publishing import build_version
    from tasks.retrieval import open_index as open_

    with run.stage("open_index"):
        loaded = open_(run.settings.index_dir, run.config.index_version)
    version = run.index_version = build_version(loaded.folder) or ""
    run.tracker.set_tags(run.run_id, {"nightshift.index_version": version, "nightshift.index_build": loaded.folder.name,
                                      "nightshift.embedder_fingerprint": loaded.manifest.embedder_fingerprint})
    return loaded


def check_golden(run: EvaluateRun, golden: GoldenSet, loaded: LoadedIndex) -> GoldenCheck:
    """GX-validate the golden set against the index; qrels whose document changed or vanished since
    labelling (``tasks.goldenset.stale``) are excluded first, counted and kept for ``queue_relabel``."""
    from tasks.goldenset.content import index_documents
    from tasks.goldenset.load import check_against_corpus
    from tasks.goldenset.stale import annotate, find_stale, without_stale

    with run.stage("validate_golden"):
        run.documents = index_documents(loaded, run.settings)
        run.staleness = find_stale(golden, run.documents)
        checked = annotate(check_against_corpus(without_stale(golden, run.staleness),
                                                loaded.chunks["doc_id"].astype(str)), run.staleness)
    run.tracker.log_dict(run.run_id, {**checked.summary, "unjudged": checked.unjudged,
                                      "no_relevant": checked.no_relevant, "dangling": checked.dangling,
                                      "stale": run.staleness.stale}, "golden_validation.json")
    return checked


def queue_relabel(run: EvaluateRun, loaded: LoadedIndex, evaluation: "Evaluation") -> str:
    """Write the stale qrels as a labelling file (``<data>/labelling/<golden>/relabel-<run>.csv``); "" if none."""
    from tasks.goldenset.labelfile import labelling_dir, write_label_file
    from tasks.goldenset.stale import relabel_rows

    staleness = run.staleness
    if staleness is None or not staleness.stale:
        return ""
    with run.stage("queue_relabel"):
        run_docs = dict(evaluation.run)
        missing = {q: evaluation.golden.queries[q] for q in {s["query-id"] for s in staleness.stale}
                   if q not in run_docs and q in evaluation.golden.queries}
        if missing:  # queries left without any usable judgment were not scored: retrieve them for candidates
            run_docs.update(evaluation.retriever.retrieve(missing, 10))
        rows = relabel_rows(evaluation.golden, staleness, loaded, run.documents, run_docs)
        path = labelling_dir(run.settings, evaluation.golden.name) / f"relabel-{run.run_id[:12]}.csv"
        write_label_file(path, rows, {"golden": evaluation.golden.name, "kind": "relabel", "evaluate_run": run.run_id,
                                      "index_version": run.index_version, **staleness.counts()})
    run.tracker.log_artifact(run.run_id, path)
    run.tracker.set_tags(run.run_id, {"nightshift.relabel_queue": str(path)})
    run.relabel_queue = str(path)
    return run.relabel_queue


def version_golden(run: EvaluateRun, golden: GoldenSet) -> str:
    from tasks.goldenset.versions import snapshot_golden

    with run.stage("version_golden"):
        version = snapshot_golden(golden, run.settings)
    run.tracker.set_tags(run.run_id, {"nightshift.golden_version": version})
    return version


def evaluate_index(run: EvaluateRun, loaded: LoadedIndex, golden: GoldenSet, checked: GoldenCheck,
                   golden_version: str) -> Evaluation:
    """Per-query metrics, latency p50/p95, ANN health and segment labels of ``loaded``, queried through
    its ``IndexRetriever`` (the manifest's spec unless ``retrieval`` names a variant): what is served."""
    from tasks.measure import ann_health, latency_ms, score_index
    from tasks.retrieval import embedder_for
    from tasks.retriever import IndexRetriever
    from tasks.retrievers import spec_of
    from tasks.scoring import aggregate
    from tasks.segments import doc_metadata, query_segments

    cfg = run.config
    embedder = embedder_for(loaded)
    spec = cfg.retrieval or spec_of(loaded.manifest)
    retriever = IndexRetriever(loaded, embedder, spec, run.index_version, cfg.threads)
    run.tracker.set_tags(run.run_id, {"nightshift.retriever": retriever.name,
                                      "nightshift.retriever_source": "config" if cfg.retrieval else "manifest"})
    with run.stage("retrieve_and_score"):
        retriever.warm()
        scores = score_index(retriever, checked.queries, checked.qrels, cfg.metrics,
                             max(spec.depth, cfg.deepest_cutoff))
    with run.stage("latency"):
        latency = latency_ms(scores.retriever, checked.queries, cfg.latency.n_queries, 10, cfg.latency.seed)
    with run.stage("ann_health"):
        ann = ann_health(loaded, embedder, checked.queries, cfg.ann_k, cfg.threads,
                         run.settings.cache_dir / "vectors.sqlite")
    segments = query_segments(checked.queries, checked.qrels, doc_metadata(loaded.chunks), golden.query_metadata,
                              cfg.segments)
    m = loaded.manifest
    index = {"version": run.index_version, "build": loaded.folder.name, "spec": m.index_spec,
             "retriever": retriever.name, "embedder": m.embedder.get("name", ""),
             "embedder_fingerprint": m.embedder_fingerprint, "n_chunks": m.n_chunks, "n_documents": m.n_documents}
    aggregates = {**aggregate(scores.per_query), **latency,
                  **{k: float(v) for k, v in ann.items() if isinstance(v, (int, float))}}
    return Evaluation(golden, checked, golden_version, index, scores.per_query, scores.run, aggregates,
                      {"ann_source": ann.get("ann_source", "")}, segments, retriever)


def resolve_champion(run: EvaluateRun) -> Champion | None:
    with run.stage("resolve_champion"):
        return find_champion(run.tracker, run.config.golden_key, exclude_run_id=run.run_id,
                             as_of=as_of_stamp(run.settings.run_tags.get("nightshift.as_of")))


def gate(run: EvaluateRun, evaluation: Evaluation, champion: Champion | None) -> GateOutcome:
    from tasks.evaluate.champion import judgment_fingerprints
    from tasks.evaluate.gate import GoldenVersion

    golden = GoldenVersion(evaluation.golden.content_hash,
                           run.golden_label_version or evaluation.golden.content_hash[:12],
                           judgment_fingerprints(evaluation.checked.qrels))
    with run.stage("gate"):
        return apply_gate(evaluation.per_query, evaluation.aggregates, champion, run.config.gate, golden)
