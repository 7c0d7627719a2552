"""FAISS: a readable index-choice rule, build, and validation against exact search.

Rule (``IndexConfig.kind == "auto"``), derived from ``benchmarks/large_index.py`` at 1M vectors on
this machine (README "Large corpora"; every kind tuned to recall@10 >= 0.95 on query embeddings):
- fewer than ``flat_max_vectors`` (50k) vectors: ``flat`` — exact inner product, recall 1.0;
- above, when it fits ``memory_budget_mb`` (or without a budget): ``ivfsq8`` — IVF (nlist ~4*sqrt(n))
  with 8-bit scalar codes and exact re-ranking from the stored vectors: the fastest kind to reach the
  target at 1M (0.963 held-out recall at ~7,500 QPS on 2 threads, 69 s build; HNSW needed efSearch
  1536 for 0.969 at ~500 QPS), ~1.25x the flat memory;
- larger than the budget: ``ivf`` (IVF-Flat) — the kind whose memory-mapped load (``on_disk``)
  reads nothing up front (0.4 MB RSS after load at 1M): the inverted lists stay on disk.
HNSW is never the rule's pick (graph build 2x IVF's, no deletes, efSearch in the thousands at 1M).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.registry import Registry

IndexKind = str  # a name in INDEX_KINDS
# Kinds whose vectors live in rows / inverted lists with explicit ids: updated in place (tasks/incremental.py) and
# built in shards merged in order (tasks/index_shards.py). HNSW's graph is neither.
FLAT_AND_IVF_KINDS = ("flat", "ivf", "ivfsq8", "ivfpq")


_NOT_BUILD_FIELDS = {"threads", "min_recall_at_10", "n_validation_queries", "tuning_margin", "incremental",
                     "incremental_max_changed_share", "rebuild_every", "on_disk"}


class IndexConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = "auto"  # "auto" (the rule above) or a name in INDEX_KINDS
    flat_max_vectors: int = 50_000
    memory_budget_mb: float | None = None  # auto: above it (estimated ivfsq8 size), ivf for a memory-mapped load
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 128
    ivf_nlist: int | None = None  # default: ~4*sqrt(n)
    ivf_nprobe: int = 16
    pq_m: int = 48  # sub-quantizers (must divide dim)
    refine: bool = True  # ivfsq8/ivfpq: re-rank k_factor x k candidates exactly from the stored vectors (+4*dim B/vector)
    seed: int = 0
    threads: int = 1  # FAISS on 2 vCPUs: 1 OpenMP thread was ~3x faster than 2 for flat search
    min_recall_at_10: float = 0.95  # on query embeddings; the search parameters are tuned to reach it (tasks/ann_tuning.py)
    n_validation_queries: int = 200
    tuning_margin: float = 0.01  # tune to min_recall_at_10 + this on the validation queries (unseen queries score lower)
    incremental: bool = True  # flat/IVF kinds: update current's index when few chunks changed (tasks/incremental.py)
    incremental_max_changed_share: float = Field(0.1, ge=0, le=1)  # (removed + added chunks) / chunks; above: full build
    rebuild_every: int = Field(20, ge=0)  # a full build after this many chained updates (quantizer drift, churn)
    on_disk: bool = False  # every load memory-maps index.faiss (FAISS IO_FLAG_MMAP): indexes larger than RAM

    def build_fields(self) -> dict:
        """The settings that shape the built index (what an incremental update must share with its base); the
        rest (validation, tuning, threads, the update policy) can change between versions."""
        return self.model_dump(mode="json", exclude=_NOT_BUILD_FIELDS)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        return INDEX_KINDS.check(value, also=("auto",))


@dataclass(frozen=True)
class IndexSpec:
    kind: IndexKind
    dim: int
    params: dict

    def describe(self) -> str:
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.kind}({inner})" if inner else self.kind


def choose_index_spec(n_vectors: int, dim: int, cfg: IndexConfig) -> IndexSpec:
    kind = cfg.kind
    if kind == "auto":
        if n_vectors < cfg.flat_max_vectors:
            kind = "flat"
        elif cfg.memory_budget_mb is None or estimated_mb("ivfsq8", n_vectors, dim) <= cfg.memory_budget_mb:
            kind = "ivfsq8"
        else:
            kind = "ivf"
    return IndexSpec(kind, dim, INDEX_KINDS.lookup(kind).params(n_vectors, dim, cfg))


def estimated_mb(kind: str, n_vectors: int, dim: int) -> float:
    """Index size in memory: the float32 vectors (flat, ivf, hnsw; the refine stage of ivfsq8/ivfpq) plus
    codes and ids (within 5% of the measured sizes at 1M x 384)."""
    per_vector = {"flat": 4 * dim, "ivf": 4 * dim + 8, "ivfsq8": 5 * dim + 8, "ivfpq": 4 * dim + 56,
                  "hnsw": 4 * dim + 8 * 32 + 8}.get(kind, 4 * dim)
    return n_vectors * per_vector / 2**20


def _largest_divisor(dim: int, at_most: int) -> int:
    return max(d for d in range(1, at_most + 1) if dim % d == 0)


@dataclass(frozen=True)
class IndexBuilder:
    """One index kind: its search/build parameters from the config, and an empty (trained) FAISS index."""

    params: Callable[[int, int, IndexConfig], dict]  # (n_vectors, dim, cfg) -> IndexSpec.params
    build: Callable[[IndexSpec, np.ndarray, int], Any]  # (spec, vectors, seed) -> index ready for add()


def _nlist(n_vectors: int, cfg: IndexConfig) -> int:
    return cfg.ivf_nlist or max(1, min(int(4 * math.sqrt(max(n_vectors, 1))), n_vectors // 39 or 1))


def _ivf_params(n_vectors: int, dim: int, cfg: IndexConfig) -> dict:
    nlist = _nlist(n_vectors, cfg)
    return {"nlist": nlist, "nprobe": min(cfg.ivf_nprobe, nlist)}


def _quantized_params(n_vectors: int, dim: int, cfg: IndexConfig) -> dict:
    return {**_ivf_params(n_vectors, dim, cfg), "refine": cfg.refine}


def _ivfpq_params(n_vectors: int, dim: int, cfg: IndexConfig) -> dict:
    return {**_quantized_params(n_vectors, dim, cfg),
            "pq_m": cfg.pq_m if dim % cfg.pq_m == 0 else _largest_divisor(dim, cfg.pq_m)}


def _flat(spec: IndexSpec, x: np.ndarray, seed: int):
    import faiss

    return faiss.IndexFlatIP(spec.dim)


def _hnsw(spec: IndexSpec, x: np.ndarray, seed: int):
    import faiss

    index = faiss.IndexHNSWFlat(spec.dim, spec.params["m"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = spec.params["ef_construction"]
    index.hnsw.efSearch = spec.params["ef_search"]
    return index


def _trained_ivf(index, spec: IndexSpec, x: np.ndarray, seed: int):
    index.cp.seed = seed
    rng = np.random.default_rng(seed)
    n_train = min(len(x), max(64 * spec.params["nlist"], 10_000))  # k-means on 64 points per list (FAISS warns < 39)
    train = x[np.sort(rng.choice(len(x), size=n_train, replace=False))] if n_train < len(x) else x
    index.train(train)
    index.nprobe = spec.params["nprobe"]
    index.quantizer_trains_alone = 0
    return index


def _ivf(spec: IndexSpec, x: np.ndarray, seed: int):
    import faiss

    quantizer = faiss.IndexFlatIP(spec.dim)
    index = faiss.IndexIVFFlat(quantizer, spec.dim, spec.params["nlist"], faiss.METRIC_INNER_PRODUCT)
    return _trained_ivf(index, spec, x, seed)


def _refined(index, spec: IndexSpec):
    """Exact re-ranking of the quantized index's candidates from the full vectors (FAISS IndexRefineFlat)."""
    import faiss

    if not spec.params.get("refine"):
        return index
    refined = faiss.IndexRefineFlat(index)
    refined.k_factor = float(spec.params.get("k_factor", 4))
    return refined


def _ivfsq8(spec: IndexSpec, x: np.ndarray, seed: int):
    import faiss

    quantizer = faiss.IndexFlatIP(spec.dim)
    index = faiss.IndexIVFScalarQuantizer(quantizer, spec.dim, spec.params["nlist"], faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    return _refined(_trained_ivf(index, spec, x, seed), spec)


def _ivfpq(spec: IndexSpec, x: np.ndarray, seed: int):
    import faiss

    quantizer = faiss.IndexFlatIP(spec.dim)
    index = faiss.IndexIVFPQ(quantizer, spec.dim, spec.params["nlist"], spec.params["pq_m"], 8,
                             faiss.METRIC_INNER_PRODUCT)
    return _refined(_trained_ivf(index, spec, x, seed), spec)


# The index kinds (``index.kind`` in configs/reindex.yaml, ``grid.indexes`` in the benchmark): one entry each.
INDEX_KINDS: Registry[IndexBuilder] = Registry("index kind", {
    "flat": IndexBuilder(lambda n, dim, cfg: {}, _flat),
    "hnsw": IndexBuilder(lambda n, dim, cfg: {"m": cfg.hnsw_m, "ef_construction": cfg.hnsw_ef_construction,
                                              "ef_search": cfg.hnsw_ef_search}, _hnsw),
    "ivf": IndexBuilder(_ivf_params, _ivf),
    "ivfsq8": IndexBuilder(_quantized_params, _ivfsq8),
    "ivfpq": IndexBuilder(_ivfpq_params, _ivfpq),
})


def build_index(vectors: np.ndarray, spec: IndexSpec, seed: int = 0, threads: int = 1):
    """A FAISS index over ``vectors`` (inner product on L2-normalised vectors = cosine)."""
    import faiss

    faiss.omp_set_num_threads(threads)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = INDEX_KINDS.lookup(spec.kind).build(spec, x, seed)
    if len(x):
        index.add(x)
    return index


def search(index, queries: np.ndarray, k: int, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    import faiss

    faiss.omp_set_num_threads(threads)
    k = min(k, index.ntotal)
    if k == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    return index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


@dataclass(frozen=True)
class IndexCheck:
    ok: bool
    n_vectors: int
    n_expected: int
    recall_at_10: float
    n_queries: int
    reason: str = ""
    queries: str = ""  # where the validation queries came from: golden, querylog, golden+querylog, stored_vectors
    search_params: dict = field(default_factory=dict)  # what queries use (tuned unless tune=False)
    tried: list = field(default_factory=list)  # the tuning's settings and their recall, in order

    def ann_validation(self, target: float) -> dict:
        """The manifest's ``ann_validation`` record."""
        return {"queries": self.queries, "n_queries": self.n_queries, "recall_at_10": round(self.recall_at_10, 4),
                "search_params": self.search_params, "min_recall_at_10": target, "tried": self.tried}


def validate_index(index, vectors: np.ndarray, min_recall: float, queries: np.ndarray | None = None,
                   query_source: str = "", n_queries: int = 200, seed: int = 0, threads: int = 1,
                   tune: bool = True, margin: float = 0.01) -> IndexCheck:
    """Count check, then ANN recall@10 against exact search with ``queries`` (query embeddings), after
    tuning the search parameters to ``min_recall`` (``tasks.ann_tuning``; ``tune=False`` measures as is).

    Without ``queries``, a sample of the stored vectors stands in (``queries="stored_vectors"``): an
    optimistic measure (each finds itself), recorded as such.
    """
    from tasks import ann_tuning

    n = len(vectors)
    if index.ntotal != n:
        return IndexCheck(False, index.ntotal, n, 0.0, 0, f"index holds {index.ntotal} vectors but there are {n} chunks")
    if n == 0:
        return IndexCheck(False, 0, 0, 0.0, 0, "no vectors to index")
    if queries is None or len(queries) == 0:
        rng = np.random.default_rng(seed)
        queries = vectors[np.sort(rng.choice(n, size=min(n_queries, n), replace=False))]
        query_source = "stored_vectors"
    truth = ann_tuning.exact_neighbors(vectors, queries, 10, threads)
    if tune:
        tuning = ann_tuning.tune(index, queries, truth, min(1.0, min_recall + margin), threads)
        recall, params, tried = tuning.recall_at_10, tuning.params, tuning.tried
    else:
        recall, params, tried = ann_tuning.recall_at_k(index, queries, truth, threads), ann_tuning.search_params(index), []
    ok = recall >= min_recall
    reason = "" if ok else f"ANN recall@10 {recall:.3f} < required {min_recall:.3f} (index.min_recall_at_10)"
    if not ok and tune:
        reason += (f" at every search setting tried (best: {params or 'default'}); choose a more exact index.kind "
                   "(flat, ivf) or lower index.min_recall_at_10")
    return IndexCheck(ok, n, n, recall, len(queries), reason, query_source or "given", params, tried)
