"""The flows nightshift can schedule or backfill, with their config models and config files.

Imports are lazy (``module:attribute`` strings) so listing flows costs nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tasks.config.loader import apply_overrides, load_config, read_yaml, validate


@dataclass(frozen=True)
class FlowSpec:
    name: str
    flow: str  # "module:attribute" of the Prefect flow
    config: str  # "module:attribute" of its pydantic config model
    parts: tuple[str, ...] = ()  # a composite flow's sub-configs, each read from configs/<part>.yaml

    def load_flow(self) -> Any:
        return _resolve(self.flow)

    def config_model(self) -> type[BaseModel]:
        return _resolve(self.config)

    def load_config(self, path: Path | None, overrides: list[str] | None = None) -> BaseModel:
        default = Path("configs") / f"{self.name}.yaml"
        if path is None and default.is_file():
            path = default
        if path is None and self.parts:
            data = {part: read_yaml(p) for part in self.parts if (p := Path("configs") / f"{part}.yaml").is_file()}
            data = apply_overrides(data, overrides or [])
            return validate(self.config_model(), data, "configs/{" + ",".join(self.parts) + "}.yaml")
        return load_config(self.config_model(), path, overrides or [])


FLOWS: dict[str, FlowSpec] = {spec.name: spec for spec in (
    FlowSpec("reindex", "flows.reindex:reindex", "tasks.reindex.config:ReindexConfig"),
    FlowSpec("evaluate", "flows.evaluate:evaluate", "tasks.evaluate.config:EvaluateConfig"),
    FlowSpec("drift", "flows.drift:drift", "tasks.drift.config:DriftConfig"),
    FlowSpec("benchmark", "flows.benchmark:benchmark", "tasks.benchmark.config:BenchmarkConfig"),
    FlowSpec("nightly", "flows.nightly:nightly", "tasks.nightly.config:NightlyConfig", ("reindex", "evaluate", "drift")),
)}


def configured(name: str, config: BaseModel | None, settings: Any = None) -> tuple[Any, Any]:
    """A flow's (config, settings): the given ones, else ``configs/<name>.yaml`` and ``configs/settings.yaml``
    from the working directory, else the defaults. A deployment run without parameters (``prefect.yaml``)
    thus reads the configs of the checkout it runs in, as the CLI does. The offline defaults are applied here
    too: a worker-started flow run never imports the CLI."""
    from nightshift.offline import apply_offline_defaults

    apply_offline_defaults()
    if config is None:
        config = get_flow_spec(name).load_config(None)
    return config, settings.resolved() if settings is not None else default_settings()  # relative paths: the workspace's


def default_settings() -> Any:
    """``configs/settings.yaml`` of the working directory (if any) + ``NIGHTSHIFT_*`` environment."""
    from tasks.config.settings import Settings

    path = Path("configs") / "settings.yaml"
    return Settings.load(path if path.is_file() else None)


def get_flow_spec(name: str) -> FlowSpec:
    try:
        return FLOWS[name]
    except KeyError:
        raise ValueError(f"unknown flow {name!r}; known: {', '.join(FLOWS)}") from None


def _resolve(target: str) -> Any:
    module, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module), attribute)
