"""The nightly evaluation: golden sets, measuring an index, the champion, the regression gate, the report.

Modules: ``config`` (EvaluateConfig), ``golden`` (+ ``golden_snapshot``: DVC), ``measure`` (metrics,
latency, ANN health), ``segments``, ``champion`` (MLflow), ``gate`` (nightly gate), ``publication``
(the reindex publication gate), ``review``, ``plots``/``render``/``report``, ``steps``/``finish``
(plain step functions), ``flow_tasks`` (Prefect wrappers). Importing the package imports nothing heavy.
"""
