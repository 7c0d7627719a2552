"""What chunking asks of a ``TokenCounter`` beyond the protocol: batched calls, and whether a
slice cut at whitespace keeps the token count it had in context (so it needs no recount)."""

from __future__ import annotations

from tasks.tokens import TokenCounter

# Whitespace every supported tokenizer treats as a word break (NOT form feed: BERT deletes it).
CUT_SPACE = frozenset(" \t\n\r")
_ADDITIVE_PRE_TOKENIZERS = {"BertPreTokenizer", "Whitespace", "WhitespaceSplit"}
_ADDITIVE_MODELS = {"WordPiece", "WordLevel"}
_CHAR_LOCAL_NORMALIZERS = {"NoneType", "BertNormalizer", "Lowercase", "NFD", "NFKD", "StripAccents"}


def is_additive(counter: TokenCounter) -> bool:
    """Whether a slice cut at plain whitespace has exactly the tokens it had in context.

    True for a per-character normalizer + whitespace/punctuation pre-tokenizer + WordPiece (BERT,
    MiniLM). Then chunks cut at whitespace need no recount; any other cut is still recounted.
    A counter may state it with an ``additive_at_whitespace`` attribute.
    """
    stated = getattr(counter, "additive_at_whitespace", None)
    if stated is not None:
        return bool(stated)
    backend = getattr(getattr(counter, "tokenizer", None), "backend_tokenizer", None)
    if backend is None:
        return False
    return (type(backend.pre_tokenizer).__name__ in _ADDITIVE_PRE_TOKENIZERS
            and type(backend.model).__name__ in _ADDITIVE_MODELS
            and type(backend.normalizer).__name__ in _CHAR_LOCAL_NORMALIZERS)


def offsets_many(counter: TokenCounter, texts: list[str]) -> list[list[tuple[int, int]]]:
    many = getattr(counter, "offsets_many", None)
    if many is not None:
        return many(texts)
    tokenizer = getattr(counter, "tokenizer", None)
    if texts and getattr(tokenizer, "is_fast", False):  # HFTokenCounter: one batched call
        enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True,
                        return_attention_mask=False, return_token_type_ids=False)
        return enc["offset_mapping"]
    return [counter.offsets(t) for t in texts]


def count_many(counter: TokenCounter, texts: list[str]) -> list[int]:
    many = getattr(counter, "count_many", None)
    return many(texts) if many is not None else [counter.count(t) for t in texts]
