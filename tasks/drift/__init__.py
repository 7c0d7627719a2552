"""The drift flow: query-log windows -> features -> a family of two-sample tests -> Holm -> explain -> act.

Modules: ``config`` (DriftConfig), ``logs`` (the two windows read from the query log and validated),
``plan`` (which tests run on which inputs, and the family decision), ``steps`` (plain step functions
over a ``DriftRun``), ``prefect_tasks`` (the thin ``@task`` adapters ``flows/drift.py`` calls, MLflow
bookkeeping, actions), ``explain`` and ``report``; ``stattests/`` is the registry of statistical tests
(one module per family). Shared pieces it uses: ``tasks.querylogs`` (format, validation, windows,
features), ``tasks.neighbors``. Importing the package imports nothing heavy.
"""
