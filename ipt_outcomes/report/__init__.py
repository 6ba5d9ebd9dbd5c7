"""The self-contained HTML report."""

from .build import Report, build_report

__all__ = ["Report", "build_report"]
