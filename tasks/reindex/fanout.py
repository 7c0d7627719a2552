"""Embedding and index building fanned out over a Dask cluster through prefect-dask's ``DaskTaskRunner``.

Embedding shards are contiguous runs of *whole batches* of the same length-sorted order the in-process
embedder uses, and each worker embeds with the same thread count, so every batch is computed exactly
as it would be in one process: the vectors are bit-for-bit identical (tested). Index shards are
contiguous row ranges added to the once-trained index on the workers and merged in order
(``tasks/index_shards.py``): the index is byte-for-byte the single-process one (tested).
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


@task(name="add_index_shard", cache_policy=NO_CACHE, persist_result=False)
def add_index_shard(trained: bytes, vectors: np.ndarray, threads: int) -> bytes:
    """Runs on a Dask worker: one contiguous row range added to the trained index."""
    from tasks.index_shards import add_shard

    return add_shard(trained, vectors, threads)


@flow(name="index-shards", persist_result=False)
def add_index_shards(trained: bytes, shards: list[np.ndarray], threads: int) -> list[bytes]:
    futures = [add_index_shard.submit(trained, vectors, threads) for vectors in shards]
    return [f.result() for f in futures]


@contextmanager
def dask_cluster(runner: RunnerConfig) -> Iterator[str]:
    """The scheduler at ``runner.address``, or a ``LocalCluster`` of ``runner.n_workers`` processes for the block."""
    if runner.address:
        yield runner.address
        return
    from distributed import LocalCluster

    cluster = LocalCluster(n_workers=runner.n_workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, host="127.0.0.1")
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def build_index_sharded(vectors: np.ndarray, spec: Any, runner: RunnerConfig, seed: int = 0, threads: int = 1) -> Any:
    """Train once here, add ``runner.shards`` row ranges on the cluster's workers, merge in order."""
    from prefect_dask import DaskTaskRunner

    from tasks.index_shards import merge_shards, trained_empty

    trained = trained_empty(vectors, spec, seed)
    bounds = np.linspace(0, len(vectors), max(1, runner.shards) + 1).astype(int)
    shards = [vectors[a:b] for a, b in zip(bounds, bounds[1:])]
    with dask_cluster(runner) as address:
        parts = add_index_shards.with_options(task_runner=DaskTaskRunner(address=address))(trained, shards, threads)
    return merge_shards(trained, parts)


@contextmanager
def dask_encoder(embedder: Any, embedder_config: dict[str, Any], runner: RunnerConfig
                 ) -> Iterator[Callable[[list[str]], np.ndarray]]:
    """An ``encode(texts)`` that shards each call over the cluster and reassembles the rows in order.

    Uses the scheduler at ``runner.address``, or starts a ``LocalCluster`` of ``runner.n_workers``
    processes for the duration of the block (workers keep the model loaded between calls).
    """
    with dask_cluster(runner) as address, _sharded_encoder(embedder, embedder_config, runner, address) as encode:
        yield encode


@contextmanager
def _sharded_encoder(embedder: Any, embedder_config: dict[str, Any], runner: RunnerConfig, address: str
                     ) -> Iterator[Callable[[list[str]], np.ndarray]]:
    from prefect_dask import DaskTaskRunner

    sharded = embed_shards.with_options(task_runner=DaskTaskRunner(address=address))

    def encode(texts: list[str]) -> np.ndarray:
        shards = plan_shards(texts, embedder.batch_size, runner.shards)
        parts = sharded([[texts[i] for i in rows] for rows in shards], embedder_config)
        out = np.empty((len(texts), embedder.dim), dtype=np.float32)
        for rows, vectors in zip(shards, parts):
            out[rows] = vectors
        return out

    yield encode
