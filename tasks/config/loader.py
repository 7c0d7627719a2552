"""Load a pydantic config from YAML + ``--set dotted.key=value`` overrides, with errors that name the key."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and the key."""


def parse_override(item: str) -> tuple[list[str], Any]:
    """``"index.kind=hnsw"`` -> (["index", "kind"], "hnsw"); values are parsed as YAML scalars/lists."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected dotted.key=value (e.g. --set index.kind=hnsw)")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {item!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    result = _deep_copy(data)
    for item in overrides:
        parts, value = parse_override(item)
        node = result
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return result


def _deep_copy(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _deep_copy(v) if isinstance(v, dict) else v for k, v in data.items()}


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def validate(model: type[M], data: dict[str, Any], origin: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(model, exc, origin)) from None


def load_config(model: type[M], path: Path | None, overrides: list[str] | None = None) -> M:
    data = read_yaml(path) if path is not None else {}
    data = apply_overrides(data, overrides or [])
    origin = str(path) if path is not None else "defaults"
    if overrides:
        origin += " + --set " + " ".join(overrides)
    return validate(model, data, origin)


def _describe(model: type[BaseModel], exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            hint = _suggest(model, [str(p) for p in err["loc"]])
            lines.append(f"{loc}: unknown key{hint}")
        else:
            lines.append(f"{loc}: {err['msg']} (got {err.get('input')!r})")
    return f"invalid config ({origin}): " + "; ".join(lines)


def _suggest(model: type[BaseModel], loc: list[str]) -> str:
    node: Any = model
    for part in loc[:-1]:
        field = getattr(node, "model_fields", {}).get(part)
        if field is None:
            return ""
        node = field.annotation
    names = list(getattr(node, "model_fields", {}))
    close = difflib.get_close_matches(loc[-1], names, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    return f" (known keys: {', '.join(names)})" if names else ""
