"""reindex: source -> validated documents -> chunks -> vectors (cached) -> validated FAISS index -> published.

Each run leaves either a new validated index behind ``current`` or the previous one untouched.
"""

from __future__ import annotations

from prefect import flow

from tasks import reindex_tasks as t
from tasks.configs import ReindexConfig
from tasks.publishing import ReindexLock
from tasks.settings import Settings


@flow(name="reindex", log_prints=True)
def reindex(config: ReindexConfig | None = None, settings: Settings | None = None) -> dict:
    config, settings = config or ReindexConfig(), settings or Settings.load()
    lock = settings.index_dir / ".reindex.lock"
    with ReindexLock(lock, timeout=config.lock_timeout_seconds):
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
                return t.finish_run(run, "rejected", reason=build.reason, snapshot_version=snapshot,
                                    validation=corpus.validation)
            version = t.version_and_publish(run, build, repo, snapshot)
            return t.finish_run(run, "published", version, snapshot_version=snapshot,
                                manifest=build.manifest, validation=corpus.validation)
        except BaseException as exc:
            t.fail_run(run, exc)
            raise
