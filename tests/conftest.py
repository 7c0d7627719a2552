"""Shared test setup: offline environment, real components on small data."""

from __future__ import annotations

from nightshift.offline import apply_offline_defaults

apply_offline_defaults()
