"""Registries: one place per kind of named thing (models, losses, imbalance protocols,
baseline methods, augmentations, generative oversamplers, chapters) that maps a name to
what builds it. The command line, the "did you mean" errors, the intro chapter's table
and the contract tests over every entry all read from them."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Callable, Generic, Iterable, TypeVar

T = TypeVar("T")


def closest(kind: str, name: object, choices: Iterable[str], n: int = 3) -> str:
    """The message for an unknown ``name``: ``unknown baseline 'smtoe'; did you mean
    'smote'? Choose one of ...``. Matching ignores case."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(str(name).lower(), list(lowered), n=n, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(lowered[h]) for h in hits)}?" if hits else "."
    listed = ", ".join(choices) if len(choices) <= 30 else ", ".join(choices[:30]) + ", ..."
    return f"unknown {kind} {name!r}{hint} Choose one of: {listed}"


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered; the message offers the closest registered names.
    A ``ValueError`` for callers and a ``KeyError`` so that ``Mapping.get`` still works."""

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Mapping[str, T], Generic[T]):
    """An ordered, read-only mapping ``name -> entry`` of one ``kind``, filled with
    :meth:`register` where each entry is defined. Each entry may carry a one-line summary."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._summaries: dict[str, str] = {}

    def add(self, name: str, entry: T, summary: str = "") -> T:
        """Register ``entry`` under ``name``; a name registered twice is an error."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = entry
        self._summaries[name] = summary
        return entry

    def register(self, name: str, summary: str = "") -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""
        return lambda entry: self.add(name, entry, summary)

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownNameError(closest(self.kind, name, self._entries)) from None

    def check(self, name: str) -> str:
        """``name`` if registered, else :class:`UnknownNameError` with the closest names."""
        self[name]
        return name

    def summary(self, name: str) -> str:
        self[name]
        return self._summaries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._entries)})"
