"""The benchmark: datasets x candidates (embedder, chunker, FAISS index, retrieval mode, reranker).

Modules, in the order a run uses them: ``config`` (BenchmarkConfig, registries, grid, prices,
budget), ``candidates`` (grid -> fingerprinted candidates), ``workbench`` (chunks, cached vectors
and indexes shared by candidates on one dataset), ``runner`` (one candidate on one dataset),
``systems`` (throughput, latency, memory, bytes), ``rerank`` (cross-encoder stage), ``results``
(result cache keyed by dataset hash + fingerprint), ``cost``, ``report``/``plots``/``summary``
(table, Pareto plot, bar chart, recommendation), ``steps`` + ``prefect_tasks`` (what the flow calls).
"""
