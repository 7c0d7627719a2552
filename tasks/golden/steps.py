"""The steps of ``golden init`` as plain functions over a ``GoldenRun``: from a query log to a labelling file.

``flows/golden.py`` orders them; ``tasks/golden/prefect_tasks.py`` wraps them as Prefect tasks. The
import of a filled file (``golden label``) is ``tasks/golden/label.py``; feedback candidates
(``golden add-feedback``) are ``tasks/golden/feedback.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tasks.config.settings import Settings
from tasks.golden.config import GoldenConfig
from tasks.goldenset.labelfile import labelling_dir
from tasks.run_state import FlowRun


class GoldenRun(FlowRun):
    def __init__(self, config: GoldenConfig, settings: Settings, tracker: Any, run_id: str) -> None:
        super().__init__(config, settings, tracker, run_id)
        self.counts: dict[str, float] = {}
        self.facts: dict[str, Any] = {}
        self.embedder: Any = None
        self.index_version = ""


@dataclass
class Sampled:
    queries: pd.DataFrame  # query_id, query, count, log_query_id, stratum (the sample)
    vectors: np.ndarray  # their embeddings, aligned
    strata: dict[str, dict[str, int]]


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def open_run(config: GoldenConfig, settings: Settings) -> GoldenRun:
    from tasks.tracking import Tracker

    tracker = Tracker(settings)
    run_id = tracker.start_run("golden", tags={"nightshift.golden": f"{config.name}:{config.split}",
                                               "nightshift.golden_action": "init"})
    tracker.log_params(run_id, config.model_dump())
    return GoldenRun(config, settings, tracker, run_id)


def read_log(run: GoldenRun) -> pd.DataFrame:
    """The log's valid rows (GX; bad rows quarantined, too many refuse the log)."""
    from tasks.querylogs.format import read_query_log
    from tasks.querylogs.validation import validate_log

    cfg = run.config.querylog
    path = cfg.resolved_path(run.settings)
    with run.stage("read_log"):
        raw = read_query_log(path, cfg.columns)
        checked = validate_log(raw.frame, str(path), cfg.max_invalid_share)
    run.facts.update(log=str(path), log_hash=raw.content_hash)
    run.counts.update(n_log_rows=len(raw.frame), n_log_quarantined=len(checked.quarantined))
    return checked.frame


def open_index(run: GoldenRun) -> Any:
    from tasks.publishing import build_version
    from tasks.retrieval import embedder_for, open_index as open_

    with run.stage("open_index"):
        loaded = open_(run.settings.index_dir)
        run.embedder = embedder_for(loaded)
    run.index_version = build_version(loaded.folder) or loaded.folder.name
    run.facts.update(index_version=run.index_version, index_build=loaded.folder.name)
    return loaded


def sample_queries(run: GoldenRun, frame: pd.DataFrame) -> Sampled:
    """Unique -> not already in the golden set -> near-duplicates dropped -> stratified sample."""
    from tasks.golden import sample as s
    from tasks.goldenset.store import golden_dir
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_queries

    cfg = run.config.sample
    unique = s.unique_queries(frame)
    unique = drop_known(unique, known_queries(golden_dir(run.settings, run.config.name)))
    with run.stage("embed"), VectorCache(run.settings.cache_dir / "vectors.sqlite") as cache:
        vectors, _ = embed_queries(unique["query"].tolist(), run.embedder, cache)
    with run.stage("sample"):
        kept = s.near_duplicates(vectors, unique["count"].to_numpy(), cfg.dedup_threshold, cfg.dedup_neighbors)
        pool, pool_vectors = unique[kept].reset_index(drop=True), vectors[kept]
        clusters = s.topic_clusters(pool_vectors, cfg.max_clusters, cfg.seed)
        labels = s.strata(pool["query"].tolist(), clusters, cfg.query_length_buckets, cfg.script)
        chosen = s.stratified_sample(labels, cfg.n, cfg.min_per_stratum, cfg.seed)
    picked = pool.iloc[chosen].assign(stratum=[labels[i] for i in chosen]).reset_index(drop=True)
    run.counts.update(n_unique=len(unique), n_near_duplicates=int((~kept).sum()), n_candidates_queries=len(pool),
                      n_strata=len(set(labels)), n_sampled=len(picked), n_clusters=int(len(set(clusters.tolist()))))
    return Sampled(picked, pool_vectors[chosen], s.describe(labels, chosen))


def known_queries(folder: Path) -> set[str]:
    """The folded texts of the golden set's queries (``queries.jsonl``); empty if there is none yet."""
    import json

    path = folder / "queries.jsonl"
    if not path.is_file():
        return set()
    from tasks.golden.sample import fold

    return {fold(json.loads(line)["text"]) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def drop_known(unique: pd.DataFrame, known: set[str]) -> pd.DataFrame:
    """Init on an existing set adds only the queries it does not have yet."""
    from tasks.golden.sample import fold

    if not known:
        return unique
    return unique[[fold(q) not in known for q in unique["query"]]].reset_index(drop=True)


def write_candidates(settings: Settings, name: str, kind: str, loaded: Any, embedder: Any, queries: pd.DataFrame,
                     vectors: np.ndarray, pool: Any, threads: int, index_version: str,
                     meta: dict[str, Any]) -> dict[str, Any]:
    """Pool ``pool.retrievers`` at ``pool.depth`` for ``queries`` (query_id, query, log_query_id, stratum; vectors
    aligned) and write ``data/labelling/<name>/<kind>-<stamp>.csv`` + sidecar (rows' ``source`` = ``kind``)."""
    from tasks.goldenset.content import index_documents
    from tasks.goldenset.labelfile import write_label_file
    from tasks.goldenset.pool import label_rows, pool_candidates, pool_retrievers

    texts = dict(zip(queries["query_id"], queries["query"]))
    retrievers = pool_retrievers(loaded, embedder, pool.retrievers, pool.depth, threads, index_version)
    pooled = pool_candidates(retrievers, texts, pool.depth, vectors)
    docs = index_documents(loaded, settings)
    extra = {qid: {"log_query_id": lid, "stratum": st} for qid, lid, st in zip(queries["query_id"],
                                                                                 queries["log_query_id"],
                                                                                 queries["stratum"])}
    rows = label_rows(texts, pooled, docs.hashes, docs.titles, kind, pool.passage_chars, extra)
    path = labelling_dir(settings, name) / f"{kind}-{stamp()}.csv"
    per_query = [len(c) for c in pooled.values()]
    meta = {"golden": name, "kind": kind, "pool": {"depth": pool.depth, "retrievers": list(pool.retrievers)},
            "hash_source": docs.source, **meta, "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_label_file(path, rows, meta)
    return {"file": str(path), "meta": str(path) + ".json", **meta, "n_rows": len(rows),
            "judgments_per_query": float(np.mean(per_query)) if per_query else 0.0}


def pool_and_write(run: GoldenRun, loaded: Any, sampled: Sampled) -> dict[str, Any]:
    """Pool dense/BM25/hybrid candidates at ``pool.depth`` and write the labelling file + sidecar."""
    with run.stage("pool"):
        written = write_candidates(run.settings, run.config.name, "init", loaded, run.embedder, sampled.queries,
                                   sampled.vectors, run.config.pool, run.config.threads, run.index_version,
                                   {"split": run.config.split, "run_id": run.run_id, **run.facts,
                                    "counts": dict(run.counts), "strata": sampled.strata})
    run.counts.update(n_rows=written.pop("n_rows"), judgments_per_query=written.pop("judgments_per_query"))
    return written


def finish_run(run: GoldenRun, record: dict[str, Any]) -> dict[str, Any]:
    import time

    t, rid = run.tracker, run.run_id
    record = {**record, "counts": dict(run.counts), "seconds": round(time.perf_counter() - run.started, 3),
              "seconds_by_stage": dict(run.seconds)}
    t.log_metrics(rid, {**run.counts, "seconds_total": record["seconds"]})
    t.set_tags(rid, {f"nightshift.{k}": v for k, v in run.facts.items()})
    t.log_artifact(rid, Path(record["file"]))
    t.log_dict(rid, record, "result.json")
    t.end_run(rid, "FINISHED")
    return {"run_id": rid, **record}


def fail_run(run: GoldenRun, exc: BaseException) -> None:
    run.mark_failed(exc)
