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
# # Imb-Mix: more adversarial examples for the rare classes
#
# The previous chapter re-weighted the under-represented classes inside adversarial
# training. Chapter 5 of Wang's dissertation {cite}`wang2023dissertation` tries the other
# lever, the data: *Imb-Mix* makes several noisy copies of each under-represented series'
# adversarial example, mixes the resulting batch with Remix's label rule
# {cite}`chou2020remix`, a variant of mixup {cite}`zhang2018mixup` that hands mixed labels
# to the rarer class, and averages the weights of the last epochs (stochastic weight
# averaging, SWA {cite}`izmailov2018swa`). No official code exists for Imb-Mix or Remix;
# the library builds both.
#
# This chapter keeps the SRAT chapter's protocol, data, model and attack, so that the two
# chapters' runs can be set side by side, and adds what the dissertation does not have: a
# 2 x 2 x 2 ablation of the three parts.
#
# ## What you will learn
#
# - the method: supplementary adversarial copies (eq. 5.2), Remix on them (eqs. 5.3-5.4),
#   cross entropy on soft targets (eq. 5.5) and SWA, each a library call in
#   `tsimb.robustness.imbmix` and `tsimb.train.swa`;
# - the second-order view of sec. 5.4 (Theorem 5.4.1) and the typos to read through;
# - a trap of the method: which class counts Remix's rule sees, and why with the wrong ones
#   Imb-Mix quietly becomes mixup;
# - what each part contributes on series (the factorial ablation), and how the results sit
#   beside the SRAT chapter's and beside the dissertation's Tables 5.1-5.7.
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
import math

import numpy as np
import pandas as pd
import torch
from IPython.display import Markdown

import tsimb
from tsimb.booktools import glue
from tsimb.evaluation import check_claims, claims_table, flag_runs
from tsimb.experiments import experiment as chapter_experiment
from tsimb.experiments import format_summary, provenance_line, resolve_profile, running_note, stored_seconds, summarise
from tsimb.experiments.imb_mix import (ARMS, CROSS_CLAIMS, claims_frame, factorial_table, main_effects,
                                       paper_across_chapters, paper_cross_frame, paper_margins, paper_worst_cells,
                                       paper_claims_frame, protocol_split, with_srat_runs)
from tsimb.plots import plot_robustness, set_style
from tsimb.robustness.imbmix import (copies_per_class, counts_after_copies, mix_targets, remix_lambda,
                                     supplementary_copies)
from tsimb.tables import for_reader

PROFILE = resolve_profile()
DEVICE = tsimb.get_device()
experiment = chapter_experiment("imb-mix")
SETTINGS = experiment.settings_for(PROFILE)
ATTACK = SETTINGS.adversarial
IMB = next(c for c in experiment.grids(PROFILE)["main"] if c["arm"] == "imb-mix")["imbmix"]  # as stored
IMB = {k: v for k, v in IMB.items() if k != "adversarial"}
set_style()

# %% tags=["remove-input"]
Markdown(running_note("imb-mix", PROFILE) + f"""

Settings of this profile: {', '.join(SETTINGS.datasets)} under {', '.join(i.label for i in SETTINGS.imbalances)},
{len(SETTINGS.seeds)} seeds, {len(SETTINGS.arms)} arms; the SRAT chapter's {SETTINGS.model.upper()} classifier trained
{SETTINGS.budget.epochs} epochs (Adam, learning rate {SETTINGS.budget.lr:g}, batch {SETTINGS.budget.batch_size});
PGD-{ATTACK.steps} in training and PGD-{ATTACK.eval_steps} in evaluation, $\\ell_\\infty$ budget
$\\epsilon = {ATTACK.eps:g}$ in z units. Device here: {DEVICE.type}.""")

# %% [markdown]
# ## The method
#
# Imb-Mix (Algorithm 5.1 of {cite}`wang2023dissertation`) changes what one minibatch of
# PGD adversarial training (eq. 5.1; the previous chapter's `AdversarialStep`) trains on.
# `tsimb.robustness.imbmix.ImbMixStep` does the three steps below on every batch, from
# adversarial examples made afresh by the model being trained.
#
# ### Supplementary adversarial examples (eq. 5.2)
#
# For a series $x_i$ of an under-represented class with PGD example $x'_i$, Imb-Mix makes
# $t$ copies
#
# $$
# \begin{aligned}
# \hat{x}'_i &= x_i + \alpha\,(x'_i - x_i) \odot z, \\
# z &\sim \mathcal{N}(0, 1),
# \end{aligned}
# $$ (eq-copies)
#
# (eq. 5.2); a well-represented series keeps $\hat{x}'_i = x'_i$
# (`tsimb.robustness.imbmix.supplementary_copies`). The text gives neither $\alpha$ nor
# $t$, nor whether $z$ is one number per copy or one per value, nor what happens when
# $|\alpha z| > 1$ takes a copy outside the $\epsilon$-ball. Our choices (each a field of
# `ImbMixSettings`, stored with every run): $\alpha$ = {glue:text}`alpha`; $z$ drawn per
# value ("{glue:text}`noise`": the text blames the copies' lack of diversity, so we take
# the more diverse reading); a copy that leaves the ball is projected back onto it (at
# $\alpha$ = 1 that concerns {glue:text}`outside:.0f`% of the values); the copies replace
# $x'_i$; and $t_c = \mathrm{round}(n_{\max}/n_c)$ per under-represented class $c$, which
# balances the classes, the copies' stated aim (`copies_per_class`). On the seed-0 split:

# %% tags=["hide-input"]
train0, test0 = protocol_split(SETTINGS.datasets[0], SETTINGS.imbalances[0], seed=0,
                               test_fraction=SETTINGS.test_fraction)
counts0 = train0.class_counts()
t0 = copies_per_class(counts0, "balance")
for_reader(pd.DataFrame({"training series": counts0, "copies t": t0,
                         "after the copies": counts_after_copies(counts0, t0)}).rename_axis("class"))

# %% tags=["remove-cell"]
glue("alpha", IMB["alpha"], display=False)
glue("noise", "element-wise" if IMB["noise"] == "element" else "one per copy", display=False)
glue("outside", 100 * math.erfc(1 / math.sqrt(2)) if IMB["alpha"] == 1 else float("nan"), display=False)
glue("set", f"{SETTINGS.datasets[0]} {SETTINGS.imbalances[0].label}", display=False)
glue("n-well", int(counts0.max()), display=False)
glue("n-under", int(counts0.min()), display=False)
glue("t-under", int(t0.max()), display=False)
glue("n-test", int(test0.class_counts()[0]), display=False)

# %% [markdown]
# Each of the five under-represented classes has {glue:text}`n-under` series, each of the
# well-represented ones {glue:text}`n-well`; with {glue:text}`t-under` copies each, the
# batch is balanced. The copies have the stated distribution: around $x_i$, within the
# budget, the adversarial direction scaled by a normal number per value:

# %% tags=["hide-input"]
x = torch.zeros(1, 1, 20_000)
x_adv = x + ATTACK.eps * torch.sign(torch.randn(1, 1, 20_000, generator=torch.Generator().manual_seed(0)))
copies, rows = supplementary_copies(x, x_adv, torch.tensor([1]), alpha=IMB["alpha"], noise="element", project=False,
                                    generator=torch.Generator().manual_seed(1))
z = (copies / x_adv).flatten()  # the normal numbers themselves
projected, _ = supplementary_copies(x, x_adv, torch.tensor([1]), alpha=IMB["alpha"], noise="element", project=True,
                                    eps=ATTACK.eps, generator=torch.Generator().manual_seed(1))
print(f"z: mean {z.mean():+.3f}, sd {z.std():.3f}; share of |alpha z| > 1: {(z.abs() > 1).float().mean():.3f}; "
      f"after projection max |delta| = {projected.abs().max():.3f} (eps {ATTACK.eps:g})")

# %% [markdown]
# ### Remix on the copies (eqs. 5.3-5.4) and the loss (eq. 5.5)
#
# Every example $i$ of the copied batch is mixed with a partner $j$ (a random permutation
# of the batch) with its own weight $\lambda \sim \mathrm{Beta}(\gamma, \gamma)$,
# $\gamma$ = {glue:text}`gamma`:
#
# $$
# \begin{aligned}
# \hat{x}'_{\mathrm{mix}} &= \lambda \hat{x}'_i + (1 - \lambda)\hat{x}'_j, \\
# y_{\mathrm{mix}} &= \lambda_y y_i + (1 - \lambda_y) y_j,
# \end{aligned}
# $$ (eq-mix)
#
# eq. 5.3, whose printed label line reads $\lambda_y y_i + (1 - \lambda_y) y_i$: the
# second $y_i$ is a typo for $y_j$ (as printed, the label would never mix). Remix's rule
# (eq. 5.4) sets
#
# $$
# \begin{aligned}
# \lambda_y = \begin{cases}
# 0, & n_i/n_j \ge \kappa,\ \lambda < \tau, \\
# 1, & n_i/n_j \le 1/\kappa,\ 1 - \lambda < \tau, \\
# \lambda, & \text{otherwise,}
# \end{cases}
# \end{aligned}
# $$ (eq-remix)
#
# with $\kappa$ = {glue:text}`kappa` and $\tau$ = {glue:text}`tau` (Chou et al.'s): a mix
# that is mostly a well-represented series gets the rare class's label
# (`remix_lambda`, `mix_targets`). The loss is cross entropy on these probability
# vectors (eq. 5.5). One pair of a well-represented class (16 series) with a rare one (2):

# %% tags=["hide-input"]
lam = torch.tensor([0.3, 0.7, 0.3])
n_i, n_j = torch.tensor([16.0, 16.0, 16.0]), torch.tensor([2.0, 2.0, 16.0])
lambda_y, fired = remix_lambda(lam, n_i, n_j, kappa=IMB["kappa"], tau=IMB["tau"])
targets = mix_targets(torch.tensor([0, 0, 0]), torch.tensor([5, 5, 1]), lambda_y, n_classes=6)
for_reader(pd.DataFrame({"lambda": lam.numpy(), "n_i / n_j": (n_i / n_j).numpy(), "lambda_y": lambda_y.numpy(),
                         "rule fired": fired.numpy(), "target": [t.double().numpy().round(2).tolist() for t in targets]}))

# %% tags=["remove-cell"]
glue("gamma", IMB["mix_alpha"], display=False)
glue("kappa", IMB["kappa"], display=False)
glue("tau", IMB["tau"], display=False)

# %% [markdown]
# ### Which counts the rule sees
#
# Eq. 5.4 calls $n_i$ "the number of adversarial examples for class $i$", the counts
# *after* the copies. But the copies are there to balance the classes: after them the
# ratio is about 1, the rule never fires, and Remix is plain mixup. With $t$ copies per
# rare series and ratio $K$, the ratio after is $K/t$, below $\kappa$ = 3 from
# $t \ge$ {glue:text}`t-stop-10` at $K$ = 10 and $t \ge$ {glue:text}`t-stop-100` at $K$ =
# 100, which contradicts the analysis of sec. 5.4 (it assumes
# $|C_m|/|C_n| \ge \kappa$). We therefore give the rule the training set's counts, before
# the copies (`kappa_counts="before"`, the default), run the other reading as an arm
# (`imb-mix-after`), and record in every run how often the rule moved a label.

# %% tags=["remove-cell"]
for K in (10, 100):
    after = [counts_after_copies(np.array([100 * K, 100]), np.array([0, t])) for t in range(1, 1000)]
    stop = next(t for t, c in enumerate(after, start=1) if c[0] / c[1] < IMB["kappa"])
    glue(f"t-stop-{K}", stop, display=False)

# %% [markdown]
# ### Stochastic weight averaging
#
# From epoch {glue:text}`swa-start` of {glue:text}`epochs` on, the weights after every
# epoch are averaged with equal weights (sec. 5.3.3's
# $\theta_{\mathrm{SWA}} \leftarrow (n\,\theta_{\mathrm{SWA}} + \theta)/(n + 1)$), with
# `torch.optim.swa_utils` (`AveragedModel`; `SWALR` anneals the learning rate over
# {glue:text}`swa-anneal` epochs to {glue:text}`swa-lr:g`, half the budget's). Batch norm's
# running statistics belong to the weights that made them, so `update_bn` recomputes them
# for the averaged weights before any evaluation, on what training feeds the network
# (adversarial examples of the averaged model, copies, mixing); forgetting it is the
# common mistake (`tsimb.train.swa.StochasticWeightAveraging`). The dissertation trains
# 250 epochs but names no SWA start or rate and keeps the previous chapter's decays at 160
# and 180; we take Izmailov et al.'s start at 75% of the epochs and no other decay.
#
# ### The second-order view (sec. 5.4)
#
# For two classes, a majority $C_m$ and a minority $C_n$ with $|C_m|/|C_n| \ge \kappa$,
# eq. 5.4 leaves two cases. Where $\lambda_y = \lambda$ Imb-Mix is mixup, and Carratino et
# al. {cite}`carratino2022mixup` show that mixup's loss is a loss on shrunk inputs plus
# regularisers (eq. 5.9). Where $\lambda_y = 0$ (a majority series $x_i$ mixed with a
# minority $x_j$, $\lambda < \tau$) the loss is
#
# $$
# \begin{aligned}
# \mathcal{L} = \mathbb{E}_{i,j,\lambda}\,
#   \ell\big(y_j, f(\lambda x_i + (1 - \lambda) x_j)\big),
# \end{aligned}
# $$ (eq-case1)
#
# with $\lambda$ from the Beta law cut to $[0, 0.5]$ (eq. 5.6). Writing the mix as
# $\tilde{x}_i + \delta_i$ with $\tilde{x}_i = \bar{x} + \bar{\lambda}(x_i - \bar{x})$
# and a zero-mean perturbation $\delta_i$ (eq. 5.7), a second-order Taylor expansion of
# $\ell$ around $\tilde{x}_i$ gives Theorem 5.4.1 (eq. 5.8):
#
# $$
# \begin{aligned}
# \mathcal{L} \approx{}& \tfrac{1}{|C_m|}\textstyle\sum_i
#   \ell(y_j, f(\tilde{x}_i)) \\
#  &+ R_1(\theta) + R_2(\theta),
# \end{aligned}
# $$ (eq-thm)
#
# $R_1$ a quadratic penalty on the gradient of $f$ at $\tilde{x}_i$ (weighted by the
# curvature of the loss), $R_2$ one on its Hessian: the rare label is learnt on shrunk
# majority inputs, with a smoothness penalty around them. Read with care; as printed:
#
# - the definition of $\delta_i$ reads $(\lambda - \bar\lambda)x_i + (1 - \lambda)x_i$: the
#   second $x_i$ is $x_j$ (the partner);
# - the text before eq. 5.6 says "the class $x_i$ belonging to" twice, for $n_i$ and $n_j$,
#   and later "$x_i$ is sampled from the minority class ... and $x_i$ is sampled from the
#   majority class": one $x_i$ of each is $x_j$;
# - the first line of the proof equates the expectation with
#   $\ell(y_j, f(\tilde{x}_i + \delta_i))$; the zero-order term is $\ell(y_j, f(\tilde{x}_i))$,
#   as the next line has it, and the first-order term vanishes only because
#   $\mathbb{E}\,\delta_i = 0$, which the proof does not say;
# - the second-order term writes $\nabla_u f\,\nabla^2 f$ where Carratino et al. have
#   $\nabla_u \ell\,\nabla^2 f$ (the loss's gradient in the logits times the Hessian of $f$);
#   $R_2$ in the theorem has it right;
# - $\Sigma^{(i)}$ is divided by $\bar\theta^2$: it is $\bar\lambda^2$;
# - $R_1$ is printed as a plain norm, but a second-order term is quadratic in $\delta_i$:
#   it is a quadratic form weighted by $\Sigma^{(i)}_{\tilde{x}\tilde{x}}$, as in Carratino
#   et al.; and $J^{(i)}$'s $\Sigma_{y_j\tilde{x}}$ is a covariance with the label, which is
#   zero here, where every mixed example has the label $y_j$;
# - the sums run over $|C_m|$ and $|X_{\{C_m\}}|$ interchangeably, and $y_j$ is left inside
#   a sum over $i$: it is a fixed minority label here, so the theorem is a statement for one
#   minority class.
#
# The view explains the *shape* of the regularisation, not its size; it says nothing about
# adversarial examples, copies or SWA. The experiment measures.
#
# ## The experiment
#
# ### Protocol and arms
#
# The SRAT chapter's protocol on its fastest set, {glue:text}`set`: the published splits
# pooled, a balanced test split ({glue:text}`n-test` series per class), Step imbalance on
# the rest, the classes halved by training count, standard and robust (PGD-20) accuracy
# overall and on the under-represented half
# (`tsimb.experiments.adversarial_imbalance.protocol_split`, `robust_half_scores`). The
# arms (`tsimb.experiments.imb_mix.ARMS`) are the dissertation's rows (vanilla adv.,
# adv. + resample, mixup + adv., Remix + adv., adv. + data_aug, Imb-Mix), the rest of the
# 2 x 2 x 2 factorial copies x Remix x SWA, and Imb-Mix with the rule on the counts after
# the copies. Four cells of the factorial are dissertation rows and are trained once:
# Imb-Mix is copies+Remix+SWA, adv. + data_aug copies+Remix, Remix + adv. Remix alone, and
# vanilla adversarial training none of the three.

# %% tags=["hide-input"]
main = experiment.run(PROFILE, "main", progress=False)
print(provenance_line("imb-mix", PROFILE))

# %% tags=["remove-cell"]
glue("epochs", SETTINGS.budget.epochs, display=False)
glue("pgd-k", ATTACK.steps, display=False)
swa_start = min(int(round(IMB["swa_start"] * SETTINGS.budget.epochs)), SETTINGS.budget.epochs - 1)
glue("swa-start", swa_start + 1, display=False)
glue("swa-anneal", int(round(IMB["swa_anneal"] * SETTINGS.budget.epochs)), display=False)
glue("swa-lr", IMB["swa_lr_factor"] * SETTINGS.budget.lr, display=False)
glue("n-seeds", len(SETTINGS.seeds), display=False)
glue("n-arms", len(SETTINGS.arms), display=False)
glue("n-runs", len(main[["arm", "seed"]].drop_duplicates()), display=False)
seconds = {arm: stored_seconds("imb-mix", PROFILE, arm=arm) for arm in ("adv", "imb-mix")}
glue("adv-seconds", float(np.mean(seconds["adv"])) if seconds["adv"] else float("nan"), display=False)
glue("imbmix-seconds", float(np.mean(seconds["imb-mix"])) if seconds["imb-mix"] else float("nan"), display=False)

# %% [markdown]
# ### Results
#
# Standard and robust accuracy, overall and on the under-represented half, in percent,
# mean ± sd over {glue:text}`n-seeds` seeds ({glue:text}`n-runs` runs; an Imb-Mix run took
# {glue:text}`imbmix-seconds:.1f` s on one CPU thread, a vanilla adversarial one
# {glue:text}`adv-seconds:.1f` s):

# %% tags=["remove-input"]
TABLE_METRICS = ["std_overall", "std_under", "rob_overall", "rob_under"]
stats = summarise(main, ["arm"], TABLE_METRICS)
arm_table = format_summary(stats, ["arm"], digits=1, scale=100)[TABLE_METRICS].reindex(list(SETTINGS.arms))
for_reader(arm_table)

# %% tags=["remove-input"]
means = stats.pivot(index="arm", columns="metric", values="mean")
for arm in SETTINGS.arms:
    for metric in TABLE_METRICS:
        glue(f"{arm}-{metric}", 100 * float(means.loc[arm, metric]), display=False)
glue("best-rob-under", means["rob_under"].idxmax(), display=False)
glue("best-std-under", means["std_under"].idxmax(), display=False)
glue("one-series", 100 / (int(test0.class_counts()[0]) * int((t0 > 0).sum())), display=False)
glue("fig-arms", plot_robustness(main.assign(method=main["arm"]), methods=SETTINGS.arms,
                                 metrics=["std_under", "rob_under"], col="dataset"), display=False)
flags = flag_runs(main, "std_overall", ["arm"], constant_metric=None)
glue("n-flagged", len(flags), display=False)
for_reader(flags, index=["arm", "seed"]) if len(flags) else for_reader(pd.DataFrame({"flagged runs": ["none"]}))

# %% [markdown]
# {glue:text}`n-flagged` run is flagged (standard overall accuracy more than 20 points
# below the median of the arm's seeds). We looked at it: its training loss falls steadily,
# more slowly than its siblings', and ends higher; the well-represented half is what it
# learnt least. It is not a broken run and stays in the tables, marked.
#
# Vanilla adversarial training reaches {glue:text}`adv-rob_under:.1f`% robust accuracy on
# the under-represented half and {glue:text}`adv-std_under:.1f`% clean; Imb-Mix
# {glue:text}`imb-mix-rob_under:.1f`% and {glue:text}`imb-mix-std_under:.1f`%. The best arm
# on that half's robust accuracy is {glue:text}`best-rob-under` (adversarial training on a
# randomly over-sampled training set): {glue:text}`adv-ros-rob_under:.1f`% robust and
# {glue:text}`adv-ros-std_under:.1f`% clean. With two series per rare class, what matters
# most here is that the rare classes fill the batches, and the copies do that too.
#
# ```{glue:figure} fig-arms
# :name: fig-arms
#
# Standard and robust (PGD-20) accuracy of the under-represented half for every arm on
# {glue:text}`set` (quick profile); bars: mean over {glue:text}`n-seeds` seeds, error
# bars: their range.
# ```
#
# ### The factorial ablation
#
# The eight cells of copies x Remix x SWA (mean ± sd over seeds, percent), and each part's
# main effect: per seed, the mean of the four cells with the part minus the four without,
# then mean ± sd over seeds.

# %% tags=["remove-input"]
FACTORIAL_METRICS = ("std_under", "rob_under", "rob_overall")
factorial = factorial_table(main, FACTORIAL_METRICS)
for metric in FACTORIAL_METRICS:
    factorial[metric] = [f"{100 * m:.1f} ± {100 * s:.1f}" for m, s in zip(factorial[metric], factorial[f"{metric}_sd"])]
for_reader(factorial[["copies", "remix", "swa", *FACTORIAL_METRICS]], index=["copies", "remix", "swa"])

# %% tags=["remove-input"]
effects = pd.concat([main_effects(main, metric) for metric in FACTORIAL_METRICS], ignore_index=True)
effects["effect"] = [f"{100 * e:+.1f} ± {100 * s:.1f}" for e, s in zip(effects["effect"], effects["sd"])]
effect_wide = effects.pivot(index="factor", columns="metric", values="effect")[list(FACTORIAL_METRICS)]
raw = pd.concat([main_effects(main, metric) for metric in FACTORIAL_METRICS]).set_index(["factor", "metric"])
for factor in ("copies", "remix", "swa"):
    for metric in FACTORIAL_METRICS:
        glue(f"effect-{factor}-{metric}", 100 * float(raw.loc[(factor, metric), "effect"]), display=False)
for_reader(effect_wide.reindex(["copies", "remix", "swa"]), labels={"factor": "part"})
for metric in ("rob_well", "std_well"):
    glue(f"effect-copies-{metric}", 100 * float(main_effects(main, metric).set_index("factor").loc["copies", "effect"]),
         display=False)

# %% [markdown]
# On the robust accuracy of the under-represented half the copies change it by
# {glue:text}`effect-copies-rob_under:+.1f` points on average over the other two parts'
# settings, Remix by {glue:text}`effect-remix-rob_under:+.1f` and SWA by
# {glue:text}`effect-swa-rob_under:+.1f`; on standard accuracy of that half by
# {glue:text}`effect-copies-std_under:+.1f`, {glue:text}`effect-remix-std_under:+.1f` and
# {glue:text}`effect-swa-std_under:+.1f`.
#
# ### How often Remix's rule fired
#
# The share of mixed pairs whose label the rule moved to one class (eq. 5.4's first two
# cases), summed over all epochs, for the arms that mix:

# %% tags=["remove-input"]
mixing = [a for a in SETTINGS.arms if a in ("mixup-adv", "remix-adv", "adv-data-aug", "imb-mix", "remix+swa",
                                                 "imb-mix-after")]
fired = summarise(main[main["arm"].isin(mixing)], ["arm"], ["remix_fired_share", "remix_fired", "remix_pairs"])
fired_wide = fired.pivot(index="arm", columns="metric", values="mean").reindex(mixing)
glue("fired-before", 100 * float(fired_wide.loc["imb-mix", "remix_fired_share"]), display=False)
glue("fired-after", int(main.loc[(main["arm"] == "imb-mix-after") & (main["metric"] == "remix_fired"), "value"].max()),
     display=False)
glue("fired-remix", 100 * float(fired_wide.loc["remix-adv", "remix_fired_share"]), display=False)
fired_wide["remix_fired_share"] = (100 * fired_wide["remix_fired_share"]).round(1)
fired_wide[["remix_fired", "remix_pairs"]] = fired_wide[["remix_fired", "remix_pairs"]].round(0).astype(int)
for_reader(fired_wide, labels={"remix_fired_share": "pairs the rule moved (%)", "remix_fired": "moved (mean)",
                               "remix_pairs": "pairs mixed (mean)"})

# %% [markdown]
# With the counts before the copies the rule moved {glue:text}`fired-before:.1f`% of
# Imb-Mix's pairs ({glue:text}`fired-remix:.1f`% without copies, where fewer pairs join a
# well- and an under-represented series); with the counts after the copies it fired at
# most {glue:text}`fired-after` times in any run: that arm is copies + mixup + SWA, as the
# arithmetic above says. It reaches {glue:text}`imb-mix-after-rob_under:.1f`% robust
# accuracy on the under-represented half, Imb-Mix with the counts before
# {glue:text}`imb-mix-rob_under:.1f`% (the sds are in the results table).
#
# ### Beside the SRAT chapter
#
# The SRAT chapter ran the same protocol, model, attack and budget on {glue:text}`set`
# with seeds {glue:text}`srat-seeds`. Its stored runs (read from its run store, not
# retrained) beside ours on those seeds:

# %% tags=["remove-input"]
srat_experiment = chapter_experiment("adversarial-imbalance")
srat = srat_experiment.run(PROFILE, "main", progress=False)
srat = srat[(srat["dataset"] == SETTINGS.datasets[0]) & (srat["protocol"] == SETTINGS.imbalances[0].label)]
shared_seeds = sorted(set(srat["seed"]) & set(main["seed"]))
glue("srat-seeds", ", ".join(map(str, shared_seeds)), display=False)
ours_shared = main[main["seed"].isin(shared_seeds) & main["arm"].isin(["adv", "remix-adv", "imb-mix"])]
theirs = srat[srat["method"].isin(["adv-reweight", "drcb-ldam", "srat-ce", "srat-ldam"])]
side = pd.concat([ours_shared.assign(chapter="Imb-Mix (this)", method=ours_shared["arm"]),
                  theirs.assign(chapter="SRAT")], ignore_index=True)
side_stats = summarise(side, ["chapter", "method"], TABLE_METRICS)
for_reader(format_summary(side_stats, ["chapter", "method"], digits=1, scale=100)[TABLE_METRICS])

# %% tags=["remove-cell"]
ours_adv = main[(main["arm"] == "adv") & main["seed"].isin(shared_seeds) & main["metric"].isin(TABLE_METRICS)]
their_adv = srat[(srat["method"] == "adv") & srat["metric"].isin(TABLE_METRICS)]
same = ours_adv.merge(their_adv, on=["seed", "metric"], suffixes=("_ours", "_srat"))
glue("adv-same-n", len(same), display=False)
glue("adv-max-diff", 100 * float((same["value_ours"] - same["value_srat"]).abs().max()), display=False)

# %% [markdown]
# Vanilla adversarial training is in both chapters' grids: its {glue:text}`adv-same-n`
# shared numbers (four metrics, the shared seeds) differ by at most
# {glue:text}`adv-max-diff:.2f` points, so the two stores measure the same thing. The
# claims below test the dissertation's implied ordering of its two chapters on these
# paired seeds.
#
# ## Beside the paper
#
# The dissertation's Tables 5.1-5.7 (CIFAR-10 and CIFAR-100, ResNet-18, PGD-10 training,
# PGD-20 evaluation, $\ell_\infty$ $\epsilon$ = 8/255 except Table 5.7, $\ell_2$; mean ± sd
# over repeated runs), as published, are in
# `tsimb/experiments/published/wang2023_ch5_tables_5_1-5_7.csv`; the folded cell lists
# them (the dissertation's, in percent).

# %% tags=["remove-input", "hide-output"]
paper = experiment.published()
paper_wide = paper.pivot_table(index=["table", "paper_method"], columns="metric", values="value",
                               sort=False)[TABLE_METRICS]
for_reader(paper_wide, labels={"paper_method": "method (dissertation)"})

# %% tags=["remove-input"]
margins = paper_margins(paper)
glue("margin-min", float(margins["margin"].min()), display=False)
glue("margin-max", float(margins["margin"].max()), display=False)
glue("margin-within-2sd", int((margins["in_sds"] < 2).sum()), display=False)
worst, cells = paper_worst_cells("adv-ros", paper)
glue("ros-worst", worst, display=False)
glue("ros-cells", cells, display=False)
glue("ros-not-worst", cells - worst, display=False)
across = paper_across_chapters()
robust_across = across[across["metric"].str.startswith("rob")]
glue("across-n", len(across), display=False)
glue("across-below", int((across["difference"] < 0).sum()), display=False)
glue("across-rob-n", len(robust_across), display=False)
glue("across-rob-below", int((robust_across["difference"] < 0).sum()), display=False)
reweight = paper_across_chapters("adv-reweight", "adv-reweight")
cell = reweight[(reweight["dataset"] == "CIFAR10") & (reweight["imbalance"] == "Step") & (reweight["K"] == 10)
                & (reweight["metric"] == "std_under")].iloc[0]
glue("rw-ch5", float(cell["ch5"]), display=False)
glue("rw-ch4", float(cell["ch4"]), display=False)
for_reader(margins.set_index("table").round(2), labels={"margin": "Imb-Mix - Remix + adv. (points)",
                                                        "in_sds": "in sds (the larger)"})

# %% [markdown]
# The tables, as published, put Imb-Mix above Remix + adversarial training on robust
# overall accuracy by {glue:text}`margin-min:.2f` to {glue:text}`margin-max:.2f` points
# (above), less than two standard deviations in {glue:text}`margin-within-2sd` of 7
# tables. The text calls adversarial training with re-sampling "always worst"; it is the
# lowest row in {glue:text}`ros-worst` of {glue:text}`ros-cells` cells (table x metric),
# not in {glue:text}`ros-not-worst`.
#
# **The dissertation's two chapters disagree.** Chapters 4 and 5 share
# {glue:text}`across-n` cells (setting x metric). In {glue:text}`across-below` of them
# Imb-Mix (Tables 5.1-5.7) is below SRAT-LDAM (Tables 4.1-4.7), in all
# {glue:text}`across-rob-below` of the {glue:text}`across-rob-n` robust ones, although
# chapter 5 does not compare with SRAT. And the same baseline differs between them: on
# CIFAR-10 Step-10 the standard accuracy of the under-represented half is
# {glue:text}`rw-ch4:.2f`% for CB-Reweight in Table 4.1 and {glue:text}`rw-ch5:.2f`% for
# adv. + reweight in Table 5.3 (class-balanced re-weighting in both). Either the protocols
# differ in ways the text does not say, or one of the rows is wrong; we keep both as
# published.
#
# ### Which claims hold in our runs
#
# Each claim is tested on paired runs (same set, protocol and seed) with a one-sided t-test
# (`tsimb.evaluation.check_claims`); "paper" is the dissertation's mean difference over the
# tables where it has both rows.

# %% tags=["remove-input"]
ours_claims = claims_frame(main)
claims = check_claims(ours_claims, experiment.claims, paper_claims_frame(paper))
for_reader(claims_table(claims))

# %% [markdown]
# And the two chapters' ordering, on the SRAT chapter's stored runs of the same protocol
# and seeds ({glue:text}`srat-seeds`; "paper" is the mean over the settings both chapters'
# tables report):

# %% tags=["remove-input"]
cross = check_claims(with_srat_runs(ours_claims, srat), CROSS_CLAIMS, paper_cross_frame())
for_reader(claims_table(cross))

# %% tags=["remove-cell"]
all_claims = pd.concat([claims, cross], ignore_index=True)
verdicts = all_claims["verdict"].value_counts()
glue("n-claims", len(all_claims), display=False)
for verdict in ("supported", "not supported", "contradicted"):
    glue(f"n-{verdict.replace(' ', '-')}", int(verdicts.get(verdict, 0)), display=False)
glue("supported-claims", "; ".join(all_claims.loc[all_claims["verdict"] == "supported", "claim"]) or "none",
     display=False)
glue("contradicted-claims", "; ".join(all_claims.loc[all_claims["verdict"] == "contradicted", "claim"]) or "none",
     display=False)

# %% [markdown]
# Supported: {glue:text}`supported-claims`. Contradicted: {glue:text}`contradicted-claims`.
#
# ### Where we departed from the dissertation, and why
#
# - **Data, model, budget.** UCR series instead of CIFAR images, the SRAT chapter's small
#   CNN trained {glue:text}`epochs` epochs with Adam and PGD-{glue:text}`pgd-k` instead of
#   a ResNet-18 trained 250 epochs with SGD and PGD-10, one set and
#   {glue:text}`n-seeds` seeds, so that the grid fits a few CPU-minutes. The full profile
#   lists three sets, four protocols and the larger budget.
# - **Unspecified constants**, each listed under "The method": $\alpha$, $t$ (balancing),
#   element-wise noise, projection onto the ball, copies that replace $x'$, one $\lambda$
#   per pair, the counts the rule sees, the SWA start, rate and anneal, `update_bn` on the
#   training batches.
# - **The typos** of eqs. 5.3 and 5.7 and of Theorem 5.4.1's proof are read as listed
#   above.
# - **Adv. + resample** is random over-sampling of the training set (`adv-ros`, the SRAT
#   chapter's), where the dissertation samples each series with probability inverse to
#   its class's effective number; with $\beta$ = 0.9999 and classes of 2 and 16 series the
#   effective numbers are the counts, so both give each class the same expected share.
# - **Adv. + reweight** is not rerun: the SRAT chapter's `adv-reweight` runs of the same
#   protocol and seeds stand for it.
#
# ## Summary
#
# - **The method is three independent parts**, each a field of one settings object:
#   copies (eq. 5.2), Remix (eqs. 5.3-5.4) and SWA. On {glue:text}`set` their main
#   effects on the robust accuracy of the under-represented half are
#   {glue:text}`effect-copies-rob_under:+.1f`, {glue:text}`effect-remix-rob_under:+.1f`
#   and {glue:text}`effect-swa-rob_under:+.1f` points (copies, Remix, SWA).
# - **The counts the rule sees decide whether Remix is Remix.** On the counts after the
#   balancing copies it never fires; on the counts before, it moved
#   {glue:text}`fired-before:.1f`% of Imb-Mix's pairs.
# - **The claims.** Of {glue:text}`n-claims` claims, {glue:text}`n-supported` are supported
#   by our runs, {glue:text}`n-contradicted` contradicted and {glue:text}`n-not-supported`
#   not supported (no effect detected with {glue:text}`n-seeds` seeds). Imb-Mix reaches
#   {glue:text}`imb-mix-rob_under:.1f`% robust accuracy on the under-represented half,
#   vanilla adversarial training {glue:text}`adv-rob_under:.1f`%.
# - **The dissertation's chapters disagree** with each other: Imb-Mix is below SRAT-LDAM in
#   {glue:text}`across-below` of {glue:text}`across-n` shared published cells, and the same
#   re-weighting baseline differs by {glue:text}`rw-ch4:.0f` against {glue:text}`rw-ch5:.0f`.
# - **Re-sampling is as good here.** Random over-sampling with plain adversarial training
#   reaches {glue:text}`adv-ros-rob_under:.1f`% robust accuracy on the under-represented
#   half against Imb-Mix's {glue:text}`imb-mix-rob_under:.1f`%: on this set the copies act
#   as over-sampling, and Remix and SWA add no detectable effect.
# - **What this does not show.** One small set, a small CNN and {glue:text}`epochs` epochs
#   are far from the dissertation's budget; the test split has {glue:text}`n-test` series
#   per class, so one test series is {glue:text}`one-series:.1f` points of the
#   under-represented half's accuracy.
#
# ## Exercises
#
# 1. **Predict, then run.** Train Imb-Mix on the seed-0 split with the rule on the counts
#    after the copies but with fewer copies, `copies=2`:
#
#    ```python
#    from dataclasses import replace
#    from tsimb.methods import METHODS
#    from tsimb.robustness.imbmix import IMB_MIX
#    settings = replace(IMB_MIX, adversarial=ATTACK, copies=2, kappa_counts="after")
#    trained = METHODS["imb-mix"].train(train0, model="cnn", budget=SETTINGS.budget, settings=settings)
#    trained.extras["remix_fired"], trained.extras["rule_counts"]
#    ```
#
#    Before running: does the rule fire? (About 5 CPU-seconds.)
#
# ```{admonition} Solution
# :class: dropdown
#
# Yes. With two copies per rare series the counts after are 16 against 4, a ratio of 4,
# above $\kappa$ = 3, so pairs of a well- and an under-represented series with
# $\lambda < 0.5$ get the rare label. From $t$ = {glue:text}`t-stop-10` on (ratio 16/8 or
# less here; 10/4 for an exact Step-10) it stops, as the arm `imb-mix-after` shows.
# ```
#
# 2. **Change a library call.** In the copies cell above, set `noise="scalar"` (one normal
#    number per copy). Predict the share of values with $|\alpha z| > 1$ and what a single
#    copy looks like next to the adversarial example.
#
# ```{admonition} Solution
# :class: dropdown
#
# The share is the same in expectation (about {glue:text}`outside:.0f`%, now of copies
# rather than of values), but every copy lies on the line through $x$ and $x'$: it is the
# adversarial perturbation scaled by one number (possibly negative), projected when
# $|z| > 1$. The copies of one series then differ only in length and sign, the lack of
# diversity the text complains about.
# ```
#
# 3. Using `tsimb.experiments.imb_mix.main_effects`, compute the factorial's main effects
#    on `rob_overall` and `std_overall` from `main`. Which part helps the well-represented
#    half's robust accuracy least? (Seconds: it reads the store.)
#
# ```{admonition} Solution
# :class: dropdown
#
# `main_effects(main, "rob_overall")` gives, per part, the per-seed difference of the
# four cells with it and the four without. On the well-represented half alone
# (`"rob_well"`, `"std_well"`) the copies change the accuracy by
# {glue:text}`effect-copies-rob_well:+.1f` (robust) and {glue:text}`effect-copies-std_well:+.1f`
# (standard) points: they add only under-represented examples, so this is what balancing
# costs or gives the well-represented half, beside the {glue:text}`effect-copies-rob_under:+.1f`
# points they give the under-represented half.
# ```
#
# ## References
#
# ```{bibliography}
# :filter: docname in docnames
# ```
