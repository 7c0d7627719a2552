"""Plain-text file loaders: markdown, text, source code."""

from __future__ import annotations

import re

from tasks.documents import Document
from tasks.loaders.base import LoadLimits, decode_text, stem
from tasks.sources import SourceFile

_FENCE = re.compile(r"^\s{0,3}(```|~~~)")
_ATX_H1 = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$")
_SETEXT_H1 = re.compile(r"^\s{0,3}=+\s*$")

LANGUAGES = {".py": "python", ".js": "javascript", ".mjs": "javascript", ".ts": "typescript",
             ".go": "go", ".rs": "rust", ".java": "java"}


def markdown_title(text: str) -> str:
    """The first level-1 heading (``# Title`` or ``Title`` over ``===``) outside code fences."""
    in_fence, previous = False, ""
    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence, previous = not in_fence, ""
            continue
        if in_fence:
            continue
        match = _ATX_H1.match(line)
        if match:
            return match.group(1)
        if previous.strip() and _SETEXT_H1.match(line):
            return previous.strip()
        previous = line
    return ""


def parse_markdown(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    text = decode_text(data, limits)
    return Document.create(id=source.rel_path, text=text,
                           title=markdown_title(text) or stem(source.rel_path),
                           doc_type="markdown", metadata={"source_file": source.rel_path})


def parse_text(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    return Document.create(id=source.rel_path, text=decode_text(data, limits),
                           title=stem(source.rel_path), doc_type="text",
                           metadata={"source_file": source.rel_path})


def parse_code(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    name = source.rel_path.rsplit("/", 1)[-1]
    language = LANGUAGES.get("." + name.rsplit(".", 1)[-1].lower(), "unknown")
    return Document.create(id=source.rel_path, text=decode_text(data, limits), title=name,
                           doc_type="code",
                           metadata={"source_file": source.rel_path, "language": language})
