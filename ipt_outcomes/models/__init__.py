"""Mixed-effects growth models of symptom change."""

from .growth import FIXED_EFFECT_COLUMNS, VARIANCE_COLUMNS, GrowthFit, fit_growth

__all__ = ["FIXED_EFFECT_COLUMNS", "VARIANCE_COLUMNS", "GrowthFit", "fit_growth"]
