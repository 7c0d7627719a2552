"""The strategy registries: ``STRATEGIES`` (what the benchmark loops over) and ``TYPE_CHUNKERS``.

A strategy plans one document: ``(DocContext) -> list[Draft]``; counting happens in one batch later.
"""

from __future__ import annotations

from collections.abc import Callable

from tasks.chunking.code import chunk_code
from tasks.chunking.core import DocContext, Draft, drop_repeated_title
from tasks.chunking.counting import CUT_SPACE
from tasks.chunking.markdown import chunk_markdown
from tasks.chunking.segments import line_spans, sentence_spans, strip_span, word_spans
from tasks.registry import Registry

Strategy = Callable[[DocContext], list[Draft]]


def chunk_text(ctx: DocContext) -> list[Draft]:
    """Plain text: whole if it fits, else sentence-aligned windows with overlap."""
    return ctx.fit_or_windows(0, len(ctx.text))


def chunk_record(ctx: DocContext) -> list[Draft]:
    """BEIR-style record: ``title + " " + text`` if it fits, else title-prefixed windows."""
    return ctx.fit_or_windows(0, len(ctx.text))


def chunk_html(ctx: DocContext) -> list[Draft]:
    """Extracted HTML text (a block per line): consecutive blocks grouped up to the budget."""
    blocks = line_spans(ctx.text, 0, len(ctx.text))
    return drop_repeated_title(ctx, ctx.group(blocks, lambda s, e: ctx.windows(s, e)))


def chunk_pdf(ctx: DocContext) -> list[Draft]:
    """PDF text with pages separated by form feeds: per page (``page``, 1-based), then windows."""
    drafts: list[Draft] = []
    start = 0
    for page, body in enumerate(ctx.text.split("\f"), start=1):
        drafts += ctx.fit_or_windows(start, start + len(body), page=page)
        start += len(body) + 1
    return drafts


TYPE_CHUNKERS: Registry[Strategy] = Registry("per-type chunker", {
    "markdown": chunk_markdown,
    "text": chunk_text,
    "html": chunk_html,
    "pdf": chunk_pdf,
    "code": chunk_code,
    "record": chunk_record,
})


def chunk_per_type(ctx: DocContext) -> list[Draft]:
    try:
        chunker = TYPE_CHUNKERS[ctx.doc.doc_type]
    except KeyError:
        raise ValueError(f"{ctx.doc.id}: no chunker for doc_type {ctx.doc.doc_type!r}; "
                         f"known: {', '.join(TYPE_CHUNKERS)}") from None
    return chunker(ctx)


def chunk_whole(ctx: DocContext) -> list[Draft]:
    """One chunk per document; over the limit: consecutive windows, or with ``truncate`` a cut."""
    if ctx.truncate:
        total = len(ctx.tokens.starts)
        if total <= ctx.max_tokens:
            return [ctx.draft(0, len(ctx.text), truncated=False)]
        keep = ctx.max_tokens
        cut = ctx.tokens.offsets[keep - 1][1]
        meta = {"truncated": True, "tokens_kept": keep, "tokens_dropped": total - keep}
        clean = ctx.additive and ctx.tokenized[cut] in CUT_SPACE  # else recounted in the batch
        return [Draft((0, max(0, cut - len(ctx.prefix))), bool(ctx.prefix), meta,
                      ctx.tokenized[:cut], keep if clean else None)]
    start, end = strip_span(ctx.text, 0, len(ctx.text))
    if ctx.count(start, end) <= ctx.fit_budget:
        return [ctx.draft(start, end)] if end > start else []
    # Consecutive windows as large as the model allows, sentence-aligned, no overlap.
    return ctx.windows(0, len(ctx.text), sentence_spans, overlap=0, budget=ctx.fit_budget)


def chunk_window(ctx: DocContext) -> list[Draft]:
    """Windows of ``window_tokens`` body tokens with ``overlap_tokens``, at word boundaries."""
    return ctx.windows(0, len(ctx.text), word_spans)


STRATEGIES: Registry[Strategy] = Registry("chunking strategy", {
    "per_type": chunk_per_type,
    "whole": chunk_whole,
    "window": chunk_window,
})
