"""The single-text fast path of the torch embedder: one query text -> one vector in a few milliseconds.

A batch of one pays for what only batches need. This path, measured on 2 cores (benchmarks/RESULTS.md
"Single-query latency"), drops it and keeps the vector (same model, same precision, max |diff| vs the
batched path ~1e-7, so the embedder's fingerprint and caches are shared):

- no padding and no attention mask (one text has no padding to mask): the tokenizer's own Rust
  backend, copied once with truncation at the model's length, returns the ids only;
- one thread: a ~20-token input is too small to split, and each OpenMP barrier waits for a core that
  another process may hold (the thread count is restored after the call);
- a frozen TorchScript graph of the model (traced once, on the first call, on ids only): no Python
  per layer, weights folded in.

Pooling (mean/cls/max over all tokens) runs in float32 whatever the weights' dtype, as in the batched path.
"""

from __future__ import annotations

import threading
import warnings
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch (and FAISS: one OpenMP runtime) on one thread inside the block, then restore the count."""
    import torch

    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _hidden_states(model: Any) -> Any:
    """``input_ids -> last_hidden_state`` as a module TorchScript can trace (the HF forward is keyword-only)."""
    import torch

    class HiddenStates(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=input_ids).last_hidden_state

    return HiddenStates().eval()


class SingleQueryEncoder:
    """``encode(text) -> float32[dim]`` for a ``TorchEmbedder`` (prefix, truncation, pooling, norm as its own)."""

    def __init__(self, embedder: Any) -> None:
        self.embedder = embedder
        self._graph: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def ids(self, text: str) -> list[int]:
        """Token ids with special tokens, truncated at ``max_tokens`` (what the batched call feeds the model)."""
        if self._tokenizer is None:
            backend = getattr(self.embedder.tokenizer, "backend_tokenizer", None)
            if backend is None:  # a slow (Python) tokenizer: its own call, still without padding
                tok, limit = self.embedder.tokenizer, self.embedder.max_tokens
                self._tokenizer = lambda t: tok(t, truncation=True, max_length=limit)["input_ids"]
            else:
                from tokenizers import Tokenizer

                own = Tokenizer.from_str(backend.to_str())  # a copy: the HF wrapper re-sets its backend per call
                own.no_padding()
                side = getattr(self.embedder.tokenizer, "truncation_side", "right")
                own.enable_truncation(self.embedder.max_tokens, direction=side)  # as the HF call truncates
                self._tokenizer = lambda t: own.encode(t).ids
        return self._tokenizer(text)

    def graph(self) -> Any:
        if self._graph is None:
            with self._lock:
                if self._graph is None:
                    self._graph = self._trace()
        return self._graph

    def _trace(self) -> Any:
        import torch

        example = torch.tensor([self.ids("a query to trace the model with")], dtype=torch.long)
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # TracerWarnings about Python branches on shapes we never vary
            traced = torch.jit.trace(_hidden_states(self.embedder.model), (example,), check_trace=False)
            return torch.jit.freeze(traced.eval())

    def encode(self, text: str) -> np.ndarray:
        import torch

        graph = self.graph()
        ids = torch.tensor([self.ids(text)], dtype=torch.long, device=self.embedder.device)
        pooling = self.embedder.settings.pooling
        with one_thread(), torch.inference_mode():
            hidden = graph(ids)[0].float()
            if pooling == "cls":
                pooled = hidden[0]
            elif pooling == "max":
                pooled = hidden.max(dim=0).values
            else:
                pooled = hidden.mean(dim=0)
        vector = pooled.cpu().numpy().astype(np.float32, copy=False)
        if self.embedder.settings.normalize:
            vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        return vector
