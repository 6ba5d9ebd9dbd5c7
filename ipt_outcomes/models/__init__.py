"""Mixed-effects growth models of symptom change."""

from .derived.anova import ClassicalAnova, classical_anova
from .derived.quantities import compare_models
from .growth import FIXED_EFFECT_COLUMNS, VARIANCE_COLUMNS, GrowthFit, fit_growth

__all__ = [
    "FIXED_EFFECT_COLUMNS",
    "VARIANCE_COLUMNS",
    "ClassicalAnova",
    "GrowthFit",
    "classical_anova",
    "compare_models",
    "fit_growth",
]
