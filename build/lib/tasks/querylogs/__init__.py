"""Query logs for the drift flow: the format, its GX validation, date windows and query features.

The format (one record per served query; JSONL, JSONL.gz or Parquet; a file or a folder of files):

============== ========== =====================================================================
column         required   meaning
============== ========== =====================================================================
timestamp      yes        when the query was served: ISO 8601 (``2025-03-03T09:14:22Z``; no
                          offset = UTC) or epoch seconds
query          yes        the query text (a non-empty string)
query_id       no         any id (kept in the review queue)
retrieved_ids  no         list of document ids the system returned, best first
scores         no         list of their similarity scores (same length as ``retrieved_ids``)
feedback       no         user feedback: a number (e.g. -1/0/1, a rating) or a short label
============== ========== =====================================================================

Other columns are kept and ignored. Column names can be mapped (``querylog.columns`` in
``configs/drift.yaml``) when a log uses other names. Rows that fail validation (a query that is
not text, a timestamp that is not a date, scores that are not numbers) are quarantined with their
reason; more than ``querylog.max_invalid_share`` of them stops the run with a message.

Modules: ``format`` (read + map columns), ``validation`` (GX suite), ``windows`` (date windows),
``features`` (query vectors through the cache, lengths, OOV rate, script, top-1 scores, novelty),
``config`` (``DriftConfig``: the drift check's settings, documented in ``configs/drift.yaml``).
"""

from tasks.querylogs.format import QueryLogError, read_query_log
from tasks.querylogs.windows import Window, parse_window

__all__ = ["QueryLogError", "Window", "parse_window", "read_query_log"]
