"""nightshift: Prefect flows that keep a RAG retrieval layer honest.

The Python API for applications: ``from nightshift import Retriever`` (``tasks.serving.live.Retriever``:
search a workspace's published index, following new publications without a restart).
"""

__version__ = "0.1.0"
__all__ = ["Retriever", "SearchResponse"]


def __getattr__(name: str):  # lazy: importing nightshift (the CLI) does not load the retrieval stack
    if name in __all__:
        from tasks.serving import live

        return getattr(live, name)
    raise AttributeError(f"module 'nightshift' has no attribute {name!r}")
