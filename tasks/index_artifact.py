"""The index artifact: one directory = index.faiss + chunks.parquet + manifest.json (+ bm25/ when the spec needs it).

The manifest records the embedder fingerprint, the index spec, counts, and a sha256 of every file,
checked at load: a truncated or swapped file is refused with a clear message, never served.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from tasks.documents import Chunk
from tasks.model_files import sha256_file

INDEX_FILE, CHUNKS_FILE, MANIFEST_FILE, BM25_DIR = "index.faiss", "chunks.parquet", "manifest.json", "bm25"


class IndexCorrupted(RuntimeError):
    """An index directory failed its checksum or consistency checks."""


class IndexManifest(BaseModel):
    format_version: int = 1
    embedder: dict[str, Any]
    embedder_config: dict[str, Any] = Field(default_factory=dict)  # loads the same embedder at query time
    embedder_fingerprint: str
    dim: int
    index_spec: str
    index_kind: str
    index_params: dict[str, Any] = Field(default_factory=dict)
    index_config: dict[str, Any] = Field(default_factory=dict)  # the IndexConfig it was built with (updates need equal)
    build: dict[str, Any] = Field(default_factory=dict)  # mode full|incremental, reason, generation, counts
    chunking: dict[str, Any] = Field(default_factory=dict)
    corpus_fingerprint: str
    snapshot_version: str = ""
    source: str = ""
    retriever: dict[str, Any] = Field(default_factory=dict)  # the RetrieverSpec this index serves (tasks/retriever.py)
    loading: dict[str, Any] = Field(default_factory=dict)  # include/exclude/limits/document rules the source was read with
    n_documents: int
    n_chunks: int
    validation: dict[str, Any] = Field(default_factory=dict)
    ann_validation: dict[str, Any] = Field(default_factory=dict)  # queries, n_queries, recall_at_10, search_params
    files: dict[str, str] = Field(default_factory=dict)  # name -> sha256
    created_at: str = Field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))


def chunks_frame(chunks: list[Chunk]) -> pd.DataFrame:
    return pd.DataFrame([c.to_record() for c in chunks],
                        columns=["id", "doc_id", "ordinal", "text", "n_tokens", "span_start", "span_end",
                                 "metadata", "content_hash"])


def write_index_artifact(folder: Path, index, chunks: list[Chunk], manifest: IndexManifest,
                         bm25: Any = None) -> IndexManifest:
    """Write the files (``bm25``: a ``Bm25Index`` saved under ``bm25/``), fsync them, and record their
    sha256 in the manifest (written last)."""
    import faiss

    folder.mkdir(parents=True, exist_ok=False)
    faiss.write_index(index, str(folder / INDEX_FILE))
    chunks_frame(chunks).to_parquet(folder / CHUNKS_FILE, index=False)
    names = [INDEX_FILE, CHUNKS_FILE]
    if bm25 is not None:
        saved = bm25.save(folder / BM25_DIR)
        names += sorted(p.relative_to(folder).as_posix() for p in saved.rglob("*") if p.is_file())
    files = {name: sha256_file(folder / name) for name in names}
    manifest = manifest.model_copy(update={"files": files})
    _write_atomic(folder / MANIFEST_FILE, manifest.model_dump_json(indent=2))
    for name in names:
        _fsync(folder / name)
    return manifest


def read_manifest(folder: Path) -> IndexManifest:
    path = folder / MANIFEST_FILE
    try:
        return IndexManifest.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise IndexCorrupted(f"{folder}: no {MANIFEST_FILE} (incomplete build?)") from None
    except ValueError as exc:
        raise IndexCorrupted(f"{path}: unreadable manifest ({exc.__class__.__name__})") from None


@dataclass
class LoadedIndex:
    folder: Path
    index: Any
    chunks: pd.DataFrame
    manifest: IndexManifest


def verify_files(folder: Path, manifest: IndexManifest) -> None:
    """Every file of the artifact exists and matches its manifest sha256, else ``IndexCorrupted``."""
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise IndexCorrupted(f"{path} is missing; restore the index with `nightshift index restore`")
        if sha256_file(path) != expected:
            raise IndexCorrupted(
                f"{path} does not match its manifest checksum (corrupted or modified); "
                "restore it with `nightshift index restore VERSION` or rerun `nightshift reindex`")


def load_index_artifact(folder: Path, verify: bool = True, mmap: bool | None = None) -> LoadedIndex:
    """The verified artifact. ``mmap`` (default: the manifest's ``index_config.on_disk``) memory-maps
    index.faiss read-only instead of reading it into memory; an update needs ``mmap=False``."""
    import faiss

    folder = Path(folder)
    manifest = read_manifest(folder)
    if verify:
        verify_files(folder, manifest)
    try:  # unverified loads still fail as IndexCorrupted, never as a raw FAISS/Arrow error
        on_disk = manifest.index_config.get("on_disk", False) if mmap is None else mmap
        flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if on_disk else 0
        index = faiss.read_index(str(folder / INDEX_FILE), flags)
        chunks = pd.read_parquet(folder / CHUNKS_FILE)
    except (RuntimeError, OSError, ValueError) as exc:
        raise IndexCorrupted(f"{folder} cannot be read ({str(exc).splitlines()[0][:200]}); "
                             "restore it with `nightshift index restore VERSION` or rerun `nightshift reindex`") from exc
    if index.ntotal != len(chunks) or index.ntotal != manifest.n_chunks:
        raise IndexCorrupted(f"{folder}: index has {index.ntotal} vectors, chunks.parquet {len(chunks)} rows, "
                             f"manifest {manifest.n_chunks}")
    params = manifest.ann_validation.get("search_params")
    if params:  # the tuned setting (also in index.faiss): every query path searches with it
        from tasks.ann_tuning import apply_search_params

        apply_search_params(index, params)
    return LoadedIndex(folder, index, chunks, manifest)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
