"""ANN recall measured with query embeddings, and search parameters tuned to ``index.min_recall_at_10``.

Stored vectors make easy queries (each one finds itself first): at 1M vectors the reindex's old check
reported 0.999 for an HNSW that reached 0.742 on real queries. So recall@10 is measured with *query*
embeddings against exact search over the same vectors (``faiss.knn``), and the search parameters
(HNSW ``efSearch``, IVF ``nprobe``, the refine ``k_factor`` of quantized kinds) are tuned on them: the
cheapest setting that meets the target is set on the index (FAISS writes it into ``index.faiss``) and
recorded in the manifest (``ann_validation.search_params``), which ``load_index_artifact`` applies
again, so every query path — the ``Retriever``, evaluate, the service — searches with it.

Cost of a setting (what "cheapest" orders by) is the vector work per query: codes scanned
(``nprobe / nlist * n`` at a per-code cost) plus exact re-ranking (``k_factor * k * dim``), or
``efSearch`` for HNSW (visited nodes grow with it). The first setting in that order reaching the target
is kept; an index that reaches it with none is rejected with the best recall it reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

HNSW_EF = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
K_FACTORS = (1, 2, 4, 8, 16, 32)


def exact_neighbors(vectors: np.ndarray, queries: np.ndarray, k: int, threads: int = 1) -> np.ndarray:
    """Row ids of the ``k`` best inner products per query (exact, blocked brute force, no index copy)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    k = min(k, len(vectors))
    _, ids = faiss.knn(np.ascontiguousarray(queries, dtype=np.float32),
                       np.ascontiguousarray(vectors, dtype=np.float32), k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def recall_at_k(index: Any, queries: np.ndarray, truth: np.ndarray, threads: int = 1) -> float:
    """Share of the exact top-k rows (``truth``) the index returns in its own top k."""
    import faiss

    if truth.size == 0:
        return 1.0
    faiss.omp_set_num_threads(threads)
    _, got = index.search(np.ascontiguousarray(queries, dtype=np.float32), min(truth.shape[1], index.ntotal))
    return sum(len(set(t) & set(g)) for t, g in zip(truth.tolist(), got.tolist())) / truth.size


def _ivf(index: Any) -> Any:
    import faiss

    try:
        return faiss.extract_index_ivf(index)
    except RuntimeError:
        return None


def _refine(index: Any) -> Any:
    import faiss

    return index if isinstance(index, faiss.IndexRefine) else None


def search_params(index: Any) -> dict[str, int]:
    """The index's current search parameters (what a query uses)."""
    params: dict[str, int] = {}
    base = _refine(index).base_index if _refine(index) is not None else index
    if hasattr(base, "hnsw"):
        params["ef_search"] = int(base.hnsw.efSearch)
    ivf = _ivf(index)
    if ivf is not None:
        params["nprobe"] = int(ivf.nprobe)
    if _refine(index) is not None:
        params["k_factor"] = int(index.k_factor)
    return params


def apply_search_params(index: Any, params: dict[str, Any]) -> Any:
    """Set ``ef_search`` / ``nprobe`` / ``k_factor`` on the index (unknown keys: ValueError)."""
    unknown = set(params) - {"ef_search", "nprobe", "k_factor"}
    if unknown:
        raise ValueError(f"unknown search parameter(s) {sorted(unknown)}: expected ef_search, nprobe, k_factor")
    refine = _refine(index)
    base = refine.base_index if refine is not None else index
    if "ef_search" in params:
        import faiss

        faiss.downcast_index(base).hnsw.efSearch = int(params["ef_search"])
    if "nprobe" in params:
        _ivf(index).nprobe = int(params["nprobe"])
    if "k_factor" in params:
        refine.k_factor = float(params["k_factor"])
    return index


def candidate_settings(index: Any, k: int = 10) -> list[dict[str, int]]:
    """Every setting worth trying, cheapest first (see the module doc for the cost)."""
    import faiss

    refine, ivf = _refine(index), _ivf(index)
    base = faiss.downcast_index(refine.base_index) if refine is not None else index
    if hasattr(base, "hnsw"):
        return [{"ef_search": ef} for ef in HNSW_EF if ef >= k]
    if ivf is None:
        return [{}]  # flat: exact, nothing to tune
    nlist, dim = ivf.nlist, ivf.d
    n = max(index.ntotal, 1)
    probes = sorted({min(2 ** i, nlist) for i in range(0, int(np.ceil(np.log2(nlist))) + 1)} | {nlist})
    per_code = {"IndexIVFPQ": getattr(ivf, "pq", None) and ivf.pq.M, "IndexIVFScalarQuantizer": dim / 4}.get(
        type(ivf).__name__) or dim
    factors = K_FACTORS if refine is not None else (None,)
    grid = []
    for p in probes:
        for f in factors:
            cost = p / nlist * n * per_code + (f or 0) * k * dim
            grid.append((cost, {"nprobe": p} | ({"k_factor": f} if f else {})))
    return [s for _, s in sorted(grid, key=lambda item: item[0])]


@dataclass
class Tuning:
    ok: bool
    params: dict[str, int]  # the setting kept (the target's cheapest, else the best reached)
    recall_at_10: float
    tried: list[dict[str, Any]] = field(default_factory=list)  # {"params", "recall_at_10"} in the order tried
    reason: str = ""


def tune(index: Any, queries: np.ndarray, truth: np.ndarray, target: float, threads: int = 1) -> Tuning:
    """The cheapest setting with recall >= ``target``; leaves it set on ``index``."""
    k = truth.shape[1] if truth.ndim == 2 else 10
    tried, best = [], None
    for setting in candidate_settings(index, k):
        if any(_dominated(setting, t["params"]) for t in tried if t["recall_at_10"] < target):
            continue  # a setting at most as deep as one that missed cannot do better
        apply_search_params(index, setting)
        recall = recall_at_k(index, queries, truth, threads)
        tried.append({"params": setting, "recall_at_10": round(recall, 4)})
        if best is None or recall > best[1]:
            best = (setting, recall)
        if recall >= target:
            return Tuning(True, search_params(index), recall, tried)
    setting, recall = best
    apply_search_params(index, setting)
    return Tuning(False, search_params(index), recall, tried,
                  f"best recall@10 {recall:.3f} < {target:.3f} at every search setting tried")


def _dominated(setting: dict[str, int], missed: dict[str, int]) -> bool:
    return bool(setting) and setting.keys() == missed.keys() and all(setting[key] <= missed[key] for key in setting)
