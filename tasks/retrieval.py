"""Opening a published index artifact and its embedder; the ``Hit`` a query returns.

Queries go through ``tasks.retriever.IndexRetriever`` (the one query path)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tasks.embedding import EmbedderConfig, load_embedder
from tasks.index_artifact import LoadedIndex, load_index_artifact
from tasks.publishing import IndexStore


class NoPublishedIndex(RuntimeError):
    pass


class FingerprintMismatch(RuntimeError):
    pass


@dataclass(frozen=True)
class Hit:
    doc_id: str
    chunk_id: str
    score: float
    text: str
    metadata: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def open_index(index_dir: Path, version: str | None = None) -> LoadedIndex:
    """The published index (``current``), or a local build by DVC version prefix; checksums verified."""
    store = IndexStore(index_dir)
    folder = store.find_version(version) if version else store.current()
    if folder is None:
        what = f"no local build has version {version}" if version else "no index has been published yet"
        hint = ("restore it with `nightshift index restore VERSION`" if version
                else "run `nightshift reindex` first")
        raise NoPublishedIndex(f"{what} under {index_dir}; {hint}")
    return load_index_artifact(folder)


def embedder_for(loaded: LoadedIndex):
    """The embedder the index was built with; refuses one whose fingerprint differs."""
    cfg = EmbedderConfig.model_validate(loaded.manifest.embedder_config or {"model": loaded.manifest.embedder["name"]})
    embedder = load_embedder(cfg)
    check_fingerprint(loaded, embedder.fingerprint)
    return embedder


def check_fingerprint(loaded: LoadedIndex, fingerprint: str) -> None:
    if fingerprint != loaded.manifest.embedder_fingerprint:
        raise FingerprintMismatch(
            f"index {loaded.folder.name} was built with embedder {loaded.manifest.embedder_fingerprint} "
            f"but the query embedder is {fingerprint}; reindex with this embedder or query with the original")
