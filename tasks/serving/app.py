"""The HTTP service (FastAPI on uvicorn): ``nightshift api``.

    GET  /health    {"status": "ok", "index_version": ...}; 503 with the reason before any index
    POST /search    {"query": str, "k": int?, "filters": {...}?} -> {query_id, index_version, latency_ms, hits}
    POST /feedback  {"query_id": str, "doc_id": str?, "value": number | short label} -> 204
    GET  /metrics   Prometheus text format

Every bad request gets a 4xx JSON ``{"error": ..., "field": ...}`` naming the field (missing or empty
query, k outside 1..max_k, an unknown filter key, a body over ``max_body_bytes``, non-JSON) and writes
nothing to the query log. With ``NIGHTSHIFT_API_TOKEN`` set, every endpoint but ``/health`` needs
``Authorization: Bearer <token>`` (401 otherwise; the token is never logged). A per-client token
bucket answers 429 with ``Retry-After``.
"""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Any

from fastapi import Request  # module level: FastAPI resolves the (string) annotations here

from tasks.serving.config import ApiConfig

TOKEN_ENV = "NIGHTSHIFT_API_TOKEN"
CONFIG_ENV, SETTINGS_ENV = "NIGHTSHIFT_API_CONFIG", "NIGHTSHIFT_API_SETTINGS"
MAX_LABEL = 64


class BadRequest(Exception):
    def __init__(self, status: int, error: str, field: str = "", headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field, self.headers = status, error, field, headers or {}


def create_app(settings: Any, config: ApiConfig | None = None, retriever: Any = None):
    """The app over ``settings``' workspace (``retriever``: an existing ``live.Retriever`` to serve)."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    from tasks.retrieval import NoPublishedIndex
    from tasks.serving.limits import RateLimiter, retry_after
    from tasks.serving.live import Retriever
    from tasks.serving.metrics import ServiceMetrics

    config = config or ApiConfig()
    if retriever is None:
        retriever = Retriever(settings.workspace, threads=config.threads_per_worker(), cache_size=config.cache_size,
                              refresh_seconds=config.refresh_seconds, querylog=_querylog(settings, config))
    token = os.environ.get(TOKEN_ENV) or None
    limiter = RateLimiter(config.rate_limit.requests_per_second, config.rate_limit.burst) \
        if config.rate_limit.enabled else None
    metrics = ServiceMetrics()
    app = FastAPI(title="nightshift retrieval", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.retriever, app.state.metrics = retriever, metrics

    def reply(endpoint: str, started: float, status: int, body: Any = None, headers: dict | None = None):
        metrics.observe(endpoint, status, time.perf_counter() - started)
        if status == 204:
            return Response(status_code=204)
        return JSONResponse(body, status_code=status, headers=headers)

    def guard(request: Request) -> None:
        if token is not None:
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
                raise BadRequest(401, "missing or wrong bearer token (Authorization: Bearer <NIGHTSHIFT_API_TOKEN>)",
                                 "authorization", {"WWW-Authenticate": "Bearer"})
        if limiter is not None:
            client = request.client.host if request.client else "unknown"
            wait = limiter.acquire(client)
            if wait > 0:
                raise BadRequest(429, f"rate limit: {config.rate_limit.requests_per_second:g} requests/s per client",
                                 "", {"Retry-After": retry_after(wait)})

    async def handle(endpoint: str, request: Request, work) -> Any:
        started = time.perf_counter()
        try:
            guard(request)
            body = await _json_body(request, config.max_body_bytes)
            status, out = await run_in_threadpool(work, body)
            return reply(endpoint, started, status, out)
        except BadRequest as exc:
            return reply(endpoint, started, exc.status, {"error": exc.error, "field": exc.field}, exc.headers)
        except NoPublishedIndex as exc:
            return reply(endpoint, started, 503, {"error": str(exc), "field": ""})

    def do_search(body: dict[str, Any]) -> tuple[int, Any]:
        from tasks.filters import FilterError

        query, k, filters = _search_args(body, config)
        try:
            response = retriever.search(query, k, filters)
        except FilterError as exc:
            raise BadRequest(422, str(exc), f"filters.{exc.key}" if exc.key else "filters") from None
        active = retriever.active
        metrics.serving(active.version, active.name)
        metrics.cache_counts(retriever.cache.hits, retriever.cache.misses)
        return 200, response.as_dict()

    def do_feedback(body: dict[str, Any]) -> tuple[int, Any]:
        query_id, doc_id, value = _feedback_args(body)
        if retriever.querylog is None:
            raise BadRequest(409, "feedback is off: the query log is disabled (querylog.enabled)", "query_id")
        retriever.feedback(query_id, value, doc_id)
        return 204, None

    @app.get("/health")
    def health():
        started = time.perf_counter()
        try:
            active = retriever.active
        except NoPublishedIndex as exc:
            return reply("/health", started, 503, {"status": "unavailable", "reason": str(exc), "index_version": None})
        return reply("/health", started, 200, {"status": "ok", "index_version": active.version,
                                               "retriever": active.name,
                                               "cache_hit_rate": round(retriever.cache.hit_rate, 4)})

    @app.post("/search")
    async def search(request: Request):
        return await handle("/search", request, do_search)

    @app.post("/feedback")
    async def feedback(request: Request):
        return await handle("/feedback", request, do_feedback)

    @app.get("/metrics")
    def prometheus(request: Request):
        started = time.perf_counter()
        try:
            guard(request)
        except BadRequest as exc:
            return reply("/metrics", started, exc.status, {"error": exc.error, "field": exc.field}, exc.headers)
        data, content_type = metrics.exposition()
        metrics.observe("/metrics", 200, time.perf_counter() - started)
        return Response(data, media_type=content_type)

    @app.exception_handler(404)
    async def not_found(request: Request, exc: Exception):
        return JSONResponse({"error": f"no such endpoint: {request.method} {request.url.path}", "field": ""}, 404)

    @app.exception_handler(405)
    async def wrong_method(request: Request, exc: Exception):
        return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}", "field": ""}, 405)

    return app


def _querylog(settings: Any, config: ApiConfig) -> Any:
    if not config.querylog.enabled:
        return None
    from tasks.serving.querylog import QueryLogWriter

    q = config.querylog
    return QueryLogWriter(settings.resolve(q.dir), hash_queries=q.hash_queries, retention_days=q.retention_days)


async def _json_body(request: Any, limit: int) -> dict[str, Any]:
    if request.method == "GET":
        return {}
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadRequest(413, f"request body over {limit} bytes (max_body_bytes)", "body")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"request body over {limit} bytes (max_body_bytes)", "body")
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest(400, "the body must be a JSON object (Content-Type: application/json)", "body") from None
    if not isinstance(body, dict):
        raise BadRequest(400, f"the body must be a JSON object, got {type(body).__name__}", "body")
    return body


def _search_args(body: dict[str, Any], config: ApiConfig) -> tuple[str, int, dict | None]:
    unknown = sorted(set(body) - {"query", "k", "filters"})
    if unknown:
        raise BadRequest(422, f"unknown field {unknown[0]!r}; a search takes query, k and filters", unknown[0])
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest(422, "query: a non-empty string is required", "query")
    if len(query) > config.max_query_chars:
        raise BadRequest(422, f"query: longer than {config.max_query_chars} characters (max_query_chars)", "query")
    k = body.get("k", config.default_k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= config.max_k:
        raise BadRequest(422, f"k: an integer from 1 to {config.max_k} is required, got {k!r}", "k")
    filters = body.get("filters")
    if filters is not None and not isinstance(filters, dict):
        raise BadRequest(422, "filters: an object of key -> condition is required", "filters")
    return query, k, filters or None


def _feedback_args(body: dict[str, Any]) -> tuple[str, str | None, Any]:
    unknown = sorted(set(body) - {"query_id", "doc_id", "value"})
    if unknown:
        raise BadRequest(422, f"unknown field {unknown[0]!r}; feedback takes query_id, doc_id and value", unknown[0])
    query_id, doc_id, value = body.get("query_id"), body.get("doc_id"), body.get("value")
    if not isinstance(query_id, str) or not query_id.strip() or len(query_id) > MAX_LABEL:
        raise BadRequest(422, f"query_id: the query_id of a /search response is required (<= {MAX_LABEL} chars)",
                         "query_id")
    if doc_id is not None and (not isinstance(doc_id, str) or not doc_id or len(doc_id) > 512):
        raise BadRequest(422, "doc_id: a document id string, or omit it", "doc_id")
    if isinstance(value, bool) or not (isinstance(value, (int, float)) and abs(value) < 1e9
                                       or isinstance(value, str) and 0 < len(value) <= MAX_LABEL):
        raise BadRequest(422, f"value: a number (e.g. -1/0/1) or a short label (<= {MAX_LABEL} chars) is required",
                         "value")
    if isinstance(value, float) and value != value:
        raise BadRequest(422, "value: NaN is not a value", "value")
    return query_id, doc_id, value


def app_from_env():
    """For ``uvicorn --workers N`` (``factory=True``): the config and settings ``nightshift api`` put in the env."""
    from tasks.config.settings import Settings

    config = ApiConfig.model_validate_json(os.environ.get(CONFIG_ENV, "{}"))
    path = os.environ.get(SETTINGS_ENV) or None
    from pathlib import Path

    return create_app(Settings.load(Path(path) if path else None), config)
