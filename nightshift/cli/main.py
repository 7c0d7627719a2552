"""The ``nightshift`` console script: every command and command group is registered here, in one place.

Each command is a plain function in its own module (``nightshift/cli/<group>.py``) that imports only
``nightshift.cli.app`` (the shared options and helpers); nothing imports this module but the entry
points (``nightshift`` and ``python -m nightshift``), so the CLI has no import circle.
"""

from __future__ import annotations

from nightshift.cli import (adopt, api, backfill, benchmark, drift, evaluate, golden, index, reindex, search, serve,
    tracking, ui)
from nightshift.cli.app import app
from nightshift.offline import apply_offline_defaults

COMMANDS = (reindex.reindex, search.search, benchmark.benchmark, adopt.adopt, evaluate.evaluate, drift.drift,
            backfill.backfill, serve.serve, api.api, ui.ui)
GROUPS = {"index": index.index_app, "tracking": tracking.tracking_app, "golden": golden.golden_app}

for command in COMMANDS:
    app.command()(command)
for name, group in GROUPS.items():
    app.add_typer(group, name=name)


def main() -> None:
    apply_offline_defaults()
    app()
