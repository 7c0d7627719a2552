"""Full build or incremental update: which one this reindex does, and the index it starts from.

The rule (``index.incremental*`` in configs/reindex.yaml): update ``current``'s index in a copy when
it is an updatable kind (``tasks.incremental.UPDATABLE_KINDS``), was built with the same embedder and
index config, the rule still picks its kind, fewer than ``incremental_max_changed_share`` of the
chunks changed, and fewer than ``rebuild_every`` updates were chained since the last full build;
else rebuild from scratch. An update whose ANN check misses the target falls back to a full build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tasks.documents import Chunk
from tasks.incremental import UPDATABLE_KINDS, UpdatePlan, apply_update, plan_update
from tasks.indexing import IndexSpec


@dataclass
class IndexUpdate:
    """How the index of this run is made: ``mode`` "full" (with the reason) or "incremental"."""

    mode: str
    reason: str
    spec: IndexSpec | None = None  # incremental: the previous version's spec (nlist etc. stay as trained)
    index: Any = None  # incremental: the updated copy
    plan: UpdatePlan | None = None
    generation: int = 0  # updates chained since the last full build
    base_version: str = ""

    def record(self) -> dict[str, Any]:
        """The manifest's ``build`` record (and MLflow's ``index_build``)."""
        out = {"mode": self.mode, "reason": self.reason, "generation": self.generation}
        if self.plan is not None:
            out.update(base_version=self.base_version, **self.plan.as_dict())
        return out


def full(reason: str) -> IndexUpdate:
    return IndexUpdate("full", reason)


def plan_index_update(run: Any, chunks: list[Chunk], spec: IndexSpec) -> IndexUpdate:
    """Decide full vs incremental against ``current`` from its manifest and chunk keys; only for an
    update is its index read (a copy in memory, checksums verified)."""
    import pandas as pd

    from tasks.index_artifact import CHUNKS_FILE, IndexCorrupted, load_index_artifact, read_manifest

    cfg = run.config.index
    if not cfg.incremental:
        return full("index.incremental is false")
    if run.config.force:
        return full("--force")
    folder = run.store.current()
    if folder is None:
        return full("no published index to update")
    try:
        manifest = read_manifest(folder)
    except IndexCorrupted as exc:
        return full(f"current is not usable ({exc})")
    reason = _refusal(manifest, run.embedder.fingerprint, cfg, spec)
    if reason:
        return full(reason)
    generation = int(manifest.build.get("generation", 0)) + 1
    if generation > cfg.rebuild_every:
        return full(f"periodic full rebuild: {cfg.rebuild_every} updates since the last one (index.rebuild_every)")
    try:
        keys = pd.read_parquet(folder / CHUNKS_FILE, columns=["id", "content_hash"])
    except (OSError, ValueError) as exc:
        return full(f"current is not usable ({str(exc).splitlines()[0][:200]})")
    plan = plan_update(list(zip(keys["id"], keys["content_hash"])), [(c.id, c.content_hash) for c in chunks])
    if plan.changed_share > cfg.incremental_max_changed_share:
        return full(f"{plan.changed_share:.1%} of the chunks changed > index.incremental_max_changed_share "
                    f"({cfg.incremental_max_changed_share:.0%})")
    try:
        previous = load_index_artifact(folder, mmap=False)  # a copy in memory: current's file is never written
    except IndexCorrupted as exc:
        return full(f"current is not usable ({exc})")
    previous_spec = IndexSpec(manifest.index_kind, manifest.dim, dict(manifest.index_params))
    return IndexUpdate("incremental", f"{plan.changed_share:.2%} of the chunks changed", previous_spec,
                       previous.index, plan, generation, run.store.current_version())


def _refusal(manifest: Any, fingerprint: str, cfg: Any, spec: IndexSpec) -> str:
    if manifest.index_kind not in UPDATABLE_KINDS:
        return (f"{manifest.index_kind} is always rebuilt (FAISS HNSW has no delete; a graph patched by churn loses "
                "recall)")
    if manifest.embedder_fingerprint != fingerprint:
        return "the embedder changed"
    built_with = {k: v for k, v in manifest.index_config.items() if k in cfg.build_fields()}
    if built_with != cfg.build_fields():
        return "the index config changed"
    if spec.kind != manifest.index_kind:
        return f"the rule now picks {spec.kind} (current is {manifest.index_kind})"
    return ""


def apply(update: IndexUpdate, chunks: list[Chunk], vectors: np.ndarray,
          threads: int = 1) -> tuple[Any, list[Chunk], np.ndarray]:
    """The updated index and the chunks/vectors in its row order (kept rows first, then the added ones)."""
    order = update.plan.order
    n_kept = len(update.plan.kept_rows)
    chunks, vectors = [chunks[i] for i in order], vectors[order]
    index = apply_update(update.index, update.plan, vectors[n_kept:], threads)
    return index, chunks, vectors
