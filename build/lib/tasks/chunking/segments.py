"""Text primitives: spans of sentences, lines, blocks and words; token counts; window packing.

A *span* is ``(start, end)`` char offsets into a document body, trimmed of surrounding whitespace.
Every splitter returns spans that together cover every non-whitespace character of its input range,
in order, so chunks packed from them cover the whole body.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence

Span = tuple[int, int]

_NON_SPACE = re.compile(r"\S+")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)"  # ASCII: then whitespace
                           r"|[\u3002\uff01\uff1f]+[\"'\u201d\u2019\u300d\u300f)\]]*")  # CJK
_PARAGRAPH = re.compile(r"\n[ \t\f\v]*\n")
_NEWLINE = re.compile(r"\n")
_BLANK_LINES = re.compile(r"\n[ \t\f\v]*(?:\n[ \t\f\v]*)+")
_ABBREVIATIONS = frozenset(
    "al approx ca cf dr e.g eg etc fig figs i.e ie inc jr mr mrs ms no nos prof ref refs sr st vs"
    .split())


class TokenIndex:
    """Token start offsets of one tokenized string; counts the tokens starting inside a span.

    The tokenized string is ``prefix + body``; spans are body offsets (``base = len(prefix)``).
    """

    def __init__(self, offsets: Sequence[tuple[int, int]], base: int = 0):
        self.base = base
        self.offsets = offsets
        self.starts = [start for start, _ in offsets]
        self.n_prefix = bisect_left(self.starts, base)

    def count(self, start: int, end: int) -> int:
        b = self.base
        return bisect_left(self.starts, end + b) - bisect_left(self.starts, start + b)

    def starts_in(self, start: int, end: int) -> list[int]:
        b = self.base
        lo, hi = bisect_left(self.starts, start + b), bisect_left(self.starts, end + b)
        return [s - b for s in self.starts[lo:hi]]


def _trimmed(text: str, cuts: list[int], start: int, end: int) -> list[Span]:
    """Split ``text[start:end]`` at ``cuts`` (sorted) and trim whitespace; drop empty pieces."""
    spans, prev = [], start
    for cut in [*cuts, end]:
        piece = text[prev:cut]
        body = piece.strip()
        if body:
            s = prev + len(piece) - len(piece.lstrip())
            spans.append((s, s + len(body)))
        prev = cut
    return spans


def _is_abbreviation(text: str, dot: int, start: int) -> bool:
    word_start = max(text.rfind(" ", start, dot), text.rfind("\n", start, dot)) + 1
    word = text[word_start:dot].lower().lstrip("([\"'")
    if word.isdigit() and len(word) <= 3 and not text[text.rfind("\n", start, word_start) + 1:
                                                        word_start].strip():
        return True  # "2. Validate": a list number at the start of a line
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str, start: int, end: int,
                   breaks: re.Pattern[str] = _PARAGRAPH) -> list[Span]:
    """Sentences of ``text[start:end]``; every match of ``breaks`` (paragraph breaks) cuts too."""
    cuts = [m.start() for m in breaks.finditer(text, start, end)]
    for m in _SENTENCE_END.finditer(text, start, end):
        if text[m.start()] == ".":
            nxt = _NEXT_CHAR.match(text, m.end(), end)
            if nxt is None or nxt.group(1).islower() or _is_abbreviation(text, m.start(), start):
                continue  # "e.g. the", "Fig. 2", "J. Smith": not a sentence end
        cuts.append(m.end())
    cuts.sort()
    return _trimmed(text, cuts, start, end)


def line_spans(text: str, start: int, end: int) -> list[Span]:
    """Non-blank lines."""
    return _trimmed(text, [m.start() for m in _NEWLINE.finditer(text, start, end)], start, end)


def block_spans(text: str, start: int, end: int) -> list[Span]:
    """Blocks separated by blank lines."""
    return _trimmed(text, [m.start() for m in _BLANK_LINES.finditer(text, start, end)], start, end)


def word_spans(text: str, start: int, end: int) -> list[Span]:
    """Whitespace-separated words."""
    return [m.span() for m in _NON_SPACE.finditer(text, start, end)]


def token_spans(tokens: TokenIndex, start: int, end: int) -> list[Span]:
    """Cut a span at every token start (last resort for a word longer than the budget)."""
    cuts = [s for s in tokens.starts_in(start, end) if s > start]
    bounds = [start, *cuts, end]
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def strip_span(text: str, start: int, end: int) -> Span:
    """The span without surrounding whitespace (empty: ``(start, start)``)."""
    piece = text[start:end]
    body = piece.strip()
    lead = len(piece) - len(piece.lstrip()) if body else 0
    return start + lead, start + lead + len(body)


Splitter = Callable[[str, int, int], list[Span]]


def fit_units(text: str, tokens: TokenIndex, units: list[Span],
              budget: int) -> tuple[list[Span], list[int]]:
    """Units and their token counts, every unit over ``budget`` replaced by its words, and every
    word over it by its tokens."""
    out: list[Span] = []
    counts: list[int] = []
    count = tokens.count
    for s, e in units:
        n = count(s, e)
        if n <= budget:
            out.append((s, e))
            counts.append(n)
            continue
        for ws, we in word_spans(text, s, e):
            pieces = [(ws, we)] if count(ws, we) <= budget else token_spans(tokens, ws, we)
            out.extend(pieces)
            counts.extend(count(ps, pe) for ps, pe in pieces)
    return out, counts


def pack(counts: Sequence[int], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy windows ``[i, j)`` over units with ``sum(counts) <= budget`` (each count <= budget).

    Consecutive windows share the longest run of whole trailing units worth ``<= overlap`` tokens
    that still leaves room for the next new unit; every window adds at least one new unit.
    """
    windows: list[tuple[int, int]] = []
    i, n = 0, len(counts)
    while i < n:
        total, j = 0, i
        while j < n and total + counts[j] <= budget:
            total += counts[j]
            j += 1
        j = max(j, i + 1)  # defensive: a unit over budget still goes alone (verified later)
        windows.append((i, j))
        if j >= n:
            break
        k, shared = j, 0
        while k - 1 > i and shared + counts[k - 1] <= overlap \
                and shared + counts[k - 1] + counts[j] <= budget:
            k -= 1
            shared += counts[k]
        i = k
    return windows
