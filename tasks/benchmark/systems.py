"""Systems measurements: embedding throughput, peak memory, index size on disk, latency percentiles."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from tasks.documents import Chunk
from tasks.threads import pin_threads  # noqa: F401  (re-exported: the benchmark's callers use it from here)


def rss_bytes() -> int:
    """Resident set size of this process now."""
    try:
        import psutil

        return int(psutil.Process(os.getpid()).memory_info().rss)
    except ImportError:  # pragma: no cover - psutil comes with prefect/distributed
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Sample the RSS in a background thread; ``peak``/``delta`` in bytes once the block ends.

    FAISS, torch and tokenizers allocate outside Python's heap, so ``tracemalloc`` would miss them;
    RSS sampling sees everything the process holds (at the sampling period's resolution).
    """

    def __init__(self, interval_ms: int = 5) -> None:
        self.interval = interval_ms / 1000
        self.start = self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def delta(self) -> int:
        return self.peak - self.start


@dataclass(frozen=True)
class Throughput:
    """Embedding speed measured on a seeded sample of chunks, with the vector cache bypassed."""

    n_chunks: int
    n_tokens: int
    seconds: float

    @property
    def chunks_per_s(self) -> float:
        return self.n_chunks / self.seconds if self.seconds > 0 else float("inf")

    @property
    def tokens_per_s(self) -> float:
        return self.n_tokens / self.seconds if self.seconds > 0 else float("inf")


def measure_throughput(embedder: Any, chunks: Sequence[Chunk], n: int, seed: int = 0,
                       threads: int | None = None) -> Throughput:
    """Encode ``n`` seeded-random chunks (all if fewer) exactly as the corpus is embedded."""
    if threads:
        pin_threads(threads)
    if not chunks:
        return Throughput(0, 0, 0.0)
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(chunks), size=min(n, len(chunks)), replace=False))
    sample = [chunks[i] for i in pick]
    start = time.perf_counter()
    embedder.encode([c.text for c in sample], kind="passage")
    return Throughput(len(sample), sum(c.n_tokens for c in sample), time.perf_counter() - start)


def faiss_bytes(index: Any) -> int:
    """Size of the index as FAISS writes it to disk."""
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def bm25_bytes(bm25_index: Any) -> int:
    """Size of a ``tasks.lexical.Bm25Index`` as saved to disk."""
    with tempfile.TemporaryDirectory() as tmp:
        return folder_bytes(bm25_index.save(Path(tmp) / "bm25"))


def latency_summary(latencies_ms: np.ndarray) -> dict[str, float]:
    if latencies_ms.size == 0:
        return {"query_p50_ms": float("nan"), "query_p95_ms": float("nan"), "query_mean_ms": float("nan")}
    return {"query_p50_ms": float(np.percentile(latencies_ms, 50)),
            "query_p95_ms": float(np.percentile(latencies_ms, 95)),
            "query_mean_ms": float(latencies_ms.mean())}
