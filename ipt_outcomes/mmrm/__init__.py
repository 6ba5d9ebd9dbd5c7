"""Mixed models for repeated measures (categorical visit, structured residual covariance)."""

from .fit import MmrmFit, fit_mmrm

__all__ = ["MmrmFit", "fit_mmrm"]
