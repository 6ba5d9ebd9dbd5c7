"""ipt_outcomes: outcome research on Interpersonal Psychotherapy (IPT) trials.

Validate trial data against an IPT-aware schema, model symptom change across sessions, and report.
"""

from __future__ import annotations

from .errors import (
    AnalysisError,
    ApproximationWarning,
    ArgumentError,
    ArgumentTypeError,
    ConvergenceWarning,
    DataValidationError,
    DataWarning,
    InputFileError,
    IPTOutcomesError,
    IPTOutcomesWarning,
    RegistryError,
    SingularFitWarning,
    StudyDefinitionError,
)
from .examples import example_path, example_study_path, load_example
from .loading import load
from .models import ClassicalAnova, GrowthFit, classical_anova, compare_models, fit_growth
from .registry import Instrument, Registry, default_registry
from .simulate import simulate_trial
from .study import Study, load_study
from .validation import ValidationReport, trial_schema, validate

__version__ = "0.1.0"

__all__ = [
    "AnalysisError",
    "ApproximationWarning",
    "ArgumentError",
    "ArgumentTypeError",
    "ClassicalAnova",
    "ConvergenceWarning",
    "DataValidationError",
    "DataWarning",
    "GrowthFit",
    "IPTOutcomesError",
    "IPTOutcomesWarning",
    "InputFileError",
    "Instrument",
    "Registry",
    "RegistryError",
    "SingularFitWarning",
    "Study",
    "StudyDefinitionError",
    "ValidationReport",
    "__version__",
    "classical_anova",
    "compare_models",
    "default_registry",
    "example_path",
    "example_study_path",
    "fit_growth",
    "load",
    "load_example",
    "load_study",
    "simulate_trial",
    "trial_schema",
    "validate",
]
