"""The MMRM's choices, in a module of their own: the command line builds its parser from them
without importing the model (and numpy, scipy) at start-up."""

from __future__ import annotations

__all__ = ["DF_METHODS", "STRUCTURES"]

STRUCTURES = ("us", "toeplitz", "ar1", "cs", "adh", "toeph", "ar1h", "csh")
DF_METHODS = ("satterthwaite", "residual", "kenward-roger", "between-within")
