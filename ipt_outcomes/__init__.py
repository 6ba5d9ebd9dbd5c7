"""ipt_outcomes: outcome research on Interpersonal Psychotherapy (IPT) trials.

Validate trial data against an IPT-aware schema, model symptom change across sessions, and report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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

# Public names are imported on first use (PEP 562), so that ``ipt-outcomes validate`` does not pay
# for SciPy, statsmodels and Plotly, which only the analyses need.
_LAZY = {
    "clinical_change": "clinical", "dose_response": "clinical", "improvement_by_session": "clinical",
    "sudden_gains": "clinical", "summarise_change": "clinical",
    "example_path": "examples", "example_study_path": "examples", "load_example": "examples",
    "pooled_example_path": "examples",
    "load": "loading",
    "SensitivityResult": "missing", "last_observed": "missing", "pool_rubin": "missing", "retention": "missing",
    "sensitivity_analyses": "missing",
    "ClassicalAnova": "models", "GrowthFit": "models", "classical_anova": "models", "compare_models": "models",
    "fit_growth": "models",
    "MmrmFit": "mmrm", "fit_mmrm": "mmrm",
    "MetaAnalysis": "pooling", "meta_analysis": "pooling", "harmonise": "pooling", "load_trials": "pooling",
    "trial_effects": "pooling", "fit_pooled": "pooling",
    "parametric_bootstrap": "models.planning.bootstrap", "power_simulation": "models.planning.power",
    "Instrument": "registry", "Registry": "registry", "default_registry": "registry",
    "Report": "report", "build_report": "report", "model_table": "report", "baseline_table": "report",
    "simulate_trial": "simulate",
    "Study": "study", "load_study": "study",
    "ValidationReport": "validation", "trial_schema": "validation", "validate": "validation",
}


_SUBPACKAGES = {"arms", "clinical", "examples", "figures", "io", "loading", "missing", "models", "registry",
                "report", "scale", "simulate", "study", "validation", "vocabulary", "cli", "mmrm"}


def __getattr__(name: str) -> Any:
    import importlib

    module = _LAZY.get(name)
    if module is None:
        if name in _SUBPACKAGES:  # ``ipt.models`` and the like, as after an eager import
            return importlib.import_module(f".{name}", __name__)
        raise AttributeError(f"module 'ipt_outcomes' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .clinical import clinical_change, dose_response, improvement_by_session, sudden_gains, summarise_change
    from .examples import example_path, example_study_path, load_example
    from .loading import load
    from .missing import SensitivityResult, last_observed, pool_rubin, retention, sensitivity_analyses
    from .mmrm import MmrmFit, fit_mmrm
    from .models import ClassicalAnova, GrowthFit, classical_anova, compare_models, fit_growth
    from .models.planning.bootstrap import parametric_bootstrap
    from .models.planning.power import power_simulation
    from .registry import Instrument, Registry, default_registry
    from .report import Report, baseline_table, build_report, model_table  # type: ignore[no-redef]
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
    "MetaAnalysis",
    "MmrmFit",
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
    "baseline_table",
    "build_report",
    "classical_anova",
    "clinical_change",
    "compare_models",
    "default_registry",
    "dose_response",
    "example_path",
    "example_study_path",
    "fit_growth",
    "fit_mmrm",
    "fit_pooled",
    "harmonise",
    "improvement_by_session",
    "last_observed",
    "load",
    "load_example",
    "load_study",
    "load_trials",
    "meta_analysis",
    "model_table",
    "parametric_bootstrap",
    "pool_rubin",
    "pooled_example_path",
    "power_simulation",
    "retention",
    "sensitivity_analyses",
    "simulate_trial",
    "sudden_gains",
    "summarise_change",
    "trial_effects",
    "trial_schema",
    "validate",
]
