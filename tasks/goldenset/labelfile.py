"""The labelling file: one CSV a person fills in a spreadsheet, one row per (query, candidate document).

Columns (``COLUMNS``; the first four are required, the rest help the person or carry provenance):

============  =========================================================================================
query_id      the golden query id (stable: a hash of the normalised query text)
query         the query text
doc_id        the candidate document (an id of the published index)
relevance     **the person fills this**: 0 = not relevant, 1 = relevant, 2 = highly relevant; blank = not
              judged (skipped, kept for later)
title         the document's title
passage       the passage the retrievers surfaced (its best chunk, newlines flattened, cut)
labeller      optional: who judged this row (default: ``golden label --by``, else the OS user)
notes         free text, ignored
source        why the row is here: ``init`` | ``feedback`` | ``refresh`` | ``relabel``
found_by      which pooled retriever found it at which rank, e.g. ``dense:1 bm25:4 hybrid:2``
feedback      the user feedback that proposed the row (``add-feedback``), e.g. ``-1``
doc_hash      the document's content hash when the file was written: what the person read
log_query_id  the query's id in the query log it was sampled from
stratum       the sampling stratum (cluster / length / script)
============  =========================================================================================

A sidecar ``<file>.json`` records how the file was made (golden set name, pool depth and retrievers,
index version, log hash); ``golden label`` reads the golden set name from it unless ``--name`` is given.
Passages are written on one line so that the file's line numbers are the spreadsheet's row numbers.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

COLUMNS = ["query_id", "query", "doc_id", "relevance", "title", "passage", "labeller", "notes", "source",
           "found_by", "feedback", "doc_hash", "log_query_id", "stratum"]
REQUIRED = ("query_id", "query", "doc_id", "relevance")
GRADES = (0, 1, 2)


class LabelFileError(ValueError):
    """The labelling file is refused; the message names every problem with its line (also in ``problems``)."""

    def __init__(self, message: str, problems: list[str] | None = None, headline: str = "") -> None:
        super().__init__(message)
        self.problems = [message] if problems is None else problems
        self.headline = headline or message


@dataclass(frozen=True)
class RawLabels:
    rows: list[dict[str, str]]  # one per data row, with "_line" (the physical line the row starts on)
    header: list[str]
    path: Path
    sha256: str


def flat(text: Any, limit: int | None = None) -> str:
    """One-line text (newlines and tabs become spaces), cut at ``limit`` characters with an ellipsis."""
    value = " ".join(str(text or "").split())
    return value if limit is None or len(value) <= limit else value[: max(0, limit - 1)].rstrip() + "…"


def labelling_dir(settings: Any, name: str) -> Path:
    """Where the labelling files of golden set ``name`` go: ``<data>/labelling/<name>/`` (init, refresh, feedback,
    relabel)."""
    return settings.data_dir / "labelling" / name


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_label_file(path: Path, rows: Iterable[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """Write the CSV (``COLUMNS``, rows as given) and its sidecar; returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: flat(row.get(k, "")) for k in COLUMNS})
    tmp.replace(path)
    sidecar(path).write_text(json.dumps({**meta, "n_rows": len(rows),
                                         "n_queries": len({r["query_id"] for r in rows})}, indent=2, default=str),
                             encoding="utf-8")
    return path


def read_meta(path: Path) -> dict[str, Any]:
    try:
        return json.loads(sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def read_label_file(path: Path | str) -> RawLabels:
    """Parse the CSV with line numbers; refuse a file that is not one (wrong columns, truncated rows)."""
    from tasks.model_files import sha256_file

    path = Path(path)
    if not path.is_file():
        raise LabelFileError(f"labelling file {path} does not exist")
    try:
        data = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelFileError(f"{path}: not UTF-8 text ({exc}); save the sheet as CSV UTF-8") from None
    if not data.strip():
        raise LabelFileError(f"{path}: the file is empty; expected a header with {', '.join(REQUIRED)}")
    reader = csv.reader(data.splitlines(keepends=True), strict=True)
    problems: list[str] = []
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise LabelFileError(f"{path}: line 1: the header is not CSV ({exc})") from None
    _check_header(path, header)
    rows, start = [], 2
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(f"line {start}: not valid CSV ({exc}): the file is truncated or a quote is unbalanced")
            break
        line, start = start, reader.line_num + 1
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            ends_file = reader.line_num == data.count("\n") + (0 if data.endswith("\n") else 1)
            why = " (the file ends mid-row: truncated?)" if ends_file and len(fields) < len(header) else ""
            problems.append(f"line {line}: {len(fields)} fields, the header has {len(header)}{why}")
            continue
        rows.append({**dict(zip(header, (f.strip() for f in fields))), "_line": line})
    if problems:
        raise LabelFileError(refusal(path, problems), problems, headline(path, problems))
    if not rows:
        raise LabelFileError(f"{path}: no data rows below the header")
    return RawLabels(rows, header, path, sha256_file(path))


def _check_header(path: Path, header: list[str]) -> None:
    duplicated = sorted({h for h in header if header.count(h) > 1})
    missing = [c for c in REQUIRED if c not in header]
    if missing or duplicated:
        what = (f"missing required column(s) {', '.join(missing)}" if missing else "") + (
            ("; " if missing else "") + f"duplicated column(s) {', '.join(duplicated)}" if duplicated else "")
        raise LabelFileError(f"{path}: line 1: {what}; the header has: {', '.join(header) or '(nothing)'}. "
                             f"Required: {', '.join(REQUIRED)}")


def headline(path: Path, problems: list[str]) -> str:
    return f"{path}: refused, {len(problems)} problem(s); nothing was imported, the golden set is unchanged"


def refusal(path: Path, problems: list[str], limit: int = 30) -> str:
    shown = problems[:limit]
    more = f"; ... and {len(problems) - limit} more" if len(problems) > limit else ""
    return (f"{path}: refused, {len(problems)} problem(s), nothing was imported "
            f"(the golden set is unchanged): " + "; ".join(shown) + more)
