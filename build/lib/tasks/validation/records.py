"""Suites for documents and chunks: what must hold before a record may be chunked or embedded."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tasks.documents import DOC_TYPES, Chunk, Document
from tasks.validation.suite import (
    Check,
    ValidationOutcome,
    clean_id,
    id_checks,
    run_checks,
    source_of,
)

# Control characters that mean "binary or mis-decoded": C0 except \t \n \v \f \r, DEL, and C1
# (U+0080-U+009F, typical of cp1252 bytes decoded as latin-1).
CONTROL_CHARS = r"[\x00-\x08\x0e-\x1f\x7f-\x9f]"
REPLACEMENT_CHAR = "\ufffd"


class DocumentRules(BaseModel):
    """Thresholds of the document suite (nestable in a flow's config model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_chars: int = Field(1, ge=0)
    max_chars: int = Field(2_000_000, ge=1)
    doc_types: tuple[str, ...] = DOC_TYPES
    max_replacement_chars: int = Field(0, ge=0)  # U+FFFD: bytes that did not decode
    max_control_char_share: float = Field(0.01, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> "DocumentRules":
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars {self.min_chars} > max_chars {self.max_chars}")
        return self


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _got(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _text_facts(texts: list[str | None], *, cleanliness: bool = True) -> dict[str, Any]:
    """Per-text facts for the suite (NaN where the text is missing).

    The raw text stays out of the GX frame on purpose: GX fingerprints (hashes) the whole
    DataFrame on every batch, which for 5,000 docs of ~8k chars cost ~0.8 s of a ~1 s run.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array(texts, type=pa.large_string())

    def floats(values: Any) -> Any:
        return values.to_numpy(zero_copy_only=False).astype("float64")

    facts = {
        "n_chars": floats(pc.utf8_length(array)),
        "n_chars_stripped": np.array([np.nan if t is None else len(t.strip()) for t in texts],
                                     dtype="float64"),
    }
    if cleanliness:
        facts["n_replacement_chars"] = floats(pc.count_substring(array, REPLACEMENT_CHAR))
        facts["n_control_chars"] = floats(pc.count_substring_regex(array, CONTROL_CHARS))
    return facts


def _text_checks(frame: Any, records: Sequence[Any], what: str) -> list[Check]:
    return [
        Check("ExpectColumnValuesToNotBeNull", {"column": "n_chars"},
              lambda r: f"{what} text is missing (got {_got(records[r].text)})"),
        Check("ExpectColumnValuesToBeBetween", {"column": "n_chars_stripped", "min_value": 1},
              lambda r: (f"{what} text is empty or whitespace only "
                         f"({int(frame['n_chars'].iat[r]):,} characters, 0 after strip)")),
    ]


def validate_documents(docs: Sequence[Document], rules: DocumentRules | None = None,
                       ) -> ValidationOutcome[Document]:
    """Run the document suite; each failing document is quarantined with stage="document"."""
    import numpy as np
    import pandas as pd

    started, rules = time.perf_counter(), rules or DocumentRules()
    facts = _text_facts([_text_or_none(d.text) for d in docs])
    frame = pd.DataFrame({
        "id": pd.Series([clean_id(d.id) for d in docs], dtype="object"),
        "title": pd.Series([_text_or_none(d.title) for d in docs], dtype="object"),
        "doc_type": pd.Series([d.doc_type if isinstance(d.doc_type, str) else None for d in docs],
                              dtype="object"),
        **facts,
        "control_char_share": facts["n_control_chars"] / np.where(facts["n_chars"] > 0,
                                                                  facts["n_chars"], np.nan),
    })

    def at(column: str, row: int) -> Any:
        return frame[column].iat[row]

    checks = [
        *id_checks(frame, [d.id for d in docs], "document"),
        *_text_checks(frame, docs, "document"),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "n_chars", "min_value": rules.min_chars, "max_value": rules.max_chars},
              lambda r: (f"text has {int(at('n_chars', r)):,} characters; allowed "
                         f"{rules.min_chars:,}..{rules.max_chars:,}")),
        Check("ExpectColumnValuesToNotBeNull", {"column": "doc_type"},
              lambda r: f"doc_type is missing (got {_got(docs[r].doc_type)})"),
        Check("ExpectColumnValuesToBeInSet",
              {"column": "doc_type", "value_set": list(rules.doc_types)},
              lambda r: (f"doc_type {at('doc_type', r)!r} is not one of "
                         f"{', '.join(rules.doc_types)}")),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "n_replacement_chars", "max_value": rules.max_replacement_chars},
              lambda r: (f"text has {int(at('n_replacement_chars', r)):,} U+FFFD replacement "
                         f"characters (bytes that did not decode); allowed "
                         f"{rules.max_replacement_chars}")),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "control_char_share", "max_value": rules.max_control_char_share},
              lambda r: (f"{at('control_char_share', r):.1%} of the text is control characters "
                         f"({int(at('n_control_chars', r)):,} of {int(at('n_chars', r)):,}); "
                         f"allowed {rules.max_control_char_share:.1%}")),
    ]
    valid_rows, quarantined, summary = run_checks(
        stage="document", suite_name="nightshift.documents", frame=frame, checks=checks,
        ids=list(frame["id"]), sources=[source_of(d) for d in docs], started=started)
    return ValidationOutcome([docs[row] for row in valid_rows], quarantined, summary)


def validate_chunks(chunks: Sequence[Chunk], max_tokens: int) -> ValidationOutcome[Chunk]:
    """Run the chunk suite; a chunk over ``max_tokens`` (the embedder's limit) never passes."""
    import pandas as pd

    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    started = time.perf_counter()
    n_tokens = pd.to_numeric(pd.Series([c.n_tokens for c in chunks], dtype="object"),
                             errors="coerce").astype("float64")
    frame = pd.DataFrame({
        "id": pd.Series([clean_id(c.id) for c in chunks], dtype="object"),
        "doc_id": pd.Series([clean_id(c.doc_id) for c in chunks], dtype="object"),
        **_text_facts([_text_or_none(c.text) for c in chunks], cleanliness=False),
        "n_tokens": n_tokens,
    })
    checks = [
        *id_checks(frame, [c.id for c in chunks], "chunk"),
        Check("ExpectColumnValuesToNotBeNull", {"column": "doc_id"},
              lambda r: f"doc_id is missing or empty (got {chunks[r].doc_id!r})"),
        *_text_checks(frame, chunks, "chunk"),
        Check("ExpectColumnValuesToNotBeNull", {"column": "n_tokens"},
              lambda r: f"n_tokens is missing or not a number (got {chunks[r].n_tokens!r})"),
        Check("ExpectColumnValuesToBeBetween",
              {"column": "n_tokens", "min_value": 1, "max_value": max_tokens},
              lambda r: (f"chunk has {chunks[r].n_tokens} tokens; the embedder allows "
                         f"1..{max_tokens}")),
    ]
    valid_rows, quarantined, summary = run_checks(
        stage="chunk", suite_name="nightshift.chunks", frame=frame, checks=checks,
        ids=list(frame["id"]), sources=[source_of(c) for c in chunks], started=started)
    return ValidationOutcome([chunks[row] for row in valid_rows], quarantined, summary)
