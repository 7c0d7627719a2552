"""JSON-lines records (``.jsonl``, ``.jsonl.gz``; BEIR ``corpus.jsonl``): one Document per line.

Read streaming (gzip included). A bad line is quarantined on its own with its line number; the
rest of the file is kept. Fields: ``_id`` (or ``id``), ``text``, optional ``title`` and
``metadata`` (an object); other top-level fields are kept in the metadata.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import IO, Any

from tasks.documents import Document, Quarantined
from tasks.loaders.base import Loaded, LoadLimits, LoadRejected, sniff_binary
from tasks.sources import SourceFile, open_binary

RESERVED = ("_id", "id", "title", "text", "metadata")
_CHUNK = 1024 * 1024
_GZIP = 16 + zlib.MAX_WBITS  # gzip header and trailer


class BadRecord(Exception):
    def __init__(self, reason: str, record_id: str = ""):
        super().__init__(reason)
        self.reason, self.record_id = reason, record_id


BEIR_CORPUS = ("corpus.jsonl", "corpus.jsonl.gz")
BEIR_QUERIES = ("queries.jsonl", "queries.jsonl.gz")
BEIR_NOT_CORPUS = "BEIR dataset file, not part of the corpus (only corpus.jsonl[.gz] is indexed)"


def beir_non_corpus_files(rel_paths: Iterable[str]) -> set[str]:
    """A folder holding ``corpus.jsonl[.gz]`` plus ``queries.jsonl[.gz]`` or ``qrels/`` is a BEIR
    dataset: its queries, qrels and any other file beside the corpus are not documents."""
    paths = [PurePosixPath(p) for p in rel_paths]
    corpora = {p.parent for p in paths if p.name in BEIR_CORPUS}
    datasets = {folder for folder in corpora for p in paths
                if (p.parent == folder and p.name in BEIR_QUERIES)
                or p.is_relative_to(folder / "qrels")}
    return {str(p) for p in paths if p.name not in BEIR_CORPUS
            and (p.parent in datasets or any(p.is_relative_to(d / "qrels") for d in datasets))}


def stream_records(source: SourceFile, limits: LoadLimits) -> Iterator[Loaded]:
    gzipped = source.rel_path.lower().endswith(".gz")
    line_no = 0
    try:
        with open_binary(source) as raw:
            chunks = _gunzip(raw) if gzipped else iter(lambda: raw.read(_CHUNK), b"")
            for line_no, line, too_long in _lines(chunks, limits.max_record_line_bytes):
                if too_long:
                    yield _bad(source, line_no, f"record longer than {limits.max_record_line_bytes}"
                               " bytes (max_chars_per_doc)"), line_no
                elif line.strip():
                    yield _record(source, line_no, line, limits), line_no
    except (OSError, EOFError, zlib.error) as exc:
        where = f"after line {line_no}" if line_no else "at the start"
        kind = "corrupt or truncated gzip" if gzipped else "read error"
        raise LoadRejected(f"{kind} {where}", f"{type(exc).__name__}: {exc}") from None


def _gunzip(raw: IO[bytes]) -> Iterator[bytes]:
    """Inflate gzip (multi-member too) in bounded pieces; everything before damage comes out."""
    inflater, fed = zlib.decompressobj(_GZIP), False
    while data := raw.read(_CHUNK):
        while data:
            fed = True
            out = inflater.decompress(data, _CHUNK)  # bounded output: no bomb in memory
            if out:
                yield out
            if inflater.eof:  # end of one member; what follows must be another member
                data, inflater, fed = inflater.unused_data, zlib.decompressobj(_GZIP), False
            else:
                data = inflater.unconsumed_tail
    if tail := inflater.flush():
        yield tail
    if fed and not inflater.eof:
        raise EOFError("compressed stream ended before the end-of-stream marker")


def _lines(chunks: Iterator[bytes], max_line: int) -> Iterator[tuple[int, bytes, bool]]:
    """``(line_no, line, too_long)``; memory stays bounded by ``max_line`` + one chunk."""
    carry, line_no, skipping, first = b"", 0, False, True
    for chunk in chunks:
        if first:
            first = False
            reason = sniff_binary(chunk[:8192])
            if reason:
                raise LoadRejected(reason)
        parts = (carry + chunk).split(b"\n")
        carry = parts.pop()
        for part in parts:
            line_no += 1
            if skipping:  # tail of an over-long line already reported
                skipping = False
                continue
            yield line_no, part, len(part) > max_line
        if len(carry) > max_line:
            if not skipping:
                yield line_no + 1, b"", True
            skipping, carry = True, b""
    if carry and not skipping:
        yield line_no + 1, carry, len(carry) > max_line


def _record(source: SourceFile, line_no: int, line: bytes,
            limits: LoadLimits) -> Document | Quarantined:
    try:
        return _parse(source, line, limits)
    except BadRecord as exc:
        return _bad(source, line_no, exc.reason, exc.record_id)


def _parse(source: SourceFile, line: bytes, limits: LoadLimits) -> Document:
    try:
        text_line = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRecord(f"invalid UTF-8 at byte {exc.start} of the line") from None
    try:
        record = json.loads(text_line)
    except json.JSONDecodeError as exc:
        raise BadRecord(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise BadRecord(f"not a JSON object (got {type(record).__name__})")
    raw_id = record.get("_id", record.get("id"))
    if raw_id is None or raw_id == "":
        raise BadRecord("missing id (_id or id)")
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise BadRecord(f"id is not a string (got {type(raw_id).__name__})")
    doc_id = str(raw_id)
    text = record.get("text")
    if text is None:
        raise BadRecord("missing text", doc_id)
    if not isinstance(text, str):
        raise BadRecord(f"text is not a string (got {type(text).__name__})", doc_id)
    if not text.strip():
        raise BadRecord("empty text", doc_id)
    if len(text) > limits.max_chars_per_doc:
        raise BadRecord(f"text too long: {len(text)} chars > max_chars_per_doc "
                        f"{limits.max_chars_per_doc}", doc_id)
    title = record.get("title") or ""
    if not isinstance(title, str):
        raise BadRecord(f"title is not a string (got {type(title).__name__})", doc_id)
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise BadRecord(f"metadata is not an object (got {type(metadata).__name__})", doc_id)
    extra: dict[str, Any] = {k: v for k, v in record.items() if k not in RESERVED}
    return Document.create(id=doc_id, text=text, title=title, doc_type="record",
                           metadata={**extra, **metadata, "source_file": source.rel_path})


def _bad(source: SourceFile, line_no: int, reason: str, record_id: str = "") -> Quarantined:
    return Quarantined(id=record_id or f"{source.rel_path}:{line_no}", source=source.url,
                       stage="load", reason=f"line {line_no}: {reason}",
                       detail=f"{source.rel_path} line {line_no}")
