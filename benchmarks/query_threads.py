"""One query on 1 vs 2 threads: embedding and FAISS search latency, interleaved rounds in one process.

Why ``Retriever`` and ``nightshift api`` default to one thread per query (benchmarks/RESULTS.md#serving):

    python benchmarks/query_threads.py [--index BUILD_FOLDER] [--rounds 3] [--queries 40]

``--index`` defaults to the current index of the serve benchmark's workspace (run serve_latency.py first)
or of ``$NIGHTSHIFT_WORKSPACE``. Torch and FAISS share one OpenMP runtime, so both are pinned to the same
count per round (``tasks.threads.pin_threads``).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def default_index() -> Path:
    ws = Path(os.environ.get("NIGHTSHIFT_WORKSPACE") or Path(tempfile.gettempdir()) / "nightshift-serve-bench" / "ws")
    return (ws / "data" / "indexes" / "current").resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=None, help="an index build folder (default: see above)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    from tasks.retriever import IndexRetriever
    from tasks.threads import pin_threads

    folder = (args.index or default_index()).resolve()
    if not (folder / "manifest.json").is_file():
        raise SystemExit(f"no index build at {folder}: run benchmarks/serve_latency.py or pass --index")
    retriever = IndexRetriever.open(folder, threads=1)
    queries = [f"vitamin d and bone fractures in elderly women {i}" for i in range(args.queries)]
    print(f"index {folder.name}, {retriever.loaded.index.ntotal} vectors, {retriever.name}; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("round threads  embed p50/p95 ms  search p50/p95 ms")
    for r in range(args.rounds):
        for threads in (1, 2):
            pin_threads(threads)
            retriever.threads = threads
            retriever.embed(queries[:1])  # warm-up at this count
            embed, search = [], []
            for q in queries:
                a = time.perf_counter()
                v = retriever.embed([q])
                b = time.perf_counter()
                retriever.search([q], 10, vectors=v)
                embed.append((b - a) * 1000)
                search.append((time.perf_counter() - b) * 1000)
            print(f"{r:>5} {threads:>7}  {np.percentile(embed, 50):6.1f} / {np.percentile(embed, 95):6.1f}"
                  f"   {np.percentile(search, 50):6.1f} / {np.percentile(search, 95):6.1f}")


if __name__ == "__main__":
    main()
