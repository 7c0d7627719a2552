"""Embedders: one protocol, a torch (transformers) backend and an ONNX backend, and presets.

Pooling, normalisation, prefixes and max length come from the model's own sentence-transformers
configuration files when present; the config can override them explicitly.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

from tasks.documents import sha256_text
from tasks.model_files import resolve_model_path, sha256_file
from tasks.registry import Registry
from tasks.tokens import HFTokenCounter

Kind = Literal["passage", "query"]


class EmbedderConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = "all-MiniLM-L6-v2"
    backend: Literal["auto", "torch", "onnx"] = "auto"
    tokenizer: str | None = None  # ONNX exports without a tokenizer reuse another model's
    max_tokens: int | None = None  # default: the model's max_seq_length
    pooling: Literal["mean", "cls", "max"] | None = None  # default: the model's pooling config
    normalize: bool = True
    query_prefix: str | None = None  # default: the model's prompts (e.g. e5's "query: ")
    passage_prefix: str | None = None
    onnx_output: str | None = None  # ONNX output name; a 2-D output is taken as already pooled
    batch_size: int = 32
    num_threads: int | None = None  # default: all cores
    device: str = "cpu"  # "cuda" when present (torch backend)
    # torch backend: weights and matmuls in bfloat16 (AMX/AVX512-BF16 CPUs run it ~3x fp32); pooling stays fp32
    dtype: Literal["float32", "bfloat16"] = "float32"


# Registry of named embedders (the benchmark loops over these; README "Embedding"): one entry each.
PRESETS: Registry[EmbedderConfig] = Registry("embedder preset", {
    "all-MiniLM-L6-v2": EmbedderConfig(model="all-MiniLM-L6-v2", backend="torch"),
    # Same weights cast to bfloat16 (benchmarks/RESULTS.md "Embedding speed": speed and nDCG@10 vs fp32)
    "all-MiniLM-L6-v2-bf16": EmbedderConfig(model="all-MiniLM-L6-v2", backend="torch", dtype="bfloat16"),
    "all-MiniLM-L6-v2-int8-onnx": EmbedderConfig(
        model="all-MiniLM-L6-v2-int8-onnx", backend="onnx", tokenizer="all-MiniLM-L6-v2",
        max_tokens=256, pooling="mean", onnx_output="last_hidden_state"),
    "paraphrase-MiniLM-L3-v2-onnx": EmbedderConfig(
        model="paraphrase-MiniLM-L3-v2-onnx", backend="onnx", tokenizer="all-MiniLM-L6-v2",
        max_tokens=128, pooling="mean", onnx_output="461"),
})


class Embedder(Protocol):
    name: str
    fingerprint: str
    dim: int
    max_tokens: int
    counter: HFTokenCounter

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSettings:
    """What the model's own config files say (sentence-transformers layout)."""

    pooling: str = "mean"
    normalize: bool = True
    max_tokens: int = 512
    query_prefix: str = ""
    passage_prefix: str = ""

    @classmethod
    def read(cls, folder: Path, tokenizer: Any) -> "ModelSettings":
        def load(name: str) -> dict[str, Any]:
            path = folder / name
            return json.loads(path.read_text()) if path.is_file() else {}

        pooling_cfg = load("1_Pooling/config.json")
        pooling = "mean"
        if pooling_cfg.get("pooling_mode_cls_token"):
            pooling = "cls"
        elif pooling_cfg.get("pooling_mode_max_tokens"):
            pooling = "max"
        modules = json.loads((folder / "modules.json").read_text()) if (folder / "modules.json").is_file() else []
        normalize = any(m.get("type", "").endswith("Normalize") for m in modules) or not modules
        max_len = load("sentence_bert_config.json").get("max_seq_length") or min(
            getattr(tokenizer, "model_max_length", 512) or 512, 512)
        prompts = load("config_sentence_transformers.json").get("prompts", {}) or {}
        return cls(pooling=pooling, normalize=normalize, max_tokens=int(max_len),
                   query_prefix=prompts.get("query", ""), passage_prefix=prompts.get("passage", prompts.get("document", "")))


class BatchedEmbedder:
    """Length-sorted batching, pooling and normalisation shared by the backends."""

    def __init__(self, name: str, tokenizer: Any, settings: ModelSettings, weights: Path,
                 batch_size: int, backend: str) -> None:
        self.name = name
        self.tokenizer = tokenizer
        self.settings = settings
        self.max_tokens = settings.max_tokens
        self.batch_size = batch_size
        self.backend = backend
        self.counter = HFTokenCounter.for_model(tokenizer, settings.max_tokens, settings.passage_prefix)
        self.fingerprint = sha256_text(json.dumps({
            "name": name, "weights_sha256": _weights_digest(str(weights)), "backend": backend,
            "tokenizer_sha256": _tokenizer_digest(tokenizer),
            "pooling": settings.pooling, "normalize": settings.normalize,
            "max_tokens": settings.max_tokens, "query_prefix": settings.query_prefix,
            "passage_prefix": settings.passage_prefix,
        }, sort_keys=True))[:16]
        self._dim: int | None = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = self._known_dim() or int(self.encode(["dimension probe"]).shape[1])
        return self._dim

    def _known_dim(self) -> int | None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "fingerprint": self.fingerprint, "dim": self.dim,
                "backend": self.backend, "max_tokens": self.max_tokens, **self.settings.__dict__}

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray:
        prefix = self.settings.query_prefix if kind == "query" else self.settings.passage_prefix
        texts = [prefix + t for t in texts]
        out = np.zeros((len(texts), self._dim or 0), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        parts: dict[int, np.ndarray] = {}
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                   max_length=self.max_tokens, return_tensors="np")
            vectors = self._forward(batch)
            for row, i in enumerate(idx):
                parts[int(i)] = vectors[row]
        if parts:
            out = np.stack([parts[i] for i in range(len(texts))]).astype(np.float32, copy=False)
        if self.settings.normalize and len(out):
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)

    def _forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if self.settings.pooling == "cls":
            return hidden[:, 0]
        m = mask[..., None].astype(hidden.dtype)
        if self.settings.pooling == "max":
            return np.where(m > 0, hidden, -1e9).max(axis=1)
        return (hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9)


class TorchEmbedder(BatchedEmbedder):
    def __init__(self, name: str, folder: Path, cfg: EmbedderConfig) -> None:
        import torch
        from transformers import AutoTokenizer

        torch.set_num_threads(cfg.num_threads or os.cpu_count() or 1)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.folder, self.device, self._model = folder, cfg.device, None  # weights load on first encode
        self._single: Any = None  # the single-query fast path (tasks/query_embedding.py), built on first use
        self.dtype = cfg.dtype
        settings = _override(ModelSettings.read(folder, tokenizer), cfg)
        weights = next((folder / n for n in ("model.safetensors", "pytorch_model.bin") if (folder / n).exists()), folder / "config.json")
        # fp32 keeps its historical fingerprint ("torch"); any other dtype is a different embedder
        backend = "torch" if cfg.dtype == "float32" else f"torch-{cfg.dtype}"
        super().__init__(name, tokenizer, settings, weights, cfg.batch_size, backend)

    @property
    def model(self):
        if self._model is None:
            from transformers import AutoModel

            import torch

            self._model = AutoModel.from_pretrained(str(self.folder)).to(self.device, getattr(torch, self.dtype)).eval()
        return self._model

    def encode(self, texts: list[str], kind: Kind = "passage") -> np.ndarray:
        """One query on CPU takes the single-query fast path (same vector within 1e-6); the rest is batched."""
        if len(texts) == 1 and kind == "query" and self.device == "cpu":
            if self._single is None:
                from tasks.query_embedding import SingleQueryEncoder

                self._single = SingleQueryEncoder(self)
            return self._single.encode(self.settings.query_prefix + texts[0])[None, :]
        return super().encode(texts, kind)

    def _known_dim(self) -> int | None:
        config = json.loads((self.folder / "config.json").read_text())
        return int(config["hidden_size"]) if "hidden_size" in config else None

    def _forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state.float()  # pool in fp32 whatever the weights
            mask = inputs["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            if self.settings.pooling == "cls":
                pooled = hidden[:, 0]
            elif self.settings.pooling == "max":
                pooled = hidden.masked_fill(mask == 0, -1e9).max(dim=1).values
            else:
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return pooled.float().cpu().numpy()


class OnnxEmbedder(BatchedEmbedder):
    def __init__(self, name: str, path: Path, cfg: EmbedderConfig) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        onnx_file = path if path.is_file() else next(path.glob("*.onnx"))
        tok_dir = resolve_model_path(cfg.tokenizer) if cfg.tokenizer else onnx_file.parent
        tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = cfg.num_threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.output = cfg.onnx_output or self.session.get_outputs()[0].name
        base = ModelSettings.read(tok_dir, tokenizer) if tok_dir.is_dir() else ModelSettings()
        super().__init__(name, tokenizer, _override(base, cfg), onnx_file, cfg.batch_size, "onnx")

    def _forward(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        feeds = {k: v.astype(np.int64) for k, v in batch.items() if k in self.input_names}
        if "token_type_ids" in self.input_names and "token_type_ids" not in feeds:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        (out,) = self.session.run([self.output], feeds)
        return out if out.ndim == 2 else self._pool(out, batch["attention_mask"])


def _override(base: ModelSettings, cfg: EmbedderConfig) -> ModelSettings:
    return ModelSettings(
        pooling=cfg.pooling or base.pooling,
        normalize=cfg.normalize and True,
        max_tokens=cfg.max_tokens or base.max_tokens,
        query_prefix=base.query_prefix if cfg.query_prefix is None else cfg.query_prefix,
        passage_prefix=base.passage_prefix if cfg.passage_prefix is None else cfg.passage_prefix,
    )


def _tokenizer_digest(tokenizer: Any) -> str:
    """The tokenizer decides chunk boundaries and token ids: its vocabulary is part of the fingerprint."""
    folder = Path(getattr(tokenizer, "name_or_path", "") or ".")
    for name in ("tokenizer.json", "vocab.txt"):
        if (folder / name).is_file():
            return _weights_digest(str(folder / name))
    return sha256_text(json.dumps(sorted(tokenizer.get_vocab().items())))


@lru_cache(maxsize=16)
def _weights_digest(path: str) -> str:
    return sha256_file(Path(path))


def resolve_embedder_config(name_or_cfg: str | EmbedderConfig) -> EmbedderConfig:
    """A preset name, or a config whose ``model`` may itself name a preset (its fields win)."""
    if isinstance(name_or_cfg, str):
        return PRESETS.get(name_or_cfg, EmbedderConfig(model=name_or_cfg))
    preset = PRESETS.get(name_or_cfg.model)
    if preset is None:
        return name_or_cfg
    # the preset's own ``model`` wins: a preset name need not be a model folder (``...-bf16`` is not)
    explicit = {k: v for k, v in name_or_cfg.model_dump(exclude_unset=True).items() if k != "model"}
    return preset.model_copy(update=explicit)


def load_embedder(cfg: str | EmbedderConfig) -> BatchedEmbedder:
    """Load an embedder once per process per config (models are large; loading takes seconds)."""
    cfg = resolve_embedder_config(cfg)
    return _load_cached(cfg.model_dump_json())


@lru_cache(maxsize=4)
def _load_cached(cfg_json: str) -> BatchedEmbedder:
    cfg = EmbedderConfig.model_validate_json(cfg_json)
    path = resolve_model_path(cfg.model)
    backend = cfg.backend
    if backend == "auto":
        backend = "onnx" if path.suffix == ".onnx" or any(path.glob("*.onnx")) and not (path / "config.json").exists() else "torch"
    if backend == "onnx":
        return OnnxEmbedder(cfg.model, path, cfg)
    return TorchEmbedder(cfg.model, path, cfg)
