"""Values of a formula's factors, computed by our code from the parsed expression (never ``eval``).

Each factor is *fitted* once on the analysed rows, which fixes what a transform remembers (the mean
and SD of ``scale``, the mean of ``center``, the recurrence coefficients of ``poly``, the levels and
reference of a categorical), and then *applied* to those rows or to new ones (a reference grid for
marginal means), as R's ``predict`` and emmeans do with ``makepredictcall``.

* ``scale(x)``: ``(x - mean) / sd`` with the SD on n - 1 (R's ``scale``); ``center(x)``: ``x - mean``.
* ``poly(x, k)``: R's orthogonal polynomials (``stats::poly``): the monic polynomials orthogonal on the
  analysed values, from the three-term recurrence, each divided by its norm; ``raw = TRUE`` gives
  ``x, x^2, ..., x^k``.
* A categorical factor's levels are its categories (an ordered or categorical column keeps its own
  order), else its distinct values sorted (numbers numerically); the reference level comes first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from .syntax import Call, Column, Expression, Factor, Negate, Number, render

__all__ = ["FactorState", "fit_factor", "is_categorical_column", "level_text"]

_FUNCTIONS = {"log": np.log, "log1p": np.log1p, "log2": np.log2, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt,
              "abs": np.abs}


def is_categorical_column(values: pd.Series) -> bool:
    """Text, categorical and logical columns are categorical; numbers are numeric."""
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values):
        return True
    return not pd.api.types.is_numeric_dtype(values)


def level_text(value: Any) -> str:
    """A level as text: numbers without a trailing '.0' (4.0 -> '4'), everything else as written."""
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.15g}"
    return str(value)


def _numeric(data: pd.DataFrame, name: str, where: str) -> np.ndarray:
    column = data[name]
    if is_categorical_column(column):
        raise ArgumentError(f"{where} uses {name!r} as a number, but {name} is categorical (text or logical); use a "
                            "numeric column, or the column itself as a factor.")
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def evaluate(node: Expression, data: pd.DataFrame, where: str) -> np.ndarray:
    """The value of an arithmetic expression on every row of ``data`` (floats)."""
    with np.errstate(all="ignore"):
        if isinstance(node, Column):
            return _numeric(data, node.name, where)
        if isinstance(node, Number):
            return np.full(len(data), node.value)
        if isinstance(node, Negate):
            return -evaluate(node.operand, data, where)
        if isinstance(node, Call):
            return _FUNCTIONS[node.func](evaluate(node.arg, data, where))
        left, right = evaluate(node.left, data, where), evaluate(node.right, data, where)
        if node.op == "+":
            return left + right
        if node.op == "-":
            return left - right
        if node.op == "*":
            return left * right
        if node.op == "/":
            return left / right
        return np.power(left, right)


@dataclass
class FactorState:
    """A factor fitted on the analysed rows: what it remembers, and how to compute it on any rows."""

    factor: Factor
    categorical: bool
    levels: list[str] = field(default_factory=list)         # categorical: reference first
    center: float = 0.0                                     # scale, center
    spread: float = 1.0                                     # scale
    alpha: np.ndarray | None = None                         # poly: recurrence coefficients
    norm2: np.ndarray | None = None                         # poly: squared norms (R's norm2)

    @property
    def label(self) -> str:
        return self.factor.label

    @property
    def width(self) -> int:
        """Columns this factor contributes to a term (before contrasts)."""
        if self.categorical:
            return len(self.levels)
        return self.factor.degree if self.factor.kind == "poly" else 1

    def apply(self, data: pd.DataFrame) -> Any:
        """The factor's values on ``data``: a Categorical, a float array, or an (n, k) array for poly."""
        f = self.factor
        where = f.text
        if self.categorical:
            name = f.expr.name  # type: ignore[union-attr]
            codes, uniques = pd.factorize(data[name], use_na_sentinel=True)
            texts = [level_text(u) for u in uniques]
            position = {lv: i for i, lv in enumerate(self.levels)}
            unknown = [t for t in texts if t not in position]
            if unknown:
                raise ArgumentError(f"{name} has level(s) {', '.join(map(repr, unknown[:5]))} that the model was not "
                                    f"fitted with; levels: {', '.join(self.levels[:20])}.")
            recode = np.array([position[t] for t in texts] + [-1], dtype=np.int64)
            return pd.Categorical.from_codes(recode[codes], categories=self.levels)
        x = evaluate(f.expr, data, where)
        if f.kind in ("column", "I"):
            return x
        if f.kind in _FUNCTIONS:
            with np.errstate(all="ignore"):
                return _FUNCTIONS[f.kind](x)
        if f.kind == "scale":
            return (x - self.center) / self.spread
        if f.kind == "center":
            return x - self.center
        return _poly_apply(x, f.degree, f.raw, self.alpha, self.norm2)


def _levels(values: pd.Series, reference: str | None, name: str) -> list[str]:
    distinct = pd.unique(values.dropna())
    if isinstance(values.dtype, pd.CategoricalDtype):  # its own order (visits in time order), unused levels out
        seen = {level_text(v) for v in distinct}
        levels = [level_text(c) for c in values.cat.categories if level_text(c) in seen]
    elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        levels = [level_text(v) for v in sorted(distinct)]
    else:
        levels = sorted({level_text(v) for v in distinct})
    if reference is not None:
        if reference not in levels:
            raise ArgumentError(f"reference level {reference!r} of {name!r} is not in the analysed rows; levels: "
                                f"{', '.join(levels[:20])}{' ...' if len(levels) > 20 else ''}.")
        levels = [reference] + [lv for lv in levels if lv != reference]
    return levels


def fit_factor(factor: Factor, data: pd.DataFrame, reference: str | None = None) -> FactorState:
    """Fit ``factor`` on the analysed rows ``data``. ``reference``: the reference level of a categorical
    column when the formula does not set it with ``C(x, Treatment(...))``."""
    if factor.kind == "C" or (factor.kind == "column" and is_categorical_column(data[factor.expr.name])):  # type: ignore[union-attr]
        name = factor.expr.name  # type: ignore[union-attr]
        ref = factor.reference if factor.kind == "C" and factor.reference is not None else reference
        return FactorState(factor, True, levels=_levels(data[name], ref, name))
    state = FactorState(factor, False)
    if factor.kind in ("scale", "center", "poly"):
        x = evaluate(factor.expr, data, factor.text)
        finite = x[np.isfinite(x)]
        if len(finite) == 0:
            raise ArgumentError(f"{factor.text} has no finite value in the analysed rows.")
        state.center = float(finite.mean())
        if factor.kind == "scale":
            sd = float(finite.std(ddof=1)) if len(finite) > 1 else 0.0
            if not sd > 0:
                raise ArgumentError(f"{factor.text}: {render(factor.expr)} does not vary in the analysed rows, so it "
                                    "cannot be scaled by its SD; drop the term or use center().")
            state.spread = sd
        if factor.kind == "poly" and not factor.raw:
            distinct = len(np.unique(finite))
            if factor.degree >= distinct:
                raise ArgumentError(f"{factor.text}: the degree must be less than the number of distinct values of "
                                    f"{render(factor.expr)} ({distinct}), as R's poly().")
            state.alpha, state.norm2 = _poly_fit(finite, factor.degree)
    return state


def _poly_fit(x: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """R's ``poly``: recurrence coefficients ``alpha`` and squared norms ``norm2 = (1, n, |Z1|^2, ...)``
    of the monic polynomials orthogonal on ``x`` (Stieltjes' procedure)."""
    mean = float(x.mean())
    x = x - mean  # centred first, as R's poly, for accuracy; alpha is returned on the original scale
    z_prev, z = np.zeros_like(x), np.ones_like(x)
    norm2 = [1.0, float(len(x))]
    alpha = []
    for k in range(degree):
        a = float(np.sum(x * z * z) / norm2[-1])
        alpha.append(a)
        z_next = (x - a) * z - (norm2[-1] / norm2[-2]) * z_prev if k else (x - a) * z
        z_prev, z = z, z_next
        norm2.append(float(np.sum(z * z)))
    return np.array(alpha) + mean, np.array(norm2)


def _poly_apply(x: np.ndarray, degree: int, raw: bool, alpha: np.ndarray | None, norm2: np.ndarray | None) -> np.ndarray:
    if raw or alpha is None or norm2 is None:
        return np.column_stack([x ** k for k in range(1, degree + 1)])
    Z = np.empty((len(x), degree + 1))
    Z[:, 0] = 1.0
    Z[:, 1] = x - alpha[0]
    for i in range(1, degree):
        Z[:, i + 1] = (x - alpha[i]) * Z[:, i] - (norm2[i + 1] / norm2[i]) * Z[:, i - 1]
    return Z[:, 1:] / np.sqrt(norm2[2:])
