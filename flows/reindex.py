"""reindex: source -> validated documents -> chunks -> vectors (cached) -> validated FAISS index -> published.

Each run leaves either a new validated index behind ``current`` or the previous one untouched.
"""

from __future__ import annotations

from prefect import flow

from tasks.reindex import prefect_tasks as t
from tasks.reindex.concurrency import reindex_slot
from tasks.reindex.config import ReindexConfig
from tasks.config.flows import configured
from tasks.config.settings import Settings


@flow(name="reindex", log_prints=True)
def reindex(config: ReindexConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = configured("reindex", config, settings)
    with reindex_slot(settings.index_dir / ".reindex.lock", config.lock_timeout_seconds):
        run = t.open_run(config, settings)
        try:
            corpus = t.load_and_validate(run)
            if t.is_unchanged(run, corpus):
                return t.finish_run(run, "unchanged", run.store.current_version(),
                                    reason="corpus, chunking, embedder and index config unchanged",
                                    validation=corpus.validation)
            repo = t.open_dvc(run)
            snapshot = t.snapshot_documents(run, corpus, repo)
            chunks = t.chunk_and_validate(run, corpus)
            chunks, vectors = t.embed(run, chunks)
            build = t.build_validated_index(run, corpus, chunks, vectors, snapshot)
            if not build.ok:
                return t.reject(run, build.reason, snapshot, corpus.validation)
            gate = t.publication_gate(run, build)
            if gate.status == "rejected":
                return t.reject(run, f"publication gate: {gate.reason}", snapshot, corpus.validation)
            if gate.status == "inconclusive":
                review = t.human_review(run, gate)
                if not review.approved:
                    return t.reject(run, f"publication gate inconclusive, review {review.outcome}: {review.note}",
                                    snapshot, corpus.validation)
            version = t.version_and_publish(run, build, repo, snapshot)
            return t.finish_run(run, "published", version, snapshot_version=snapshot,
                                manifest=build.manifest, validation=corpus.validation)
        except BaseException as exc:
            t.fail_run(run, exc)
            raise
