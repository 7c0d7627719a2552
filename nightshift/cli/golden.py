"""``nightshift golden``: bootstrap a golden set from real queries, import people's labels, mine feedback."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from nightshift.cli.app import (ConfigOpt, JsonOpt, SetOpt, SettingsOpt, default_config, emit, json_stdout,
    load_settings, quiet_tracebacks, run_guarded)

golden_app = typer.Typer(help="Golden sets from real queries: init (sample + pool candidates), label (import a "
                              "filled CSV as a new version), add-feedback (feedback rows -> candidate rows).",
                         no_args_is_help=True)
FromLogs = typer.Option("default", "--from-logs", help="A query log file/folder, or 'default': the service's log "
                                                       "(data/querylogs/served), else the demo logs.")


def _print_init(r: dict[str, Any]) -> None:
    c = r["counts"]
    typer.echo(f"golden init {r['golden']}: {c['n_log_rows']} log rows -> {c['n_unique']} unique queries, "
               f"{c['n_near_duplicates']} near-duplicates dropped -> {c['n_sampled']} sampled over {c['n_strata']} "
               f"strata ({c['n_clusters']} topic clusters)")
    typer.echo(f"pool: top {r['pool']['depth']} of {', '.join(r['pool']['retrievers'])} -> {c['n_rows']} candidates "
               f"({c['judgments_per_query']:.1f} per query)")
    typer.echo(f"fill the relevance column (0/1/2) of {r['file']}\nthen: nightshift golden label {r['file']}")


def init(
    name: str = typer.Argument(..., help="The golden set (data/golden/NAME)."),
    from_logs: str = FromLogs,
    n: Optional[int] = typer.Option(None, "--n", help="Queries to sample (default 300)."),
    config: Optional[Path] = ConfigOpt,
    set_: Optional[list[str]] = SetOpt,
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Sample queries from a query log (stratified, de-duplicated) and pool candidates into a labelling CSV."""

    def go() -> dict:
        from flows.golden import golden_init
        from tasks.config.loader import load_config
        from tasks.golden.config import GoldenConfig

        quiet_tracebacks()
        overrides = [*(set_ or []), f"name={name}", f"querylog.path={'auto' if from_logs == 'default' else from_logs}",
                     *([f"sample.n={n}"] if n else [])]
        cfg = load_config(GoldenConfig, default_config("golden", config), overrides)
        with json_stdout(as_json):
            return golden_init(cfg, load_settings(settings))

    emit(run_guarded(go), as_json, _print_init)


def _print_label(r: dict[str, Any]) -> None:
    typer.echo(f"golden set {r['golden']} v{r['version']}: {r['n_judgments']} judgments imported "
               f"(grades 0/1/2: {r['grades']['0']}/{r['grades']['1']}/{r['grades']['2']}; {r['n_blank']} blank rows "
               f"skipped; {r['n_new_queries']} new queries, {r['n_changed']} re-judged) -> {r['n_queries']} queries, "
               f"{r['n_qrels']} qrels in {r['folder']} (DVC {r['dvc_md5']})")
    typer.echo(f"evaluate on it: nightshift evaluate --golden {r['golden']}")


def label(
    file: Path = typer.Argument(..., help="A filled labelling CSV (from golden init, add-feedback or a relabel queue)."),
    name: Optional[str] = typer.Option(None, "--name", help="Golden set (default: the file's sidecar .json)."),
    by: Optional[str] = typer.Option(None, "--by", help="Who labelled (default: the labeller column, else the OS user)."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Validate a filled labelling file (GX; every problem with its line) and write the next golden version.

    Exit 1 when the file is refused: each problem is printed with its line; nothing is imported."""

    def go() -> dict:
        from tasks.golden.label import import_labels
        from tasks.goldenset.labelfile import LabelFileError

        try:
            return import_labels(load_settings(settings), file, name, by)
        except LabelFileError as exc:
            if len(exc.problems) > 1 or exc.problems != [str(exc)]:
                typer.secho(f"error: {exc.headline}", err=True, fg=typer.colors.RED)
                for problem in exc.problems:
                    typer.echo(f"  {problem}", err=True)
                raise typer.Exit(1)
            raise

    with json_stdout(as_json):
        record = run_guarded(go)
    emit(record, as_json, _print_label)


def add_feedback(
    name: str = typer.Argument(..., help="The golden set the candidates are for."),
    from_logs: str = FromLogs,
    top: int = typer.Option(5, "--top", help="For feedback on a whole answer: its top documents proposed."),
    settings: Optional[Path] = SettingsOpt,
    as_json: bool = JsonOpt,
) -> None:
    """Turn positive/negative feedback rows into candidate rows of a labelling file (never into qrels)."""

    def go() -> dict:
        from tasks.golden.feedback import feedback_candidates

        return feedback_candidates(load_settings(settings), name, from_logs, top)

    with json_stdout(as_json):
        record = run_guarded(go)
    emit(record, as_json, lambda r: typer.echo(
        f"{r['n_rows']} candidate rows from {r['n_events']} feedback events ({r['n_positive']} positive, "
        f"{r['n_negative']} negative; skipped: {r['n_already_judged']} already judged, {r['n_not_in_index']} not in "
        f"the index, {r['n_no_query']} without query text)"
        + (f"\nfill the relevance column of {r['file']}, then: nightshift golden label {r['file']}" if r["file"] else "")))


golden_app.command("init")(init)
golden_app.command("label")(label)
golden_app.command("add-feedback")(add_feedback)
