"""Validation of the canonical trial table (pandera schema, cross-row rules, report)."""

from .report import FAILURE_COLUMNS, ValidationReport
from .validate import trial_schema, validate

__all__ = ["FAILURE_COLUMNS", "ValidationReport", "trial_schema", "validate"]
