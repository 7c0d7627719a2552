"""One registry pattern for every part users swap: a name -> entry mapping per kind of part.

Adding a part is one entry in its registry (a decorator or one ``register`` call next to the code);
the benchmark loops over these names, configs name them, and an unknown name is refused with the
known ones (and the closest match). The registries:

=================  ===============================================  =====================================
part               registry                                         an entry is
=================  ===============================================  =====================================
embedder presets   ``tasks.embedding.PRESETS``                      an ``EmbedderConfig`` (any HF id or
                                                                    local folder also works unregistered)
chunkers           ``tasks.chunking.strategies.STRATEGIES``         ``(DocContext) -> list[Draft]``
per-type chunkers  ``tasks.chunking.strategies.TYPE_CHUNKERS``      the same, for one ``doc_type``
loaders            ``tasks.loaders.registry.LOADERS``               a ``Loader`` per file suffix
index kinds        ``tasks.indexing.INDEX_KINDS``                   an ``IndexKind`` (params + build)
retrieval modes    ``tasks.retrievers.RETRIEVAL_MODES``             ``(RetrievalConfig, parts) -> Retriever``
drift tests        ``tasks.drift.stattests.base.TESTS``             a test class (``@register("name")``)
flows              ``tasks.config.flows.FLOWS``                     a ``FlowSpec``
=================  ===============================================  =====================================

Named *configurations* of these parts for the benchmark grid (embedders, chunkers, indexes,
retrieval, rerankers) are entries under ``registry:`` in ``configs/benchmark.yaml``.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class UnknownName(KeyError, ValueError):
    """A name that is not in a registry; the message lists the known names (a ValueError too, so pydantic
    validators report it as a config error)."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0]) if self.args else ""


class Registry(dict, Generic[T]):
    """``name -> entry`` for one kind of part (a ``dict``: iterate, ``in``, ``get`` as usual)."""

    def __init__(self, kind: str, entries: dict[str, T] | Iterable[tuple[str, T]] = ()) -> None:
        super().__init__(entries)
        self.kind = kind

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, entry: T, *, replace: bool = False) -> T: ...

    def register(self, name: str, entry: Any = None, *, replace: bool = False) -> Any:
        """Add ``entry`` under ``name``; without ``entry``, a decorator. A second, different entry is refused."""
        def add(value: T) -> T:
            if name in self and self[name] is not value and not replace:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self[name] = value
            return value

        return add if entry is None else add(entry)

    def lookup(self, name: str) -> T:
        """The entry for ``name``, else ``UnknownName`` naming the known entries and the closest one."""
        try:
            return self[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), [str(k) for k in self], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownName(f"unknown {self.kind} {name!r}{hint}; known: {', '.join(self.names())}") from None

    def check(self, name: str, *, also: tuple[str, ...] = ()) -> str:
        """For a pydantic validator: ``name`` if it is registered (or one of ``also``), else the error a
        ``Literal`` field gives ("Input should be 'a', 'b' or 'c'"), with the closest name."""
        from pydantic_core import PydanticCustomError

        if name in self or name in also:
            return name
        known = [*also, *sorted(self)]
        expected = ", ".join(repr(k) for k in known[:-1]) + f" or {known[-1]!r}" if len(known) > 1 else repr(known[0])
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise PydanticCustomError("literal_error", "Input should be {expected}{hint}", {"expected": expected, "hint": hint})

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self))
