"""Model matrices of parsed terms: our code computes every factor's values, formulaic codes the terms.

formulaic receives terms made of factors that are *looked up* by name in a table of values we
computed (:mod:`.transforms`); it never parses or evaluates text. It applies R's coding rules
(treatment contrasts with the first level as reference, full-rank coding of a categorical factor in
an interaction whose margin is absent) and names the columns (``arm[T.IPT]``, which :func:`term_name`
writes as the data model does: ``arm[IPT]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from .syntax import TermSet
from .transforms import FactorState

__all__ = ["MAX_COLUMNS", "TermMatrix", "build_term_matrix", "design_columns", "term_name"]

#: most columns of a fixed-effects design (a trial's model has tens; more is a mistake or an attack)
MAX_COLUMNS = 2000


def term_name(column: str) -> str:
    """formulaic's column name in the data model's words: ``arm[T.IPT]`` -> ``arm[IPT]``."""
    return column.replace("[T.", "[")


def design_columns(terms: TermSet, states: dict[str, FactorState]) -> int:
    """An upper bound of the number of columns ``terms`` make (categorical factors at all their levels)."""
    total = 1 if terms.has_intercept else 0
    for term in terms.terms:
        width = 1
        for label in term:
            width *= max(states[label].width, 1)
        total += width
    return total


def _formula(terms: TermSet) -> Any:
    from formulaic.formula import SimpleFormula
    from formulaic.parser.types import Factor, Term

    out = [Term([Factor("1", eval_method="literal")])] if terms.has_intercept else []
    out += [Term([Factor(label, eval_method="lookup") for label in term]) for term in terms.terms]
    return SimpleFormula(out, _ordering="none")


def factor_values(states: Iterable[FactorState], data: pd.DataFrame,
                  describe: Callable[[int], str] | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The values of ``states`` on ``data``: 1-D values as columns of a table, poly's matrices in a context.

    A value that is not finite (``log(0)``, ``sqrt(-1)``, ``1 / 0``) is refused with its count and the
    first row (``describe(i)`` says which row that is)."""
    from formulaic.materializers import FactorValues

    table: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for state in states:
        values = state.apply(data)
        if not state.categorical:
            bad = ~np.isfinite(values).all(axis=1) if values.ndim == 2 else ~np.isfinite(values)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                where = describe(i) if describe else f"row {i + 1}"
                raise ArgumentError(f"{state.factor.text} is not a finite number in {int(bad.sum())} analysed row(s) "
                                    f"(first: {where}); a log or square root of zero or less, or a division by zero? "
                                    "Change the transform (log(session + 1)) or drop those rows.")
        if values.ndim == 2:
            names = tuple(str(k) for k in range(1, values.shape[1] + 1))
            context[state.label] = FactorValues(values, column_names=names, kind="numerical")
        else:
            table[state.label] = values
    return pd.DataFrame(table, index=pd.RangeIndex(len(data))), context


@dataclass
class TermMatrix:
    """How to build the model matrix of some terms on any rows: the fitted factors and formulaic's spec."""

    terms: TermSet
    states: list[FactorState]
    spec: Any             # formulaic ModelSpec (lookups only)
    columns: list[str]    # column names in the data model's words

    def get_model_matrix(self, data: pd.DataFrame) -> np.ndarray:
        """The model matrix on new rows (a reference grid): factors computed as fitted, then coded."""
        if not len(data):
            return np.empty((0, len(self.columns)))
        table, context = factor_values(self.states, data.reset_index(drop=True))
        return np.asarray(self.spec.get_model_matrix(table, context=context, na_action="raise"), float)


def build_term_matrix(terms: TermSet, states: dict[str, FactorState], data: pd.DataFrame,
                      describe: Callable[[int], str] | None = None) -> tuple[np.ndarray, TermMatrix]:
    """The model matrix of ``terms`` on ``data`` and its recipe for new rows."""
    from formulaic import model_matrix

    used = [states[label] for label in dict.fromkeys(label for term in terms.terms for label in term)]
    table, context = factor_values(used, data.reset_index(drop=True), describe)
    try:
        matrix = model_matrix(_formula(terms), table, context=context, na_action="raise")
    except Exception as exc:  # formulaic's coding errors (no data text is evaluated)
        raise AnalysisError(f"the terms {terms.text({s.label: s.factor for s in used})!r} cannot be coded: {exc}") from None
    columns = [term_name(str(c)) for c in matrix.columns]
    return np.asarray(matrix, float), TermMatrix(terms, used, matrix.model_spec, columns)
