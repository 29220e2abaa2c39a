"""Experiment machinery (profiles, cached tidy runner) and each chapter's experiment."""

from .profiles import PROFILES, resolve_profile
from .runner import RunCache, SkipRun, format_summary, run_grid, summarise

__all__ = ["PROFILES", "resolve_profile", "RunCache", "SkipRun", "run_grid", "summarise", "format_summary"]
