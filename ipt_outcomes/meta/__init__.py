"""Two-stage individual-participant-data meta-analysis: pooling trial effects (random effects, as metafor)."""

from .analysis import MetaAnalysis, meta_analysis

__all__ = ["MetaAnalysis", "meta_analysis"]
