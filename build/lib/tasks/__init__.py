"""The domain of nightshift: plain typed functions, one concern per module.

Prefect ``@task`` wrappers are thin adapters defined next to the functions they wrap;
flows in ``flows/`` only order them.
"""
