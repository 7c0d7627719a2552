"""Chunking: documents -> token-bounded chunks, per document type (ARCHITECTURE §3).

``chunk_documents(docs, counter, config)`` is the entry point; ``STRATEGIES`` and ``TYPE_CHUNKERS``
are the registries the benchmark loops over; ``ChunkingConfig.fingerprint()`` goes into the index
fingerprint. A chunk's ``text`` is exactly what gets embedded and ``n_tokens`` its count with the
embedder's own tokenizer (always ``<= counter.max_tokens``; with ``truncate`` the text is cut to fit
and the chunk says ``truncated: true``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tasks.chunking.config import CHUNKING_VERSION, ChunkingConfig, TypeOverrides
from tasks.chunking.core import build_contexts, finalize
from tasks.chunking.strategies import STRATEGIES, TYPE_CHUNKERS
from tasks.documents import Chunk, Document
from tasks.tokens import TokenCounter

__all__ = ["CHUNKING_VERSION", "STRATEGIES", "TYPE_CHUNKERS", "ChunkingConfig", "TypeOverrides",
           "chunk_documents", "summarize_chunks"]

log = logging.getLogger(__name__)


def chunk_documents(docs: Sequence[Document], counter: TokenCounter,
                    config: ChunkingConfig | None = None, batch_docs: int = 2048) -> list[Chunk]:
    """Chunks of every document, in input order, ordinals from 0 per document. Deterministic.

    Documents go through the tokenizer ``batch_docs`` at a time (bounds memory; the result does
    not depend on it): one batched call for token offsets, at most one to recount chunk texts.
    """
    config = config or ChunkingConfig()
    strategy = STRATEGIES[config.strategy]
    label = ((lambda ctx: f"per_type:{ctx.doc.doc_type}") if config.strategy == "per_type"
             else (lambda ctx: config.strategy))
    chunks: list[Chunk] = []
    for lo in range(0, len(docs), batch_docs):
        contexts = build_contexts(docs[lo:lo + batch_docs], counter, config)
        # An empty body with a title still yields its title (as MTEB embeds "title " + "").
        drafts = [strategy(ctx) or ([ctx.draft(0, 0)] if ctx.prefix else []) for ctx in contexts]
        chunks += finalize(contexts, drafts, counter, label)
    stats = summarize_chunks(chunks, docs)
    if stats["truncated_chunks"]:
        log.warning("truncate=True: %d of %d documents cut to %d tokens (%d tokens dropped)",
                    stats["truncated_chunks"], len(docs), counter.max_tokens,
                    stats["tokens_dropped"])
    if stats["docs_without_chunks"]:
        log.warning("%d documents have no text to chunk: %s", stats["docs_without_chunks"],
                    ", ".join(stats["empty_doc_ids"][:10]))
    return chunks


def summarize_chunks(chunks: Sequence[Chunk], docs: Sequence[Document] = ()) -> dict[str, Any]:
    """Counts worth logging with a run: chunks, split documents, truncations, empty documents."""
    per_doc = Counter(c.doc_id for c in chunks)
    empty = [d.id for d in docs if d.id not in per_doc]
    tokens = [c.n_tokens for c in chunks]
    return {
        "documents": len(docs) if docs else len(per_doc),
        "chunks": len(chunks),
        "split_docs": sum(1 for n in per_doc.values() if n > 1),
        "max_tokens_seen": max(tokens, default=0),
        "mean_tokens": sum(tokens) / len(tokens) if tokens else 0.0,
        "truncated_chunks": sum(1 for c in chunks if c.metadata.get("truncated")),
        "tokens_dropped": sum(c.metadata.get("tokens_dropped", 0) for c in chunks),
        "docs_without_chunks": len(empty),
        "empty_doc_ids": empty,
    }
