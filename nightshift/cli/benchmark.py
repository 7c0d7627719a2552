"""``nightshift benchmark``: run the grid, print the comparison table and the recommendation."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nightshift.cli import app as base
from nightshift.cli.app import ConfigOpt, JsonOpt, SetOpt, SettingsOpt, default_config, emit, json_stdout, run_guarded


def overrides_for(datasets: list[str], models: list[str], sets: list[str], force: bool) -> list[str]:
    """CLI options as ``--set`` overrides (``--dataset``/``--model`` replace the config's lists)."""
    import json

    out = list(sets)
    if datasets:
        out.append("datasets=" + json.dumps([{"path": d} for d in datasets]))
    if models:
        out.append("grid.embedders=" + json.dumps(models))
    if force:
        out.append("force=true")
    return out


def print_benchmark(record: dict[str, Any]) -> None:
    from rich.table import Table

    from nightshift.cli.render import console

    table = Table(show_header=True, header_style="bold")
    columns = {"dataset": "dataset", "candidate": "candidate", "ndcg@10": "ndcg@10", "recall@100": "recall@100",
               "mrr@10": "mrr@10", "docs_per_s": "docs/s", "query_p95_ms": "p95 ms", "index_bytes": "index MB"}
    for col, header in columns.items():
        if col == "candidate":  # the names matter most: folded onto more lines, never cut to "all-Mi…"
            table.add_column(header, overflow="fold", min_width=12)
        else:
            table.add_column(header, justify="left" if col == "dataset" else "right", no_wrap=True)
    for r in record["results"]:
        cells = [r["dataset"], r["candidate"] + (" (cached)" if r["cached"] else "")]
        for col in list(columns)[2:]:
            v = r.get(col)
            cells.append("-" if v is None else f"{v:.4f}" if col in ("ndcg@10", "recall@100", "mrr@10")
                         else f"{v / 1e6:,.1f}" if col == "index_bytes" else f"{v:,.1f}")
        if r["status"] != "ok":
            cells[2] = f"[red]{r['status']}[/]"
        table.add_row(*cells)
    console.print(table)
    console.print(f"[bold]recommended:[/] {record['recommended'] or 'none'} — {record['reason']}")
    console.print(f"MLflow parent run {record['run_id']}; report files in {record['report_dir']}")
    console.print(f"embedded {record['n_embedded']} chunks ({record['n_reused']} from the vector cache), "
                  f"{record['n_cached_results']} cached results reused, {record['n_computed_results']} computed")


def benchmark(
    config: Optional[Path] = ConfigOpt,
    dataset: Optional[list[str]] = typer.Option(None, "--dataset", "-d", help="A BEIR-layout folder (repeatable; replaces the config's datasets)."),
    model: Optional[list[str]] = typer.Option(None, "--model", "-m", help="An embedder registry name, preset, local folder or cached HF id (repeatable; default all-MiniLM-L6-v2)."),
    set_: Optional[list[str]] = SetOpt,
    force: bool = typer.Option(False, "--force", help="Recompute results even when cached for (dataset hash, candidate fingerprint)."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    r"""Benchmark embedders x chunkers x FAISS indexes x retrieval modes (x rerankers) on BEIR datasets.

    Defaults (configs/benchmark.yaml): the MTEB protocol — whole documents (title + " " + text) cut
    at the model's limit, all-MiniLM-L6-v2, exact (flat) dense search. Widen the grid with e.g.
    --set 'grid.retrieval=\[dense,bm25,hybrid]' --set 'grid.indexes=\[flat,hnsw]'.
    """
    def go() -> dict:
        from flows.benchmark import benchmark as benchmark_flow
        from tasks.benchmark.config import BenchmarkConfig
        from tasks.config.loader import load_config

        getattr(base, "quiet_tracebacks", lambda: None)()
        overrides = overrides_for(dataset or [], model or [], set_ or [], force)
        cfg = load_config(BenchmarkConfig, default_config("benchmark", config), overrides)
        with json_stdout(as_json):
            return benchmark_flow(cfg, base.load_settings(settings))

    record = run_guarded(go)
    emit(record, as_json, print_benchmark)
    if record["results"] and all(r["status"] != "ok" for r in record["results"]):
        raise typer.Exit(1)
