"""Serving the published index: the Python API (``live.Retriever``, exported as ``nightshift.Retriever``) and
the HTTP service (``app``: FastAPI on uvicorn, ``nightshift api``).

Modules: ``config`` (ApiConfig, ``configs/api.yaml``), ``live`` (a workspace's ``current`` index, swapped
without a restart, never half-loaded), ``cache`` (LRU of query embeddings), ``querylog`` (the daily query
and feedback logs drift and golden sets read), ``limits`` (per-client rate limit), ``metrics``
(Prometheus), ``app`` (the endpoints). Every query goes through ``tasks.retriever.IndexRetriever``.
"""
