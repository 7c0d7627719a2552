"""Embedding speed of every embedder path vs sentence-transformers, side by side in one run, with quality.

1. Throughput (docs/s) of each path on the same texts, same max length (256), same threads, batches
   of 32, rounds interleaved (the order rotates each round) so machine load hits every path alike;
   the median round per path is reported:
   - ``sentence-transformers encode`` (fp32): the baseline of the issue-12 target (best ÷ it >= 1.5);
   - ``sentence-transformers encode bf16`` (same weights loaded in bfloat16): a reference only, to
     show where the speed-up comes from (the dtype, not our code);
   - our presets' ``encode`` (``all-MiniLM-L6-v2`` fp32, ``-bf16``, ``-int8-onnx``);
   - the benchmark's path (``embed_chunks``: hashing, cache writes) and the raw batched model
     (tokenizer + ``model(**batch)``) with the best preset: pipeline ÷ raw (target >= 0.9).
2. Single-query latency p50/p95 (ms) per path: one query per ``encode`` call, SciFact queries. A torch
   preset's ``encode`` of one query takes the single-query fast path (``tasks/query_embedding.py``);
   ``... batched path`` is the same preset through the batched code (what one query cost before it).
3. Quality (``embedding_quality.py``, cached vectors): nDCG@10 of fp32 and each fast preset on
   SciFact, Cranfield and MED, and the max per-component vector difference vs fp32. The best preset
   is the fastest whose nDCG@10 is within ``--bound`` (0.003) of fp32 on every collection.
4. Knobs of the best preset: threads 1/2, batch size, max length (docs/s on the same texts).

Texts: SciFact documents as the MTEB protocol embeds them (``title + " " + text``, cut at 256 tokens).

    python benchmarks/embedding_throughput.py [--docs 256] [--rounds 3] [--queries 100] [--json]
    python benchmarks/embedding_throughput.py --only single-query [--queries 300] [--json]   # part 2 alone

``--json``: the last stdout line is one JSON object with ``best_preset``, ``docs_per_s``,
``ratio_vs_sentence_transformers``, ``single_query_p95_ms``, ``ndcg_at_10`` (and the details); with
``--only single-query``, ``single_query_p95_ms`` is the default (fp32) preset's and ``single_query_ms``
holds every path.
Needs ``sentence-transformers`` (not a runtime dependency of nightshift). Run the quality part first
(``embedding_quality.py``, minutes, cached) so this run only times.
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
sys.path.insert(0, str(ROOT / "benchmarks"))

from nightshift.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()

FP32 = "all-MiniLM-L6-v2"
FAST_PRESETS = ("all-MiniLM-L6-v2-bf16", "all-MiniLM-L6-v2-int8-onnx")
ST, ST_BF16 = "sentence-transformers encode", "sentence-transformers encode bf16"


def load_texts(n_docs: int):
    from tasks.chunking import ChunkingConfig, chunk_documents
    from tasks.datasets import as_documents, load_beir
    from tasks.embedding import load_embedder

    data = load_beir(ROOT / "data" / "samples" / "scifact")
    docs = as_documents(data)[:n_docs]
    chunks = chunk_documents(docs, load_embedder(FP32).counter, ChunkingConfig(strategy="whole", truncate=True))
    return chunks, [data.queries[q] for q in sorted(data.queries)]


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


def interleaved(methods: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    names = list(methods)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            seconds[name].append(timed(methods[name]))
    return seconds


def single_query_ms(encoders: dict[str, Callable[[list[str]], object]], queries: list[str]) -> dict[str, dict]:
    """One query per call, the paths interleaved query by query; p50/p95 in ms."""
    ms: dict[str, list[float]] = {name: [] for name in encoders}
    for i, q in enumerate(queries):
        names = list(encoders)
        for name in names[i % len(names):] + names[:i % len(names)]:
            ms[name].append(1000 * timed(lambda: encoders[name]([q])))
    return {name: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))} for name, v in ms.items()}


def query_encoders(embedders: dict) -> dict[str, Callable[[list[str]], object]]:
    """Each preset's ``encode`` of queries and, for torch presets, its batched path (before the fast path)."""
    from tasks.embedding import BatchedEmbedder, TorchEmbedder

    out: dict[str, Callable[[list[str]], object]] = {}
    for name, e in embedders.items():
        out[f"{name} encode"] = (lambda e: lambda t: e.encode(t, kind="query"))(e)
        if isinstance(e, TorchEmbedder):
            out[f"{name} encode, batched path"] = (lambda e: lambda t: BatchedEmbedder.encode(e, t, kind="query"))(e)
    return out


def single_query_only(args) -> None:
    """Part 2 alone: the presets' single-query paths (fast and batched) and sentence-transformers fp32."""
    import torch
    from sentence_transformers import SentenceTransformer

    from tasks.datasets import load_beir
    from tasks.embedding import load_embedder
    from tasks.model_files import resolve_model_path

    data = load_beir(ROOT / "data" / "samples" / "scifact")
    queries = [data.queries[q] for q in sorted(data.queries)][:args.queries]
    embedders = {name: load_embedder(name) for name in (FP32, *FAST_PRESETS)}
    st = SentenceTransformer(str(resolve_model_path(FP32)), device="cpu")
    st.max_seq_length = embedders[FP32].max_tokens
    encoders = {ST: lambda t: st.encode(t, batch_size=32, normalize_embeddings=True), **query_encoders(embedders)}
    threads = torch.get_num_threads()
    for enc in encoders.values():
        for q in queries[:10]:
            enc([q])  # warm-up: weights loaded, the fast path traced
    latency = single_query_ms(encoders, queries)
    for name, lat in latency.items():
        print(f"{name:52s} single query p50 {lat['p50']:.2f} ms p95 {lat['p95']:.2f} ms", file=sys.stderr)
    p95 = latency[f"{FP32} encode"]["p95"]
    print(f"{FP32} single-query p95 {p95:.2f} ms (target <= 5), {len(queries)} queries, torch threads {threads}",
          file=sys.stderr)
    if args.json:
        print(json.dumps({"single_query_p95_ms": p95, "single_query_ms": latency, "queries": len(queries),
                          "threads": threads, "load_average": Path("/proc/loadavg").read_text().split()[:3]}))


def knobs(preset: str, texts: list[str], rounds: int) -> list[dict]:
    """docs/s of ``preset`` under threads 1/2, batch sizes and max lengths (one knob moved at a time)."""
    import torch

    from tasks.embedding import EmbedderConfig, load_embedder

    settings = ([{"threads": t, "batch_size": 32, "max_tokens": 256} for t in (1, 2)]
                + [{"threads": 2, "batch_size": b, "max_tokens": 256} for b in (8, 16, 64)]
                + [{"threads": 2, "batch_size": 32, "max_tokens": n} for n in (64, 128)])
    threads = torch.get_num_threads()

    def run(s: dict) -> Callable[[], object]:
        embedder = load_embedder(EmbedderConfig(model=preset, batch_size=s["batch_size"], max_tokens=s["max_tokens"]))

        def go() -> None:
            torch.set_num_threads(s["threads"])
            try:
                embedder.encode(texts)
            finally:
                torch.set_num_threads(threads)
        return go

    methods = {json.dumps(s): run(s) for s in settings}
    for fn in methods.values():
        fn()  # warm-up: weights loaded, kernels built for each shape
    seconds = interleaved(methods, rounds)
    return [{**json.loads(k), "docs_per_s": len(texts) / statistics.median(v)} for k, v in seconds.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=256, help="SciFact documents to embed per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=100, help="single queries timed per path")
    parser.add_argument("--knob-docs", type=int, default=128)
    parser.add_argument("--collections", nargs="+", default=["scifact", "cranfield", "med"])
    parser.add_argument("--bound", type=float, default=0.003, help="max |nDCG@10 - fp32's| on every collection")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    parser.add_argument("--only", choices=["single-query"], help="run one part only (no quality, no throughput)")
    args = parser.parse_args()
    if args.only == "single-query":
        return single_query_only(args)

    import torch
    from sentence_transformers import SentenceTransformer

    from embedding_quality import meets_bound, quality_table
    from tasks.embedding import load_embedder
    from tasks.model_files import resolve_model_path

    quality = quality_table(args.collections, [p for p in FAST_PRESETS if p.endswith("bf16")])
    chunks, queries = load_texts(args.docs)
    texts = [c.text for c in chunks]
    embedders = {name: load_embedder(name) for name in (FP32, *FAST_PRESETS)}
    folder = str(resolve_model_path(FP32))
    st = SentenceTransformer(folder, device="cpu")
    st_bf16 = SentenceTransformer(folder, device="cpu", model_kwargs={"torch_dtype": torch.bfloat16})
    for model in (st, st_bf16):
        model.max_seq_length = embedders[FP32].max_tokens
    threads = torch.get_num_threads()

    passing = [p for p in FAST_PRESETS if p in next(iter(quality.values())) and meets_bound(quality, p, args.bound)]
    candidates = [FP32, *passing]
    encoders: dict[str, Callable[[list[str]], object]] = {
        ST: lambda t: st.encode(t, batch_size=32, normalize_embeddings=True),
        ST_BF16: lambda t: st_bf16.encode(t, batch_size=32, normalize_embeddings=True),
        **{f"{name} encode": (lambda e: lambda t: e.encode(t))(e) for name, e in embedders.items()},
    }
    for enc in encoders.values():
        enc(texts[:32])  # warm-up
    best_guess = passing[0] if passing else FP32
    methods: dict[str, Callable[[], object]] = {name: (lambda f: lambda: f(texts))(f) for name, f in encoders.items()}
    methods[f"benchmark path (embed_chunks) {best_guess}"] = lambda: benchmark_path(embedders[best_guess], chunks)
    methods[f"raw batched model {best_guess}"] = lambda: raw_model(embedders[best_guess], texts)
    seconds = interleaved(methods, args.rounds)
    docs_per_s = {name: len(texts) / statistics.median(s) for name, s in seconds.items()}
    best = max(candidates, key=lambda p: docs_per_s[f"{p} encode"])

    latency = single_query_ms({**encoders, **query_encoders(embedders)}, queries[:args.queries])
    knob_rows = knobs(best, texts[:args.knob_docs], max(2, args.rounds - 1))

    sample = texts[:64]
    ref = embedders[FP32].encode(sample)
    vector_diff = {name: float(np.abs(np.asarray(f(sample)) - ref).max()) for name, f in encoders.items()}
    result = {
        "best_preset": best,
        "docs_per_s": docs_per_s,
        "ratio_vs_sentence_transformers": docs_per_s[f"{best} encode"] / docs_per_s[ST],
        "single_query_p95_ms": latency[f"{best} encode"]["p95"],
        "ndcg_at_10": {c: {"fp32": rows[FP32]["ndcg_at_10"], **{p: r["ndcg_at_10"] for p, r in rows.items() if p != FP32}}
                       for c, rows in quality.items()},
        "max_abs_diff_vs_fp32": {c: {p: r["max_abs_diff_vs_fp32"] for p, r in rows.items() if p != FP32}
                                 for c, rows in quality.items()},
        "quality_bound": args.bound, "presets_within_bound": passing,
        "pipeline_over_raw": docs_per_s[f"benchmark path (embed_chunks) {best_guess}"] / docs_per_s[f"raw batched model {best_guess}"],
        "single_query_ms": latency, "knobs": knob_rows, "max_abs_diff_vs_fp32_on_sample": vector_diff,
        "docs": len(texts), "tokens": sum(c.n_tokens for c in chunks), "rounds": args.rounds, "threads": threads,
        "seconds": seconds,
    }
    for name, rate in docs_per_s.items():
        lat = latency.get(name)
        extra = f"  single query p50 {lat['p50']:.1f} ms p95 {lat['p95']:.1f} ms" if lat else ""
        print(f"{name:52s} {rate:7.1f} docs/s (rounds {', '.join(f'{s:.1f}s' for s in seconds[name])}){extra}",
              file=sys.stderr)
    for c, rows in result["ndcg_at_10"].items():
        print(f"nDCG@10 {c:10s} " + "  ".join(f"{p} {v:.4f}" for p, v in rows.items()), file=sys.stderr)
    for row in knob_rows:
        print(f"knob {best}: threads {row['threads']} batch {row['batch_size']:3d} max_tokens {row['max_tokens']:3d}"
              f"  {row['docs_per_s']:7.1f} docs/s", file=sys.stderr)
    print(f"best preset {best}: {result['ratio_vs_sentence_transformers']:.2f} x sentence-transformers (target >= 1.5), "
          f"single-query p95 {result['single_query_p95_ms']:.1f} ms (target <= 5), pipeline / raw "
          f"{result['pipeline_over_raw']:.3f} (target >= 0.9)", file=sys.stderr)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
