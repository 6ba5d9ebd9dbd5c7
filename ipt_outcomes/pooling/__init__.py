"""Pooling across trials and disorders: harmonised outcomes and two-stage meta-analysis."""

from .harmonise import harmonise
from .meta_analysis import MetaAnalysis, meta_analysis
from .trial_effects import trial_effects

__all__ = ["MetaAnalysis", "harmonise", "meta_analysis", "trial_effects"]
