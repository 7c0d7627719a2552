"""Human-readable output for the CLI (rich tables); --json output bypasses this module."""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

# A terminal sets its own width; piped into a log (CI, cron, `| tee`) rich would assume 80 columns and
# cut the benchmark's candidate names, so there the width is 120 unless COLUMNS says otherwise.
console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120)


def print_reindex(r: dict[str, Any]) -> None:
    colour = {"published": "green", "unchanged": "cyan", "rejected": "yellow"}.get(r["status"], "red")
    console.print(f"[bold {colour}]{r['status']}[/] index {r.get('index_version') or '-'}  "
                  f"(MLflow run {r['run_id']})")
    table = Table(show_header=True, header_style="bold")
    for col in ("documents", "chunks", "embedded", "reused", "quarantined", "seconds"):
        table.add_column(col, justify="right")
    table.add_row(*(str(r[f"n_{c}"]) for c in ("documents", "chunks", "embedded", "reused", "quarantined")),
                  f"{r['seconds']:.1f}")
    console.print(table)
    if r.get("reason"):
        console.print(f"reason: {r['reason']}")
    if r.get("seconds_by_stage"):
        console.print("stages: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["seconds_by_stage"].items()))


def print_hits(hits: list[dict[str, Any]]) -> None:
    if not hits:
        console.print("no hits")
    for rank, h in enumerate(hits, 1):
        text = " ".join(h["text"].split())
        console.print(f"[bold]{rank:>2}. {h['score']:.3f}[/]  [cyan]{h['doc_id']}[/] ({h['chunk_id']})")
        console.print(f"    {text[:240]}{'…' if len(text) > 240 else ''}", highlight=False)


def print_search(record: dict[str, Any]) -> None:
    console.print(f"[dim]index {record['index_version']} ({record['retriever']})[/]")
    print_hits(record["hits"])


def print_versions(data: dict[str, Any]) -> None:
    table = Table("", "build", "version", "chunks", "index", "created")
    for b in data["builds"]:
        table.add_row("*" if b["current"] else "", b["build_id"], b["version"][:12],
                      str(b.get("n_chunks", "?")), b.get("index_spec", b.get("error", "")), b.get("created_at", ""))
    console.print(table)
    console.print(f"{len(data['history'])} publications in history.jsonl (* = current)")


def print_backfill(summary: dict[str, Any]) -> None:
    table = Table("date", "status", "index version", "MLflow run", "reason")
    for row in summary["dates"]:
        table.add_row(row["date"], row["status"], row["index_version"][:12], row["run_id"][:12], row["reason"][:80])
    console.print(table)
    console.print(f"{summary['flow']} {summary['start']}..{summary['end']}: "
                  + ", ".join(f"{n} {s}" for s, n in sorted(summary["counts"].items())))
