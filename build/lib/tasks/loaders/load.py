"""Load a whole source: list files, dispatch to loaders, quarantine what cannot be indexed.

``iter_documents`` streams ``Document``/``Quarantined`` items in deterministic order (files by
relative path, records by line); ``load_source`` collects them. Neither raises for a bad file; only
an unusable source root raises ``SourceError``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from tasks.documents import Document, Quarantined
from tasks.loaders.base import Loaded, LoadLimits, LoadRejected
from tasks.loaders.records import BEIR_NOT_CORPUS, beir_non_corpus_files
from tasks.loaders.registry import loader_for, unsupported_reason
from tasks.sources import FileTooLarge, SourceFile, list_source_files, read_bytes


@dataclass
class FileStats:
    rel_path: str
    loader: str  # "" when no loader applies
    size: int | None
    n_documents: int = 0
    n_quarantined: int = 0
    seconds: float = 0.0
    reason: str = ""  # the first quarantine reason met in this file

    @property
    def status(self) -> str:
        if not self.n_quarantined:
            return "loaded"
        return "partial" if self.n_documents else "quarantined"


@dataclass
class LoadResult:
    source: str
    documents: list[Document] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    n_files: int = 0
    files: list[FileStats] = field(default_factory=list)
    seconds: float = 0.0


def load_source(url: str | os.PathLike[str], limits: LoadLimits | None = None, *,
                include: str | Sequence[str] | None = None,
                exclude: str | Sequence[str] | None = None) -> LoadResult:
    """Every document of the source, and every file/record that could not become one, with why."""
    start = time.perf_counter()
    files = list_source_files(url, include=include, exclude=exclude)
    result = LoadResult(source=os.fspath(url), n_files=len(files))
    for item in iter_documents(files, limits, stats=result.files):
        (result.documents if isinstance(item, Document) else result.quarantined).append(item)
    result.seconds = time.perf_counter() - start
    return result


def iter_documents(source: str | os.PathLike[str] | Sequence[SourceFile],
                   limits: LoadLimits | None = None, *,
                   include: str | Sequence[str] | None = None,
                   exclude: str | Sequence[str] | None = None,
                   stats: list[FileStats] | None = None) -> Iterator[Document | Quarantined]:
    """Stream documents and quarantined items; per-file stats are appended to ``stats`` if given.

    Duplicate ids: the first (in file order, then line order) is kept, later ones quarantined.
    In a BEIR dataset folder only ``corpus.jsonl[.gz]`` is loaded; its other files are quarantined.
    A missing source root raises ``SourceError`` at the first ``next()``.
    """
    limits = limits or LoadLimits()
    files = (list_source_files(source, include=include, exclude=exclude)
             if isinstance(source, (str, os.PathLike)) else source)
    first_seen: dict[str, tuple[str, str]] = {}
    files = list(files)
    not_corpus = beir_non_corpus_files(sf.rel_path for sf in files)
    for sf in files:
        if sf.rel_path in not_corpus and sf.ok:
            sf = replace(sf, rejection=BEIR_NOT_CORPUS)
        loader = loader_for(sf.rel_path)
        file_stats = FileStats(sf.rel_path, loader.name if loader and sf.ok else "", sf.size)
        start = time.perf_counter()
        for item in _checked(sf, limits, first_seen):
            if isinstance(item, Document):
                file_stats.n_documents += 1
            else:
                file_stats.n_quarantined += 1
                file_stats.reason = file_stats.reason or item.reason
            yield item
        file_stats.seconds = time.perf_counter() - start
        if stats is not None:
            stats.append(file_stats)


def _checked(sf: SourceFile, limits: LoadLimits,
             first_seen: dict[str, tuple[str, str]]) -> Iterator[Document | Quarantined]:
    produced = False
    try:
        for item, line in _load_file(sf, limits):
            produced = True
            if isinstance(item, Document):
                item = _validated(item, sf, line, limits, first_seen)
            yield item
        if not produced:
            raise LoadRejected("whitespace-only file", "no records")
    except LoadRejected as exc:
        yield _quarantine(sf, exc.reason, exc.detail)
    except Exception as exc:  # noqa: BLE001 - a bad file must never stop the run
        yield _quarantine(sf, f"loader error: {type(exc).__name__}", str(exc)[:500])


def _load_file(sf: SourceFile, limits: LoadLimits) -> Iterator[Loaded]:
    if sf.rejection:
        raise LoadRejected(sf.rejection)
    loader = loader_for(sf.rel_path)
    if loader is None:
        raise LoadRejected(unsupported_reason(sf.rel_path))
    if sf.size == 0:
        raise LoadRejected("empty file")
    if loader.stream is not None:
        yield from loader.stream(sf, limits)
        return
    try:
        data = read_bytes(sf, limits.max_file_bytes)
    except FileTooLarge as exc:
        raise LoadRejected(f"file too large: {exc.size} bytes > max_file_bytes {exc.limit}",
                           "refused from the listed size, not read") from None
    assert loader.parse is not None
    yield loader.parse(data, sf, limits), None


def _validated(doc: Document, sf: SourceFile, line: int | None, limits: LoadLimits,
               first_seen: dict[str, tuple[str, str]]) -> Document | Quarantined:
    where = f"{sf.rel_path}:{line}" if line else sf.rel_path
    if not doc.text:
        return _quarantine(sf, "no text after extraction", where, doc.id)
    if len(doc.text) > limits.max_chars_per_doc:
        return _quarantine(sf, f"text too long: {len(doc.text)} chars > max_chars_per_doc "
                               f"{limits.max_chars_per_doc}", where, doc.id)
    if doc.id in first_seen:
        first_file, first_where = first_seen[doc.id]
        return _quarantine(sf, f"duplicate id (first seen in {first_file})",
                           f"kept {first_where}, dropped {where}", doc.id)
    first_seen[doc.id] = (sf.rel_path, where)
    return doc


def _quarantine(sf: SourceFile, reason: str, detail: str = "", doc_id: str = "") -> Quarantined:
    return Quarantined(id=doc_id or sf.rel_path, source=sf.url, stage="load", reason=reason,
                       detail=detail)
