"""Golden sets (BEIR layout without the corpus): load, validate against a corpus, version with DVC.

Modules: ``load`` (``load_golden``, ``check_against_corpus``), ``versions`` (DVC-tracked snapshots).
Used by evaluate, the reindex publication gate and drift's staleness test.
"""
