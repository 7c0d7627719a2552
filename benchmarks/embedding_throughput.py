"""Embedding throughput of the benchmark's path, measured side by side in one run on the same texts.

1. benchmark path / raw batched model: ``tasks.vectorize.embed_chunks`` (what the benchmark flow
   runs: hashing, length-sorted batches, pooling, normalisation, vector-cache writes to a fresh
   SQLite file) against the bare model: the tokenizer and ``model(**batch)`` over the same
   length-sorted batches of 32, nothing else. Target: >= 0.9.
2. our torch embedder (``TorchEmbedder.encode``) against ``sentence-transformers``
   ``SentenceTransformer.encode`` on the same texts, same weights, same threads. Target: >= 1.0.

Texts: SciFact documents as the MTEB protocol embeds them (``title + " " + text``, cut at 256
tokens by the ``whole``/``truncate`` chunker). Rounds are interleaved (A B C D, then rotated) so
machine load hits every method alike; the median round per method is reported.

    python benchmarks/embedding_throughput.py [--docs 256] [--rounds 3] [--json]

Needs ``sentence-transformers`` (not a runtime dependency of nightshift).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nightshift.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()


def load_texts(n_docs: int):
    from tasks.chunking import ChunkingConfig, chunk_documents
    from tasks.datasets import as_documents, load_beir
    from tasks.embedding import load_embedder

    data = load_beir(ROOT / "data" / "samples" / "scifact")
    docs = as_documents(data)[:n_docs]
    embedder = load_embedder("all-MiniLM-L6-v2")
    chunks = chunk_documents(docs, embedder.counter, ChunkingConfig(strategy="whole", truncate=True))
    return embedder, chunks


def raw_model(embedder, texts: list[str], batch_size: int = 32) -> None:
    """Tokenizer + forward pass over length-sorted batches: the floor any embedding path pays."""
    import torch

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = embedder.tokenizer([texts[i] for i in order[start:start + batch_size]], padding=True,
                                       truncation=True, max_length=embedder.max_tokens, return_tensors="pt")
            embedder.model(**batch)


def benchmark_path(embedder, chunks) -> None:
    from tasks.vector_cache import VectorCache
    from tasks.vectorize import embed_chunks

    with tempfile.TemporaryDirectory() as tmp, VectorCache(Path(tmp) / "vectors.sqlite") as cache:
        _, stats = embed_chunks(chunks, embedder, cache, progress=False)
    assert stats.n_embedded == len(chunks)


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=256, help="SciFact documents to embed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    from tasks.model_files import resolve_model_path

    embedder, chunks = load_texts(args.docs)
    texts = [c.text for c in chunks]
    st = SentenceTransformer(str(resolve_model_path("all-MiniLM-L6-v2")), device="cpu")
    st.max_seq_length = embedder.max_tokens
    methods: dict[str, Callable[[], object]] = {
        "benchmark path (embed_chunks)": lambda: benchmark_path(embedder, chunks),
        "raw batched model": lambda: raw_model(embedder, texts),
        "torch embedder encode": lambda: embedder.encode(texts),
        "sentence-transformers encode": lambda: st.encode(texts, batch_size=32, normalize_embeddings=True),
    }
    ours, theirs = embedder.encode(texts[:64]), st.encode(texts[:64], batch_size=32, normalize_embeddings=True)
    max_diff = float(np.abs(ours - theirs).max())
    raw_model(embedder, texts[:8])  # warm-up (the comparison above warmed both encoders)
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seconds[name].append(timed(methods[name]))
    docs_per_s = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    result = {
        "docs": len(texts), "tokens": sum(c.n_tokens for c in chunks), "rounds": args.rounds,
        "threads": __import__("torch").get_num_threads(), "docs_per_s": docs_per_s,
        "benchmark_over_raw": docs_per_s["benchmark path (embed_chunks)"] / docs_per_s["raw batched model"],
        "ours_over_sentence_transformers": docs_per_s["torch embedder encode"] / docs_per_s["sentence-transformers encode"],
        "max_abs_vector_diff_vs_sentence_transformers": max_diff,
        "seconds": seconds,
    }
    for name, rate in docs_per_s.items():
        print(f"{name:32s} {rate:8.1f} docs/s  (rounds: {', '.join(f'{s:.1f}s' for s in seconds[name])})", file=sys.stderr)
    print(f"benchmark path / raw batched model      = {result['benchmark_over_raw']:.3f}  (target >= 0.9)", file=sys.stderr)
    print(f"our torch embedder / sentence-transformers = {result['ours_over_sentence_transformers']:.3f}  (target >= 1.0)",
          file=sys.stderr)
    print(f"max |ours - sentence-transformers| per vector component = {max_diff:.2e}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
