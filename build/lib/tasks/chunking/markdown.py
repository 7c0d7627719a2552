"""Markdown: one chunk per heading section (heading path in ``section``), long sections windowed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

from tasks.chunking.core import DocContext, Draft, drop_repeated_title
from tasks.chunking.segments import sentence_spans

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# Cut before list items, quotes, tables, headings and fences, not at soft-wrapped prose lines.
_BREAKS = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+>|#]|\d+[.)]|```|~~~))")
markdown_units = partial(sentence_spans, breaks=_BREAKS)


@dataclass(frozen=True)
class Section:
    start: int
    end: int
    path: str


def headings(text: str) -> list[tuple[int, int, str]]:
    """``(char offset, level, title)`` of ATX and setext headings outside fenced code."""
    found: list[tuple[int, int, str]] = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    fence = ""
    for i, line in enumerate(lines):
        fm = _FENCE.match(line)
        if fence:
            if fm and fm.group(1)[0] == fence[0] and len(fm.group(1)) >= len(fence) \
                    and not line[fm.end():].strip():
                fence = ""
            continue
        if fm:
            fence = fm.group(1)
            continue
        if m := _ATX.match(line):
            found.append((offsets[i], len(m.group(1)), (m.group(2) or "").strip()))
        elif (m := _SETEXT.match(line)) and i > 0 and lines[i - 1].strip() \
                and not _ATX.match(lines[i - 1]) and (i == 1 or not lines[i - 2].strip()) \
                and (not found or found[-1][0] != offsets[i - 1]):
            found.append((offsets[i - 1], 1 if m.group(1)[0] == "=" else 2, lines[i - 1].strip()))
    return found


def sections(text: str) -> list[Section]:
    """Preamble (path "") and one section per heading, each from its heading to the next one."""
    marks = headings(text)
    out = [Section(0, marks[0][0] if marks else len(text), "")]
    stack: list[tuple[int, str]] = []
    for k, (start, level, title) in enumerate(marks):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
        out.append(Section(start, end, " > ".join(t for _, t in stack if t)))
    return [s for s in out if text[s.start:s.end].strip()]


def merge_small(ctx: DocContext, secs: list[Section]) -> list[Section]:
    """A section under ``min_chunk_tokens`` (e.g. a lone heading) joins the next one, unless that
    would push a next section that fits on its own over the limit."""
    out: list[Section] = []
    carry: int | None = None
    for k, sec in enumerate(secs):
        start = sec.start if carry is None else carry
        nxt = secs[k + 1] if k + 1 < len(secs) else None
        if nxt is not None and ctx.count(start, sec.end) < ctx.settings.min_chunk_tokens and (
                ctx.count(start, nxt.end) <= ctx.fit_budget
                or ctx.count(nxt.start, nxt.end) > ctx.fit_budget):
            carry = start
            continue
        out.append(Section(start, sec.end, sec.path))
        carry = None
    return out


def chunk_markdown(ctx: DocContext) -> list[Draft]:
    drafts: list[Draft] = []
    for sec in merge_small(ctx, sections(ctx.text)):
        drafts += ctx.fit_or_windows(sec.start, sec.end, markdown_units, section=sec.path)
    return drop_repeated_title(ctx, drafts)
