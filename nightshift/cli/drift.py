"""``nightshift drift``: has the query traffic (or the corpus) moved away from what the index and golden set cover?"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nightshift.cli.app import (ConfigOpt, JsonOpt, SetOpt, SettingsOpt, default_config, emit, json_stdout,
    load_settings, quiet_tracebacks, run_guarded)

DRIFT_EXIT = 2


def json_record(record: dict[str, Any]) -> dict[str, Any]:
    """The ``--json`` object: the documented keys first, then everything else the run recorded."""
    keys = ("name", "statistic", "p_value", "drift", "p_holm", "effect_size", "threshold", "test", "input")
    tests = [{k: t.get(k) for k in keys} for t in record.get("tests", [])]
    head = {k: record.get(k) for k in ("run_id", "drift", "status", "n_reference", "n_current", "reason")}
    return {**head, "tests": tests, **{k: v for k, v in record.items() if k not in head and k != "tests"}}


def print_drift(r: dict[str, Any]) -> None:
    from rich.table import Table

    from nightshift.cli.render import console

    colour = {"drift": "red", "no_drift": "green"}.get(r["status"], "yellow")
    console.print(f"[bold {colour}]{r['status'].upper().replace('_', ' ')}[/] {r['reason']}", highlight=False)
    table = Table("test", "input", "statistic", "p", "p (Holm)", "effect", "drift", header_style="bold")
    for t in r["tests"]:
        table.add_row(t["name"], t["input"], f"{t['statistic']:.4g}", f"{t['p_value']:.3g}", f"{t['p_holm']:.3g}",
                      f"{t['effect_size']:+.3f}" + (f" (>= {t['threshold']})" if t.get("threshold") is not None else ""),
                      "[red]yes[/]" if t["drift"] else "no")
    if r["tests"]:
        console.print(table)
    for label, why in r.get("skipped", {}).items():
        console.print(f"skipped {label}: {why}", highlight=False)
    for i, c in enumerate(r.get("clusters", []), start=1):
        console.print(f"far cluster {i}: {c['size']} queries ({c['share_of_current']:.0%}), e.g. "
                      + " | ".join(c["examples"]), highlight=False)
    console.print(f"reference {r['n_reference']} queries, current {r['n_current']}; "
                  f"report: {r.get('report', '-')}; MLflow run {r['run_id']} (`nightshift ui`)", highlight=False)


def drift(
    config: Optional[Path] = ConfigOpt,
    reference: Optional[str] = typer.Option(None, "--reference", "-r",
                                            help="Reference window START..END (e.g. -35d..-7d) or a log file."),
    current: Optional[str] = typer.Option(None, "--current", help="Current window START..END (e.g. -7d..) or a log file."),
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
    fail_on_drift: bool = typer.Option(False, "--fail-on-drift", help=f"Exit {DRIFT_EXIT} when drift is detected."),
) -> None:
    """Test whether current queries drifted from the reference window (Holm over the configured tests).

    Exit 0: the check completed, drift or not (drift is information: read `drift` and the report).

    Exit 0 too when a window has too few queries: status not_enough_data, drift false.

    Exit 1: the check could not run (bad log, missing column, bad window or config); one line on stderr.

    Exit 2: drift detected and --fail-on-drift given.
    """

    def go() -> dict:
        from flows.drift import drift as drift_flow
        from tasks.config.loader import load_config
        from tasks.drift.config import DriftConfig

        quiet_tracebacks()
        overrides = list(set_ or []) + ([f"windows.reference={reference}"] if reference else []) + (
            [f"windows.current={current}"] if current else [])
        cfg = load_config(DriftConfig, default_config("drift", config), overrides)
        with json_stdout(as_json):
            return drift_flow(cfg, load_settings(settings))

    record = run_guarded(go)
    emit(json_record(record), as_json, print_drift)
    if fail_on_drift and record.get("drift"):
        raise typer.Exit(DRIFT_EXIT)
