"""The config home: how every config is found, loaded and validated.

- ``loader``: YAML + ``--set dotted.key=value`` overrides -> a pydantic model; errors name the bad key
  (with the closest valid one).
- ``settings``: ``Settings`` (``configs/settings.yaml`` + ``NIGHTSHIFT_*`` environment): where things live.
- ``flows``: ``FLOWS``, every flow with its Prefect flow and its config model (``tasks.<flow>.config``),
  named by ``module:attribute`` strings so listing them imports nothing.

Each flow's own model lives in its package: ``tasks.reindex.config.ReindexConfig``,
``tasks.benchmark.config.BenchmarkConfig``, ``tasks.evaluate.config.EvaluateConfig``,
``tasks.drift.config.DriftConfig``, ``tasks.backfill.config.BackfillRequest``,
``tasks.nightly.config.NightlyConfig``.
"""
