# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Baselines for imbalanced time-series classification
#
# Every method in this book claims to beat something: training with no correction,
# class weights, re-sampling, SMOTE and its relatives, or a loss designed for imbalance.
# This chapter builds those baselines once, as library recipes, and measures them under
# the imbalance protocols of the later chapters, so each later chapter can compare
# against the same numbers.
#
# **What you will learn**
#
# - the two standard deep time-series classifiers, FCN and ResNet {cite}`wang2017tsc,fawaz2019deep`;
# - three families of correction: re-weighting, re-sampling (random and synthetic), and
#   losses for imbalance (focal, class-balanced, LDAM with deferred re-weighting);
# - how to read balanced accuracy, macro F1 and minority-half accuracy, and why plain
#   accuracy misleads under imbalance;
# - how much each correction recovers of what imbalance costs, on real UCR/UEA data.

# %% [markdown]
# ## Setup

# %%
import subprocess
import sys

if "google.colab" in sys.modules:  # Colab has PyTorch already; add tsimb and its data packages
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tsimb @ git+https://github.com/tsimb/tsimb"],
                   check=True)

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

import tsimb
from tsimb.experiments import baselines as experiment
from tsimb.experiments import format_summary, provenance_line, resolve_profile, summarise
from tsimb.plots import plot_metric_vs, plot_per_class_metric, set_style

PROFILE = resolve_profile()
DEVICE = tsimb.get_device()
SETTINGS = experiment.SETTINGS[PROFILE]
set_style()
pd.set_option("display.width", 140)
print(f"profile: {PROFILE}; device: {DEVICE.type}")
print(f"data sets: {', '.join(SETTINGS.datasets)}; models: {', '.join(SETTINGS.models)}")
print(f"protocols: {', '.join(i.label for i in SETTINGS.imbalances)}; seeds: {list(SETTINGS.seeds)}; "
      f"epochs: {SETTINGS.budget.epochs}")

# %% [markdown]
# ## The methods
#
# ### Models
#
# Both classifiers map a series $x \in \mathbb{R}^{C \times T}$ to logits
# $z = W h(x) + b$, where $h(x)$ is a feature vector obtained by global average pooling
# over time; `tsimb` exposes $h$ as `model.features(x)` because later chapters regularise
# and plot it.
#
# - **FCN**: three convolutions with 128, 256 and 128 filters and kernels 8, 5 and 3,
#   each followed by batch normalisation and ReLU {cite}`wang2017tsc`.
# - **ResNet**: three residual blocks of 64, 128 and 128 filters; each block is the FCN's
#   three convolutions plus a shortcut. Fawaz et al. {cite}`fawaz2019deep` found it the
#   strongest deep classifier on the UCR archive, and the ODE-augmentation paper
#   {cite}`sarkar2023ode` trains it.
#
# ### Re-weighting
#
# With $n_c$ training series in class $c$, per-series loss $\ell_i$ and a minibatch of
# $B$ series, the weighted methods minimise a weighted mean
#
# $$
# \mathcal{L} = \frac{\sum_i w_{y_i} \ell_i}{\sum_i w_{y_i}}, \tag{1}
# $$
#
# the reduction of PyTorch's `cross_entropy(weight=...)` and of the LDAM-DRW reference
# code, except the class-balanced focal loss, which follows Cui et al.'s code and divides
# by the batch size instead, $\frac1B \sum_i w_{y_i} \ell_i$. The difference matters on
# small batches: eq. (1) renormalises every batch, which weakens the weights when a
# batch holds few minority series (`fit(loss_reduction=...)` chooses per recipe).
#
# *Class weights* use inverse frequency, $w_c = n / (K n_c)$ (scikit-learn's "balanced"
# rule). *Class-balanced* weights {cite}`cui2019classbalanced` replace $n_c$ by the
# effective number of samples,
#
# $$
# E_{n_c} = \frac{1 - \beta^{n_c}}{1 - \beta}, \qquad w_c \propto \frac{1}{E_{n_c}}, \tag{2}
# $$
#
# which saturates for large classes ($\beta \to 1$ gives inverse frequency, $\beta = 0$
# no weighting); we use $\beta = 0.9999$.
#
# ### Losses for imbalance
#
# The *focal loss* {cite}`lin2017focal` (their eq. 4) down-weights series the model
# already classifies well, with $p_t$ the probability of the true class:
#
# $$
# \mathrm{FL}(p_t) = -(1 - p_t)^{\gamma} \log p_t, \qquad \gamma = 2. \tag{3}
# $$
#
# The *LDAM* loss {cite}`cao2019ldam` asks for a larger margin on rarer classes: it
# subtracts $\Delta_y = C / n_y^{1/4}$ from the true logit before a scaled softmax,
#
# $$
# \ell_{\mathrm{LDAM}}(x, y) = -\log \frac{e^{s(z_y - \Delta_y)}}{e^{s(z_y - \Delta_y)} + \sum_{j \ne y} e^{s z_j}}, \tag{4}
# $$
#
# with $C$ chosen so the largest margin is 0.5, $s = 30$, and logits that are cosine
# similarities (a normalised last layer whose columns start at unit norm, as in the
# reference code). The *class-balanced focal loss* {cite}`cui2019classbalanced` is the
# sigmoid form of eq. (3) summed over the classes, $\sum_j (1 - p^t_j)^\gamma\,
# \mathrm{BCE}(z_j, \mathbb{1}[j = y])$, weighted by eq. (2). *Deferred re-weighting* (DRW) trains without
# weights first and switches on the class-balanced weights of eq. (2), with a ten times
# smaller learning rate, for the last 20% of epochs.
#
# ### Re-sampling
#
# *Random over-sampling* repeats minority series until every class has $n_{\max}$;
# *random under-sampling* discards majority series down to $n_{\min}$. *SMOTE*
# {cite}`chawla2002smote` creates new minority series between a series $x_i$ and one of
# its $k$ nearest same-class neighbours $x_{nn}$,
#
# $$
# \tilde{x} = x_i + \lambda (x_{nn} - x_i), \qquad \lambda \sim U[0, 1], \tag{5}
# $$
#
# treating each series as a vector of $C \cdot T$ values. *ADASYN* {cite}`he2008adasyn`
# creates more of them near series whose neighbourhood is dominated by other classes;
# *Borderline-SMOTE* {cite}`han2005borderline` creates them only from minority series on
# the class border. We use imbalanced-learn's implementations with
# $k = \min(5, n_{\min} - 1)$, since our minority classes can be tiny.
#
# In code, each method is one name for `tsimb.baselines.train_baseline`:

# %%
from tsimb.baselines import METHODS, train_baseline

print(METHODS)

# %% [markdown]
# ### Metrics
#
# The test splits are (nearly) balanced, so plain accuracy is meaningful there, but we
# report what the papers report: *balanced accuracy* (the mean of per-class recalls
# {cite}`brodersen2010balanced`), *macro F1*, and the accuracy on the test series of the
# *minority half* of the classes (the classes rarest in training). `tsimb.metrics.evaluate`
# also returns micro F1, MCC, macro PR-AUC, G-mean and per-class recall.

# %% [markdown]
# ## One run, by hand
#
# Before the grid, one ResNet on JapaneseVowels (nine speakers, twelve channels) under
# step imbalance with ratio 10: five classes keep 30 training series, four keep 3.

# %% tags=["nbval-ignore-output"]
train, test = tsimb.load_train_test("JapaneseVowels")
imbalanced = tsimb.Imbalance("step", 10).apply(train, seed=0)
majority, minority = tsimb.class_halves(imbalanced.class_counts())
print("training counts:", imbalanced.class_counts().tolist(), "| minority classes:", minority)

rows = {}
for method in ["none", "ldam-drw"]:
    model, history = train_baseline(method, "resnet", imbalanced, SETTINGS.budget, seed=0, device=DEVICE)
    scores = tsimb.evaluate(test.y, tsimb.predict_proba(model, test.X), majority, minority)
    rows[method] = {k: scores[k] for k in ["accuracy", "balanced_accuracy", "macro_f1", "minority_accuracy"]}
pd.DataFrame(rows).T.round(3)

# %% [markdown]
# ## The experiment
#
# The grid: every method, both models, every data set, step and exponential imbalance,
# every seed. With two classes (GunPoint, ItalyPowerDemand) exponential imbalance keeps
# the same counts as step imbalance, so those data sets run step imbalance only. Each
# data set and model is also trained once per seed on its full, balanced training split
# with no correction (protocol `balanced`): the reference that shows what imbalance costs.
# `experiment.run` returns a tidy table, one row per (data set, protocol, model, method,
# seed, metric). The runs are read from the book's run store (`book/runs/baselines.jsonl`,
# filled once by `python -m tsimb run baselines`); without it they are computed.

# %%
results = experiment.run(PROFILE, progress=True)
print(provenance_line("baselines", PROFILE))
print(f"{results[['dataset', 'protocol', 'model', 'method', 'seed']].drop_duplicates().shape[0]} runs, "
      f"{len(results)} rows")
results.head()

# %%
HEADLINE = ["balanced_accuracy", "macro_f1", "minority_accuracy"]
summary = summarise(results, ["dataset", "protocol", "model", "method"], HEADLINE)

# %% [markdown]
# ### Balanced accuracy, per data set and protocol
#
# Mean ± standard deviation over seeds, in percent; one table per model.

# %%
for model in SETTINGS.models:
    rows = summary[(summary["model"] == model) & (summary["metric"] == "balanced_accuracy")]
    wide = format_summary(rows, index=["method"], columns=["dataset", "protocol"], digits=1, scale=100)
    print(f"{model.upper()}: balanced accuracy (%), mean ± sd over {len(SETTINGS.seeds)} seeds")
    display(wide.sort_index(axis=1).reindex(list(METHODS)).fillna(""))

# %% [markdown]
# ### Which corrections help, on average
#
# To rank methods across data sets we average, per seed, each method's score over the
# imbalanced settings, then report mean and spread over seeds, and the gain over
# training with no correction on the same settings.

# %%
imbalanced_rows = results[results["protocol"] != "balanced"]
per_seed = (imbalanced_rows[imbalanced_rows["metric"].isin(HEADLINE)]
            .groupby(["model", "method", "seed", "metric"])["value"].mean().reset_index())
ranking = summarise(per_seed, ["model", "method"])
ranking = ranking.pivot_table(index=["model", "method"], columns="metric", values="mean")
baseline = ranking.xs("none", level="method")
gain = ranking.sub(baseline, level="model")
ranking_table = (100 * ranking).round(1).join((100 * gain).round(1), rsuffix=" gain vs none")
ranking_table.sort_values(["model", "balanced_accuracy"], ascending=[True, False])

# %% [markdown]
# What imbalance costs: the uncorrected model under each protocol against the balanced
# reference (balanced accuracy, %, mean over seeds):

# %%
cost = summary[(summary["method"] == "none") & (summary["metric"] == "balanced_accuracy")]
cost.pivot_table(index=["dataset", "model"], columns="protocol", values="mean").mul(100).round(1)

# %% [markdown]
# ### Per-class recall
#
# Where the gains come from: recall of each class on JapaneseVowels under step-10 for
# ResNet (classes 5 to 8 are the minority half), for a few of the methods.

# %%
shown = ["none", "class-weights", "ros", "smote", "ldam-drw"]
subset = results[(results["dataset"] == "JapaneseVowels") & (results["protocol"] == "step-10")
                 & (results["model"] == "resnet") & results["method"].isin(shown)]
grid = plot_per_class_metric(subset, hue="method")
grid.figure.suptitle("JapaneseVowels, step-10, ResNet: recall per class (bars: range over seeds)", y=1.03)
plt.show()

# %% [markdown]
# ### Balanced accuracy against the imbalance ratio
#
# A sweep of the step ratio on one data set shows how fast each correction degrades as
# the minority classes shrink (ratio 1 is the balanced split).

# %%
sweep = experiment.run_sweep(PROFILE, progress=True)
print(f"{SETTINGS.sweep_dataset}, {SETTINGS.sweep_model}, step imbalance, ratios {list(SETTINGS.sweep_ratios)}")
ax = plot_metric_vs(sweep, x="ratio", metric="balanced_accuracy", hue="method")
ax.set_xlabel("imbalance ratio (step)")
plt.show()

# %%
sweep_summary = summarise(sweep, ["ratio", "method"], ["balanced_accuracy"])
sweep_summary.pivot_table(index="method", columns="ratio", values="mean").mul(100).round(1)

# %% [markdown]
# ### LDAM-DRW: our schedule against the reference code's
#
# Every baseline here trains with Adam. For LDAM-DRW that means one change of the learning
# rate, ten times smaller when the re-weighting starts (80% of the epochs). The reference
# code of Cao et al. trains with SGD (momentum 0.9, learning rate 0.1, weight decay
# $2\cdot10^{-4}$), warms up over the first 2.5% of the epochs and multiplies the rate by
# 0.01 at 80% and by 0.0001 at 90%. Both, on JapaneseVowels under step-10 with the ResNet,
# same epochs and seeds (`ldam-drw-sgd` is the reference schedule):

# %%
schedules = experiment.run_ldam_schedule(PROFILE, progress=True)
schedule_summary = summarise(schedules, ["method"], HEADLINE)
display(format_summary(schedule_summary, ["method"], digits=1, scale=100)[HEADLINE])

# %% [markdown]
# ## Results beside the papers'
#
# No paper in this book reports these baselines on these data sets under these
# protocols: the dissertation {cite}`wang2023dissertation` measures them on CIFAR images,
# IB-GAN {cite}`ibgan` on other multivariate sets with its own drop protocol, and the
# ODE paper {cite}`sarkar2023ode` on balanced data. So this chapter has no published column;
# its reference is our own balanced-training run above. Each later chapter reruns its
# paper's baselines in that paper's setting and shows the published numbers beside ours.
#
# ## What the numbers say
#
# The tables above are computed when the chapter runs, so we state the findings as code,
# against the results table rather than as typed-in numbers:

# %%
best = ranking["balanced_accuracy"].groupby(level="model").idxmax()
for model in SETTINGS.models:
    b = ranking.loc[(model, "none"), "balanced_accuracy"]
    method = best[model][1]
    print(f"{model}: best mean balanced accuracy with {method} "
          f"({100 * ranking.loc[best[model], 'balanced_accuracy']:.1f}% vs {100 * b:.1f}% uncorrected); "
          f"methods that beat no correction: "
          f"{', '.join(m for (mm, m) in ranking.index if mm == model and m != 'none' and ranking.loc[(mm, m), 'balanced_accuracy'] > b)}")
spread = summary[summary["metric"] == "balanced_accuracy"]["std"]
print(f"median standard deviation over seeds: {100 * spread.median():.1f} points "
      f"(so differences of a point or two between methods are within noise)")

# %% [markdown]
# Read the printed lines together with the tables: with so few minority series (three
# per class under step-10, two in the rarest GunPoint class), every method's score varies
# by several points from seed to seed, and the `quick` profile's three seeds cannot
# separate close methods. The `full` profile's five seeds, larger data sets and longer
# training are what a claim should rest on. Random under-sampling throws away most of the training
# data, and Borderline-SMOTE creates no series at all when no minority series lies on the
# class border (imbalanced-learn then returns the data unchanged), so in some settings it
# is identical to no correction.
#
# ## Summary
#
# - `tsimb.baselines.train_baseline(method, model, train, budget, seed)` trains any of the
#   ten baselines; `tsimb.experiments.baselines.run(profile)` reruns this chapter's grid
#   headless (`python -m tsimb run baselines`).
# - The cost of imbalance is measured against a balanced-training reference, and each
#   correction's gain against no correction on the same settings; both vary by data set
#   and model, and small replicate counts measure them poorly.
#
# ## Exercises
#
# 1. Rerun the grid with the `full` profile on a GPU. Which rankings change?
# 2. Add `Imbalance("drop", 0.75)` (the IB-GAN protocol) to the settings. Does the
#    ranking of the methods stay the same?
# 3. LDAM's margins grow as $n^{-1/4}$. Try `LDAMLoss(counts, max_margin=1.0)` with
#    `tsimb.training.fit`: does a larger margin help the minority half?
# 4. Our SMOTE interpolates series point by point. Why could that produce unrealistic
#    series for data sets whose classes differ by phase shifts?
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
