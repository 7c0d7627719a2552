"""Prefect tasks for ``golden init``: thin adapters over ``tasks.golden.steps``."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from tasks.golden import steps

_opts = {"cache_policy": NO_CACHE, "persist_result": False}

open_run = steps.open_run
read_log = task(name="read_query_log", **_opts)(steps.read_log)
open_index = task(name="open_index", **_opts)(steps.open_index)
sample_queries = task(name="sample_queries", **_opts)(steps.sample_queries)
pool_and_write = task(name="pool_candidates", **_opts)(steps.pool_and_write)
finish_run = task(name="finish_run", **_opts)(steps.finish_run)
fail_run = steps.fail_run
