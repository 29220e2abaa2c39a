"""Named things (methods, models, chapters, data sets) and the error for a name that is
not one of them, with the closest names offered."""

from __future__ import annotations

import difflib
from typing import Iterable


def closest(kind: str, name: object, choices: Iterable[str], n: int = 3) -> str:
    """The message for an unknown ``name``: ``unknown baseline 'smtoe'; did you mean
    'smote'? Choose one of ...``. Matching ignores case."""
    choices = list(choices)
    lowered = {c.lower(): c for c in choices}
    hits = difflib.get_close_matches(str(name).lower(), list(lowered), n=n, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(lowered[h]) for h in hits)}?" if hits else ""
    listed = ", ".join(choices) if len(choices) <= 30 else ", ".join(choices[:30]) + ", ..."
    return f"unknown {kind} {name!r}{hint} Choose one of: {listed}"
