"""Incremental index updates: the next version from the previous one, without retraining or rebuilding.

A chunk is identified by ``(id, content_hash)``. Against the previous artifact's chunk table the new
chunk list splits into *kept* rows (same key), *removed* rows (gone or changed) and *added* chunks
(new or changed). The new artifact lists the kept rows in their old order, then the added chunks;
FAISS ids stay row positions, so every reader (the ``Retriever``, filters, measures) is unchanged.

Supported: ``flat`` (``IndexFlat.remove_ids`` compacts in order) and the IVF family (``ivf``,
``ivfsq8``, ``ivfpq``, with or without the exact refine stage): the removed ids are deleted from
the inverted lists, the survivors' ids are renumbered in place, the new vectors are added with the
next ids; the coarse quantizer and the codebooks stay as trained. HNSW is always rebuilt: FAISS
HNSW has no delete, and graphs patched by churn lose recall (the graph-decay reports of Lucene and
pgvector) — the documented choice. The caller works on a copy read from disk: the published
version's files are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from tasks.indexing import FLAT_AND_IVF_KINDS

UPDATABLE_KINDS = FLAT_AND_IVF_KINDS


@dataclass(frozen=True)
class UpdatePlan:
    kept_rows: np.ndarray  # rows of the previous artifact that stay, in their order
    removed_rows: np.ndarray  # rows of the previous artifact whose chunk is gone or changed
    order: list[int]  # new-chunk positions in the new artifact's row order: kept first, then added
    n_added: int
    n_previous: int

    @property
    def changed_share(self) -> float:
        """(removed + added) / chunks of the new version."""
        return (len(self.removed_rows) + self.n_added) / max(len(self.order), 1)

    def as_dict(self) -> dict[str, Any]:
        return {"n_previous": self.n_previous, "n_kept": len(self.kept_rows), "n_removed": len(self.removed_rows),
                "n_added": self.n_added, "changed_share": round(self.changed_share, 6)}


def plan_update(previous_keys: Sequence[tuple[str, str]], new_keys: Sequence[tuple[str, str]]) -> UpdatePlan:
    """Which previous rows stay, which go, and the new chunks' order in the updated artifact."""
    position = {key: i for i, key in enumerate(new_keys)}
    kept, removed, order = [], [], []
    for row, key in enumerate(previous_keys):
        at = position.pop(key, None)
        if at is None:
            removed.append(row)
        else:
            kept.append(row)
            order.append(at)
    added = sorted(position.values())
    return UpdatePlan(np.asarray(kept, np.int64), np.asarray(removed, np.int64), order + added, len(added),
                      len(previous_keys))


def apply_update(index: Any, plan: UpdatePlan, added_vectors: np.ndarray, threads: int = 1) -> Any:
    """Remove ``plan.removed_rows`` from ``index`` (renumbering the survivors 0..kept-1), then add
    ``added_vectors`` as rows kept..kept+added-1. Mutates and returns ``index`` (pass a copy)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    if index.ntotal != plan.n_previous:
        raise ValueError(f"the previous index holds {index.ntotal} vectors but its chunk table {plan.n_previous}")
    if len(plan.removed_rows):
        _remove_rows(index, plan)
    if len(added_vectors):
        index.add(np.ascontiguousarray(added_vectors, dtype=np.float32))
    return index


def _remove_rows(index: Any, plan: UpdatePlan) -> None:
    import faiss

    if isinstance(index, faiss.IndexFlat):
        index.remove_ids(faiss.IDSelectorBatch(plan.removed_rows))  # compacts, order kept: ids = new rows
        return
    refine = isinstance(index, faiss.IndexRefine)
    base = faiss.downcast_index(index.base_index) if refine else index
    ivf = faiss.extract_index_ivf(base)
    ivf.remove_ids(faiss.IDSelectorBatch(plan.removed_rows))
    _renumber(ivf, plan)
    if refine:
        faiss.downcast_index(index.refine_index).remove_ids(faiss.IDSelectorBatch(plan.removed_rows))
        index.ntotal = ivf.ntotal
    if ivf.ntotal != len(plan.kept_rows):
        raise RuntimeError(f"removal left {ivf.ntotal} vectors, expected {len(plan.kept_rows)}")


def _renumber(ivf: Any, plan: UpdatePlan) -> None:
    """Old row ids -> their rank among the kept rows, rewritten in each inverted list."""
    import faiss

    if ivf.direct_map.type != faiss.DirectMap.NoMap:
        ivf.make_direct_map(False)
    new_id = np.full(plan.n_previous, -1, np.int64)
    new_id[plan.kept_rows] = np.arange(len(plan.kept_rows), dtype=np.int64)
    lists = ivf.invlists
    for list_no in range(ivf.nlist):
        size = lists.list_size(list_no)
        if size:
            ids = faiss.rev_swig_ptr(lists.get_ids(list_no), size)
            ids[:] = new_id[ids]
