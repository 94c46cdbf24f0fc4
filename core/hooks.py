"""Typed hooks between domains, and the typed collaborators a runtime carries.

A hook is how one domain lets others act on something it does (a duress login, an inbound SMS,
a failed text, a high risk result) without importing them. The domain that calls the hook
declares a Protocol for its listeners; the composition root (``api/wiring.py``) registers each
listener under a stable name. A durable job that must reach one listener again (a retry) stores
that name, never a Python path, so renaming a function strands nothing.

``Collaborators`` holds each domain's collaborators (a dataclass the domain declares, such as
``CoordinationDeps``), found by that class: the request side of a domain reads its own, typed,
from the runtime; core never names a domain's type.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

ListenerT = TypeVar("ListenerT")
T = TypeVar("T")


class Hook(Generic[ListenerT]):
    """The listeners of one hook by name, called in the order they were registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: dict[str, ListenerT] = {}

    def register(self, name: str, listener: ListenerT) -> None:
        """Add ``listener`` under ``name``; a name is taken once (a durable job may hold it)."""
        if not name:
            raise ValueError(f"a listener on hook {self.name!r} needs a name")
        if name in self._listeners:
            raise ValueError(f"hook {self.name!r} already has a listener named {name!r}")
        self._listeners[name] = listener

    def get(self, name: str) -> ListenerT | None:
        return self._listeners.get(name)

    def names(self) -> list[str]:
        return list(self._listeners)

    def items(self) -> Iterator[tuple[str, ListenerT]]:
        return iter(list(self._listeners.items()))

    def __iter__(self) -> Iterator[ListenerT]:
        return iter(list(self._listeners.values()))

    def __len__(self) -> int:
        return len(self._listeners)

    def __repr__(self) -> str:
        return f"Hook({self.name!r}, {self.names()!r})"


class Collaborators:
    """One object of each class, provided once by the composition root, found by its class."""

    def __init__(self) -> None:
        self._by_class: dict[type[object], object] = {}

    def provide(self, *values: object) -> None:
        for value in values:
            kind = type(value)
            if kind in self._by_class:
                raise ValueError(f"{kind.__name__} is provided twice")
            self._by_class[kind] = value

    def find(self, kind: type[T]) -> T | None:
        found = self._by_class.get(kind)
        return found if isinstance(found, kind) else None

    def need(self, kind: type[T]) -> T:
        """The ``kind`` the composition root provided; a wiring mistake raises LookupError."""
        found = self.find(kind)
        if found is None:
            raise LookupError(f"no {kind.__name__} is wired into this runtime")
        return found

    def __contains__(self, kind: type[object]) -> bool:
        return kind in self._by_class
