"""Model matrices of a formula model: the fixed part through formulaic, the random part bar by bar.

Names follow the data model: formulaic's ``arm[T.IPT]`` is ``arm[IPT]``, ``C(arm, Treatment('TAU'))[T.IPT]``
is ``arm[IPT]``, and interactions join with ``:`` (``session:arm[IPT]``). Reference levels: the arm
given by ``reference_arm`` (or chosen as for any growth model), other categorical columns the level
in ``reference_levels``, else the first in sorted order; a ``C(x, Treatment(...))`` in the formula
takes precedence. ``baseline`` in a formula is the instrument's baseline score (the score at time 0)
as a covariate, the baseline rows leaving the response, unless the data have a column of that name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..selection import outcome_rows
from .formula import ParsedFormula
from .structure import Block, Factor, RandomStructure

__all__ = ["FormulaDesign", "build_formula_design", "term_name"]

_TREATMENT = re.compile(r"C\(\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:,[^\[\]]*)?\)\[(?:T\.)?")


def term_name(column: str) -> str:
    """formulaic's column name in the data model's words: ``arm[T.IPT]`` -> ``arm[IPT]``."""
    out = _TREATMENT.sub(lambda m: f"{m.group(1)}[", column)
    return out.replace("[T.", "[")


@dataclass(frozen=True)
class FormulaDesign:
    data: pd.DataFrame              # analysed rows, with the columns the formula reads
    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    model_spec: Any                 # formulaic ModelSpec of the fixed part (for new data: marginal means)
    structure: RandomStructure | None
    Zs: list[np.ndarray]
    codes: list[np.ndarray]
    level_names: list[np.ndarray]   # per factor, the label of each level
    n_dropped: int
    baseline_covariate: bool
    reference_arm: str | None


def _variables(text: str) -> set[str]:
    from formulaic import Formula

    try:
        return {str(v) for v in Formula(text).required_variables}
    except Exception as exc:  # formulaic's parser raises its own types
        raise ArgumentError(f"formula part {text!r} cannot be read: {exc}") from None


def build_formula_design(df: pd.DataFrame, parsed: ParsedFormula, time: str, reference_arm: str | None,
                         reference_levels: dict[str, str]) -> FormulaDesign:
    from formulaic import model_matrix

    used = _variables(parsed.fixed)
    for bar in parsed.bars:
        used |= _variables(bar.terms) | set(bar.group)
    baseline_covariate = "baseline" in used and "baseline" not in df.columns
    columns = sorted((used - {"baseline"}) | {"participant_id", time} if baseline_covariate
                     else used | {"participant_id"})
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ArgumentError(f"formula {parsed.text!r} names column(s) {', '.join(map(repr, missing))}, which the data do "
                            f"not have; columns: {', '.join(map(str, df.columns))}.")
    data = outcome_rows(df, parsed.response, [*columns, "score"]).copy()
    if len(data) == 0:
        known = sorted(df["instrument"].dropna().astype(str).unique()) if "instrument" in df.columns else []
        raise AnalysisError(f"no rows for outcome {parsed.response!r} (the formula's left side); instruments in the data: "
                            f"{', '.join(known)}.")
    data["score"] = pd.to_numeric(data["score"], errors="coerce")
    if baseline_covariate:
        t = pd.to_numeric(data[time], errors="coerce")
        is_base = (t == 0).to_numpy()
        base = data.loc[is_base].groupby("participant_id", observed=True)["score"].first()
        data = data.loc[~is_base]
        data["baseline"] = data["participant_id"].map(base).astype(float)
    needed = sorted(used | {"score"})
    complete = data[needed].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data = data.loc[complete].reset_index(drop=True)
    if len(data) == 0:
        raise AnalysisError(f"no {parsed.response} row has every variable of the formula ({', '.join(needed)}).")
    data = _categories(data, used, reference_arm, reference_levels)
    try:
        X = model_matrix(parsed.fixed, data, na_action="raise")
    except Exception as exc:  # formulaic's errors
        raise ArgumentError(f"the fixed part {parsed.fixed!r} cannot be built: {exc}") from None
    terms = [term_name(c) for c in X.columns]
    Xv = np.asarray(X, float)
    if Xv.shape[1] == 0:
        raise ArgumentError(f"formula {parsed.text!r} has no fixed effect; keep at least the intercept.")
    rank = np.linalg.matrix_rank(Xv.T @ Xv)
    if rank < Xv.shape[1]:
        raise AnalysisError(f"the fixed effects of {parsed.fixed!r} are not estimable (design rank {rank} < {Xv.shape[1]} "
                            f"columns: {', '.join(_aliased(Xv, terms))} depend on the others); drop or merge terms.")
    structure, Zs, codes, labels = _random_part(data, parsed)
    if structure is not None:  # a linear model has no random part
        _variance_identifiable(structure, Zs, codes, Xv, terms)
    arm = data["arm"].cat.categories[0] if "arm" in data and isinstance(data["arm"].dtype, pd.CategoricalDtype) else None
    return FormulaDesign(data=data, y=data["score"].to_numpy(float), X=Xv, terms=terms, model_spec=X.model_spec,
                         structure=structure, Zs=Zs, codes=codes, level_names=labels, n_dropped=n_dropped,
                         baseline_covariate=baseline_covariate, reference_arm=arm)


def _variance_identifiable(structure: Any, Zs: list[np.ndarray], codes: list[np.ndarray], X: np.ndarray,
                           terms: list[str]) -> None:
    """Refuse a random intercept whose levels the fixed effects already explain: when the fixed columns
    that are constant within the levels of a grouping factor (its level-level design) have rank equal
    to its number of levels, every level has its own fixed mean and no between-level variation is
    left to estimate a variance from (one trial per disorder with ``(1 | trial_id)`` and a disorder
    effect). The fit would report a variance, df near 0 and intervals without bounds."""
    for factor, Z, code in zip(structure.factors, Zs, codes, strict=True):
        if not any(np.all(Z[:, j] == 1.0) for j in range(Z.shape[1])):
            continue  # no random intercept for this factor
        n_levels = factor.n_levels
        counts = np.bincount(code, minlength=n_levels).astype(float)
        means = np.stack([np.bincount(code, X[:, j], n_levels) for j in range(X.shape[1])], axis=1) / counts[:, None]
        constant = np.abs(X - means[code]).max(axis=0) <= 1e-10 * np.maximum(np.abs(X).max(axis=0), 1.0)
        level_rank = int(np.linalg.matrix_rank(means[:, constant])) if constant.any() else 0
        if level_rank >= n_levels:
            named = [t for t, c in zip(terms, constant, strict=True) if c and t != "Intercept"]
            raise AnalysisError(
                f"the variance of the random intercept of {factor.name} cannot be estimated: its {n_levels} levels are "
                f"each given their own mean by fixed effects constant within {factor.name} "
                f"({', '.join(named) or 'the intercept'}), so no variation between levels is left. Drop "
                f"(1 | {factor.name}), drop or merge those terms, or add {factor.name} levels (e.g. more trials per "
                "disorder).")


def _aliased(X: np.ndarray, terms: list[str]) -> list[str]:
    """Columns that add nothing to the rank of the columns before them."""
    out, kept = [], np.empty((X.shape[0], 0))
    for j, name in enumerate(terms):
        trial = np.column_stack([kept, X[:, j]])
        if np.linalg.matrix_rank(trial) > kept.shape[1]:
            kept = trial
        else:
            out.append(name)
    return out


def _categories(data: pd.DataFrame, used: set[str], reference_arm: str | None,
                reference_levels: dict[str, str]) -> pd.DataFrame:
    """Text columns as categoricals with the reference level first (formulaic's reference)."""
    for column in sorted(used):
        if column not in data.columns or column == "baseline":
            continue
        values = data[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            continue
        text = values.astype(str)
        if isinstance(values.dtype, pd.CategoricalDtype):  # its own order (visits in time order), unused levels out
            present = set(text.unique())
            levels = [str(c) for c in values.cat.categories if str(c) in present]
        else:
            levels = sorted(text.unique())
        ref = reference_arm if column == "arm" else reference_levels.get(column)
        if ref is not None:
            if ref not in levels:
                raise ArgumentError(f"reference level {ref!r} of {column!r} is not in the analysed rows; levels: "
                                    f"{', '.join(levels)}.")
            levels = [ref] + [lv for lv in levels if lv != ref]
        data[column] = pd.Categorical(text, categories=levels)
    return data


def _random_part(data: pd.DataFrame, parsed: ParsedFormula
                 ) -> tuple[RandomStructure | None, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    from formulaic import model_matrix

    if not parsed.bars:
        return None, [], [], []
    order: list[str] = []
    per: dict[str, list[tuple[list[str], np.ndarray]]] = {}
    group_of: dict[str, tuple[str, ...]] = {}
    for bar in parsed.bars:
        try:
            Zb = model_matrix(bar.terms, data, na_action="raise")
        except Exception as exc:  # formulaic's errors
            raise ArgumentError(f"the random term ({bar.terms} | {bar.group_name}) cannot be built: {exc}") from None
        if Zb.shape[1] == 0:
            raise ArgumentError(f"the random term ({bar.terms} | {bar.group_name}) has no column.")
        name = bar.group_name
        if name not in per:
            order.append(name)
            per[name], group_of[name] = [], bar.group
        per[name].append(([term_name(c) for c in Zb.columns], np.asarray(Zb, float)))
    factors, Zs, codes, labels = [], [], [], []
    n = len(data)
    for name in order:
        keys = data[list(group_of[name])].astype(str)
        code = keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy(np.int64)
        first = pd.Series(np.arange(n)).groupby(code).first().to_numpy()
        parts = [keys[c].to_numpy(dtype=object)[first] for c in keys.columns]
        label = np.array([":".join(t) for t in zip(*parts, strict=True)] if len(parts) > 1 else parts[0], dtype=object)
        blocks, start = [], 0
        for cols, _ in per[name]:
            blocks.append(Block(tuple(cols), start))
            start += len(cols)
        n_levels = int(code.max()) + 1
        if n_levels < 2:
            raise AnalysisError(f"the grouping factor {name} has {n_levels} level in the analysed rows; a random effect "
                                "needs at least two (lme4 refuses it too). Drop that random term.")
        q = start
        if n <= n_levels * q:
            raise AnalysisError(f"{n} observations for {n_levels * q} random effects of {name} ({q} per level, {n_levels} "
                                "levels): the random effects and the residual variance cannot be told apart (lme4's "
                                "check.nobs.vs.nRE). Simplify the random part for that group.")
        factors.append(Factor(name, tuple(blocks), n_levels))
        Zs.append(np.column_stack([Z for _, Z in per[name]]))
        codes.append(code)
        labels.append(label)
    return RandomStructure(tuple(factors)), Zs, codes, labels
