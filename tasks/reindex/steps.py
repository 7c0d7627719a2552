"""The steps of a reindex run as plain functions over a ``ReindexRun`` (state + tracking + timings).

``flows/reindex.py`` orders them; ``tasks/reindex/prefect_tasks.py`` wraps them as Prefect tasks.
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tasks.reindex.config import ReindexConfig
from tasks.faults import crash_point
from tasks.embedding import resolve_embedder_config  # presets resolved: a full dump must reload the same embedder
from tasks.documents import Chunk, Document, Quarantined, sha256_text
from tasks.index_artifact import IndexCorrupted, IndexManifest, read_manifest, verify_files, write_index_artifact
from tasks.publishing import IndexStore
from tasks.run_state import FlowRun
from tasks.config.settings import Settings


class ReindexRun(FlowRun):
    """Everything one run carries between steps."""

    def __init__(self, config: ReindexConfig, settings: Settings, tracker: Any, run_id: str) -> None:
        super().__init__(config, settings, tracker, run_id)
        self.build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + run_id[:8]
        self.store = IndexStore(settings.index_dir)
        self.counts: dict[str, float] = {}
        self.quarantined: list[Quarantined] = []
        self._embedder = None

    @property
    def embedder(self):
        if self._embedder is None:
            from tasks.embedding import load_embedder

            self._embedder = load_embedder(self.config.embedder)
        return self._embedder

    @property
    def quarantine_file(self) -> Path:
        return self.settings.quarantine_dir / f"{self.build_id}.jsonl"


@dataclass
class LoadedCorpus:
    documents: list[Document]
    n_records: int
    fingerprint: str = ""
    validation: dict[str, Any] = field(default_factory=dict)


def load_and_validate(run: ReindexRun) -> LoadedCorpus:
    """Load the source, validate documents (GX), quarantine failures, enforce the quarantine limit."""
    from tasks.loaders import load_source
    from tasks.validation import enforce_quarantine_limit, validate_documents

    cfg = run.config
    with run.stage("load"):
        source = run.settings.resolve(cfg.source) if "://" not in cfg.source else cfg.source
        result = load_source(str(source), cfg.limits, include=cfg.include or None, exclude=cfg.exclude or None)
    with run.stage("validate_documents"):
        outcome = validate_documents(result.documents, cfg.validation.documents)
    crash_point("after_load")
    run.quarantined += [*result.quarantined, *outcome.quarantined]
    n_records = len(result.documents) + len(result.quarantined)
    run.counts.update(n_files=result.n_files, n_records=n_records, n_documents=len(outcome.valid))
    write_quarantine_file(run)
    enforce_quarantine_limit(len(run.quarantined), n_records, cfg.validation.max_quarantine_share,
                             path=run.quarantine_file)
    corpus = LoadedCorpus(outcome.valid, n_records, validation=outcome.summary)
    corpus.fingerprint = corpus_fingerprint(run, outcome.valid)
    return corpus


def corpus_fingerprint(run: ReindexRun, docs: list[Document]) -> str:
    """What the index depends on: every (id, content hash), the chunking, the embedder, the index config and the
    retriever spec (an adopted spec is a new index, never ``unchanged``)."""
    parts = sorted(f"{d.id}\t{d.content_hash}" for d in docs)
    cfg = run.config
    return sha256_text("\n".join(parts), cfg.chunking.fingerprint(), run.embedder.fingerprint,
                       cfg.index.model_dump_json(), cfg.retriever.model_dump_json())


def current_manifest(run: ReindexRun) -> IndexManifest | None:
    """``current``'s manifest; None without one, or when it is corrupted."""
    folder = run.store.current()
    if folder is None:
        return None
    try:
        return read_manifest(folder)
    except IndexCorrupted:
        return None


def is_unchanged(run: ReindexRun, corpus: LoadedCorpus) -> bool:
    """Same corpus fingerprint as ``current`` and ``current`` intact (checksums, only then): nothing to do."""
    manifest = None if run.config.force else current_manifest(run)
    if manifest is None or manifest.corpus_fingerprint != corpus.fingerprint:
        return False
    try:
        verify_files(run.store.current(), manifest)
    except IndexCorrupted as exc:
        logging.getLogger(__name__).warning("current index is not usable, it will be rebuilt: %s", exc)
        return False
    run.counts.update(n_chunks=manifest.n_chunks)  # what stays published (nothing was chunked this run)
    return True


def snapshot_documents(run: ReindexRun, corpus: LoadedCorpus, repo: Any) -> str:
    """Write the validated documents as a deterministic Parquet snapshot; DVC-track and push it."""
    import pandas as pd

    from tasks import versioning

    with run.stage("snapshot"):
        folder = run.settings.snapshot_dir / "documents"
        folder.mkdir(parents=True, exist_ok=True)
        frame = pd.DataFrame([d.to_record() for d in sorted(corpus.documents, key=lambda d: d.id)])
        frame.to_parquet(folder / "documents.parquet", index=False)
        version = versioning.track(repo, folder)
        if run.settings.dvc_push:
            versioning.push(repo, folder)
    return version


def chunk_and_validate(run: ReindexRun, corpus: LoadedCorpus) -> list[Chunk]:
    from tasks.chunking import chunk_documents
    from tasks.validation import enforce_quarantine_limit, validate_chunks

    with run.stage("chunk"):
        chunks = chunk_documents(corpus.documents, run.embedder.counter, run.config.chunking)
    chunked = {c.doc_id for c in chunks}
    run.quarantined += [Quarantined(d.id, str(d.metadata.get("source_file", "")), "chunk",
                                    "document produced no chunk (no text after chunking)")
                        for d in corpus.documents if d.id not in chunked]
    with run.stage("validate_chunks"):
        outcome = validate_chunks(chunks, run.embedder.counter.max_tokens)
    run.quarantined += outcome.quarantined
    run.counts.update(n_chunks=len(outcome.valid), n_tokens=sum(c.n_tokens for c in outcome.valid))
    if outcome.quarantined:
        write_quarantine_file(run)
        enforce_quarantine_limit(len(outcome.quarantined), len(chunks),
                                 run.config.validation.max_quarantine_share, path=run.quarantine_file)
    return outcome.valid


def embed(run: ReindexRun, chunks: list[Chunk]) -> tuple[list[Chunk], np.ndarray]:
    """Vectors for the chunks through the cache; chunks whose vector fails validation are quarantined."""
    from tasks.validation import validate_vectors
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_chunks

    runner = run.config.runner
    group = 16 * run.config.embedder.batch_size * (runner.shards if runner.kind == "dask" else 1)
    with run.stage("embed"), VectorCache(run.settings.cache_dir / "vectors.sqlite") as cache, \
            _encoder(run) as encode:
        vectors, stats = embed_chunks(chunks, run.embedder, cache, group_size=group, encode=encode,
                                      on_group=lambda done, total: done < total and crash_point("during_embedding"))
    run.counts.update({k: v for k, v in stats.as_dict().items() if k.startswith("n_")})
    with run.stage("validate_vectors"):
        outcome = validate_vectors([c.id for c in chunks], vectors, run.embedder.dim)
    if outcome.quarantined:
        run.quarantined += outcome.quarantined
        write_quarantine_file(run)
        bad = {q.id for q in outcome.quarantined}
        keep = [i for i, c in enumerate(chunks) if c.id not in bad]
        chunks, vectors = [chunks[i] for i in keep], vectors[keep]
    return chunks, vectors


@contextmanager
def _encoder(run: ReindexRun) -> Iterator[Any]:
    """In-process encoding, or a Dask fan-out when ``runner.kind == "dask"``."""
    if run.config.runner.kind != "dask":
        yield None
        return
    from tasks.reindex.fanout import dask_encoder

    with dask_encoder(run.embedder, resolve_embedder_config(run.config.embedder).model_dump(), run.config.runner) as encode:
        yield encode


@dataclass
class Build:
    ok: bool
    folder: Path | None
    manifest: IndexManifest | None
    reason: str = ""


def build_validated_index(run: ReindexRun, corpus: LoadedCorpus, chunks: list[Chunk],
                          vectors: np.ndarray, snapshot_version: str) -> Build:
    """Build the FAISS index, validate it against exact search, write the artifact to a staging dir."""
    from tasks.indexing import choose_index_spec
    from tasks.reindex import index_update

    cfg = run.config.index
    with run.stage("build_index"):
        spec = choose_index_spec(len(chunks), run.embedder.dim, cfg)
        update = index_update.plan_index_update(run, chunks, spec)
        if update.mode == "incremental":
            spec = update.spec
            index, chunks, vectors = index_update.apply(update, chunks, vectors, cfg.threads)
            crash_point("during_incremental_update")
        else:
            index = _build_full(run, vectors, spec)
    with run.stage("validate_index"):  # embedding the golden / logged queries is part of the check
        queries, source = _validation_query_vectors(run, spec.kind)
    check = _validate(run, index, vectors, queries, source)
    if not check.ok and update.mode == "incremental":  # churn cost the update its recall: rebuild from scratch
        update = index_update.full(f"the incremental update missed the ANN target ({check.reason})")
        with run.stage("build_index"):
            spec = choose_index_spec(len(chunks), run.embedder.dim, cfg)
            index = _build_full(run, vectors, spec)
        check = _validate(run, index, vectors, queries, source)
    _log_build(run, check, update)
    if not check.ok:
        return Build(False, None, None, check.reason)
    with run.stage("build_bm25"):
        bm25 = build_bm25(run.config.retriever, chunks)
    manifest = IndexManifest(
        embedder=run.embedder.describe(), embedder_config=resolve_embedder_config(run.config.embedder).model_dump(),
        embedder_fingerprint=run.embedder.fingerprint,
        dim=run.embedder.dim, index_spec=spec.describe(), index_kind=spec.kind, index_params=spec.params,
        chunking=run.config.chunking.model_dump(), corpus_fingerprint=corpus.fingerprint,
        retriever=run.config.retriever.model_dump(mode="json"),
        snapshot_version=snapshot_version, source=run.config.source,
        loading={"include": run.config.include, "exclude": run.config.exclude,
                 "limits": run.config.limits.model_dump(), "documents": run.config.validation.documents.model_dump()},
        n_documents=len(corpus.documents), n_chunks=len(chunks),
        validation={"ann_recall_at_10": check.recall_at_10, "n_queries": check.n_queries},
        ann_validation=check.ann_validation(cfg.min_recall_at_10), index_config=cfg.model_dump(mode="json"),
        build=update.record())
    crash_point("before_index_write")
    with run.stage("write_index"):
        staging = run.store.staging_dir(run.build_id)
        manifest = write_index_artifact(staging, index, chunks, manifest, bm25=bm25)
        crash_point("after_index_write")
        folder = run.store.promote(staging, run.build_id)
    run.counts["index_bytes"] = sum(p.stat().st_size for p in folder.iterdir())
    return Build(True, folder, manifest)


def _build_full(run: ReindexRun, vectors: np.ndarray, spec: Any) -> Any:
    """From scratch: in-process, or with ``runner.kind: dask`` sharded over the cluster (flat and IVF kinds)."""
    from tasks.index_shards import SHARDABLE_KINDS
    from tasks.indexing import build_index

    cfg, runner = run.config.index, run.config.runner
    if runner.kind == "dask" and spec.kind in SHARDABLE_KINDS and len(vectors):
        from tasks.reindex.fanout import build_index_sharded

        run.counts["index_shards"] = runner.shards
        return build_index_sharded(vectors, spec, runner, seed=cfg.seed, threads=cfg.threads)
    return build_index(vectors, spec, seed=cfg.seed, threads=cfg.threads)


def _validate(run: ReindexRun, index: Any, vectors: np.ndarray, queries: np.ndarray | None, source: str) -> Any:
    from tasks.indexing import validate_index

    cfg = run.config.index
    with run.stage("validate_index"):
        return validate_index(index, vectors, cfg.min_recall_at_10, queries, source, cfg.n_validation_queries,
                              seed=cfg.seed, threads=cfg.threads, margin=cfg.tuning_margin)


def _log_build(run: ReindexRun, check: Any, update: Any) -> None:
    """The ANN check (``ann_*``) and how the index was made (``index_build*``) in MLflow and the run counts."""
    ann = check.ann_validation(run.config.index.min_recall_at_10)
    build = update.record()
    run.counts.update(ann_recall_at_10=check.recall_at_10, index_build=update.mode)
    run.tracker.log_params(run.run_id, {"ann_queries": ann["queries"], "ann_search_params": json.dumps(ann["search_params"]),
                                        "index_build": update.mode})
    metrics = {"ann_recall_at_10": check.recall_at_10, "ann_n_queries": check.n_queries}
    if "changed_share" in build:
        metrics["index_changed_share"] = build["changed_share"]
    run.tracker.log_metrics(run.run_id, metrics)
    run.tracker.set_tags(run.run_id, {"nightshift.index_build.reason": update.reason[:500]})
    run.tracker.log_dict(run.run_id, ann, "ann_validation.json")
    run.tracker.log_dict(run.run_id, build, "index_build.json")


def _validation_query_vectors(run: ReindexRun, kind: str) -> tuple[np.ndarray | None, str]:
    """Embedded golden / query-log queries for the ANN check (none for ``flat``: its search is exact)."""
    from tasks.reindex.ann_queries import validation_queries

    if kind == "flat":
        return None, ""
    gate = run.config.gate
    texts, source = validation_queries(run.settings, gate.golden_dir, gate.split, run.config.index.n_validation_queries,
                                       seed=run.config.index.seed)
    if not texts:
        return None, ""
    return run.embedder.encode(texts, kind="query"), source


def build_bm25(spec: Any, chunks: list[Chunk]) -> Any:
    """The BM25 index over the chunk texts when the spec's mode uses one (saved in the artifact), else None."""
    from tasks.lexical import Bm25Index
    from tasks.retriever import NEEDS_BM25

    if spec.mode not in NEEDS_BM25:
        return None
    b = spec.bm25
    return Bm25Index.build([c.id for c in chunks], [c.text for c in chunks], k1=b.k1, b=b.b,
                           stemmer=b.stemmer, stopwords=b.stopwords)


def publication_gate(run: ReindexRun, build: Build) -> Any:
    """Compare the candidate build with ``current`` on the golden set (skipped, with the reason, when it cannot apply)."""
    from tasks.reindex.publication import compare_to_current

    cfg = run.config.gate
    with run.stage("publication_gate"):
        decision = compare_to_current(build.folder, run.store.current(), cfg, run.settings.resolve(cfg.golden_dir))
    run.tracker.log_metrics(run.run_id, decision.metrics())
    run.tracker.set_tags(run.run_id, {"nightshift.gate.status": decision.status,
                                      "nightshift.gate.reason": decision.reason[:500]})
    run.tracker.log_dict(run.run_id, decision.as_dict(), "publication_gate.json")
    return decision


def version_and_publish(run: ReindexRun, build: Build, repo: Any, snapshot_version: str) -> str:
    """DVC-track and push the build, then switch ``current`` to it (in that order: no push, no publish)."""
    from tasks import versioning

    with run.stage("version"):
        version = versioning.track(repo, build.folder)
        if run.settings.dvc_push:
            versioning.push(repo, build.folder)
    crash_point("after_dvc_push")
    with run.stage("publish"):
        run.store.publish(build.folder, {"index_version": version, "snapshot_version": snapshot_version,
                                         "run_id": run.run_id, "source": run.config.source})
        run.store.clean(keep=run.config.publish.keep_builds)
    return version


def write_quarantine_file(run: ReindexRun) -> Path:
    from tasks.validation import write_quarantine

    return write_quarantine(run.quarantined, run.quarantine_file)


def result_record(run: ReindexRun, status: str, index_version: str = "", reason: str = "",
                  snapshot_version: str = "") -> dict[str, Any]:
    counts = run.counts
    return {
        "run_id": run.run_id, "status": status, "index_version": index_version,
        "snapshot_version": snapshot_version, "build_id": run.build_id if status == "published" else "",
        "n_documents": int(counts.get("n_documents", 0)), "n_chunks": int(counts.get("n_chunks", 0)),
        "n_embedded": int(counts.get("n_embedded", 0)), "n_reused": int(counts.get("n_reused", 0)),
        "n_quarantined": len(run.quarantined), "reason": reason,
        "ann_recall_at_10": counts.get("ann_recall_at_10"), "index_build": counts.get("index_build", ""),
        "seconds": round(time.perf_counter() - run.started, 3),
        "seconds_by_stage": {k: round(v, 3) for k, v in run.seconds.items()},
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True)
