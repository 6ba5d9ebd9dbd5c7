"""Missing data: patterns, retention, and sensitivity analyses of the arm effect."""

from .patterns import last_observed, retention
from .rubin import pool_rubin
from .sensitivity import SensitivityResult, ancova, sensitivity_analyses

__all__ = ["SensitivityResult", "ancova", "last_observed", "pool_rubin", "retention", "sensitivity_analyses"]
