"""Vectors for the large-index benchmark: real MiniLM vectors of SciFact, and a mixture fitted on them.

``real_vectors`` embeds SciFact chunks and queries once through the project's vector cache (kept in
/tmp) and measures the per-chunk load/chunk/embed costs; ``Mixture`` fits cluster means + a shared
low-rank within-cluster covariance + isotropic noise and samples L2-normalised vectors from it;
``neighbour_stats`` compares the two on what ANN difficulty depends on.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCIFACT = Path(__file__).resolve().parents[1] / "data" / "samples" / "scifact"


def real_vectors(n_docs: int, n_queries: int, cache_path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    """Passage vectors of the first ``n_docs`` SciFact docs, query vectors, and per-chunk stage costs."""
    from tasks.chunking import chunk_documents
    from tasks.documents import sha256_text
    from tasks.embedding import load_embedder
    from tasks.loaders import load_source
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_chunks

    embedder = load_embedder("all-MiniLM-L6-v2")
    start = time.perf_counter()
    docs = load_source(str(SCIFACT / "corpus.jsonl.gz")).documents
    load_s_per_doc = (time.perf_counter() - start) / len(docs)
    start = time.perf_counter()
    chunks = chunk_documents(docs[:n_docs], embedder.counter)
    chunk_s = (time.perf_counter() - start) / len(chunks)
    load_s = load_s_per_doc * min(n_docs, len(docs)) / len(chunks)  # per chunk
    queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()]
    queries = queries[:n_queries]
    with VectorCache(cache_path) as cache:
        passages, _ = embed_chunks(chunks, embedder, cache)
        qkey, qhash = embedder.fingerprint + "|query", [sha256_text(q) for q in queries]
        found = cache.get_many(qkey, qhash)
        missing = [i for i, h in enumerate(qhash) if h not in found]
        if missing:
            cache.put_many(qkey, [qhash[i] for i in missing], embedder.encode([queries[i] for i in missing], "query"))
            found = cache.get_many(qkey, qhash)
    sample = [c.text for c in chunks[:256]]  # embedding cost per chunk, measured fresh (no cache)
    start = time.perf_counter()
    embedder.encode(sample, kind="passage")
    costs = {"load_s_per_chunk": load_s + chunk_s, "embed_s_per_chunk": (time.perf_counter() - start) / len(sample),
             "n_real_chunks": len(chunks)}
    return passages, np.stack([found[h] for h in qhash]), costs


@dataclass
class Mixture:
    """Cluster means + shared low-rank within-cluster covariance + isotropic noise."""

    means: np.ndarray
    weights: np.ndarray
    basis: np.ndarray  # (rank, dim)
    scales: np.ndarray  # (rank,)
    noise: float

    @classmethod
    def fit(cls, x: np.ndarray, k: int = 1024, rank: int = 64, seed: int = 0) -> "Mixture":
        import faiss

        km = faiss.Kmeans(x.shape[1], k, niter=25, seed=seed, spherical=True, min_points_per_centroid=1)
        km.train(x)
        assign = km.index.search(x, 1)[1][:, 0]
        means = np.stack([x[assign == c].mean(0) if (assign == c).any() else km.centroids[c] for c in range(k)])
        resid = (x - means[assign]).astype(np.float64)
        _, sing, vt = np.linalg.svd(resid, full_matrices=False)
        var = sing ** 2 / (len(x) - 1)
        return cls(means, np.bincount(assign, minlength=k) / len(x), vt[:rank], np.sqrt(var[:rank]),
                   float(np.sqrt(var[rank:].sum() / x.shape[1])))

    def sample(self, n: int, seed: int, block: int = 100_000) -> np.ndarray:
        rng, dim = np.random.default_rng(seed), self.means.shape[1]
        out = np.empty((n, dim), dtype=np.float32)
        for lo in range(0, n, block):
            m = min(block, n - lo)
            comp = rng.choice(len(self.weights), size=m, p=self.weights)
            x = self.means[comp] + (rng.standard_normal((m, len(self.scales))) * self.scales) @ self.basis
            x += rng.standard_normal((m, dim)) * self.noise
            out[lo:lo + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
        return out


def neighbour_stats(x: np.ndarray, queries: np.ndarray, seed: int = 0) -> dict[str, float]:
    """What ANN difficulty depends on: similarity spread, nearest-neighbour and query-to-top-10 similarity."""
    rng = np.random.default_rng(seed)
    i, j = rng.integers(0, len(x), 20_000), rng.integers(0, len(x), 20_000)
    pair = np.einsum("ij,ij->i", x[i], x[j])
    sims = x @ x.T
    np.fill_diagonal(sims, -1)
    top10 = np.sort(queries @ x.T, axis=1)[:, -10:]
    eig = np.linalg.svd(x - x.mean(0), compute_uv=False) ** 2
    stats = {"pair_cos_mean": pair.mean(), "pair_cos_std": pair.std(), "nn1_cos_mean": sims.max(1).mean(),
             "query_top1_cos": top10[:, -1].mean(), "query_top10_cos": top10.mean(),
             "top10_pc_variance_share": eig[:10].sum() / eig.sum()}
    return {k: float(v) for k, v in stats.items()}
