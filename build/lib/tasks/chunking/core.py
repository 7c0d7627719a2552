"""Per-document chunking context, drafts, and the batched count-and-repair step that makes chunks.

Boundaries are planned from ONE batched tokenization of ``prefix + body`` per document (token
offsets -> counts of any span by bisection). The exact count of every planned chunk text is then
taken in ONE batched tokenizer call; the rare chunk that re-tokenizes over the limit is split again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tasks.chunking.config import ChunkingConfig, TypeSettings
from tasks.chunking.counting import CUT_SPACE, count_many, is_additive, offsets_many
from tasks.chunking.segments import (
    Span, Splitter, TokenIndex, fit_units, pack, sentence_spans, strip_span, token_spans,
    word_spans)
from tasks.documents import Chunk, Document
from tasks.tokens import TokenCounter


@dataclass(frozen=True)
class Draft:
    """A planned chunk: body span, whether the title prefix is on, metadata; count once known."""

    span: Span
    prefixed: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str = ""
    n_tokens: int | None = None


@dataclass
class DocContext:
    """What a strategy needs to plan one document's chunks."""

    doc: Document
    settings: TypeSettings
    max_tokens: int
    tokens: TokenIndex  # over ``tokenized`` = title prefix + body
    tokenized: str
    prefix: str  # the title prefix in force ("" when off or too long)
    truncate: bool = False
    additive: bool = False  # counts of whitespace-bounded slices are sums of their tokens

    def __post_init__(self) -> None:
        self.prefix_tokens = self.tokens.n_prefix if self.prefix else 0
        self.fit_budget = self.max_tokens - self.prefix_tokens
        self.window_budget = min(self.settings.window_tokens, self.fit_budget)
        self.overlap = min(self.settings.overlap_tokens, self.window_budget // 2)

    @property
    def text(self) -> str:
        return self.doc.text

    def count(self, start: int, end: int) -> int:
        return self.tokens.count(start, end)

    def render(self, start: int, end: int, prefixed: bool) -> str:
        return (self.prefix if prefixed else "") + self.doc.text[start:end]

    def draft(self, start: int, end: int, prefixed: bool = True, **meta: Any) -> Draft:
        prefixed = prefixed and bool(self.prefix)
        text = self.render(start, end, prefixed)
        if text == self.tokenized:  # the string already tokenized: its count is known
            return Draft((start, end), prefixed, meta, text, len(self.tokens.starts))
        n = None
        if self.additive and (start == 0 or self.text[start - 1] in CUT_SPACE) \
                and (end == len(self.text) or self.text[end] in CUT_SPACE):
            n = self.count(start, end) + (self.prefix_tokens if prefixed else 0)
        return Draft((start, end), prefixed, meta, text, n)

    def windows(self, start: int, end: int, splitter: Splitter = sentence_spans,
                overlap: int | None = None, prefixed: bool = True, budget: int | None = None,
                **meta: Any) -> list[Draft]:
        """Pack the splitter's units into windows of ``window_budget`` tokens with overlap."""
        budget = budget or self.window_budget
        units, counts = fit_units(self.text, self.tokens, splitter(self.text, start, end), budget)
        overlap = self.overlap if overlap is None else min(overlap, budget // 2)
        return [self.draft(units[i][0], units[j - 1][1], prefixed, **meta)
                for i, j in pack(counts, budget, overlap)]

    def fit_or_windows(self, start: int, end: int, splitter: Splitter = sentence_spans,
                       prefixed: bool = True, **meta: Any) -> list[Draft]:
        """One chunk if the span fits ``max_tokens``, else windows."""
        start, end = strip_span(self.text, start, end)
        if start == end:
            return []
        if self.count(start, end) <= self.fit_budget:
            return [self.draft(start, end, prefixed, **meta)]
        return self.windows(start, end, splitter, prefixed=prefixed, **meta)

    def group(self, blocks: Sequence[Span], split: Callable[[int, int], list[Draft]],
              **meta: Any) -> list[Draft]:
        """Consecutive blocks grouped up to ``window_budget``; a block over it goes to ``split``."""
        drafts: list[Draft] = []
        run: list[Span] = []
        counts: list[int] = []

        def flush() -> None:
            drafts.extend(self.draft(run[i][0], run[j - 1][1], **meta)
                          for i, j in pack(counts, self.window_budget, 0))
            run.clear()
            counts.clear()

        for s, e in blocks:
            n = self.count(s, e)
            if n > self.window_budget:
                flush()
                drafts.extend(split(s, e))
            else:
                run.append((s, e))
                counts.append(n)
        flush()
        return drafts

    # -- after the batched count ------------------------------------------------------------

    def repair(self, draft: Draft, counter: TokenCounter) -> list[Draft]:
        """Split (or, when truncating, cut shorter) a draft whose real count is over the limit."""
        if draft.metadata.get("truncated"):
            return [self._retruncate(draft, counter)]
        s, e = draft.span
        text = self.render(s, e, draft.prefixed)
        n = counter.count(text)
        if n <= self.max_tokens:
            return [replace(draft, text=text, n_tokens=n)]
        cuts = [w[0] for w in word_spans(self.text, s, e)[1:]] \
            or [p[0] for p in token_spans(self.tokens, s, e)[1:]]
        if not cuts:
            if e - s <= 1:
                raise ValueError(
                    f"{self.doc.id}: {text[:40]!r} cannot fit {self.max_tokens} tokens")
            cuts = [(s + e) // 2]
        mid = cuts[len(cuts) // 2]
        left = replace(draft, span=(s, _rstrip(self.text, s, mid)), n_tokens=None)
        right = replace(draft, span=(mid, e), n_tokens=None)
        return self.repair(left, counter) + self.repair(right, counter)

    def _retruncate(self, draft: Draft, counter: TokenCounter) -> Draft:
        keep = draft.metadata["tokens_kept"]
        while True:
            keep -= 1
            cut = self.tokens.offsets[keep - 1][1] if keep > 0 else 0
            text = self.tokenized[:cut]
            n = counter.count(text)
            if n <= self.max_tokens:
                body_end = max(0, cut - len(self.prefix))
                meta = {**draft.metadata, "tokens_kept": keep,
                        "tokens_dropped": len(self.tokens.starts) - keep}
                return Draft((0, body_end), draft.prefixed, meta, text, n)


def _rstrip(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def build_contexts(docs: Sequence[Document], counter: TokenCounter,
                   config: ChunkingConfig) -> list[DocContext]:
    """Tokenize every ``title prefix + body`` in one batch and wrap each document in a context."""
    per_type = {t: config.for_type(t) for t in {doc.doc_type for doc in docs}}
    settings = [per_type[doc.doc_type] for doc in docs]
    prefixes = [doc.title + " " if s.include_title and doc.title.strip() else ""
                for doc, s in zip(docs, settings)]
    tokenized = [p + doc.text for p, doc in zip(prefixes, docs)]
    offsets = offsets_many(counter, tokenized)
    additive = is_additive(counter)
    contexts = []
    for doc, s, prefix, full, offs in zip(docs, settings, prefixes, tokenized, offsets):
        tokens = TokenIndex(offs, base=len(prefix))
        # A title longer than half the budget would starve the body: leave it out (recorded).
        in_force = prefix if config.truncate or tokens.n_prefix <= counter.max_tokens // 2 else ""
        contexts.append(DocContext(doc, s, counter.max_tokens, tokens, full, in_force,
                                   config.truncate, additive))
    return contexts


def finalize(contexts: Sequence[DocContext], drafts: Sequence[list[Draft]],
             counter: TokenCounter, chunker_of: Callable[[DocContext], str]) -> list[Chunk]:
    """Count every unknown draft in one batch, repair the few over the limit, build the chunks."""
    pending = [(i, k) for i, ds in enumerate(drafts) for k, d in enumerate(ds)
               if d.n_tokens is None]
    counts = count_many(counter, [drafts[i][k].text for i, k in pending])
    counted = [list(ds) for ds in drafts]
    for (i, k), n in zip(pending, counts):
        counted[i][k] = replace(counted[i][k], n_tokens=n)
    chunks: list[Chunk] = []
    for ctx, ds in zip(contexts, counted):
        fixed = [p for d in ds for p in (
            [d] if d.n_tokens <= ctx.max_tokens else ctx.repair(d, counter))]
        chunker = chunker_of(ctx)
        for ordinal, d in enumerate(fixed):
            meta = {"chunker": chunker, **d.metadata}
            meta.pop("tokens_kept", None)
            if ctx.doc.title:
                meta["title_prefixed"] = d.prefixed
            chunks.append(Chunk.create(ctx.doc, ordinal, d.text, d.n_tokens, d.span, meta))
    return chunks


def _first_line(text: str, start: int, end: int) -> str:
    stop = text.find("\n", start, end)
    return text[start:end if stop < 0 else stop].strip().lstrip("#").strip()


def drop_repeated_title(ctx: DocContext, drafts: list[Draft]) -> list[Draft]:
    """No title prefix on a chunk whose first line already is the title (a markdown/HTML h1)."""
    title = ctx.doc.title.strip()
    return [ctx.draft(*d.span, prefixed=False, **d.metadata)
            if d.prefixed and _first_line(ctx.text, *d.span) == title else d for d in drafts]
