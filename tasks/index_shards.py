"""A FAISS index built in shards: train once, add contiguous shards of vectors to copies of the trained
(empty) index anywhere (Dask workers: ``tasks/reindex/fanout.py``), merge them in order.

For ``flat`` and the IVF family (``ivf``, ``ivfsq8``, ``ivfpq``, with or without refine) the merged
index is byte-for-byte the single-process ``build_index``: training sees the same sample, adding a
vector does not depend on the others, and ``merge_from`` appends each shard's inverted-list entries
after the previous shard's with its ids shifted, which is the order one ``add`` produces. HNSW is
not sharded (its graph is built by inserting into one structure): it builds in one process.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tasks.indexing import FLAT_AND_IVF_KINDS, INDEX_KINDS, IndexSpec

SHARDABLE_KINDS = FLAT_AND_IVF_KINDS


def trained_empty(vectors: np.ndarray, spec: IndexSpec, seed: int = 0) -> bytes:
    """The trained, empty index (what every shard starts from), serialized."""
    import faiss

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    return faiss.serialize_index(INDEX_KINDS.lookup(spec.kind).build(spec, x, seed)).tobytes()


def add_shard(trained: bytes, vectors: np.ndarray, threads: int = 1) -> bytes:
    """One shard: the trained index plus ``vectors`` (ids 0..len-1, shifted at merge), serialized."""
    import faiss

    faiss.omp_set_num_threads(threads)
    index = faiss.deserialize_index(np.frombuffer(trained, dtype=np.uint8))
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return faiss.serialize_index(index).tobytes()


def merge_shards(trained: bytes, shards: list[bytes]) -> Any:
    """The shards, in order, merged into one index with global ids (row positions)."""
    import faiss

    index = faiss.deserialize_index(np.frombuffer(trained, dtype=np.uint8))
    for blob in shards:
        _merge(index, faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8)))
    return index


def _merge(into: Any, part: Any) -> None:
    import faiss

    if isinstance(into, faiss.IndexRefine):
        offset = into.ntotal
        _merge(faiss.downcast_index(into.base_index), faiss.downcast_index(part.base_index))
        faiss.downcast_index(into.refine_index).merge_from(faiss.downcast_index(part.refine_index))
        into.ntotal = offset + part.ntotal
    elif isinstance(into, faiss.IndexFlat):
        into.merge_from(part)
    else:
        faiss.extract_index_ivf(into).merge_from(faiss.extract_index_ivf(part), into.ntotal)
