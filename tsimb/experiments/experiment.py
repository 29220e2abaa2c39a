"""One chapter's experiment as data: :class:`Experiment`.

A chapter module defines its settings per profile, how its grids' configurations are
built, how a run is scored, its claims and where the paper's numbers are, and hands them to
one :class:`Experiment`. Everything else is generic and lives here: one :meth:`run_one`
(load and protocol -> ``METHODS[config["method"]].train`` -> score), one :meth:`run` for
the notebooks and the command line (so ``tsimb run CHAPTER --out t.csv`` writes the
chapter's own table), the tidy table, and the checks the contract test applies to every
experiment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..data import Dataset, Imbalance, TooFewSeriesError, load_train_test
from ..evaluation import Claim
from ..methods import METHODS, Sampler, Trained
from ..registry import closest
from ..runtime import get_device
from ..train import Budget
from ..train.ensemble import train_ensemble
from .profiles import resolve_profile
from .runner import RunOutput, SkipRun, run_grid
from .store import Config

Score = Callable[[Config, Trained, Dataset, Dataset], Mapping[str, float]]
ScoreGenerated = Callable[[Config, Sampler, Dataset, Dataset], Mapping[str, float]]
ScoreMembers = Callable[[Sequence[Config], Sequence[Trained], Sequence[tuple[Dataset, Dataset]]],
                        Sequence[Mapping[str, float]]]
MeasureData = Callable[[Config, Dataset, Dataset], Mapping[str, float]]
GENERATION = "quality"  # a configuration of this ``kind`` scores the method's generator, not a classifier
MEASUREMENT = "data"  # a configuration of this ``kind`` measures the data as the method sees it: no training


def imbalanced_split(config: Config) -> tuple[Dataset, Dataset]:
    """The default protocol: the published splits of ``config["dataset"]``, the training
    split thinned by ``Imbalance(config["imbalance"], config["ratio"])`` with the run's seed;
    the test split untouched."""
    train, test = load_train_test(config["dataset"])
    return Imbalance(config["imbalance"], config["ratio"]).apply(train, seed=config["seed"]), test


@dataclass(frozen=True, eq=False)
class Experiment:
    """A chapter's experiment.

    Attributes:
        chapter: the chapter's name (its store file ``book/runs/<chapter>.jsonl``).
        code_version: stored in every configuration; bump it when a change alters results,
            so that stored runs are not served.
        settings: the chapter's settings object for each profile (``quick``, ``full``).
        build_grids: ``settings -> {grid name: [configuration, ...]}``; each configuration
            names ``dataset``, ``method``, ``seed``, its model under ``model_key`` and its
            budget under ``budget``, plus whatever the split and score read.
        used_datasets: ``settings -> data set names`` (without loading them).
        score: ``(config, trained, train, test) -> metrics`` of a trained classifier.
        split: ``config -> (train, test)``: loading and the imbalance protocol.
        score_generated: ``(config, sampler, train, test) -> metrics`` for configurations of
            kind ``"quality"`` (what a generative method generates).
        measure: ``(config, train, test) -> metrics`` for configurations of kind ``"data"``:
            what the method's preparation makes of the data, with no classifier trained
            (e.g. how far an augmentation's step reaches).
        score_members: ``(configs, trained, splits) -> metrics of each`` for an ensemble's
            members (:meth:`run_ensemble`), scored together (e.g. attacked in one pass,
            :func:`tsimb.robustness.members_attacked_probabilities`); it must give what
            ``score`` gives each member. None: ``score`` each member.
        model_key: the configuration key naming the classifier (``"model"``).
        bookkeeping: configuration keys the tidy table leaves out.
        derived: extra tidy-table columns computed from each configuration.
        reference_method, own_methods: what ``verify`` always samples.
        not_replayable: ``config -> reason or None``: why a run of this configuration,
            made on another processor, cannot be replayed here (e.g. it first trains a
            reference network whose judgement makes its labels, or it takes the sign of a
            gradient at every point, which flips where the gradient is near zero): the
            processor's last bits change the run's data, and ``verify`` checks such runs only
            on the processor that made them.
        claims: the paper's claims (:class:`~tsimb.evaluation.Claim`).
        paper_results: ``() -> tidy table`` of the paper's published numbers.
    """

    chapter: str
    code_version: str
    settings: Mapping[str, Any]
    build_grids: Callable[[Any], dict[str, list[Config]]]
    used_datasets: Callable[[Any], Iterable[str]]
    score: Score
    split: Callable[[Config], tuple[Dataset, Dataset]] = imbalanced_split
    score_generated: ScoreGenerated | None = None
    score_members: ScoreMembers | None = None
    measure: MeasureData | None = None
    model_key: str = "model"
    bookkeeping: tuple[str, ...] = ("chapter", "version", "budget")
    derived: Mapping[str, Callable[[Config], Any]] = field(default_factory=dict)
    reference_method: str = "none"
    own_methods: tuple[str, ...] = ()
    not_replayable: Callable[[Config], str | None] | None = None
    claims: tuple[Claim, ...] = ()
    paper_results: Callable[[], pd.DataFrame] | None = None

    def __reduce__(self):  # pickled by name, so process pools and Dask workers can run run_one
        return experiment, (self.chapter,)

    # --- what a profile holds ---
    def settings_for(self, profile: str | None = None) -> Any:
        return self.settings[resolve_profile(profile)]

    def grids(self, profile: str | None = None) -> dict[str, list[Config]]:
        """Every grid of the chapter under ``profile``, by name (what ``tsimb run`` fills)."""
        return self.build_grids(self.settings_for(profile))

    def datasets(self, profile: str | None = None) -> set[str]:
        """The data sets the chapter's grids use under ``profile`` (without loading them)."""
        return set(self.used_datasets(self.settings_for(profile)))

    def methods(self, profile: str | None = None) -> set[str]:
        """The methods the chapter's grids train under ``profile``."""
        return {c["method"] for grid in self.grids(profile).values() for c in grid}

    def grid_names(self, grids: str | Sequence[str] | None, profile: str | None = None) -> list[str]:
        """``grids`` checked against the chapter's (``None``: all of them, in order; duplicates dropped)."""
        known = list(self.grids(profile))
        names = known if grids is None else [grids] if isinstance(grids, str) else list(dict.fromkeys(grids))
        for name in names:
            if name not in known:
                raise ValueError(closest(f"grid of chapter {self.chapter}", name, known))
        return names

    # --- one run ---
    def run_one(self, config: Config, epochs: int | None = None) -> RunOutput:
        """Train and score one configuration: split -> ``METHODS[method].train`` -> score. With
        ``epochs``, train only that many epochs and return the loss trace (a replay for
        ``tsimb verify``). A configuration of kind ``"quality"`` scores what the method
        generates instead (no trace); one of kind ``"data"`` is measured (no training, no trace)."""
        method = METHODS[config["method"]]
        settings = method.settings_from_config(config)
        train, test = self.split(config)
        budget = Budget(**config["budget"])
        if config.get("kind") == GENERATION:
            if self.score_generated is None:
                raise ValueError(f"chapter {self.chapter} scores no generators, but {config} asks for it")
            if epochs is not None:
                return RunOutput({}, [])
            sampler = method.fit_generator(train, model=config[self.model_key], budget=budget, settings=settings,
                                           seed=config["seed"])
            return RunOutput(dict(self.score_generated(config, sampler, train, test)))
        if config.get("kind") == MEASUREMENT:
            if self.measure is None:
                raise ValueError(f"chapter {self.chapter} measures no data, but {config} asks for it")
            return RunOutput({}, []) if epochs is not None else RunOutput(dict(self.measure(config, train, test)))
        try:
            trained = method.train(train, model=config[self.model_key], budget=budget, settings=settings,
                                   seed=config["seed"], epochs=epochs)
        except TooFewSeriesError as error:  # e.g. SMOTE on a class of one series: recorded as skipped
            raise SkipRun(str(error)) from error
        if epochs is not None:
            return RunOutput({}, trained.trace)
        return RunOutput(dict(self.score(config, trained, train, test)), trained.trace)

    def run_ensemble(self, configs: Sequence[Config]) -> list[RunOutput]:
        """Train and score configurations that differ only in their seed as one batched
        model (:func:`tsimb.train.train_ensemble`), each scored as :meth:`run_one` scores
        it (together, where the chapter gives ``score_members``); the outputs are in the
        order of ``configs`` and match :meth:`run_one`'s up to floating-point rounding
        (amplified, as any change of numerics is, over a long run).
        Where it pays: on a GPU, whose kernels the reference protocol's small batches leave
        idle (``python -m tsimb bench --ensemble K`` measures it)."""
        configs = [dict(c) for c in configs]
        if len(configs) < 2:
            raise ValueError(f"run_ensemble: an ensemble needs at least two configurations, got {len(configs)}")
        shared = [{k: v for k, v in c.items() if k != "seed"} for c in configs]
        if any(other != shared[0] for other in shared[1:]):
            raise ValueError("run_ensemble: the configurations must differ in their seed only")
        config = configs[0]
        if config.get("kind") in (GENERATION, MEASUREMENT):
            raise ValueError(f"run_ensemble: configurations of kind {config['kind']!r} train no classifier; "
                             "use run_one")
        method = METHODS[config["method"]]
        splits = [self.split(c) for c in configs]
        try:
            trained = train_ensemble(method, [train for train, _ in splits], model=config[self.model_key],
                                     budget=Budget(**config["budget"]), seeds=[c["seed"] for c in configs],
                                     settings=method.settings_from_config(config))
        except TooFewSeriesError as error:  # as run_one records it; every member would skip alike
            raise SkipRun(str(error)) from error
        if self.score_members is None:
            scores = [self.score(c, t, train, test) for c, t, (train, test) in zip(configs, trained, splits)]
        else:
            scores = list(self.score_members(configs, trained, splits))
            if len(scores) != len(configs):
                raise ValueError(f"chapter {self.chapter}: score_members returned {len(scores)} results for "
                                 f"{len(configs)} members; return one per member, in order")
        return [RunOutput(dict(metrics), t.trace) for metrics, t in zip(scores, trained)]

    def sampler(self, config: Config) -> tuple[Sampler, Dataset, Dataset]:
        """The trained generator of a generative method's configuration, with the run's
        training and test splits: ``sampler(real series, their labels, seed)`` returns one
        generated series per real one (for figures of what a method generates)."""
        method = METHODS[config["method"]]
        train, test = self.split(config)
        sampler = method.fit_generator(train, model=config[self.model_key], budget=Budget(**config["budget"]),
                                       settings=method.settings_from_config(config), seed=config["seed"])
        return sampler, train, test

    # --- a grid as a table ---
    def run(self, profile: str | None = None, grid: str | Sequence[str] | None = None,
            progress: bool | None = None, jobs: int | None = None, ensemble: bool | None = False,
            **runner) -> pd.DataFrame:
        """One grid (or several, or all: ``None``) as the chapter's tidy table: the
        configuration's keys less the bookkeeping ones, ``protocol`` where the
        configuration has an imbalance, the derived columns, then ``metric`` and ``value``;
        a ``grid`` column when several grids are asked for. ``jobs``: worker processes for
        the runs that are missing (None: one per core, see
        :func:`~tsimb.experiments.runner.plan_jobs`; 1: in this process); ignored with an
        ``executor``. ``ensemble``: train the missing runs that differ only in their seed as
        one batched model each (:meth:`run_ensemble`, in this process; None: on a GPU
        only, where it pays). ``runner`` goes to
        :func:`~tsimb.experiments.runner.run_grid` (store, cache, write, executor,
        recompute)."""
        if ensemble is None:
            ensemble = get_device().type == "cuda" and runner.get("executor") is None
        if runner.get("executor") is not None or ensemble:
            jobs = 1
        names = self.grid_names(grid, profile)
        all_grids = self.grids(profile)
        tables = []
        for name in names:
            configs = all_grids[name]
            if not configs:
                continue
            table = run_grid(configs, self.run_one, chapter=self.chapter, progress=progress, jobs=jobs,
                             desc=f"{self.chapter}: {name}", ensemble=self.run_ensemble if ensemble else None,
                             **runner)
            tables.append(self.tidy(table).assign(grid=name) if len(names) > 1 else self.tidy(table))
        return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=["metric", "value"])

    def tidy(self, table: pd.DataFrame) -> pd.DataFrame:
        """A grid's table for readers: the derived columns added, the bookkeeping columns
        dropped, and ``protocol`` (``balanced``, ``step-10``, ...) where the configurations
        name an imbalance."""
        if table.empty:
            return table
        configs = table.to_dict("records")
        for column, derive in self.derived.items():
            table[column] = [derive(c) for c in configs]
        table = table.drop(columns=[c for c in self.bookkeeping if c in table.columns])
        if {"imbalance", "ratio"} <= set(table.columns):
            table["protocol"] = [Imbalance(k, r).label for k, r in zip(table["imbalance"], table["ratio"])]
        return table

    def published(self) -> pd.DataFrame:
        """The paper's published numbers as a tidy table (labelled as the paper's)."""
        if self.paper_results is None:
            raise ValueError(f"chapter {self.chapter} has no published numbers")
        return self.paper_results()


def experiment(chapter: str) -> Experiment:
    """The :class:`Experiment` of a written chapter (``"baselines"``, ``"ode-augmentation"``, ...)."""
    from . import chapter_module

    return chapter_module(chapter).EXPERIMENT
