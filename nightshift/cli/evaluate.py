"""``nightshift evaluate``: evaluate the published index against the champion, or promote a champion."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nightshift.cli.app import (ConfigOpt, JsonOpt, SetOpt, SettingsOpt, default_config, emit, json_stdout,
    load_settings, quiet_tracebacks, run_guarded)


def print_evaluation(r: dict[str, Any]) -> None:
    from rich.table import Table

    from nightshift.cli.render import console

    colour = "green" if r["status"] == "pass" else "red"
    console.print(f"[bold {colour}]{r['status'].upper()}[/] {r['reason']}", highlight=False, soft_wrap=True)
    table = Table("metric", "tonight", "Δ vs champion", header_style="bold")
    for name, value in r["metrics"].items():
        delta = r["delta"].get(name)
        table.add_row(name, f"{value:.4f}", "" if delta is None else f"{delta:+.4f}")
    console.print(table)
    if r.get("p_value") is not None:
        console.print(f"{r['gate_metric']}: CI [{r['ci_low']:+.4f}, {r['ci_high']:+.4f}], "
                      f"p={r['p_value']:.4g}, n={r['n_queries']}; champion {r['champion_run_id']}", soft_wrap=True)
    version = r.get("golden_label_version") or (r.get("golden_hash") or "")[:12]
    console.print(f"golden set {r.get('golden', '')} version {version} (DVC {str(r.get('golden_version', ''))[:12]})"
                  + (f"; {r['n_stale']} stale qrels excluded, relabel queue: {r['relabel_queue']}"
                     if r.get("n_stale") else ""), highlight=False, soft_wrap=True)
    for message in r.get("golden_messages", []):
        console.print(f"golden set: {message}", highlight=False, soft_wrap=True)
    console.print(f"report: {r['report']}\nreview queue ({r['n_review']} rows): {r['review_queue']}\n"
                  f"MLflow run {r['run_id']} (`nightshift ui`)", highlight=False, soft_wrap=True)


def _promote(run_id: str, settings: Optional[Path]) -> dict:
    from tasks.evaluate.champion import promote
    from tasks.tracking import Tracker

    return promote(Tracker(load_settings(settings)), run_id)


def evaluate(
    config: Optional[Path] = ConfigOpt,
    golden: Optional[str] = typer.Option(None, "--golden", "-g",
                                         help="Golden set: a NAME under data/golden/ or a folder (queries.jsonl + qrels/)."),
    index_version: Optional[str] = typer.Option(None, "--index", help="A local index version (default: current)."),
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
    promote: Optional[str] = typer.Option(None, "--promote", help="Make this MLflow run the champion, then exit."),
) -> None:
    """Evaluate the published index on the golden set and gate it against the champion.

    Exit 0: pass. Exit 1: the gate failed (a significant drop larger than gate.min_effect, or a floor
    breached; the MLflow run, report and review queue are logged first) or the run could not complete.
    """
    if promote:
        with json_stdout(as_json):
            done = run_guarded(lambda: _promote(promote, settings))
        emit(done, as_json, lambda r: typer.echo(
            f"run {r['promoted']} is now the champion for {r['golden']} (since {r['champion_since']})"))
        return

    def go() -> dict:
        from flows.evaluate import evaluate as evaluate_flow
        from tasks.config.loader import load_config
        from tasks.evaluate.config import EvaluateConfig
        from tasks.evaluate.prefect_tasks import GateFailed

        quiet_tracebacks()
        where = str(Path(golden).resolve()) if golden and Path(golden).is_dir() else golden  # else a NAME
        overrides = list(set_ or []) + ([f"golden.dir={where}"] if golden else []) + (
            [f"index_version={index_version}"] if index_version else [])
        cfg = load_config(EvaluateConfig, default_config("evaluate", config), overrides)
        with json_stdout(as_json):
            try:
                return evaluate_flow(cfg, load_settings(settings))
            except GateFailed as failed:
                return failed.record

    record = run_guarded(go)
    emit(record, as_json, print_evaluation)
    if record["status"] != "pass":
        raise typer.Exit(1)
