"""Loaders: turn the files of a source into ``Document``s, quarantining what cannot be indexed.

Registry (suffix -> loader) in ``registry``; one module per file family; ``load`` drives a source.
"""

from tasks.loaders.base import Loader, LoadLimits, LoadRejected
from tasks.loaders.load import FileStats, LoadResult, iter_documents, load_source
from tasks.loaders.registry import (LOADERS, loader_for, register_loader, supported_suffixes,
                                    unsupported_reason)
from tasks.sources import SourceError

__all__ = ["LOADERS", "FileStats", "LoadLimits", "LoadRejected", "LoadResult", "Loader",
           "SourceError", "iter_documents", "load_source", "loader_for", "register_loader",
           "supported_suffixes", "unsupported_reason"]
