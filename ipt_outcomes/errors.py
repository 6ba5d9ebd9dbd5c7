"""Exception and warning hierarchy of ipt_outcomes.

Every exception the package raises on purpose derives from :class:`IPTOutcomesError`. Argument
errors are also :class:`ValueError` or :class:`TypeError`, so ordinary ``except ValueError`` code
keeps working. Problems *in the data* are not exceptions: :func:`ipt_outcomes.validate` returns
them as rows of a report. Exceptions are for what stops the work: an unreadable file, a broken
study description, an analysis that cannot be done.
"""

from __future__ import annotations

__all__ = [
    "AnalysisError",
    "ApproximationWarning",
    "ArgumentError",
    "ArgumentTypeError",
    "ConvergenceWarning",
    "DataValidationError",
    "DataWarning",
    "IPTOutcomesError",
    "IPTOutcomesWarning",
    "InputFileError",
    "RegistryError",
    "SingularFitWarning",
    "StudyDefinitionError",
]


class IPTOutcomesError(Exception):
    """Base class of every error raised by ipt_outcomes."""

    #: exit code the command line uses for this error
    exit_code: int = 1


class InputFileError(IPTOutcomesError, ValueError):
    """A data file is missing, unreadable, or in a format that cannot be read."""

    exit_code = 2


class StudyDefinitionError(IPTOutcomesError, ValueError):
    """The study description (YAML) is malformed or inconsistent with the data file."""

    exit_code = 2


class RegistryError(IPTOutcomesError, KeyError):
    """An instrument is not in the registry and not declared by the study."""

    exit_code = 2

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class DataValidationError(IPTOutcomesError, ValueError):
    """The data failed validation where a step needs valid data (for example a model fit).

    The :class:`~ipt_outcomes.validation.report.ValidationReport` is kept in ``report``.
    """

    exit_code = 1

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class AnalysisError(IPTOutcomesError, ValueError):
    """An analysis could not be done with the data given (too few participants, no variation...)."""

    exit_code = 1


class ArgumentError(IPTOutcomesError, ValueError):
    """A function argument is invalid (unknown column, option out of range...)."""

    exit_code = 2


class ArgumentTypeError(IPTOutcomesError, TypeError):
    """A function argument has the wrong type (a list where a DataFrame is needed...)."""

    exit_code = 2


class IPTOutcomesWarning(UserWarning):
    """Base class of every warning issued by ipt_outcomes."""


class DataWarning(IPTOutcomesWarning):
    """Something in the data was dropped, recoded or assumed; the message says what."""


class ConvergenceWarning(IPTOutcomesWarning):
    """An optimiser did not converge, or converged only after a retry."""


class SingularFitWarning(IPTOutcomesWarning):
    """A mixed model is at the boundary: a variance at zero or a correlation at +-1."""


class ApproximationWarning(IPTOutcomesWarning):
    """A result relies on an approximation or an unverified default value."""


class ModelFallbackWarning(IPTOutcomesWarning):
    """A default model could not be fitted to these data and a simpler one was fitted instead (said why)."""


def caller_stacklevel() -> int:
    """``stacklevel`` for :func:`warnings.warn` that points at the first frame outside this package
    (the user's call), however deep inside the package the warning is raised."""
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level
