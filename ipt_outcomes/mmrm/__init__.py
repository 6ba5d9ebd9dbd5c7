"""Mixed models for repeated measures (categorical visit, structured residual covariance)."""

from __future__ import annotations

from typing import Any

from .options import DF_METHODS, STRUCTURES

__all__ = ["DF_METHODS", "STRUCTURES", "MmrmFit", "fit_mmrm"]


def __getattr__(name: str) -> Any:  # the model is imported on first use, not with the package
    if name in ("MmrmFit", "fit_mmrm"):
        from . import fit

        return getattr(fit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
