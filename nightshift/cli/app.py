"""The ``nightshift`` app and what every command shares: options, settings, the error boundary, JSON output.

Commands live one group per module beside this one and are registered in ``nightshift.cli.main``."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer

from nightshift.offline import apply_offline_defaults

app = typer.Typer(
    help="Prefect flows that keep a RAG retrieval layer honest: reindex, benchmark, evaluate, drift, backfill.\n\n"
         "Every command reads configs/<command>.yaml (if present) and configs/settings.yaml; override any key "
         "with --set dotted.key=value. Runs are tracked in MLflow (`nightshift ui`).",
    no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

STATE: dict[str, Any] = {"debug": False}
ConfigOpt = typer.Option(None, "--config", "-c", help="YAML config file (default: configs/<command>.yaml if present).")
SetOpt = typer.Option(None, "--set", help="Override a config key, e.g. --set index.kind=hnsw (repeatable).")
SettingsOpt = typer.Option(None, "--settings", help="Settings file (default: configs/settings.yaml if present).")
JsonOpt = typer.Option(False, "--json", help="Print one JSON object as the last line of stdout.")


@app.callback()
def _main(debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors.")) -> None:
    STATE["debug"] = debug
    apply_offline_defaults()


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)


def run_guarded(fn: Callable[[], Any]) -> Any:
    """Run ``fn``; turn any error into one line on stderr and exit 1 (full traceback with --debug)."""
    try:
        return fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except BaseException as exc:  # noqa: BLE001 - the CLI boundary
        if STATE["debug"]:
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if not type(exc).__module__.startswith(("tasks.", "flows.", "nightshift.")):
            message += f" ({type(exc).__name__}; rerun with --debug for the traceback)"
        fail(message)


def default_config(name: str, given: Optional[Path]) -> Optional[Path]:
    if given is not None:
        return given
    candidate = Path("configs") / f"{name}.yaml"
    return candidate if candidate.is_file() else None


def load_settings(path: Optional[Path]):
    from tasks.config.settings import Settings

    return Settings.load(default_config("settings", path))


class _NoTraceback(logging.Filter):
    """Keep Prefect's one-line failure messages but drop their tracebacks (shown with --debug)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text = None, None
        return True


def quiet_tracebacks() -> None:
    """Called after Prefect is imported (its logging is configured then)."""
    if STATE["debug"]:
        return
    for name in ("prefect", "prefect.flow_runs", "prefect.task_runs", ""):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, _NoTraceback) for f in handler.filters):
                handler.addFilter(_NoTraceback())


@contextlib.contextmanager
def json_stdout(enabled: bool):
    """With --json, everything else printed goes to stderr so the last stdout line is the JSON."""
    if not enabled:
        yield
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield


def emit(record: Any, as_json: bool, human: Callable[[Any], None]) -> None:
    if as_json:
        sys.stdout.write(json.dumps(record, default=str) + "\n")
        sys.stdout.flush()
    else:
        human(record)
