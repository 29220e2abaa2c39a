"""Evaluation: imbalance-aware metrics (balanced accuracy, macro F1, G-mean, PR-AUC,
per-half accuracy), a paper's claims as data tested against seed noise, method ranks,
broken-run flags. Published numbers sit as CSV files beside the experiment that reads them."""

from .claims import (Claim, beside_paper, beside_paper_grid, check_claims, claims_table, flag_runs, gains,
                     minimum_detectable_effect, rank_methods)
from .metrics import evaluate, group_accuracy, macro_pr_auc

__all__ = ["Claim", "beside_paper", "beside_paper_grid", "check_claims", "claims_table", "minimum_detectable_effect", "flag_runs", "gains", "rank_methods", "evaluate",
           "group_accuracy", "macro_pr_auc"]
