"""ipt_outcomes: outcome research on Interpersonal Psychotherapy (IPT) trials.

Validate trial data against an IPT-aware schema, model symptom change across sessions, and report.
"""

from __future__ import annotations

from .clinical import clinical_change, dose_response, improvement_by_session, sudden_gains, summarise_change
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
    ModelFallbackWarning,
    RegistryError,
    SingularFitWarning,
    StudyDefinitionError,
)
from .examples import example_path, example_study_path, load_example
from .loading import load
from .missing import SensitivityResult, last_observed, pool_rubin, retention, sensitivity_analyses
from .models import ClassicalAnova, GrowthFit, classical_anova, compare_models, fit_growth
from .models.bootstrap import parametric_bootstrap
from .models.power import power_simulation
from .registry import Instrument, Registry, default_registry
from .report import Report, build_report
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
    "ModelFallbackWarning",
    "Registry",
    "RegistryError",
    "Report",
    "SensitivityResult",
    "SingularFitWarning",
    "Study",
    "StudyDefinitionError",
    "ValidationReport",
    "__version__",
    "build_report",
    "classical_anova",
    "clinical_change",
    "compare_models",
    "default_registry",
    "dose_response",
    "example_path",
    "example_study_path",
    "fit_growth",
    "improvement_by_session",
    "last_observed",
    "load",
    "load_example",
    "load_study",
    "parametric_bootstrap",
    "pool_rubin",
    "power_simulation",
    "retention",
    "sensitivity_analyses",
    "simulate_trial",
    "sudden_gains",
    "summarise_change",
    "trial_schema",
    "validate",
]
