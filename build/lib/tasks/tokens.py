"""Token counting with the embedder's own tokenizer (chunks must never exceed its limit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class TokenCounter(Protocol):
    """What a chunker needs to know about the embedder's tokenizer."""

    max_tokens: int  # content tokens allowed per chunk (special tokens and prefix excluded)

    def count(self, text: str) -> int: ...

    def offsets(self, text: str) -> list[tuple[int, int]]: ...


@dataclass
class HFTokenCounter:
    """A ``TokenCounter`` over a Hugging Face fast tokenizer.

    ``max_tokens`` is the model's max sequence length minus the special tokens the tokenizer adds
    (e.g. [CLS] and [SEP]) minus the tokens of the passage prefix, if any.
    """

    tokenizer: Any
    max_tokens: int

    @classmethod
    def for_model(cls, tokenizer: Any, max_seq_length: int, prefix: str = "") -> "HFTokenCounter":
        special = tokenizer.num_special_tokens_to_add(pair=False)
        prefix_tokens = len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) if prefix else 0
        return cls(tokenizer=tokenizer, max_tokens=max_seq_length - special - prefix_tokens)

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_many(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        encoded = self.tokenizer(texts, add_special_tokens=False)["input_ids"]
        return [len(ids) for ids in encoded]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [tuple(span) for span in enc["offset_mapping"]]
