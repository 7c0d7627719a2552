"""Sharded index builds (tasks/index_shards.py): train once, add shards, merge — byte-for-byte the single build."""

import faiss
import numpy as np
import pytest

from tasks.index_shards import add_shard, merge_shards, trained_empty
from tasks.indexing import IndexConfig, build_index, choose_index_spec


@pytest.mark.parametrize("kind, refine", [("flat", False), ("ivf", False), ("ivfsq8", True), ("ivfpq", True),
                                          ("ivfpq", False)])
def test_merged_shards_equal_the_single_process_build(kind, refine):
    x = np.random.default_rng(3).normal(size=(2500, 32)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    spec = choose_index_spec(len(x), 32, IndexConfig(kind=kind, ivf_nlist=16, pq_m=8, refine=refine))
    trained = trained_empty(x, spec)
    bounds = [0, 700, 701, 1900, 2500]  # uneven shards, one of a single vector
    merged = merge_shards(trained, [add_shard(trained, x[a:b]) for a, b in zip(bounds, bounds[1:])])
    single = build_index(x, spec)
    assert merged.ntotal == single.ntotal == len(x)
    assert faiss.serialize_index(merged).tobytes() == faiss.serialize_index(single).tobytes()
