"""Model matrices of a formula model: the fixed part and each random bar, from the parsed formula.

The formula is read by the project's grammar (:mod:`ipt_outcomes.formula`); every factor's values are
computed by our code and formulaic only codes the terms. Names follow the data model: ``arm[IPT]``,
interactions joined with ``:`` (``session:arm[IPT]``). Reference levels: the arm given by
``reference_arm`` (or chosen as for any growth model), other categorical columns the level in
``reference_levels``, else the first level (a categorical column's own order, else sorted); a
``C(x, Treatment(reference = ...))`` in the formula takes precedence. ``baseline`` in a formula is
the instrument's baseline score (the score at time 0) as a covariate, the baseline rows leaving the
response, unless the data have a column of that name.

Bounds (refused before the matrices are built, with the number needed): at most
:data:`~ipt_outcomes.formula.MAX_COLUMNS` fixed-effect columns, and a design whose matrices would
not fit in the memory available now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..formula import MAX_COLUMNS, FactorState, ParsedFormula, build_term_matrix, design_columns, fit_factor, term_name
from ..selection import outcome_rows
from .engine.structure import Block, Factor, RandomStructure

__all__ = ["FormulaDesign", "build_formula_design", "term_name", "tidy_response"]


@dataclass(frozen=True)
class FormulaDesign:
    data: pd.DataFrame              # analysed rows, with the columns the formula reads
    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    model_spec: Any                 # the fixed part's TermMatrix (get_model_matrix of new rows: marginal means)
    structure: RandomStructure | None
    Zs: list[np.ndarray]
    codes: list[np.ndarray]
    level_names: list[np.ndarray]   # per factor, the label of each level
    n_dropped: int
    baseline_covariate: bool
    reference_arm: str | None
    response_column: str = "score"         # the column of ``data`` that holds the response
    subject: str | None = "participant_id"  # the column of ``data`` that holds the subject (participant)
    arm: str | None = None                  # the treatment column (``arm`` on the canonical table)


def _fit_states(parsed: ParsedFormula, data: pd.DataFrame, reference_arm: str | None,
                reference_levels: dict[str, str]) -> dict[str, FactorState]:
    """Every factor of the formula fitted on the analysed rows; categorical columns of ``data`` become
    categoricals with the fitted levels (reference first), which the reference grids read."""
    states: dict[str, FactorState] = {}
    for label, factor in parsed.factors.items():
        column = factor.expr.name if factor.kind in ("column", "C") else None  # type: ignore[union-attr]
        ref = reference_levels.get(column) if column in reference_levels else \
            reference_arm if column == "arm" else None
        states[label] = fit_factor(factor, data, ref)
    numeric_use = {c for s in states.values() if not s.categorical for c in s.factor.columns}
    for state in states.values():
        if state.categorical and state.factor.expr.name not in numeric_use:  # type: ignore[union-attr]
            data[state.factor.expr.name] = state.apply(data)  # type: ignore[union-attr]
    return states


def _memory_guard(parsed: ParsedFormula, states: dict[str, FactorState], n_rows: int) -> None:
    """Refuse, before building anything, a design with too many columns or that would not fit in memory."""
    from ..io.files import available_memory

    p = design_columns(parsed.fixed_terms, states)
    if p > MAX_COLUMNS:
        raise ArgumentError(f"the fixed part of {parsed.text!r} would have up to {p:,} columns; at most {MAX_COLUMNS:,} "
                            "are fitted. A categorical variable with many levels in an interaction? Use it as a "
                            "grouping factor of a random term, or merge its levels.")
    q = sum(design_columns(bar.spec, states) for bar in parsed.bars)
    need = 8 * n_rows * (p + q) * 4  # the matrices, formulaic's table of them and the engine's working copies
    available = available_memory()
    if available is not None and need > available:
        raise AnalysisError(f"the design of {parsed.text!r} ({n_rows:,} rows x {p + q:,} columns) needs about "
                            f"{need / 2**30:.1f} GiB of memory; {available / 2**30:.1f} GiB are available. Simplify "
                            "the model, or fit it from a partitioned Parquet folder.")


def _describer(data: pd.DataFrame, time: str, subject: str | None = "participant_id"):
    def describe(i: int) -> str:
        parts = []
        if subject is not None and subject in data:
            parts.append(f"{'participant' if subject == 'participant_id' else subject} {data[subject].iloc[i]}")
        if time in data:
            parts.append(f"{time} {data[time].iloc[i]}")
        return ", ".join(parts) or f"analysed row {i + 1}"
    return describe


def tidy_response(df: pd.DataFrame, parsed: ParsedFormula) -> bool:
    """Whether the formula's left side is a column of ``df`` (any tidy long table) rather than an
    instrument key of the canonical table (whose scores are the rows of that instrument)."""
    canonical = {"instrument", "score"} <= set(df.columns)
    return parsed.response in df.columns and not (canonical and parsed.response == "score")


def build_formula_design(df: pd.DataFrame, parsed: ParsedFormula, time: str | None, reference_arm: str | None,
                         reference_levels: dict[str, str], subject: str | None = "participant_id") -> FormulaDesign:
    """The analysed rows and model matrices of ``parsed`` on ``df``: the canonical table (the response
    an instrument key, its scores the rows of that instrument) or any tidy long table (the response
    a column). ``subject``: the participant column (the data model's ``participant_id``, or the one a
    formula names); needed only where the model reads it (the baseline of a growth model)."""
    used = set(parsed.variables)
    tidy = tidy_response(df, parsed)
    response = parsed.response if tidy else "score"
    baseline_covariate = "baseline" in used and "baseline" not in df.columns
    if baseline_covariate and (subject is None or time is None):
        raise ArgumentError(f"formula {parsed.text!r}: 'baseline' (the score at time 0 of each participant) needs "
                            "the participant and time columns; put the baseline in a column of its own and name it.")
    keep = {subject} if subject is not None and subject in df.columns else set()
    columns = sorted((used - {"baseline"}) | keep | {subject, time} if baseline_covariate else used | keep)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ArgumentError(f"formula {parsed.text!r} names column(s) {', '.join(map(repr, missing))}, which the data do "
                            f"not have; columns: {', '.join(map(str, df.columns))}.")
    if tidy:
        data = df[list(dict.fromkeys([*columns, response]))].copy()
        values = pd.to_numeric(data[response], errors="coerce")
        bad = values.isna() & data[response].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ArgumentError(f"the response {response!r} holds {int(bad.sum())} value(s) that are not numbers (first: "
                                f"row {data.index[i]}, value {str(data[response].iloc[i])[:40]!r}); give the outcome as "
                                "numbers.")
        data[response] = values
    else:
        data = outcome_rows(df, parsed.response, [*columns, "score"]).copy()
        if len(data) == 0:
            known = sorted(df["instrument"].dropna().astype(str).unique()) if "instrument" in df.columns else []
            raise AnalysisError(f"no rows for outcome {parsed.response!r} (the formula's left side, neither a column "
                                f"nor an instrument); columns: {', '.join(map(str, df.columns))}; instruments in the "
                                f"data: {', '.join(known) or 'none'}.")
        data["score"] = pd.to_numeric(data["score"], errors="coerce")
    if baseline_covariate:
        t = pd.to_numeric(data[time], errors="coerce")
        is_base = (t == 0).to_numpy()
        base = data.loc[is_base].groupby(subject, observed=True)[response].first()
        data = data.loc[~is_base]
        data["baseline"] = data[subject].map(base).astype(float)
    needed = sorted(used | {response})
    complete = data[needed].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data = data.loc[complete].reset_index(drop=True)
    if len(data) == 0:
        raise AnalysisError(f"no {parsed.response} row has every variable of the formula ({', '.join(needed)}).")
    states = _fit_states(parsed, data, reference_arm, reference_levels)
    _memory_guard(parsed, states, len(data))
    describe = _describer(data, time or "", subject)
    Xv, fixed = build_term_matrix(parsed.fixed_terms, states, data, describe)
    terms = fixed.columns
    if Xv.shape[1] == 0:
        raise ArgumentError(f"formula {parsed.text!r} has no fixed effect; keep at least the intercept.")
    rank = np.linalg.matrix_rank(Xv.T @ Xv)
    if rank < Xv.shape[1]:
        raise AnalysisError(f"the fixed effects of {parsed.fixed!r} are not estimable (design rank {rank} < {Xv.shape[1]} "
                            f"columns: {', '.join(_aliased(Xv, terms))} depend on the others); drop or merge terms.")
    structure, Zs, codes, labels = _random_part(data, parsed, states, describe)
    if structure is not None:  # a linear model has no random part
        _variance_identifiable(structure, Zs, codes, Xv, terms)
    arm = data["arm"].cat.categories[0] if "arm" in data and isinstance(data["arm"].dtype, pd.CategoricalDtype) else None
    return FormulaDesign(data=data, y=data[response].to_numpy(float), X=Xv, terms=terms, model_spec=fixed,
                         structure=structure, Zs=Zs, codes=codes, level_names=labels, n_dropped=n_dropped,
                         baseline_covariate=baseline_covariate, reference_arm=arm, response_column=response,
                         subject=subject if subject is not None and subject in data else None)


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


def _random_part(data: pd.DataFrame, parsed: ParsedFormula, states: dict[str, FactorState], describe
                 ) -> tuple[RandomStructure | None, list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    if not parsed.bars:
        return None, [], [], []
    order: list[str] = []
    per: dict[str, list[tuple[list[str], np.ndarray]]] = {}
    group_of: dict[str, tuple[str, ...]] = {}
    for bar in parsed.bars:
        Zb, matrix = build_term_matrix(bar.spec, states, data, describe)
        if Zb.shape[1] == 0:
            raise ArgumentError(f"the random term ({bar.terms} | {bar.group_name}) has no column.")
        name = bar.group_name
        if name not in per:
            order.append(name)
            per[name], group_of[name] = [], bar.group
        per[name].append((matrix.columns, Zb))
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
