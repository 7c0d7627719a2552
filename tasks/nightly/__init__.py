"""The nightly chain: reindex -> evaluate -> drift as subflows of one flow run.

Modules: ``config`` (NightlyConfig: the three flows' configs), ``steps`` (the night's summary and its
failure rule).
"""
