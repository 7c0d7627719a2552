"""``nightshift adopt``: write the benchmark's recommendation into configs/reindex.yaml.

The recommendation (``recommendation.json`` of a benchmark run: a file, or the MLflow run id) names its
candidate as reindex config sections. Adopting rewrites the ``retriever`` section and, unless
``retriever_only``, ``embedder`` and ``chunking`` (``with_index`` also ``index``: the benchmark's index
kind was chosen for its test collection, the reindex's ``auto`` rule for the real corpus size). Other
sections and their comments are kept. A candidate the reindex cannot build is refused with the reason
(a chunker that truncates documents, an embedder or reranker that does not load here); the new config
is validated before it is written, and the next reindex is never ``unchanged`` (the spec is part of the
corpus fingerprint).
"""

from __future__ import annotations

import difflib
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SECTIONS = ("retriever", "embedder", "chunking", "index")


class AdoptRefused(ValueError):
    """The recommendation cannot be adopted; the message says why and what to do."""


@dataclass(frozen=True)
class Adoption:
    candidate: str
    sections: tuple[str, ...]
    old_text: str
    new_text: str

    def diff(self, name: str = "configs/reindex.yaml") -> str:
        return "".join(difflib.unified_diff(self.old_text.splitlines(True), self.new_text.splitlines(True),
                                            f"a/{name}", f"b/{name}"))


def load_recommendation(source: str, tracking_uri: str) -> dict[str, Any]:
    """``recommendation.json`` from a path, else from the MLflow run ``source`` (a benchmark parent run)."""
    path = Path(source)
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from mlflow.tracking import MlflowClient

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = MlflowClient(tracking_uri).download_artifacts(source, "recommendation.json", tmp)
            return json.loads(Path(local).read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - MLflow raises many types; the message is what matters
        raise AdoptRefused(f"{source!r} is neither a recommendation.json file nor a benchmark run with one "
                           f"({type(exc).__name__}: {str(exc)[:200]}); pass the run id of `nightshift benchmark`") \
            from None


def refusals(spec: dict[str, Any], sections: tuple[str, ...]) -> list[str]:
    """Why the reindex cannot build the candidate's ``sections`` (empty: it can)."""
    from pydantic import ValidationError

    from tasks.chunking import ChunkingConfig
    from tasks.embedding import EmbedderConfig, load_embedder
    from tasks.indexing import IndexConfig
    from tasks.model_files import resolve_model_path
    from tasks.retrievers import RetrieverSpec

    out = []
    models = {"retriever": RetrieverSpec, "embedder": EmbedderConfig, "chunking": ChunkingConfig, "index": IndexConfig}
    for name in sections:
        try:
            models[name].model_validate(spec.get(name) or {})
        except ValidationError as exc:
            out.append(f"{name}: not a valid reindex {name} config ({exc.errors()[0]['msg']})")
    if "chunking" in sections and (spec.get("chunking") or {}).get("truncate"):
        out.append(f"chunker {spec.get('names', {}).get('chunker')!r} truncates documents at the model's limit and the "
                   "reindex never truncates (no silent truncation): benchmark a chunker the reindex builds "
                   "(--set 'grid.chunkers=[per_type]'), or adopt with --retriever-only to keep the reindex's chunking")
    if "embedder" in sections and not out:
        try:
            load_embedder(EmbedderConfig.model_validate(spec["embedder"]))
        except Exception as exc:  # noqa: BLE001
            out.append(f"embedder {spec['embedder'].get('model')!r} does not load here: {str(exc)[:200]}")
    rerank = (spec.get("retriever") or {}).get("rerank")
    if rerank:
        try:
            resolve_model_path(rerank["model"])
        except Exception as exc:  # noqa: BLE001
            out.append(f"reranker {rerank['model']!r} is not available here: {str(exc)[:200]}")
    return out


def replace_section(text: str, key: str, value: Any) -> str:
    """``text`` with the top-level YAML section ``key`` replaced by ``value`` (appended when missing)."""
    block = yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False).rstrip("\n") + "\n"
    lines = text.splitlines(True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + block
    end = start + 1
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " \t"):
        end += 1
    return "".join(lines[:start]) + block + "".join(lines[end:])


def adopt(recommendation: dict[str, Any], config_text: str, retriever_only: bool = False,
          with_index: bool = False) -> Adoption:
    """The reindex config with the recommendation adopted, validated (raises ``AdoptRefused``)."""
    from tasks.config.loader import ConfigError, validate
    from tasks.reindex.config import ReindexConfig

    spec = recommendation.get("spec")
    if not spec:
        why = recommendation.get("reason") or "no candidate was recommended"
        raise AdoptRefused(f"the recommendation names no adoptable candidate ({why}); rerun `nightshift benchmark`")
    sections = ("retriever",) if retriever_only else ("retriever", "embedder", "chunking")
    if with_index and spec.get("index"):
        sections += ("index",)
    reasons = refusals(spec, sections)
    if reasons:
        raise AdoptRefused(f"cannot adopt {spec['candidate']}: " + "; ".join(reasons))
    new = config_text
    for name in sections:
        new = replace_section(new, name, spec[name])
    try:
        validate(ReindexConfig, yaml.safe_load(new) or {}, "configs/reindex.yaml after adopting")
    except ConfigError as exc:
        raise AdoptRefused(str(exc)) from None
    return Adoption(spec["candidate"], sections, config_text, new)
