"""The evaluate flow: the published index on a golden set, the champion, the regression gate, the report.

Modules: ``config`` (EvaluateConfig), ``steps`` (plain step functions over an ``EvaluateRun``) and
``finish`` (the run's end: MLflow record, report, notification), ``prefect_tasks`` (the thin ``@task``
adapters ``flows/evaluate.py`` calls), ``champion`` and ``history`` (MLflow), ``gate`` (the nightly
gate), ``review_queue``, ``plots`` and ``report``. Shared pieces it uses: ``tasks.goldenset`` (load and
version golden sets), ``tasks.measure`` (metrics, latency, ANN health), ``tasks.segments``,
``tasks.reporting``. Importing the package imports nothing heavy.
"""
