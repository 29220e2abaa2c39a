"""Profiles: ``quick`` (bundled data, small budgets, CPU, minutes per chapter; what CI
runs) and ``full`` (the papers' data sets, budgets and replicate counts; GPU or Colab).

A chapter's experiment keeps one settings object per profile; the code is the same.
The profile comes from the ``profile`` argument, else ``$TSIMB_PROFILE``, else ``quick``.
"""

from __future__ import annotations

import os

PROFILES = ("quick", "full")


def resolve_profile(profile: str | None = None) -> str:
    """The profile to use: the argument, else ``$TSIMB_PROFILE``, else ``"quick"``."""
    origin = "profile" if profile else "$TSIMB_PROFILE"
    name = (profile or os.environ.get("TSIMB_PROFILE") or "quick").lower()
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r} (from {origin}); choose one of {', '.join(PROFILES)}")
    return name
