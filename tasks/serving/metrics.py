"""Prometheus metrics of the service (``GET /metrics``), with ``prometheus_client``.

- ``nightshift_requests_total{endpoint, status}``: answered requests, by HTTP status
- ``nightshift_request_seconds{endpoint}``: latency histogram (server side, whole request)
- ``nightshift_query_cache_total{result="hit"|"miss"}``: query-embedding cache lookups
- ``nightshift_index_info{index_version, retriever}``: 1 for the version being served

With several uvicorn workers (``PROMETHEUS_MULTIPROC_DIR`` set by ``nightshift api``), every worker
writes its samples there and a scrape of any worker aggregates all of them.
"""

from __future__ import annotations

import os

BUCKETS = (0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServiceMetrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = None if self.multiprocess else CollectorRegistry()
        kw = {} if self.multiprocess else {"registry": self.registry}
        self.requests = Counter("nightshift_requests_total", "Answered requests", ["endpoint", "status"], **kw)
        self.latency = Histogram("nightshift_request_seconds", "Request latency (server side)", ["endpoint"],
                                 buckets=BUCKETS, **kw)
        self.cache = Counter("nightshift_query_cache_total", "Query-embedding cache lookups", ["result"], **kw)
        gauge_kw = {"multiprocess_mode": "liveall"} if self.multiprocess else {}
        self.index = Gauge("nightshift_index_info", "The index version being served", ["index_version", "retriever"],
                           **kw, **gauge_kw)
        self._served: tuple[str, str] | None = None
        self._cache_seen = (0, 0)

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def serving(self, version: str, retriever: str) -> None:
        if self._served != (version, retriever):
            if self._served is not None:
                self.index.labels(*self._served).set(0)
            self.index.labels(version, retriever).set(1)
            self._served = (version, retriever)

    def cache_counts(self, hits: int, misses: int) -> None:
        """Add the cache's new lookups since the last call (the cache keeps running totals)."""
        seen_hits, seen_misses = self._cache_seen
        if hits > seen_hits:
            self.cache.labels("hit").inc(hits - seen_hits)
        if misses > seen_misses:
            self.cache.labels("miss").inc(misses - seen_misses)
        self._cache_seen = (hits, misses)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
