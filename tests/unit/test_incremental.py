"""Incremental index updates (tasks/incremental.py) on real FAISS indexes: the updated index equals, row for row,
a full build over the same vectors in the same order (exact for flat; the same lists and codes for IVF)."""

import faiss
import numpy as np
import pytest

from tasks.incremental import apply_update, plan_update
from tasks.indexing import IndexConfig, build_index, choose_index_spec, search


def unit_vectors(n, dim=32, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_plan_keeps_unchanged_rows_in_order_and_appends_the_new_ones():
    old = [("a", "1"), ("b", "1"), ("c", "1"), ("d", "1")]
    new = [("e", "1"), ("d", "1"), ("b", "2"), ("a", "1")]  # c deleted, b changed, e new
    plan = plan_update(old, new)
    assert plan.kept_rows.tolist() == [0, 3] and plan.removed_rows.tolist() == [1, 2]
    assert plan.order == [3, 1, 0, 2] and plan.n_added == 2
    assert plan.changed_share == pytest.approx(4 / 4)
    assert plan.as_dict()["n_removed"] == 2


@pytest.mark.parametrize("kind, refine", [("flat", False), ("ivf", False), ("ivfsq8", True), ("ivfpq", True),
                                          ("ivfpq", False)])
def test_update_equals_a_build_over_the_same_rows(kind, refine):
    old, fresh = unit_vectors(1200, seed=1), unit_vectors(90, seed=2)
    cfg = IndexConfig(kind=kind, ivf_nlist=16, ivf_nprobe=16, pq_m=8, refine=refine)
    spec = choose_index_spec(len(old), 32, cfg)
    index = build_index(old, spec)
    trained = faiss.clone_index(index)  # the same quantizer/codebooks, for the reference build
    keys = [(f"c{i}", "h") for i in range(len(old))]
    removed = set(range(0, len(old), 13))
    new_keys = [k for i, k in enumerate(keys) if i not in removed] + [(f"n{i}", "h") for i in range(len(fresh))]
    plan = plan_update(keys, new_keys)
    rows = np.concatenate([old[plan.kept_rows], fresh])
    updated = apply_update(index, plan, fresh)
    assert updated.ntotal == len(rows) == len(plan.order)

    trained.reset()
    trained.add(rows)  # what a full build with this training would hold
    _, want = search(trained, rows[:200], 10)
    _, got = search(updated, rows[:200], 10)
    assert np.array_equal(got, want)
    if kind == "flat" or refine:  # exact distances: each stored vector finds itself at its new row
        _, top = search(updated, rows, 1)
        assert np.array_equal(top[:, 0], np.arange(len(rows)))


def test_update_refuses_an_index_that_does_not_match_its_chunk_table():
    index = build_index(unit_vectors(10), choose_index_spec(10, 32, IndexConfig()))
    plan = plan_update([("a", "1")] * 1, [("a", "1")])
    with pytest.raises(ValueError, match="holds 10 vectors but its chunk table 1"):
        apply_update(index, plan, np.zeros((0, 32), np.float32))
