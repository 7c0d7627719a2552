"""Prefect flows: thin tables of contents that order the tasks in ``tasks/``."""
