"""``Retriever``: the Python API applications query (``from nightshift import Retriever``).

    retriever = Retriever("/srv/nightshift")              # a workspace: serves its published ``current``
    response = retriever.search("statins and cholesterol", k=5, filters={"doc_type": "pdf"})
    response.index_version, [h.doc_id for h in response.hits]

Thread-safe. It follows ``current``: at most every ``refresh_seconds`` a search checks where
``data/indexes/current`` points; a new version is loaded (and checksum-verified) in a background
thread while queries go on against the old one, then swapped in with one assignment. A query runs
entirely on the version it started on, and its response names that ``index_version``; a version
that fails to load is never served (the old one stays, the error is in ``last_error``). Opened on
an index build folder instead of a workspace, it serves that build and never swaps.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tasks.retrieval import Hit, NoPublishedIndex
from tasks.serving.cache import EmbeddingCache

logger = logging.getLogger(__name__)


@dataclass
class SearchResponse:
    query: str
    query_id: str
    index_version: str
    latency_ms: float
    hits: list[Hit] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"query_id": self.query_id, "index_version": self.index_version,
                "latency_ms": round(self.latency_ms, 3), "hits": [asdict(h) for h in self.hits]}


def _version_of(folder: Path) -> str:
    from tasks.publishing import build_version

    return build_version(folder) or folder.name


class Retriever:
    """Search a workspace's published index (or one build folder) through its ``IndexRetriever``."""

    def __init__(self, path: str | Path = ".", *, threads: int | None = None, cache_size: int = 4096,
                 refresh_seconds: float = 1.0, querylog: Any = None) -> None:
        root = Path(path).expanduser().resolve()
        self._fixed = root if (root / "manifest.json").is_file() else None
        self.index_root = None if self._fixed else (root / "data" / "indexes" if (root / "data").is_dir() else root)
        # one OpenMP thread count for the embedder (torch/ORT) and FAISS: they share one runtime. Default 1:
        # a single query gains nothing from a second thread and waits at every OpenMP barrier for a core
        # another process holds (2 cores, one busy: embedding p50 12 ms on 1 thread, 140-380 ms on 2).
        # Scale with processes (nightshift api --workers = cores); pass threads=N for large batches.
        self.threads = threads or 1
        self.refresh_seconds, self.querylog = refresh_seconds, querylog
        self.cache = EmbeddingCache(cache_size)
        self._active: Any = None  # the IndexRetriever being served
        self._loading: threading.Thread | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self.last_error = ""
        self._load(self._fixed or self._target())  # synchronously: the first version (None before any index)

    # -- which version is served ------------------------------------------------------------
    def _target(self) -> Path | None:
        from tasks.publishing import IndexStore

        return IndexStore(self.index_root).current() if self.index_root else self._fixed

    def _load(self, folder: Path | None) -> None:
        if folder is None:
            return
        from tasks.retriever import IndexRetriever

        from tasks.threads import pin_threads

        try:
            retriever = IndexRetriever.open(folder, version=_version_of(folder), threads=self.threads)
            pin_threads(self.threads)  # loading the embedder set its own count
        except Exception as exc:  # noqa: BLE001 - a bad version is never served; the old one stays
            self.last_error = f"index {folder.name} was not loaded: {type(exc).__name__}: {exc}"
            logger.error(self.last_error)
            return
        self._active, self.last_error = retriever, ""  # one assignment: queries see the old or the new, whole
        logger.info("serving index %s (%s)", retriever.version, retriever.name)

    def refresh(self, wait: bool = False) -> None:
        """Check ``current`` now; load a new version in the background (``wait``: until it is served)."""
        if self._fixed:
            return
        target = self._target()
        active = self._active
        if target is None or (active is not None and active.loaded.folder.resolve() == target.resolve()):
            return
        with self._lock:
            if self._loading is None or not self._loading.is_alive():
                self._loading = threading.Thread(target=self._load, args=(target,), daemon=True,
                                                 name="nightshift-index-loader")
                self._loading.start()
            loading = self._loading
        if wait or active is None:  # nothing to serve yet: the first index is worth waiting for
            loading.join()

    def _current(self) -> Any:
        now = time.monotonic()
        if now - self._checked >= self.refresh_seconds:
            self._checked = now
            self.refresh()
        active = self._active
        if active is None:
            where = self._fixed or self.index_root
            raise NoPublishedIndex(self.last_error or f"no index has been published yet under {where}; "
                                   "run `nightshift reindex` first")
        return active

    @property
    def index_version(self) -> str:
        return self._current().version

    @property
    def active(self) -> Any:
        """The ``IndexRetriever`` serving now (raises ``NoPublishedIndex`` before any index)."""
        return self._current()

    # -- queries ----------------------------------------------------------------------------
    def search(self, query: str | Sequence[str], k: int = 10,
               filters: Mapping[str, Any] | None = None) -> SearchResponse | list[SearchResponse]:
        """The top ``k`` hits (documents or chunks, as the index's spec says) for one query or a list."""
        single = isinstance(query, str)
        queries = [query] if single else list(query)
        if any(not isinstance(q, str) or not q.strip() for q in queries):
            raise ValueError("every query must be a non-empty string")
        start = time.perf_counter()
        retriever = self._current()  # the whole batch runs on this version
        vectors = self.cache.vectors(retriever, queries) if retriever.spec.mode != "bm25" else None
        hits = retriever.search(queries, k, filters, vectors=vectors)
        elapsed = (time.perf_counter() - start) * 1000 / max(1, len(queries))
        out = [SearchResponse(q, uuid.uuid4().hex, retriever.version, elapsed, h) for q, h in zip(queries, hits)]
        if self.querylog is not None:
            for response in out:
                self.querylog.query(response, k, dict(filters) if filters else None)
        return out[0] if single else out

    def feedback(self, query_id: str, value: Any, doc_id: str | None = None) -> None:
        """Record feedback on an answer (``doc_id``: on one hit); needs a query log (``querylog``)."""
        if self.querylog is None:
            raise RuntimeError("feedback needs a query log: Retriever(..., querylog=QueryLogWriter(folder))")
        self.querylog.feedback(query_id, value, doc_id)
