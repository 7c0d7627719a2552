"""Embedding fan-out over a Dask cluster through prefect-dask's ``DaskTaskRunner``.

The shards are contiguous runs of *whole batches* of the same length-sorted order the in-process
embedder uses, and each worker embeds with the same thread count, so every batch is computed exactly
as it would be in one process: the vectors are bit-for-bit identical (tested).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np
from prefect import flow, task
from prefect.cache_policies import NO_CACHE

from tasks.reindex.config import RunnerConfig


@task(name="embed_shard", cache_policy=NO_CACHE, persist_result=False)
def embed_shard(texts: list[str], embedder_config: dict[str, Any]) -> np.ndarray:
    """Runs on a Dask worker: load the embedder once per worker process, embed one shard."""
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    from tasks.embedding import EmbedderConfig, load_embedder

    return load_embedder(EmbedderConfig.model_validate(embedder_config)).encode(texts, kind="passage")


@flow(name="embed-shards", persist_result=False)
def embed_shards(shards: list[list[str]], embedder_config: dict[str, Any]) -> list[np.ndarray]:
    futures = [embed_shard.submit(texts, embedder_config) for texts in shards]
    return [f.result() for f in futures]


def plan_shards(texts: list[str], batch_size: int, n_shards: int) -> list[np.ndarray]:
    """Row indices per shard: the encoder's length-sorted order cut at batch boundaries."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    n_batches = -(-len(texts) // batch_size)
    per_shard = -(-n_batches // max(1, n_shards)) * batch_size
    return [order[i:i + per_shard] for i in range(0, len(texts), per_shard)]


@contextmanager
def dask_encoder(embedder: Any, embedder_config: dict[str, Any], runner: RunnerConfig
                 ) -> Iterator[Callable[[list[str]], np.ndarray]]:
    """An ``encode(texts)`` that shards each call over the cluster and reassembles the rows in order.

    Uses the scheduler at ``runner.address``, or starts a ``LocalCluster`` of ``runner.n_workers``
    processes for the duration of the block (workers keep the model loaded between calls).
    """
    from prefect_dask import DaskTaskRunner

    cluster = None
    address = runner.address
    if not address:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=runner.n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        address = cluster.scheduler_address
    sharded = embed_shards.with_options(task_runner=DaskTaskRunner(address=address))

    def encode(texts: list[str]) -> np.ndarray:
        shards = plan_shards(texts, embedder.batch_size, runner.shards)
        parts = sharded([[texts[i] for i in rows] for rows in shards], embedder_config)
        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        for rows, vectors in zip(shards, parts):
            out[rows] = vectors
        return out

    try:
        yield encode
    finally:
        if cluster is not None:
            cluster.close()
