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
# # Baselines for imbalanced time-series classification
#
# Every method in this book claims to beat something: training with no correction,
# class weights, re-sampling, SMOTE and its relatives, or a loss designed for imbalance.
# This chapter builds those baselines once, as library recipes, and measures them under
# the imbalance protocols of the later chapters, so each later chapter can compare
# against the same numbers.
#
# ## What you will learn
#
# - the two standard deep time-series classifiers, FCN and ResNet {cite}`wang2017tsc,fawaz2019deep`;
# - three families of correction: re-weighting, re-sampling (random and synthetic), and
#   losses for imbalance (focal, class-balanced, LDAM with deferred re-weighting);
# - how to read balanced accuracy, macro F1 and minority-half accuracy, and why plain
#   accuracy misleads under imbalance;
# - how much each correction recovers of what imbalance costs, on real UCR/UEA data.
#
# ## Running this chapter

# %%
import subprocess
import sys

if "google.colab" in sys.modules:
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "tsimb @ git+https://github.com/tsimb/tsimb@v0.1.0"],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        raise RuntimeError(f"installing tsimb failed; pip said:\n{pip.stdout[-2000:]}{pip.stderr[-4000:]}")

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

import tsimb
from tsimb.booktools import glue
from tsimb.evaluation import rank_methods
from tsimb.experiments import experiment as chapter_experiment
from tsimb.experiments import format_summary, provenance_line, resolve_profile, running_note, summarise
from tsimb.methods import METHODS
from tsimb.plots import plot_metric_vs, plot_per_class_metric, set_style
from tsimb.tables import for_reader
from tsimb.train import BASELINE_METHODS

PROFILE = resolve_profile()
DEVICE = tsimb.get_device()
experiment = chapter_experiment("baselines")
SETTINGS = experiment.settings_for(PROFILE)
set_style()

# %% tags=["remove-input"]
Markdown(running_note("baselines", PROFILE) + f"""

Settings of this profile: data sets {', '.join(SETTINGS.datasets)}; models {', '.join(SETTINGS.models)};
protocols {', '.join(i.label for i in SETTINGS.imbalances)}; {len(SETTINGS.seeds)} seeds; {SETTINGS.budget.epochs}
epochs of Adam at {SETTINGS.budget.lr:g}, batches of {SETTINGS.budget.batch_size}. Device here: {DEVICE.type}.""")

# %% [markdown]
# ## The method
#
# Every method here is one recipe over one training loop; the later chapters compare against
# all of them.
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
# \begin{equation*}
# \mathcal{L} = \frac{\sum_i w_{y_i} \ell_i}{\sum_i w_{y_i}}, \tag{1}
# \end{equation*}
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
# \begin{equation*}
# E_{n_c} = \frac{1 - \beta^{n_c}}{1 - \beta}, \qquad w_c \propto \frac{1}{E_{n_c}}, \tag{2}
# \end{equation*}
#
# which saturates for large classes ($\beta \to 1$ gives inverse frequency, $\beta = 0$
# no weighting); we use $\beta = 0.9999$.
#
# ### Losses for imbalance
#
# The *focal loss* {cite}`lin2017focal` (their eq. 4) down-weights series the model
# already classifies well, with $p_t$ the probability of the true class:
#
# \begin{equation*}
# \mathrm{FL}(p_t) = -(1 - p_t)^{\gamma} \log p_t, \qquad \gamma = 2. \tag{3}
# \end{equation*}
#
# The *LDAM* loss {cite}`cao2019ldam` asks for a larger margin on rarer classes: it
# subtracts $\Delta_y = C / n_y^{1/4}$ from the true logit before a scaled softmax,
#
# \begin{equation*}
# \ell_{\mathrm{LDAM}}(x, y) = -\log \frac{e^{s(z_y - \Delta_y)}}{e^{s(z_y - \Delta_y)} + \sum_{j \ne y} e^{s z_j}}, \tag{4}
# \end{equation*}
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
# \begin{equation*}
# \tilde{x} = x_i + \lambda (x_{nn} - x_i), \qquad \lambda \sim U[0, 1], \tag{5}
# \end{equation*}
#
# treating each series as a vector of $C \cdot T$ values. *ADASYN* {cite}`he2008adasyn`
# creates more of them near series whose neighbourhood is dominated by other classes;
# *Borderline-SMOTE* {cite}`han2005borderline` creates them only from minority series on
# the class border. We use imbalanced-learn's implementations with
# $k = \min(5, n_{\min} - 1)$, since our minority classes can be tiny.
#
# In code, each method is one entry of the method registry `tsimb.methods.METHODS`,
# trained by `METHODS[method].train(train, model=..., budget=..., seed=...)`:

# %% tags=["remove-input"]
for_reader(pd.DataFrame({"what it does": {m: METHODS.summary(m) for m in BASELINE_METHODS}}).rename_axis("method"))

# %% [markdown]
# ### Metrics
#
# The test splits are (nearly) balanced, so plain accuracy is meaningful there, but we
# report what the papers report: *balanced accuracy* (the mean of per-class recalls
# {cite}`brodersen2010balanced`), *macro F1*, and the accuracy on the test series of the
# *minority half* of the classes (the classes rarest in training). `tsimb.evaluation.evaluate`
# also returns micro F1, MCC, macro PR-AUC, G-mean and per-class recall.

# %% [markdown]
# ## The experiment
#
# ### One run, by hand
#
# Before the grid, one ResNet on JapaneseVowels (nine speakers, twelve channels) under
# step imbalance with ratio 10 (the cell prints the training counts it leaves).

# %% nbval_ignore_reason="trains two networks in the notebook (last-digit drift between kernels, see README)" tags=["nbval-ignore-output"]
train, test = tsimb.load_train_test("JapaneseVowels")
imbalanced = tsimb.Imbalance("step", 10).apply(train, seed=0)
majority, minority = tsimb.class_halves(imbalanced.class_counts())
print("training counts:", imbalanced.class_counts().tolist(), "| minority classes:", minority)

rows = {}
for method in ["none", "ldam-drw"]:
    trained = METHODS[method].train(imbalanced, model="resnet", budget=SETTINGS.budget, seed=0, device=DEVICE)
    scores = tsimb.evaluate(test.y, tsimb.predict_proba(trained.classifier, test.X), majority, minority)
    rows[method] = {k: scores[k] for k in ["accuracy", "balanced_accuracy", "macro_f1", "minority_accuracy"]}
for_reader(pd.DataFrame(rows).T.round(3).rename_axis("method"))

# %% [markdown]
# ### The grid
#
# Every method, both models, every data set, step and exponential imbalance, every seed.
# With two classes (GunPoint, ItalyPowerDemand) exponential imbalance keeps the same
# counts as step imbalance, so those data sets run step imbalance only. Each data set
# and model is also trained once per seed on its full, balanced training split with no
# correction (protocol `balanced`): the reference that shows what imbalance costs.
# `experiment.run` returns a tidy table, one row per (data set, protocol, model, method,
# seed, metric), read from the run store.

# %% tags=["hide-input"]
results = experiment.run(PROFILE, "main", progress=True)
HEADLINE = ["balanced_accuracy", "macro_f1", "minority_accuracy"]
summary = summarise(results, ["dataset", "protocol", "model", "method"], HEADLINE)
print(provenance_line("baselines", PROFILE))

# %% [markdown]
# Balanced accuracy per data set and imbalance protocol, mean ± standard deviation over
# seeds, in percent; one table per model. A dash marks a setting not run (exponential
# imbalance on a two-class set); the balanced-training reference is in the table "What
# imbalance costs" below.

# %% tags=["remove-input"]
for model in SETTINGS.models:
    rows = summary[(summary["model"] == model) & (summary["metric"] == "balanced_accuracy")
                   & (summary["protocol"] != "balanced")]
    wide = format_summary(rows, index=["method"], columns=["dataset", "protocol"], digits=1, scale=100)
    display(Markdown(f"**{model.upper()}**"), for_reader(wide.sort_index(axis=1).reindex(list(BASELINE_METHODS))))

# %% [markdown]
# ### Which corrections help, on average
#
# Two views across the imbalanced settings (every data set and protocol): each method's
# mean rank by balanced accuracy (1 is best; `tsimb.evaluation.rank_methods`), and its
# mean gain in balanced accuracy over no correction on the same settings and seeds.

# %% tags=["hide-input"]
imbalanced_rows = results[results["protocol"] != "balanced"]
ranking = pd.concat(
    rank_methods(imbalanced_rows[imbalanced_rows["model"] == model], "balanced_accuracy",
                 by=("dataset", "protocol")).assign(model=model)
    for model in SETTINGS.models)
balanced = imbalanced_rows[imbalanced_rows["metric"] == "balanced_accuracy"]
reference = balanced[balanced["method"] == "none"].drop(columns="method").rename(columns={"value": "reference"})
paired = balanced.merge(reference, on=["dataset", "protocol", "model", "seed", "metric"])
gain = (paired.assign(gain=100 * (paired["value"] - paired["reference"]))
        .groupby(["model", "method"])["gain"].agg(["mean", "std"]).round(1))
ranking = ranking.merge(gain.reset_index(), on=["model", "method"]).rename(
    columns={"mean": "gain vs none (points)", "std": "sd of gain"})
ranking["mean_rank"] = ranking["mean_rank"].round(2)
for_reader(ranking.set_index(["model", "method"])[["mean_rank", "gain vs none (points)", "sd of gain"]])

# %% [markdown]
# What imbalance costs: the uncorrected model under each protocol against the balanced
# reference (balanced accuracy, %, mean over seeds):

# %% tags=["remove-input"]
cost = summary[(summary["method"] == "none") & (summary["metric"] == "balanced_accuracy")]
for_reader(cost.pivot_table(index=["dataset", "model"], columns="protocol", values="mean").mul(100).round(1)
           [["balanced", *(i.label for i in SETTINGS.imbalances)]])

# %% [markdown]
# ### Per-class recall
#
# Where the gains come from: recall of each class on JapaneseVowels under step-10 for
# ResNet, for a few of the methods ({numref}`fig-baselines-recall`).

# %% tags=["remove-cell"]
shown = ["none", "class-weights", "ros", "smote", "ldam-drw"]
subset = results[(results["dataset"] == "JapaneseVowels") & (results["protocol"] == "step-10")
                 & (results["model"] == "resnet") & results["method"].isin(shown)]
glue("fig-recall", plot_per_class_metric(subset, hue="method").figure, display=False)
plt.close("all")
glue("recall-minority", ", ".join(map(str, tsimb.class_halves(
    tsimb.Imbalance("step", 10).apply(tsimb.load_dataset("JapaneseVowels"), seed=0).class_counts())[1])),
    display=False)

# %% [markdown]
# ```{glue:figure} fig-recall
# :name: fig-baselines-recall
#
# Recall of each class, JapaneseVowels under step-10, ResNet; bars are the mean over
# seeds and the error bars the range. The minority half is classes {glue:text}`recall-minority`.
# ```
#
# ### Balanced accuracy against the imbalance ratio
#
# A sweep of the step ratio on one data set shows how fast each correction degrades as
# the minority classes shrink (ratio 1 is the balanced split; {numref}`fig-baselines-sweep`).

# %% tags=["remove-cell"]
sweep = experiment.run(PROFILE, "sweep", progress=True)
ax = plot_metric_vs(sweep, x="ratio", metric="balanced_accuracy", hue="method")
ax.set_xlabel("imbalance ratio (step)")
glue("fig-sweep", ax.figure, display=False)
plt.close("all")
glue("sweep-setting", f"{SETTINGS.sweep_dataset}, {SETTINGS.sweep_model}", display=False)

# %% [markdown]
# ```{glue:figure} fig-sweep
# :name: fig-baselines-sweep
#
# Balanced accuracy against the step-imbalance ratio ({glue:text}`sweep-setting`), mean and
# standard deviation over seeds.
# ```

# %% tags=["remove-input"]
sweep_summary = summarise(sweep, ["ratio", "method"], ["balanced_accuracy"])
for_reader(sweep_summary.pivot_table(index="method", columns="ratio", values="mean").mul(100).round(1))

# %% [markdown]
# ### LDAM-DRW: our schedule against the reference code's
#
# Every baseline here trains with Adam. For LDAM-DRW that means one change of the learning
# rate, ten times smaller when the re-weighting starts (80% of the epochs). The reference
# code of Cao et al. trains with SGD (momentum 0.9, learning rate 0.1, weight decay
# $2\cdot10^{-4}$), warms up over the first 2.5% of the epochs and multiplies the rate by
# 0.01 at 80% and by 0.0001 at 90%. Both, on JapaneseVowels under step-10 with the ResNet,
# same epochs and seeds (`ldam-drw-sgd` is the reference schedule):

# %% tags=["remove-input"]
schedules = experiment.run(PROFILE, "ldam_schedule", progress=True)
schedule_summary = summarise(schedules, ["method"], HEADLINE)
for_reader(format_summary(schedule_summary, ["method"], digits=1, scale=100)[HEADLINE])

# %% [markdown]
# ## Beside the paper
#
# No paper in this book reports these baselines on these data sets under these
# protocols: the dissertation {cite}`wang2023dissertation` measures them on CIFAR images,
# IB-GAN {cite}`ibgan` on other multivariate sets with its own drop protocol, and the
# ODE paper {cite}`sarkar2023ode` on balanced data. So this chapter has no published
# column; its reference is our own balanced-training run above. Each later chapter reruns
# its paper's baselines in that paper's setting and shows the published numbers beside
# ours.

# %% tags=["remove-cell"]
by_model = ranking.set_index(["model", "method"])
for model in SETTINGS.models:
    rows = by_model.loc[model]
    best = rows["mean_rank"].idxmin()
    glue(f"{model}-best", best, display=False)
    glue(f"{model}-best-gain", float(rows.loc[best, "gain vs none (points)"]), display=False)
    glue(f"{model}-beat-none", ", ".join(m for m in rows.index if m != "none"
                                         and rows.loc[m, "gain vs none (points)"] > 0) or "none", display=False)
spread = summary[summary["metric"] == "balanced_accuracy"]["std"]
glue("jv-minority-count", int(imbalanced.class_counts()[minority].min()), display=False)
glue("median-sd", 100 * float(spread.median()), display=False)
glue("n-seeds", len(SETTINGS.seeds), display=False)
glue("ldam-adam", 100 * float(schedule_summary.query("method == 'ldam-drw' and metric == 'balanced_accuracy'")["mean"].iloc[0]),
     display=False)
glue("ldam-sgd", 100 * float(schedule_summary.query("method == 'ldam-drw-sgd' and metric == 'balanced_accuracy'")["mean"].iloc[0]),
     display=False)

# %% [markdown]
# ## Summary
#
# - **Best on average.** With the ResNet, {glue:text}`resnet-best` has the best mean rank
#   ({glue:text}`resnet-best-gain:+.1f` points of balanced accuracy over no correction); with
#   the FCN, {glue:text}`fcn-best` ({glue:text}`fcn-best-gain:+.1f` points).
# - **What beats no correction on average**: ResNet: {glue:text}`resnet-beat-none`; FCN:
#   {glue:text}`fcn-beat-none`.
# - **Noise.** The median standard deviation over the {glue:text}`n-seeds` seeds is
#   {glue:text}`median-sd:.1f` points, so differences of a point or two between methods are
#   within noise: with {glue:text}`jv-minority-count` minority series per class on JapaneseVowels under step-10, the `quick`
#   profile's seeds cannot separate close methods. The `full` profile's five seeds, larger
#   data sets and longer training are what a claim should rest on.
# - **LDAM-DRW's schedule matters**: at this budget our Adam schedule reaches
#   {glue:text}`ldam-adam:.1f`% balanced accuracy, the reference code's SGD schedule
#   {glue:text}`ldam-sgd:.1f`%.
# - Random under-sampling throws away most of the training data, and Borderline-SMOTE
#   creates no series when no minority series lies on the class border (imbalanced-learn
#   then returns the data unchanged), so in some settings it is identical to no correction.
#
# ## Exercises
#
# 1. **Predict, then run.** In the hand-run above, replace `"ldam-drw"` by `"rus"`
#    (random under-sampling). Before running: will balanced accuracy go up or down
#    compared with `none`, and what happens to the number of training series? (One
#    ResNet run: about a minute on a CPU.)
#
# ```{admonition} Solution
# :class: dropdown
# Under-sampling cuts every class to the smallest count, three series, so the ResNet
# trains on 27 series instead of 162: the `rus` recipe draws them with
# `random_resample_index(y, "under", seed)`. The classes are balanced, but so little data
# is left that the majority classes lose recall while the minority classes gain some.
# Whether balanced accuracy ends above or below `none`'s depends on the data set: the
# grid's tables above answer it for every setting of this profile.
# ```
#
# 2. LDAM's margins grow as $n_c^{-1/4}$. Train the hand-run's `ldam-drw` with a larger
#    largest margin, then score it as the hand-run does. Does the minority half gain?
#
#    ```python
#    trained = METHODS["ldam-drw"].train(imbalanced, model="resnet", budget=SETTINGS.budget, seed=0,
#                                        settings=tsimb.train.BaselineParams(ldam_max_margin=1.0))
#    ```
#
# ```{admonition} Solution
# :class: dropdown
# `BaselineParams` carries the methods' constants (and is stored with every run). A larger
# margin asks the minority classes' logits to clear a wider gap; with cosine logits scaled
# by $s = 30$ a margin of 1 is large, and on three series per class it often overfits
# them. Compare `minority_accuracy` over two or three seeds before concluding: one seed
# moves by several points on its own.
# ```
#
# 3. Replace the hand-run's protocol `Imbalance("step", 10)` by the IB-GAN paper's
#    `Imbalance("drop", 0.75)` and print `class_counts()` for seeds 0 and 1. Which classes
#    lose series, and do they change with the seed? (Seconds: no training needed.)
#
# ```{admonition} Solution
# :class: dropdown
# `drop` removes 75% of the series of a random half of the classes, $\lfloor K/2 \rfloor$
# of them (four of nine here), chosen by the seed; each keeps $\max(1,
# \mathrm{round}(0.25\,n_c))$ series. So, unlike step imbalance, *which* classes are the
# minority changes from seed to seed, and an experiment under this protocol must record
# it (the IB-GAN chapter stores it with every run).
# ```
#
# 4. Our SMOTE interpolates series point by point (eq. 5). Why could that produce
#    unrealistic series for data sets whose classes differ by phase shifts?
#
# ```{admonition} Solution
# :class: dropdown
# The mean of two shifted copies of a peak is two half-height peaks, a shape neither
# parent has. Point-wise interpolation only stays on the data's manifold when the series
# of a class are aligned in time; for shifted patterns an alignment (DTW) or a learned
# generator (the GAN chapters) is needed.
# ```
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
