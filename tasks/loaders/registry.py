"""The loader registry: file suffix -> Loader. Longest registered suffix wins (``.jsonl.gz``)."""

from __future__ import annotations

from pathlib import PurePosixPath

from tasks.loaders.base import Loader
from tasks.loaders.html import parse_html
from tasks.loaders.pdf import parse_pdf
from tasks.loaders.records import stream_records
from tasks.loaders.text import LANGUAGES, parse_code, parse_markdown, parse_text
from tasks.registry import Registry

BUILTIN_LOADERS = (
    Loader("markdown", "markdown", (".md", ".markdown"), parse=parse_markdown),
    Loader("text", "text", (".txt",), parse=parse_text),
    Loader("html", "html", (".html", ".htm"), parse=parse_html),
    Loader("pdf", "pdf", (".pdf",), parse=parse_pdf),
    Loader("code", "code", tuple(LANGUAGES), parse=parse_code),
    Loader("jsonl", "record", (".jsonl", ".jsonl.gz"), stream=stream_records),
)

LOADERS: Registry[Loader] = Registry("loader")  # file suffix -> Loader


def register_loader(loader: Loader, *, replace: bool = False) -> None:
    for suffix in loader.suffixes:
        suffix = suffix.lower()
        if not suffix.startswith(".") or (suffix in LOADERS and not replace):
            raise ValueError(f"cannot register {loader.name} for {suffix!r}")
        LOADERS[suffix] = loader


for _loader in BUILTIN_LOADERS:
    register_loader(_loader)


def supported_suffixes() -> list[str]:
    return sorted(LOADERS)


def suffix_of(rel_path: str) -> str:
    """The registered suffix the name ends with (longest first), else its last suffix or ``""``."""
    name = rel_path.rsplit("/", 1)[-1].lower()
    for suffix in sorted(LOADERS, key=len, reverse=True):
        if name.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return PurePosixPath(name).suffix


def loader_for(rel_path: str) -> Loader | None:
    return LOADERS.get(suffix_of(rel_path))


def unsupported_reason(rel_path: str) -> str:
    suffix = suffix_of(rel_path)
    kind = f"unsupported file type {suffix}" if suffix else "unsupported file type (no suffix)"
    return f"{kind}; supported: {', '.join(supported_suffixes())}"
