"""Pooling across trials and disorders: harmonised outcomes and two-stage meta-analysis."""

from .harmonise import harmonise
from .meta_analysis import MetaAnalysis, meta_analysis
from .one_stage import arm_differences_at_end, fit_pooled
from .trial_effects import trial_effects
from .trials import load_trials

__all__ = ["MetaAnalysis", "arm_differences_at_end", "fit_pooled", "harmonise", "load_trials", "meta_analysis", "trial_effects"]
