"""The data model: documents, chunks and quarantined records, with their content hashes."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

DOC_TYPES = ("markdown", "text", "html", "pdf", "code", "record")


def normalize_text(text: str) -> str:
    """NFC-normalise, unify newlines, strip trailing blanks per line; the form that is hashed and chunked."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    # Strip spaces and tabs only: a form feed marks a PDF page break and must survive.
    return "\n".join(line.rstrip(" \t") for line in text.split("\n")).strip(" \t\n")


def sha256_text(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def _stable_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Document:
    """One source document after loading. ``content_hash`` covers what affects chunking."""

    id: str
    text: str
    title: str = ""
    doc_type: str = "text"
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""

    @classmethod
    def create(cls, id: str, text: str, title: str = "", doc_type: str = "text",
               metadata: dict[str, Any] | None = None) -> "Document":
        metadata = dict(metadata or {})
        text, title = normalize_text(text), normalize_text(title)
        digest = sha256_text(doc_type, title, text, _stable_json(metadata))
        return cls(id=id, text=text, title=title, doc_type=doc_type, metadata=metadata,
                   content_hash=digest)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["metadata"] = _stable_json(self.metadata)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "Document":
        record = dict(record)
        if isinstance(record.get("metadata"), str):
            record["metadata"] = json.loads(record["metadata"])
        return cls(**record)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough for the embedder (``n_tokens <= max_tokens``)."""

    id: str
    doc_id: str
    ordinal: int
    text: str
    n_tokens: int
    span: tuple[int, int]
    metadata: dict[str, Any] = field(default_factory=dict)
    content_hash: str = ""

    @classmethod
    def create(cls, doc: Document, ordinal: int, text: str, n_tokens: int,
               span: tuple[int, int], metadata: dict[str, Any] | None = None) -> "Chunk":
        meta = {**doc.metadata, **(metadata or {}), "doc_type": doc.doc_type, "title": doc.title}
        return cls(id=f"{doc.id}#{ordinal}", doc_id=doc.id, ordinal=ordinal, text=text,
                   n_tokens=n_tokens, span=span, metadata=meta,
                   content_hash=sha256_text(text))

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["span_start"], record["span_end"] = record.pop("span")
        record["metadata"] = _stable_json(self.metadata)
        return record


@dataclass(frozen=True)
class Quarantined:
    """A record that could not be indexed, and why. Nothing is dropped silently."""

    id: str
    source: str
    stage: str  # "load" | "document" | "chunk" | "vector"
    reason: str
    detail: str = ""

    def to_record(self) -> dict[str, Any]:
        return asdict(self)
