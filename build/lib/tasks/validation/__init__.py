"""Great Expectations suites with row-level quarantine: documents, chunks, vectors.

Each ``validate_*`` builds a DataFrame (one row per record, plus computed columns), runs a GX suite
on it with ``result_format="COMPLETE"``, and turns every failing row into one ``Quarantined``
record naming the expectations it failed and the value that failed them. Nothing is dropped
silently; ``enforce_quarantine_limit`` stops a run when too much was quarantined.
Great Expectations is imported on the first validation, not on import of this package.
"""

from tasks.validation.quarantine import (
    QuarantineLimitExceeded,
    enforce_quarantine_limit,
    read_quarantine,
    write_quarantine,
)
from tasks.validation.records import DocumentRules, validate_chunks, validate_documents
from tasks.validation.suite import ValidationOutcome
from tasks.validation.vectors import VectorValidationOutcome, validate_vectors

__all__ = [
    "DocumentRules",
    "QuarantineLimitExceeded",
    "ValidationOutcome",
    "VectorValidationOutcome",
    "enforce_quarantine_limit",
    "read_quarantine",
    "validate_chunks",
    "validate_documents",
    "validate_vectors",
    "write_quarantine",
]
