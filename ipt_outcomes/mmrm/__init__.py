"""Mixed models for repeated measures (categorical visit, structured residual covariance)."""

from .covariance import STRUCTURES
from .fit import DF_METHODS, MmrmFit, fit_mmrm

__all__ = ["DF_METHODS", "STRUCTURES", "MmrmFit", "fit_mmrm"]
