"""nightshift: Prefect flows that keep a RAG retrieval layer honest."""

__version__ = "0.1.0"
