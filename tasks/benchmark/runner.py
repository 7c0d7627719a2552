"""Run one candidate on one dataset: assemble its retriever, answer every judged query, score, time.

Systems metrics (all measured on this machine, in this process):
- ``embed_tokens_per_s``/``embed_chunks_per_s``: a seeded sample of chunks re-embedded (vector
  cache bypassed), so a rerun from a warm cache still measures the model;
- ``ingest_s``: chunking + projected embedding of the whole corpus at that speed + index build(s);
  ``docs_per_s``/``tokens_per_s`` = corpus docs/tokens divided by it (BM25: no embedding);
- ``query_p50_ms``/``query_p95_ms``: single-query wall clock (embedding + search [+ rerank]), with
  torch and FAISS on one OpenMP thread count (``index.threads``, default 1; see ``pin_threads``);
- ``peak_rss_mb``: the process's peak resident memory while this candidate's parts were built and
  its queries answered (every model loaded so far included); ``peak_delta_mb``: the largest rise
  over the RSS at the start of one of those steps (what the candidate itself allocates);
- ``index_bytes``: FAISS and/or BM25 index as written to disk; ``build_s``: index build time.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

from tasks.benchmark.candidates import Candidate
from tasks.benchmark.config import Measure
from tasks.benchmark.results import CandidateResult
from tasks.benchmark.systems import PeakMemory, latency_summary
from tasks.benchmark.workbench import Part, Workbench


def assemble(bench: Workbench, cand: Candidate) -> tuple[Any, list[Part]]:
    """The candidate's retriever and the parts it is built from (for their time, memory and bytes)."""
    from tasks.retrievers import DenseRetriever, HybridRetriever

    chunks = bench.chunks(cand)
    parts, retriever = [chunks], None
    cfg = cand.retrieval
    if cand.uses_dense:
        index = bench.faiss(cand)
        parts += [bench.vectors(cand), index]
        ids, docs = [c.id for c in chunks.value], [c.doc_id for c in chunks.value]
        retriever = DenseRetriever(index.value, ids, docs, bench.embedder(cand), cfg.chunk_depth, cand.index.threads)
    if cfg.mode in ("bm25", "hybrid"):
        lexical = bench.bm25(cand)
        parts.append(lexical)
        retriever = lexical.value if retriever is None else HybridRetriever(
            [retriever, lexical.value], [cfg.dense_weight, cfg.bm25_weight], cfg.fusion, cfg.rrf_k)
    if cand.reranker is not None:
        from tasks.rerank import RerankingRetriever, load_cross_encoder

        encoder = load_cross_encoder(cand.reranker.model_dump_json())
        texts = {d: (doc["title"] + " " + doc["text"]).strip() for d, doc in bench.data.corpus.items()}
        retriever = RerankingRetriever(retriever, encoder, texts, cand.reranker.top_k)
    return retriever, parts


@contextmanager
def single_query_mode(bench: Workbench, cand: Candidate, retriever: Any) -> Iterator[None]:
    """Live query embedding (no cache) and one thread count for torch, FAISS and the reranker."""
    embedder, encoder = bench.embedder(cand), getattr(retriever, "encoder", None)
    saved = embedder.threads, getattr(encoder, "threads", None)
    threads = cand.index.threads if cand.index is not None else 1
    embedder.live, embedder.threads = True, threads
    if encoder is not None:
        encoder.threads = threads
    try:
        yield
    finally:
        embedder.live, embedder.threads = False, saved[0]
        if encoder is not None:
            encoder.threads = saved[1]


def systems_metrics(bench: Workbench, cand: Candidate, parts: list[Part], measure: Measure) -> dict[str, float]:
    chunks = parts[0].value
    n_tokens = sum(c.n_tokens for c in chunks)
    built = [p for p in parts[1:] if p.nbytes]  # indexes (the vectors part has no bytes)
    build_s = sum(p.seconds for p in built)
    ingest_s = parts[0].seconds + build_s
    out: dict[str, float] = {"n_docs": len(bench.documents), "n_chunks": len(chunks), "n_tokens": n_tokens,
                             "n_queries": len(bench.data.queries), "build_s": build_s, "chunk_s": parts[0].seconds,
                             "index_bytes": sum(p.nbytes for p in built)}
    if cand.uses_dense:
        speed = bench.throughput(cand, measure.throughput_chunks, measure.seed)
        ingest_s += n_tokens / speed.tokens_per_s
        out.update(embed_tokens_per_s=speed.tokens_per_s, embed_chunks_per_s=speed.chunks_per_s,
                   throughput_sample_chunks=speed.n_chunks,
                   ann_recall_at_10=next(p.info["ann_recall_at_10"] for p in parts if "ann_recall_at_10" in p.info))
    out.update(ingest_s=ingest_s, docs_per_s=len(bench.documents) / ingest_s if ingest_s else float("inf"),
               tokens_per_s=n_tokens / ingest_s if ingest_s else float("inf"))
    counter = bench.embedder(cand).counter
    queries = list(bench.data.queries.values())
    out["query_mean_tokens"] = sum(counter.count_many(queries)) / max(len(queries), 1)
    return out


def evaluate_candidate(bench: Workbench, cand: Candidate, measure: Measure, dataset: str) -> CandidateResult:
    """Quality (per query and mean) and systems metrics of ``cand`` on the workbench's dataset."""
    from tasks.retrievers import query_latencies_ms
    from tasks.scoring import aggregate, per_query_metrics

    data = bench.data
    with PeakMemory(measure.memory_interval_ms) as mem:
        retriever, parts = assemble(bench, cand)
        start = time.perf_counter()
        run = retriever.retrieve(dict(data.queries), cand.retrieval.depth)
        retrieve_s = time.perf_counter() - start
        with single_query_mode(bench, cand, retriever):
            latencies = query_latencies_ms(retriever, dict(data.queries), cand.retrieval.depth,
                                           measure.latency_queries, measure.seed)
    per_query = per_query_metrics(run, data.qrels, measure.metrics)
    systems = systems_metrics(bench, cand, parts, measure)
    peak = max([mem.peak, *(p.peak_rss for p in parts)])
    delta = max([mem.delta, *(p.peak_delta for p in parts)])
    systems.update(latency_summary(latencies), retrieve_all_s=retrieve_s, peak_rss_mb=peak / 2**20,
                   peak_delta_mb=delta / 2**20)
    return CandidateResult(dataset, data.content_hash, cand.name, cand.fingerprint,
                           metrics=aggregate(per_query), systems=systems, per_query=per_query, run=run)
