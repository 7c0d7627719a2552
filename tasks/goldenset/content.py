"""What each document of an index holds *now*: its content hash (staleness) and what a person reads.

A qrel records the content hash of its document when it was labelled; a later evaluation compares
it with the hash of the document in tonight's index. The hash is the ``Document.content_hash`` of
the snapshot the index was built from (``manifest.snapshot_version``: the local snapshot, or the same
version restored from DVC), prefixed ``doc:``. Only when no snapshot can be read (an index restored
without its snapshot) is it computed from the index's own chunks (``chunks:`` + sha256 over the
chunk hashes in order) — that one also changes when the chunking changes, so hashes of different
kinds are never compared (such a qrel counts as *unverified*, not stale).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tasks.documents import sha256_text

logger = logging.getLogger(__name__)
SNAPSHOT = Path("documents") / "documents.parquet"


@dataclass(frozen=True)
class IndexDocuments:
    hashes: dict[str, str]  # doc_id -> "doc:<sha256>" | "chunks:<sha256>"
    titles: dict[str, str] = field(default_factory=dict)
    source: str = ""  # "snapshot <version>" | "chunks"


def chunk_hashes(chunks: Any) -> dict[str, str]:
    """``chunks:`` + sha256 over each document's chunk content hashes in ordinal order."""
    frame = chunks[["doc_id", "ordinal", "content_hash"]].sort_values(["doc_id", "ordinal"], kind="stable")
    out: dict[str, list[str]] = {}
    for doc, digest in zip(frame["doc_id"].astype(str), frame["content_hash"].astype(str)):
        out.setdefault(doc, []).append(digest)
    return {doc: "chunks:" + sha256_text(*parts) for doc, parts in out.items()}


def _titles(chunks: Any) -> dict[str, str]:
    import json

    first = chunks.drop_duplicates("doc_id")
    out = {}
    for doc, meta in zip(first["doc_id"].astype(str), first["metadata"]):
        data = json.loads(meta) if isinstance(meta, str) else dict(meta or {})
        out[doc] = str(data.get("title") or "")
    return out


def _snapshot_frame(loaded: Any, settings: Any) -> tuple[Any, str] | None:
    """The documents snapshot the index was built from, or None."""
    import pandas as pd

    from tasks.publishing import build_version

    version = getattr(loaded.manifest, "snapshot_version", "") or ""
    if not version or settings is None:
        return None
    folder = settings.snapshot_dir / SNAPSHOT.parent
    if build_version(folder) == version and (folder / SNAPSHOT.name).is_file():
        return pd.read_parquet(folder / SNAPSHOT.name, columns=["id", "content_hash"]), version
    try:  # the snapshot moved on (a later reindex was rejected, or rebuilt): bring this version back from DVC
        from tasks import versioning

        repo = versioning.ensure_repo(settings.workspace, settings.dvc_remote_name, settings.dvc_remote_url)
        with tempfile.TemporaryDirectory(dir=settings.data_dir) as tmp:
            restored = versioning.restore(repo, version, Path(tmp), name="documents")
            return pd.read_parquet(restored / SNAPSHOT.name, columns=["id", "content_hash"]), version
    except Exception as exc:  # noqa: BLE001 - any failure falls back to the chunk hashes, said in the log
        logger.warning("documents snapshot %s cannot be read (%s); content hashes come from the index's chunks",
                       version, exc)
        return None


def index_documents(loaded: Any, settings: Any = None) -> IndexDocuments:
    """Content hash and title of every document in ``loaded`` (see the module docstring)."""
    from_chunks = chunk_hashes(loaded.chunks)
    snapshot = _snapshot_frame(loaded, settings)
    if snapshot is None:
        return IndexDocuments(from_chunks, _titles(loaded.chunks), "chunks")
    frame, version = snapshot
    by_id = dict(zip(frame["id"].astype(str), frame["content_hash"].astype(str)))
    hashes = {doc: (f"doc:{by_id[doc]}" if doc in by_id else h) for doc, h in from_chunks.items()}
    return IndexDocuments(hashes, _titles(loaded.chunks), f"snapshot {version}")


def compare(recorded: str, now: str | None) -> str:
    """``vanished`` | ``changed`` | ``same`` | ``unverified`` (no hash recorded, or hashes of different kinds)."""
    if now is None:
        return "vanished"
    if not recorded or recorded.split(":", 1)[0] != now.split(":", 1)[0]:
        return "unverified"
    return "same" if recorded == now else "changed"
