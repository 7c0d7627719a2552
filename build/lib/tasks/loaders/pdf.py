"""PDF loader (pypdf): one Document per file, pages joined with form feed ``\\f``.

``text.split("\\f")[i]`` is page ``i + 1`` (empty pages stay as empty strings between form feeds;
trailing empty pages vanish in normalisation, ``n_pages`` still counts them).

Guards: a ``%PDF-`` header and ``%%EOF`` trailer are required (pypdf would otherwise "recover" a
truncated file silently), every pypdf stream decoder is capped at ``max_pdf_stream_bytes`` of
output (decompression bombs), page count and extracted characters are capped, and any error while
parsing becomes a rejection with a reason.
"""

from __future__ import annotations

import io

import pypdf
from pypdf.errors import FileNotDecryptedError, LimitReachedError

from tasks.documents import Document
from tasks.loaders.base import LoadLimits, LoadRejected, stem
from tasks.sources import SourceFile

PAGE_BREAK = "\f"
_TRAILER_WINDOW = 2048


def _stream_caps(limit: int) -> dict[str, int]:
    return {key: limit for key in (
        "maximum_declared_stream_length", "array_based_stream_maximum_output_length",
        "jbig2_maximum_output_length", "lzw_maximum_output_length",
        "run_length_maximum_output_length", "zlib_maximum_output_length",
        "brotli_maximum_output_length", "image_maximum_buffer_size",
        "stream_decoding_work_maximum_length")}


def parse_pdf(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    if not data:
        raise LoadRejected("empty file")
    if b"%PDF-" not in data[:1024]:
        raise LoadRejected("not a PDF (no %PDF- header)")
    if b"%%EOF" not in data.rstrip(b"\x00 \t\r\n")[-_TRAILER_WINDOW:]:
        raise LoadRejected("corrupt PDF: truncated (no %%EOF trailer)")
    try:
        with pypdf.apply_configuration(**_stream_caps(limits.max_pdf_stream_bytes)):
            return _extract(data, source, limits)
    except LoadRejected:
        raise
    except LimitReachedError as exc:
        raise LoadRejected("PDF decompression limit exceeded (possible decompression bomb)",
                           str(exc)) from None
    except FileNotDecryptedError as exc:
        raise LoadRejected("encrypted PDF (password required)", str(exc)) from None
    except RecursionError:
        raise LoadRejected("corrupt PDF: RecursionError (object nesting too deep)") from None
    except Exception as exc:  # noqa: BLE001 - pypdf raises many types on hostile input
        raise LoadRejected(f"corrupt PDF: {type(exc).__name__}", str(exc)[:500]) from None


def _extract(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        raise LoadRejected("encrypted PDF (password required)")
    n_pages = len(reader.pages)
    if n_pages > limits.max_pdf_pages:
        raise LoadRejected(f"too many pages: {n_pages} > max_pdf_pages {limits.max_pdf_pages}")
    pages: list[str] = []
    n_chars = 0
    for number, page in enumerate(reader.pages, start=1):
        text = (page.extract_text() or "").replace(PAGE_BREAK, " ")
        n_chars += len(text) + 1
        if n_chars > limits.max_chars_per_doc:
            raise LoadRejected(f"text too long: more than {limits.max_chars_per_doc} chars "
                               f"(max_chars_per_doc) by page {number} of {n_pages}")
        pages.append(text.strip())
    if not any(pages):
        raise LoadRejected("no extractable text in PDF (scanned or image-only?)")
    metadata: dict[str, object] = {"source_file": source.rel_path, "n_pages": n_pages}
    info_title = reader.metadata.title if reader.metadata else None
    title = info_title.strip() if isinstance(info_title, str) and info_title.strip() else ""
    return Document.create(id=source.rel_path, text=PAGE_BREAK.join(pages),
                           title=title or stem(source.rel_path), doc_type="pdf",
                           metadata=metadata)
