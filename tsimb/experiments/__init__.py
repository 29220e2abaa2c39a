"""Experiments: profiles, the run store, the grid runner, ``verify``, and one module per
book chapter (its settings per profile, its grids, its run function, its published numbers)."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..registry import closest
from .profiles import PROFILES, resolve_profile
from .runner import RunOutput, SkipRun, describe_runs, format_summary, run_grid, summarise
from .store import RunStore, config_key, default_cache_dir, default_store, default_store_dir

# chapter name (its store file, the CLI's argument) -> the module with its experiment
CHAPTERS = {
    "baselines": "tsimb.experiments.baselines",
    "ode-augmentation": "tsimb.experiments.ode_augmentation",
}


def chapter_module(name: str) -> ModuleType:
    """The experiment module of chapter ``name``: it has ``CHAPTER``, ``datasets(profile)``, ``grids(profile)``,
    ``run_one(config, epochs=None)``, ``REFERENCE_METHOD`` and ``OWN_METHODS``."""
    if name not in CHAPTERS:
        raise ValueError(closest("chapter", name, CHAPTERS))
    return importlib.import_module(CHAPTERS[name])


def provenance_line(chapter: str, profile: str | None = None, store: RunStore | None = None) -> str:
    """One line on the stored runs behind a chapter's results under ``profile``: how many,
    on what device, the total compute time, the commits (shown under each chapter's results)."""
    module = chapter_module(chapter)
    store = store or default_store()
    if store is None:
        return "no run store: every result on this page was computed in this session"
    keys = {config_key(c) for grid in module.grids(profile).values() for c in grid}
    records = [r for k, r in store.records(module.CHAPTER).items() if k in keys]
    missing = len(keys) - len(records)
    return describe_runs(records) + (f"; {missing} run(s) computed in this session" if missing else "")


__all__ = ["PROFILES", "resolve_profile", "RunOutput", "SkipRun", "run_grid", "summarise", "format_summary",
           "describe_runs", "RunStore", "config_key", "default_store_dir", "default_cache_dir", "CHAPTERS",
           "chapter_module", "provenance_line"]
