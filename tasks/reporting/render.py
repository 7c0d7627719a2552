"""A tiny document model rendered twice: Markdown (report.md) and self-contained HTML (report.html).

A document is a list of blocks: ``("h1"|"h2"|"p", text)``, ``("list", [text])``,
``("table", DataFrame)``, ``("img", (file name, caption))``. Numbers are shown with 4 decimals.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import pandas as pd

Block = tuple[str, Any]
_CSS = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}"
        ".pass{color:#18794e}.fail{color:#c62828}img{max-width:100%}")


def cell(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1e6 else f"{value:.4g}"
    return str(value)


def _md_table(frame: pd.DataFrame) -> str:
    header = [str(c).replace("|", "\\|") for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(cell(v).replace("|", "\\|").replace("\n", " ") for v in row) + " |")
    return "\n".join(lines)


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for kind, value in blocks:
        if kind in ("h1", "h2"):
            out.append(("# " if kind == "h1" else "## ") + value)
        elif kind == "p":
            out.append(value)
        elif kind == "list":
            out.append("\n".join(f"- {item}" for item in value) or "- (none)")
        elif kind == "table":
            out.append(_md_table(value) if len(value) else "(no rows)")
        elif kind == "img":
            out.append(f"![{value[1]}]({value[0]})")
    return "\n\n".join(out) + "\n"


def _html_table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"n" if isinstance(v, (int, float)) else ""}">{html.escape(cell(v))}</td>'
                         for v in row) + "</tr>"
        for row in frame.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _img_src(name: str, folder: Path | None) -> str:
    """The PNG inlined as a data URI, so the page shows its plots anywhere (the MLflow artifact viewer, a mail)."""
    path = None if folder is None else folder / name
    if path is None or not path.is_file():
        return html.escape(name)
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def to_html(blocks: list[Block], title: str, folder: Path | None = None) -> str:
    """``folder``: where the ``img`` blocks' files are; they are embedded (else linked by name)."""
    parts = []
    for kind, value in blocks:
        if kind in ("h1", "h2", "p"):
            text = html.escape(value).replace("**PASS**", '<b class="pass">PASS</b>')
            text = text.replace("**FAIL**", '<b class="fail">FAIL</b>')
            parts.append(f"<{kind}>{text}</{kind}>")
        elif kind == "list":
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in value) + "</ul>")
        elif kind == "table":
            parts.append(_html_table(value) if len(value) else "<p>(no rows)</p>")
        elif kind == "img":
            parts.append(f'<figure><img src="{_img_src(value[0], folder)}" alt="{html.escape(value[1])}">'
                         f"<figcaption>{html.escape(value[1])}</figcaption></figure>")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")
