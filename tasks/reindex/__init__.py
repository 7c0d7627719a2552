"""The reindex flow: source -> validated documents -> chunks -> cached vectors -> validated FAISS index -> published.

Modules: ``config`` (ReindexConfig), ``steps`` (plain step functions over a ``ReindexRun``),
``prefect_tasks`` (the thin ``@task`` adapters ``flows/reindex.py`` calls, and run bookkeeping),
``publication`` (the publication gate: candidate vs ``current`` on the golden set), ``review`` (human
review of an inconclusive gate), ``concurrency`` (one reindex at a time), ``fanout`` (embedding over Dask).
Importing the package imports nothing heavy.
"""
