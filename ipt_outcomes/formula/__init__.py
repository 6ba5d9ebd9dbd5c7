"""The formula language of every model: read by our own parser, evaluated by our own code.

A formula is data, never code: :mod:`.tokens` and :mod:`.parser` read the closed grammar (terms,
operators, random-effect bars, a closed list of transforms), :mod:`.transforms` computes the
transforms' values, and :mod:`.matrices` hands formulaic only look-ups of those values to code the
terms as R does.
"""

from .matrices import MAX_COLUMNS, TermMatrix, build_term_matrix, design_columns, term_name
from .parser import (
    COVARIANCES,
    MAX_DEPTH,
    MAX_ORDER,
    MAX_TERMS,
    CovarianceTerm,
    ParsedFormula,
    RandomBar,
    parse_formula,
)
from .syntax import TRANSFORMS, Factor, TermSet, quote_name
from .tokens import MAX_FORMULA_CHARS
from .transforms import FactorState, fit_factor

__all__ = [
           "COVARIANCES",
           "MAX_COLUMNS",
           "MAX_DEPTH",
           "MAX_FORMULA_CHARS",
           "MAX_ORDER",
           "MAX_TERMS",
           "TRANSFORMS",
           "CovarianceTerm",
           "Factor",
           "FactorState",
           "ParsedFormula",
           "RandomBar",
           "TermMatrix",
           "TermSet",
           "build_term_matrix",
           "design_columns",
           "fit_factor",
           "parse_formula",
           "quote_name",
           "term_name",
]
