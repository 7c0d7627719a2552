"""HTML loader: visible text with block structure (one block per line, blank line between
paragraph-level blocks); script/style/nav and other non-content elements dropped."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup, Comment, Doctype, NavigableString, Tag

from tasks.documents import Document
from tasks.loaders.base import LoadLimits, LoadRejected, check_length, decode_text, stem
from tasks.sources import SourceFile

DROP = frozenset({"script", "style", "nav", "noscript", "template", "svg", "iframe", "head",
                  "button", "form", "object", "embed", "canvas"})
# Blocks separated by a blank line, and blocks that only start a new line.
PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "table",
                        "ul", "ol", "dl", "section", "article", "main", "header", "footer",
                        "aside", "figure", "details", "hr", "address", "fieldset"})
LINES = frozenset({"div", "li", "tr", "dt", "dd", "br", "caption", "figcaption", "summary"})
_SPACE = re.compile(r"\s+")


class _Blocks:
    """Accumulates inline text; a block boundary flushes it as one line."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.line: list[str] = []
        self.gap = ""

    def text(self, value: str, pre: bool) -> None:
        if pre:
            self.line.append(value)
        elif value.strip() or self.line:
            self.line.append(_SPACE.sub(" ", value))

    def cells(self, tag: str) -> None:
        if tag in ("td", "th") and self.line:
            self.line.append(" | ")

    def boundary(self, gap: str) -> None:
        line = "".join(self.line).strip(" \t")
        self.line = []
        if line.strip():
            if self.out:
                self.out.append(self.gap)
            self.out.append(line)
            self.gap = gap
        elif gap == "\n\n":
            self.gap = gap

    def result(self) -> str:
        self.boundary("")
        return "".join(self.out)


def html_text(root: Tag) -> str:
    blocks = _Blocks()
    _walk(root, blocks, pre=False)
    return blocks.result()


def _walk(node: Tag, blocks: _Blocks, pre: bool) -> None:
    for child in node.children:
        if isinstance(child, (Comment, Doctype)):
            continue
        if isinstance(child, NavigableString):
            blocks.text(str(child), pre)
            continue
        if not isinstance(child, Tag) or child.name in DROP or child.has_attr("hidden"):
            continue
        name = child.name
        if name in ("td", "th"):
            blocks.cells(name)
            _walk(child, blocks, pre)
            continue
        gap = "\n\n" if name in PARAGRAPHS else "\n" if name in LINES else ""
        if gap:
            blocks.boundary(gap)
        _walk(child, blocks, pre or name == "pre")
        if gap:
            blocks.boundary(gap)


def parse_html(data: bytes, source: SourceFile, limits: LoadLimits) -> Document:
    soup = BeautifulSoup(decode_text(data, limits), "html.parser")
    title_tag = soup.find("title")
    title = _SPACE.sub(" ", title_tag.get_text()).strip() if title_tag else ""
    if not title and (h1 := soup.find("h1")) is not None:
        title = _SPACE.sub(" ", h1.get_text()).strip()
    html_tag = soup.find("html")
    lang = html_tag.get("lang") if isinstance(html_tag, Tag) else None
    text = html_text(soup.body or soup)
    if not text.strip():
        raise LoadRejected("no text after HTML extraction")
    check_length(text, limits)
    metadata = {"source_file": source.rel_path}
    if isinstance(lang, str) and lang:
        metadata["lang"] = lang
    return Document.create(id=source.rel_path, text=text, title=title or stem(source.rel_path),
                           doc_type="html", metadata=metadata)
