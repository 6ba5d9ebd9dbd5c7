"""lme4-style model formulas (``HAMD17 ~ session * arm + baseline + (session | participant_id)``), read
by the project's own grammar: see :mod:`ipt_outcomes.formula.parser`."""

from __future__ import annotations

from ..formula.parser import ParsedFormula, RandomBar, parse_formula

__all__ = ["ParsedFormula", "RandomBar", "parse_formula"]
