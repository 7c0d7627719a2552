"""What every loader shares: limits, the rejection exception, strict text decoding, ``Loader``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from pydantic import BaseModel, ConfigDict, Field

from tasks.documents import DOC_TYPES, Document, Quarantined
from tasks.sources import SourceFile

MiB = 1024 * 1024

# Bytes that are neither printable nor ordinary whitespace (\t \n \v \f \r stay allowed).
_CONTROL = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
BINARY_CONTROL_SHARE = 0.05  # random bytes: ~10%; UTF-8 prose and code: ~0%
_SNIFF_BYTES = 64 * 1024


class LoadLimits(BaseModel):
    """Resource limits for loading one source. A file or record over a limit is quarantined, never
    truncated. ``max_file_bytes`` applies to files read whole; streamed record files (``.jsonl``,
    ``.jsonl.gz``) are bounded per record by ``max_chars_per_doc`` instead."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_bytes: int = Field(20 * MiB, gt=0)
    max_pdf_pages: int = Field(2000, gt=0)
    max_chars_per_doc: int = Field(2_000_000, gt=0)
    max_pdf_stream_bytes: int = Field(32 * MiB, gt=0)  # inflated size of any one PDF stream (bombs)

    @property
    def max_record_line_bytes(self) -> int:
        """Longest JSON line worth parsing: every char escaped as ``\\uXXXX`` plus slack."""
        return 6 * self.max_chars_per_doc + 64 * 1024


class LoadRejected(Exception):
    """A whole file (or the rest of a stream) cannot become documents; ``reason`` is stable text."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


# A streamed item and the 1-based line it came from (None for whole-file documents).
Loaded = tuple[Document | Quarantined, int | None]
ParseFn = Callable[[bytes, SourceFile, LoadLimits], Document]
StreamFn = Callable[[SourceFile, LoadLimits], Iterator[Loaded]]


@dataclass(frozen=True)
class Loader:
    """``parse`` gets the whole file (capped by ``max_file_bytes``); ``stream`` reads it itself."""

    name: str
    doc_type: str
    suffixes: tuple[str, ...]
    parse: ParseFn | None = None
    stream: StreamFn | None = None

    def __post_init__(self) -> None:
        if self.doc_type not in DOC_TYPES:
            raise ValueError(f"loader {self.name}: doc_type {self.doc_type!r} not in {DOC_TYPES}")
        if (self.parse is None) == (self.stream is None):
            raise ValueError(f"loader {self.name}: give exactly one of parse/stream")


def sniff_binary(sample: bytes) -> str:
    """A rejection reason if ``sample`` looks binary, else ``""``."""
    if b"\x00" in sample:
        return "binary content (NUL bytes)"
    head = sample[:_SNIFF_BYTES]
    n_control = len(head.translate(None, _NOT_CONTROL))
    if head and n_control / len(head) > BINARY_CONTROL_SHARE:
        return f"binary content ({n_control / len(head):.0%} control characters)"
    return ""


def decode_text(data: bytes, limits: LoadLimits) -> str:
    """Strict UTF-8 (a leading BOM is dropped), refusing binary, empty and oversized text."""
    if not data:
        raise LoadRejected("empty file")
    reason = sniff_binary(data)
    if reason:
        raise LoadRejected(reason)
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    try:
        text = data[offset:].decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start + offset
        raise LoadRejected(f"invalid UTF-8 at byte {start}",
                           f"bytes {data[start:start + 4]!r}: {exc.reason}") from None
    if not text.strip():
        raise LoadRejected("whitespace-only file")
    check_length(text, limits)
    return text


def check_length(text: str, limits: LoadLimits) -> None:
    if len(text) > limits.max_chars_per_doc:
        raise LoadRejected(f"text too long: {len(text)} chars > max_chars_per_doc "
                           f"{limits.max_chars_per_doc}")


def stem(rel_path: str) -> str:
    """``guides/cache.md`` -> ``cache`` (the fallback title)."""
    return PurePosixPath(rel_path).stem
