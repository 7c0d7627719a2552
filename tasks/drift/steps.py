"""The steps of a drift check as plain functions over a ``DriftRun`` (state + tracking + timings).

``flows/drift.py`` orders them; ``tasks/drift/prefect_tasks.py`` wraps them as Prefect tasks and does the
MLflow bookkeeping; the report (plots, review queue) is ``tasks/drift/report.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.drift.config import DriftConfig
from tasks.drift.logs import Windows, read_windows
from tasks.drift.plan import FamilyOutcome, SharedInputs, WindowFeatures
from tasks.run_state import FlowRun
from tasks.config.settings import Settings


class DriftRun(FlowRun):
    """What one check carries between steps."""

    def __init__(self, config: DriftConfig, settings: Settings, tracker: Any, run_id: str) -> None:
        super().__init__(config, settings, tracker, run_id)
        self.folder = settings.reports_dir / "drift" / run_id
        self.counts: dict[str, float] = {}
        self.facts: dict[str, Any] = {}  # index version, golden set, log hash, ... (tags + result.json)
        self.embedder: Any = None
        self.retriever: Any = None  # the index's IndexRetriever (its dense stage gives the top-1 scores)

    @property
    def vector_cache(self) -> Path:
        return self.settings.cache_dir / "vectors.sqlite"


def load_windows(run: DriftRun) -> Windows:
    """Read and validate the log(s); cut the reference and current windows (a window or a whole file)."""
    with run.stage("load_windows"):
        windows = read_windows(run.config, run.settings)
    run.facts.update(windows.facts)
    run.counts.update(n_reference=len(windows.reference), n_current=len(windows.current),
                      n_quarantined=len(windows.quarantined))
    return windows


def open_index(run: DriftRun) -> Any:
    """The published index (or ``index.version``), or None with the reason in ``run.facts`` (unless required)."""
    from tasks.publishing import build_version
    from tasks.retrieval import NoPublishedIndex, embedder_for, open_index as open_
    from tasks.retriever import IndexRetriever
    from tasks.retrievers import spec_of

    with run.stage("open_index"):
        try:
            loaded = open_(run.settings.index_dir, run.config.index.version)
        except NoPublishedIndex as exc:
            if run.config.index.required:
                raise
            run.facts["index_missing"] = f"{exc} (index.required=false: the index tests are skipped)"
            from tasks.embedding import load_embedder

            run.embedder = load_embedder(run.config.embedder)
            return None
        run.embedder = embedder_for(loaded)
    version = build_version(loaded.folder) or ""
    run.retriever = IndexRetriever(loaded, run.embedder, spec_of(loaded.manifest), version, run.config.index.threads)
    run.facts.update(index_build=loaded.folder.name, index_version=version, embedder_fingerprint=run.embedder.fingerprint)
    return loaded


def golden_texts(folder: Path, split: str) -> list[str]:
    """The golden queries judged in ``qrels/<split>.tsv``."""
    from tasks.goldenset.load import load_golden

    golden = load_golden(folder, split)
    judged = {str(q) for q, _, _ in golden.rows if q}
    return [text for qid, text in golden.queries.items() if qid in judged]


def golden_folder(run: DriftRun) -> Path | None:
    cfg = run.config.golden
    for candidate in (cfg.dir, cfg.fallback):
        if candidate and run.settings.resolve(candidate).is_dir():
            return run.settings.resolve(candidate)
    return None


def _window_features(run: DriftRun, frame: pd.DataFrame, cache: Any, loaded: Any, vocab: Any) -> WindowFeatures:
    from tasks.querylogs import features as f
    from tasks.vectorize import embed_queries

    texts = [str(t) for t in frame["query"]]
    vectors, stats = embed_queries(texts, run.embedder, cache)
    for key, value in stats.items():
        run.counts[f"embed.{key}"] = run.counts.get(f"embed.{key}", 0) + value
    scalars = {"query_length": f.word_counts(texts)}
    if vocab is not None:
        scalars["oov_rate"] = f.oov_rates(texts, vocab)
    if run.config.index.top1_source == "log":
        if "scores" in frame:
            scalars["top1_score"] = f.logged_top1(list(frame["scores"]))
    elif loaded is not None:
        scalars["top1_score"] = f.top1_scores(run.retriever, vectors)
    if "feedback" in frame:
        scalars["feedback"] = f.negative_feedback(list(frame["feedback"]))
    return WindowFeatures(texts, vectors, scalars, f.scripts(texts))


def featurize(run: DriftRun, windows: Windows, loaded: Any) -> tuple[WindowFeatures, WindowFeatures, SharedInputs]:
    """Query vectors (cached), scalar features, top-1 scores and the golden vectors."""
    from tasks.querylogs.features import vocabulary
    from tasks.vectorize import embed_queries
    from tasks.vector_cache import VectorCache

    shared = SharedInputs()
    if loaded is None:
        needs_index = ("oov_rate", "corpus", *(("top1_score",) if run.config.index.top1_source == "index" else ()))
        shared.unavailable.update({k: run.facts["index_missing"] for k in needs_index})
    with run.stage("featurize"), VectorCache(run.vector_cache) as cache:
        vocab = vocabulary(loaded.chunks["text"]) if loaded is not None else None
        ref = _window_features(run, windows.reference, cache, loaded, vocab)
        cur = _window_features(run, windows.current, cache, loaded, vocab)
        folder = golden_folder(run)
        if folder is None:
            shared.unavailable["golden"] = f"no golden set at {run.config.golden.dir} or {run.config.golden.fallback}"
        else:
            shared.golden, _ = embed_queries(golden_texts(folder, run.config.golden.split), run.embedder, cache)
            run.facts["golden"] = str(folder)
    incomplete = [w for w in (ref, cur) if np.isnan(w.scalars.get("top1_score", np.full(1, np.nan))).any()]
    if run.config.index.top1_source == "log" and incomplete:
        shared.unavailable["top1_score"] = "index.top1_source=log but some queries have no `scores` in the log"
        for window in (ref, cur):
            window.scalars.pop("top1_score", None)
    if not all("feedback" in w.scalars for w in (ref, cur)):
        shared.unavailable["feedback"] = ("no feedback in both windows' logs (the service records it: POST /feedback, "
                                          "joined to its query by query_id)")
        for window in (ref, cur):
            window.scalars.pop("feedback", None)
    return ref, cur, shared


def add_corpus_inputs(run: DriftRun, loaded: Any, shared: SharedInputs) -> None:
    """New documents (in the source, not in the index): their chunk vectors vs a held-out sample of indexed ones."""
    from tasks.chunking import ChunkingConfig, chunk_documents
    from tasks.measure import stored_vectors
    from tasks.loaders import LoadLimits, load_source
    from tasks.sources import SourceError
    from tasks.validation import DocumentRules, validate_documents
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_chunks

    cfg = run.config.corpus
    if cfg.source is None or loaded is None or "corpus" in shared.unavailable:
        shared.unavailable.setdefault("corpus", "corpus.source is null: corpus drift is off")
        return
    source = loaded.manifest.source if cfg.source == "index" else cfg.source
    # the index's own source is read the way reindex read it (include/exclude, limits, document rules)
    how = loaded.manifest.loading if cfg.source == "index" else {}
    with run.stage("corpus"):
        path = source if "://" in source else str(run.settings.resolve(source))
        try:
            docs = load_source(path, LoadLimits(**how["limits"]) if "limits" in how else None,
                               include=how.get("include") or None, exclude=how.get("exclude") or None).documents
        except SourceError as exc:
            shared.unavailable["corpus"] = f"corpus source {source} cannot be read: {exc}"
            return
        indexed = set(loaded.chunks["doc_id"].astype(str))
        candidates = [d for d in docs if d.id not in indexed]
        rules = DocumentRules(**how["documents"]) if "documents" in how else None
        new = validate_documents(candidates, rules).valid if candidates else []  # reindex would quarantine the rest
        run.counts.update(corpus_n_documents=len(docs), corpus_n_new_documents=len(new),
                          corpus_n_new_invalid=len(candidates) - len(new))
        if not new:
            shared.unavailable["corpus"] = (f"no new documents: the {len(docs)} documents of {source} are in the index"
                                            + (f" or fail validation ({len(candidates)})" if candidates else ""))
            return
        chunks = chunk_documents(new, run.embedder.counter, ChunkingConfig(**loaded.manifest.chunking))
        rng = np.random.default_rng(run.config.seed)
        if len(chunks) > cfg.max_new_chunks:
            chunks = [chunks[i] for i in np.sort(rng.choice(len(chunks), cfg.max_new_chunks, replace=False))]
        with VectorCache(run.vector_cache) as cache:
            new_vectors, _ = embed_chunks(chunks, run.embedder, cache)
        indexed_vectors, _ = stored_vectors(loaded, run.vector_cache)
    n_hold = min(cfg.holdout, len(indexed_vectors) // 3)
    order = rng.permutation(len(indexed_vectors))
    shared.corpus = (indexed_vectors[order[:n_hold]], new_vectors, indexed_vectors[order[n_hold:]])
    run.counts.update(corpus_n_new_chunks=len(chunks), corpus_n_holdout=n_hold)


def run_tests(run: DriftRun, ref: WindowFeatures, cur: WindowFeatures, shared: SharedInputs) -> FamilyOutcome:
    from threadpoolctl import threadpool_limits

    from tasks.drift.plan import run_family

    with run.stage("tests"), threadpool_limits(run.config.blas_threads):
        return run_family(run.config, ref, cur, shared)


def explain(run: DriftRun, ref: WindowFeatures, cur: WindowFeatures) -> Any:
    from threadpoolctl import threadpool_limits

    from tasks.drift.explain import explain_drift

    cfg = run.config.explain
    with run.stage("explain"), threadpool_limits(run.config.blas_threads):
        return explain_drift(ref.vectors, cur.vectors, cur.texts, quantile=cfg.quantile, max_clusters=cfg.max_clusters,
                             n_examples=cfg.n_examples, min_silhouette=cfg.min_silhouette, seed=run.config.seed)


def uncovered_queries(run: DriftRun, cur: WindowFeatures, shared: SharedInputs,
                      explanation: Any) -> tuple[list[int], list[str], str]:
    """Current queries the golden set does not cover, each with its cluster (``cluster1`` = the largest).

    With golden vectors: ``explain_drift`` with the golden queries as the reference (a current query is
    uncovered when its nearest golden query is farther than the golden set's own leave-one-out
    nearest-neighbour distance quantile), clustered the same way. Without: the far-query clusters of the
    check itself (far from the reference window)."""
    from threadpoolctl import threadpool_limits

    from tasks.drift.explain import explain_drift

    cfg = run.config.explain
    found, how = explanation, "far from the reference window (no golden set to compare with)"
    if shared.golden is not None and len(shared.golden) >= 2 and len(cur.vectors) >= 2:
        with run.stage("uncovered"), threadpool_limits(run.config.blas_threads):
            found = explain_drift(shared.golden, cur.vectors, cur.texts, quantile=cfg.quantile,
                                  max_clusters=cfg.max_clusters, n_examples=cfg.n_examples,
                                  min_silhouette=cfg.min_silhouette, seed=run.config.seed)
        how = "far from every golden query"
    indices: list[int] = []
    labels: list[str] = []
    for k, cluster in enumerate(found.clusters if found is not None else (), start=1):
        indices += list(cluster.indices)
        labels += [f"cluster{k}"] * len(cluster.indices)
    return indices, labels, how


def base_record(run: DriftRun, windows: Windows) -> dict[str, Any]:
    return {"run_id": run.run_id, "n_reference": len(windows.reference), "n_current": len(windows.current),
            "n_quarantined": len(windows.quarantined), "alpha": run.config.alpha, "windows": windows.described,
            "tests": [], "skipped": {}, "clusters": []}


def not_enough_data_record(run: DriftRun, windows: Windows, reason: str) -> dict[str, Any]:
    skipped = {label: reason for label in run.config.enabled_tests()}
    return {**base_record(run, windows), "status": "not_enough_data", "drift": False, "reason": reason,
            "skipped": skipped, "decision_rule": "no test ran"}


def build_record(run: DriftRun, windows: Windows, outcome: FamilyOutcome, explanation: Any) -> dict[str, Any]:
    from tasks.drift.plan import decision_rule, explain_decision, result_rows

    drift = outcome.decision.drift
    clusters = [{"size": c.size, "share_of_current": c.share_of_current, "mean_distance": c.mean_distance,
                 "examples": list(c.examples)} for c in (explanation.clusters if explanation else ())]
    status = "drift" if drift else ("not_enough_data" if not outcome.results else "no_drift")
    return {**base_record(run, windows), "status": status, "drift": drift, "reason": explain_decision(outcome, explanation),
            "tests": result_rows(outcome), "skipped": dict(outcome.skipped), "decision_rule": decision_rule(outcome),
            "clusters": clusters, "far_share": explanation.far_share if explanation else None,
            "expected_far_share": explanation.expected_share if explanation else None}


def write_drift_report(run: DriftRun, windows: Windows, ref: WindowFeatures, cur: WindowFeatures,
                       explanation: Any, record: dict[str, Any]) -> Any:
    """Plots, review queue and report.md/.html under ``data/reports/drift/<run_id>/`` (paths added to ``record``)."""
    from tasks.drift.report import review_queue, write_report

    with run.stage("report"):  # the nearest-reference distances ``explain`` computed (the largest products of the run)
        distance = explanation.distance
        ref_similarity = 1.0 - explanation.reference_distance
        panels = {"top-1 similarity to the index": (ref.scalars["top1_score"], cur.scalars["top1_score"])} \
            if "top1_score" in ref.scalars and "top1_score" in cur.scalars else {}
        panels["similarity to the nearest reference query"] = (ref_similarity, 1.0 - distance)
        panels["query length (words)"] = (ref.scalars["query_length"], cur.scalars["query_length"])
        review = review_queue(explanation, windows.current, distance, cur.scalars.get("top1_score"),
                              run.config.explain.max_review_rows)
        tests = pd.DataFrame(record["tests"], columns=["name", "test", "input", "statistic", "p_value", "p_holm",
                                                       "effect_size", "threshold", "drift"])
        files = write_report(run.folder, record, tests, explanation, review, (ref.vectors, cur.vectors), panels,
                             run.config.seed)
    record.update(report=str(files.markdown), review_queue=str(files.review), n_review=files.n_review)
    return files
