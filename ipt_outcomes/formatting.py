"""How numbers are shown, in one place: p values as APA writes them (tables, text, the terminal, Word).

Stored results are never rounded; these functions are for display only.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["p_cell", "p_text"]


def _missing(p: Any) -> bool:
    return p is None or not isinstance(p, int | float) or not math.isfinite(float(p))


def p_cell(p: Any) -> str:
    """A p value in a table cell: ``< .001``, ``.034``, ``> .999``; empty when missing. No leading zero
    (a p value cannot exceed 1), three decimals (APA 7th edition, 6.36)."""
    if _missing(p):
        return ""
    p = float(p)
    if p < 0.001:
        return "< .001"
    if p >= 0.9995:
        return "> .999"
    return f"{p:.3f}".replace("0.", ".", 1)


def p_text(p: Any) -> str:
    """A p value in running text: ``p < .001``, ``p = .034``, ``p > .999``; ``p not available``."""
    if _missing(p):
        return "p not available"
    cell = p_cell(p)
    return f"p {cell}" if cell[0] in "<>" else f"p = {cell}"
