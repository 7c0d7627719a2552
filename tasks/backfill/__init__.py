"""The backfill flow: run evaluate or drift once per past date, as of that date, idempotently.

Modules: ``config`` (BackfillRequest), ``steps`` (dates, what was live on each, idempotency keys),
``prefect_tasks`` (plan, run each date as a subflow, summarise: what ``flows/backfill.py`` calls).
"""
