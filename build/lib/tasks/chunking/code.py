"""Source code: Python by top-level definition (``ast``), anything else by blank-line blocks.

Each top-level def/class (with its decorators and the comment lines right above it) is a chunk;
the code around them (module preamble, ``if __name__ == ...``) forms its own chunks. A class that
is too long splits into its header and its methods; anything still too long becomes line windows.
"""

from __future__ import annotations

import ast
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import PurePosixPath

from tasks.chunking.core import DocContext, Draft
from tasks.chunking.segments import block_spans, line_spans

LANGUAGES = {".py": "python", ".pyi": "python", ".js": "javascript", ".mjs": "javascript",
             ".ts": "typescript", ".go": "go", ".rs": "rust", ".java": "java", ".rb": "ruby",
             ".sh": "shell", ".c": "c", ".h": "c", ".cpp": "cpp", ".sql": "sql"}
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def detect_language(ctx: DocContext) -> str:
    doc = ctx.doc
    if doc.metadata.get("language"):
        return str(doc.metadata["language"]).lower()
    names = [doc.metadata.get(k) for k in ("path", "source", "filename", "name")]
    names += [doc.title, doc.id]
    for name in names:
        if isinstance(name, str) and (lang := LANGUAGES.get(PurePosixPath(name).suffix.lower())):
            return lang
    return "unknown"


@dataclass(frozen=True)
class Segment:
    first: int  # 1-based line numbers, inclusive
    last: int
    kind: str
    symbol: str
    node: ast.AST | None = None


def partition(nodes: list[ast.stmt], first: int, last: int, lines: list[str], owner: str = "",
              gap_kinds: tuple[str, str] = ("preamble", "module")) -> list[Segment]:
    """Lines ``first..last`` cut into definitions and the gaps between them."""
    segs: list[Segment] = []
    cursor = first
    for node in nodes:
        if not isinstance(node, _DEFS):
            continue
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        while start - 1 >= cursor and lines[start - 2].lstrip().startswith("#"):
            start -= 1  # comments directly above a definition belong to it
        if start > cursor:
            segs.append(Segment(cursor, start - 1, gap_kinds[bool(segs)], owner.rstrip(".")))
        kind = "class" if isinstance(node, ast.ClassDef) else ("method" if owner else "function")
        segs.append(Segment(start, node.end_lineno or start, kind, owner + node.name, node))
        cursor = (node.end_lineno or start) + 1
    if cursor <= last:
        segs.append(Segment(cursor, last, gap_kinds[bool(segs)], owner.rstrip(".")))
    return segs


class _Code:
    def __init__(self, ctx: DocContext, language: str):
        self.ctx, self.language = ctx, language
        self.lines = ctx.text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def span(self, seg: Segment) -> tuple[int, int]:
        return self.starts[seg.first - 1], self.starts[seg.last] - 1

    def meta(self, **extra: object) -> dict:
        return {"language": self.language, **{k: v for k, v in extra.items() if v}}

    def segment(self, seg: Segment) -> list[Draft]:
        s, e = self.span(seg)
        ctx = self.ctx
        if ctx.count(s, e) > ctx.fit_budget and isinstance(seg.node, ast.ClassDef):
            inner = partition(seg.node.body, seg.first, seg.last, self.lines, seg.symbol + ".",
                              ("class", "class_body"))
            if len(inner) > 1:
                return [d for sub in inner for d in self.segment(sub)]
        meta = self.meta(kind=seg.kind, symbol=seg.symbol)
        return ctx.fit_or_windows(s, e, line_spans, **meta)

    def with_lines(self, drafts: list[Draft]) -> list[Draft]:
        out = []
        for d in drafts:
            first, last = (bisect_right(self.starts, p) for p in (d.span[0], max(d.span[1] - 1, 0)))
            out.append(Draft(d.span, d.prefixed, {**d.metadata, "lines": [first, last]}, d.text,
                             d.n_tokens))
        return out


def chunk_code(ctx: DocContext) -> list[Draft]:
    code = _Code(ctx, detect_language(ctx))
    if code.language == "python":
        try:
            tree = ast.parse(ctx.text)
        except (SyntaxError, ValueError, RecursionError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            segs = partition(tree.body, 1, len(code.lines), code.lines)
            return code.with_lines([d for seg in segs for d in code.segment(seg)])
    else:
        error = ""
    meta = code.meta(kind="block", parse_error=error)
    drafts = ctx.group(block_spans(ctx.text, 0, len(ctx.text)),
                       lambda s, e: ctx.windows(s, e, line_spans, **meta), **meta)
    return code.with_lines(drafts)
