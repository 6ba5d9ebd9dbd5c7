"""The self-contained HTML report, and its publication tables."""

from .build import Report, build_report
from .model_table import model_table
from .table_one import baseline_table

__all__ = ["Report", "baseline_table", "build_report", "model_table"]
