"""One OpenMP thread count for torch and FAISS (they share one runtime)."""

from __future__ import annotations


def pin_threads(n: int) -> None:
    """Give torch and FAISS the same OpenMP thread count, set explicitly.

    They share one OpenMP runtime: ``faiss.omp_set_num_threads(1)`` (every FAISS search) leaves
    torch on a mismatched pool — encoding then ran 5-8x slower here (1.1 vs 8.6 docs/s) — and
    alternating 2 and 1 threads per query cost ~20x in single-query latency (p50 386 vs 20 ms).
    """
    import sys

    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(n)
    if "faiss" in sys.modules:
        sys.modules["faiss"].omp_set_num_threads(n)
