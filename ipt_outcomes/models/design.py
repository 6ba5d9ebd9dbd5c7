"""Fixed- and random-effects design of a growth model, with the term names of the data model.

Terms: ``Intercept``; the time term(s) (``session``; ``log(session + 1)``; ``session`` and
``session^2``; or ``session[initial]``, ``session[middle]``, ``session[termination]`` for
piecewise time by IPT phase); ``arm[level]`` against the reference arm; time x arm as
``session:arm[IPT]``; moderators (``problem_area[grief]``, or a numeric moderator by its name,
entering as a continuous variable) with moderator x arm, moderator x time and moderator x arm x
time; covariates (numeric by name, categorical as ``column[level]``); with
``baseline="covariate"`` the baseline score as ``baseline``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..selection import outcome_rows

__all__ = ["Design", "GrowthSpec", "build_design", "time_columns"]

Shape = Literal["linear", "log", "quadratic", "piecewise"]


@dataclass(frozen=True)
class GrowthSpec:
    """Settings of a growth model (what :func:`ipt_outcomes.fit_growth` was asked for)."""

    outcome: str
    time: str = "session"
    shape: Shape = "linear"
    random: Literal["intercept", "slope"] = "slope"
    method: Literal["reml", "ml"] = "reml"
    reference_arm: str | None = None
    covariates: tuple[str, ...] = ()
    moderators: tuple[str, ...] = ()
    baseline: Literal["outcome", "covariate"] = "outcome"
    therapist: str | None = None
    breakpoints: tuple[float, float] = (3.0, 12.0)
    reference_levels: dict[str, str] = field(default_factory=dict)
    #: full level lists of categorical columns, fixed in advance (so data partitions share one design)
    level_sets: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Design:
    """Model matrices and the data rows they came from."""

    data: pd.DataFrame            # analysed rows (response present), in model order
    y: np.ndarray
    X: np.ndarray
    terms: list[str]
    #: each term as its factors, (column, level) with level None for a number or time term; the
    #: intercept is (). Names such as ``session:arm[IPT]`` are for reading only: a level may hold ':' or ']'.
    term_parts: list[tuple[tuple[str, str | None], ...]]
    Z: np.ndarray
    random_terms: list[str]
    participant: np.ndarray       # integer codes
    participant_ids: np.ndarray   # code -> participant_id
    therapist: np.ndarray | None
    time_terms: list[str]
    arm_levels: list[str]         # reference first
    n_dropped: int

    @functools.cached_property
    def column_means(self) -> np.ndarray:
        """Mean of each column of X (where marginal means hold the other terms), computed once."""
        return self.X.mean(axis=0)


def time_columns(values: np.ndarray, spec: GrowthSpec) -> tuple[list[str], np.ndarray]:
    """Time term names and their columns for a vector of times."""
    t = np.asarray(values, float)
    name = spec.time
    if spec.shape == "linear":
        return [name], t[:, None]
    if spec.shape == "log":
        return [f"log({name} + 1)"], np.log(t + 1.0)[:, None]
    if spec.shape == "quadratic":
        return [name, f"{name}^2"], np.column_stack([t, t ** 2])
    if spec.shape == "piecewise":
        k1, k2 = spec.breakpoints
        cols = np.column_stack([np.minimum(t, k1), np.clip(t - k1, 0, k2 - k1), np.maximum(t - k2, 0)])
        return [f"{name}[initial]", f"{name}[middle]", f"{name}[termination]"], cols
    raise ArgumentError(f"shape must be linear, log, quadratic or piecewise, not {spec.shape!r}.")


def _levels(series: pd.Series, column: str, reference: str | None) -> list[str]:
    levels = sorted({str(v) for v in pd.unique(series.dropna())})
    if reference is None:
        return levels
    if reference not in levels:
        raise ArgumentError(f"reference level {reference!r} of {column!r} is not in the data; levels: "
                            f"{', '.join(levels)}.")
    return [reference] + [lv for lv in levels if lv != reference]


def _dummies(series: pd.Series, column: str, levels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    codes, uniques = pd.factorize(series)  # compare small integer codes, not millions of strings
    text = np.array([str(u) for u in uniques], dtype=object)
    names = [f"{column}[{lv}]" for lv in levels[1:]]
    if len(levels) < 2:
        return names, np.empty((len(series), 0))
    cols = np.column_stack([np.isin(codes, np.flatnonzero(text == lv)).astype(float) for lv in levels[1:]])
    return names, cols


def _is_numeric(col: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col))


def build_design(df: pd.DataFrame, spec: GrowthSpec) -> Design:
    """Select the outcome's rows and build X, Z and groups. Raises AnalysisError when impossible."""
    used = ["participant_id", "arm", spec.time, "score", *spec.covariates, *spec.moderators,
            *([spec.therapist] if spec.therapist else [])]
    data = outcome_rows(df, spec.outcome, used).copy()  # the columns the model reads, not the whole table
    if len(data) == 0:
        known = sorted(df["instrument"].dropna().astype(str).unique()) if "instrument" in df.columns else []
        raise AnalysisError(f"no rows for outcome {spec.outcome!r}; instruments in the data: {', '.join(known)}.")
    for column in ("participant_id", "arm", spec.time):
        if column not in data.columns:
            raise ArgumentError(f"column {column!r} is needed for a growth model but is not in the data.")
    if not pd.api.types.is_float_dtype(data["score"]):
        data["score"] = pd.to_numeric(data["score"], errors="coerce")
    if not pd.api.types.is_numeric_dtype(data[spec.time]):
        data[spec.time] = pd.to_numeric(data[spec.time], errors="coerce")
    if spec.baseline == "covariate":
        is_base = data[spec.time] == 0
        base = data[is_base].groupby("participant_id")["score"].first()
        data = data[~is_base].assign(baseline=data.loc[~is_base, "participant_id"].map(base))
    needed = ["score", spec.time, "participant_id", "arm", *spec.covariates, *spec.moderators]
    if spec.baseline == "covariate":
        needed.append("baseline")
    if spec.therapist:
        needed.append(spec.therapist)
    missing_cols = [c for c in needed if c not in data.columns]
    if missing_cols:
        raise ArgumentError(f"column(s) {', '.join(missing_cols)} not in the data.")
    for column in (*spec.moderators, *spec.covariates):
        present_by_arm = data[column].notna().groupby(data["arm"], observed=True).any()
        present_by_arm.index = present_by_arm.index.astype(str)
        empty_arms = sorted(present_by_arm[~present_by_arm].index)
        if empty_arms:
            raise AnalysisError(
                f"{column!r} is not recorded in arm(s) {', '.join(empty_arms)} (problem areas usually exist only in "
                f"IPT arms); a {column} x arm model needs it in every arm. Drop it from moderators/covariates, or "
                "record it for all arms.")
    complete = data[needed].notna().all(axis=1)
    n_dropped = int((~complete).sum())
    data = data[complete].reset_index(drop=True)
    if data["participant_id"].nunique() < 3 and not spec.level_sets:
        raise AnalysisError(f"only {data['participant_id'].nunique()} participant(s) with a {spec.outcome} score; "
                            "a growth model needs more.")

    scores = data["score"].to_numpy(float)
    if len(scores) and np.ptp(scores) == 0 and not spec.level_sets:
        raise AnalysisError(f"every analysed {spec.outcome} score is {scores[0]:g}; with no variation there is no "
                            "change to model. Check that the score column holds the instrument's totals.")
    t_names, t_cols = time_columns(data[spec.time].to_numpy(), spec)
    if np.ptp(t_cols[:, 0]) == 0 and not spec.level_sets:
        raise AnalysisError(f"every analysed {spec.outcome} score is at {spec.time} {data[spec.time].iloc[0]:g}; "
                            "change over time needs scores at two times or more.")
    arm_levels = list(spec.level_sets["arm"]) if "arm" in spec.level_sets else _levels(data["arm"], "arm", spec.reference_arm)
    if len(arm_levels) < 2 and not spec.level_sets:
        raise AnalysisError(f"only one arm ({arm_levels[0]}) has {spec.outcome} data; arm effects need two.")
    arm_names, arm_cols = _dummies(data["arm"], "arm", arm_levels)
    t_f = [(tn, None) for tn in t_names]
    arm_f = [("arm", lv) for lv in arm_levels[1:]]
    names = ["Intercept", *t_names, *arm_names]
    parts: list[tuple[tuple[str, str | None], ...]] = [(), *[(f,) for f in t_f], *[(f,) for f in arm_f]]
    cols = [np.ones((len(data), 1)), t_cols, arm_cols]
    for tn, tf, tc in zip(t_names, t_f, t_cols.T, strict=True):
        names += [f"{tn}:{an}" for an in arm_names]
        parts += [(tf, af) for af in arm_f]
        cols.append(tc[:, None] * arm_cols)
    for mod in spec.moderators:
        if _is_numeric(data[mod]):  # continuous: one slope, and its interactions with arm and time
            m_names, m_cols = [mod], data[mod].to_numpy(float)[:, None]
            m_f: list[tuple[str, str | None]] = [(mod, None)]
            if np.ptp(m_cols) == 0 and not spec.level_sets:
                raise AnalysisError(f"moderator {mod!r} takes one value ({m_cols[0, 0]:g}) in the analysed {spec.outcome} "
                                    "rows, so it cannot moderate anything; drop it from moderators.")
        else:
            levels = (list(spec.level_sets[mod]) if mod in spec.level_sets
                      else _levels(data[mod], mod, spec.reference_levels.get(mod)))
            if len(levels) < 2 and not spec.level_sets:
                raise AnalysisError(f"moderator {mod!r} has one level ({levels[0] if levels else 'none'}) in the "
                                    f"analysed {spec.outcome} rows, so it cannot moderate anything; drop it from "
                                    "moderators (or analyse data with more than one level).")
            m_names, m_cols = _dummies(data[mod], mod, levels)
            m_f = [(mod, lv) for lv in levels[1:]]
        names += m_names
        parts += [(mf,) for mf in m_f]
        cols.append(m_cols)
        for an, af, ac in zip(arm_names, arm_f, arm_cols.T, strict=True):
            names += [f"{an}:{mn}" for mn in m_names]
            parts += [(af, mf) for mf in m_f]
            cols.append(ac[:, None] * m_cols)
        for tn, tf, tc in zip(t_names, t_f, t_cols.T, strict=True):
            names += [f"{tn}:{mn}" for mn in m_names]
            parts += [(tf, mf) for mf in m_f]
            cols.append(tc[:, None] * m_cols)
            for an, af, ac in zip(arm_names, arm_f, arm_cols.T, strict=True):
                names += [f"{tn}:{an}:{mn}" for mn in m_names]
                parts += [(tf, af, mf) for mf in m_f]
                cols.append((tc * ac)[:, None] * m_cols)
    for cov in spec.covariates:
        col = data[cov]
        if _is_numeric(col):
            names.append(cov)
            parts.append(((cov, None),))
            cols.append(col.to_numpy(float)[:, None])
        else:
            c_levels = list(spec.level_sets[cov]) if cov in spec.level_sets else _levels(col, cov, spec.reference_levels.get(cov))
            c_names, c_cols = _dummies(col, cov, c_levels)
            names += c_names
            parts += [((cov, lv),) for lv in c_levels[1:]]
            cols.append(c_cols)
    if spec.baseline == "covariate":
        names.append("baseline")
        parts.append((("baseline", None),))
        cols.append(data["baseline"].to_numpy(float)[:, None])
    X = np.column_stack(cols)
    assert len(parts) == len(names) == X.shape[1]
    keep = np.abs(X).sum(axis=0) > 0
    if not keep.all() and not spec.level_sets:  # a partition may lack a level; the combined design is checked
        empty = [n for n, k in zip(names, keep, strict=True) if not k]
        raise AnalysisError(f"no data for term(s) {', '.join(empty)} (for example a moderator level that occurs in "
                            "one arm only); drop the moderator or merge its levels.")
    rank = np.linalg.matrix_rank(X.T @ X)  # same rank as X, on a p x p matrix
    if rank < X.shape[1] and not spec.level_sets:
        raise AnalysisError(f"the fixed effects are not estimable (design rank {rank} < {X.shape[1]} terms); a "
                            "covariate or moderator is confounded with arm or time.")
    if spec.random == "slope":
        if len(t_names) != 1:
            raise ArgumentError(f"random slopes need one time term; shape {spec.shape!r} has {len(t_names)}. "
                                "Use random=\"intercept\" or shape 'linear'/'log'.")
        Z = np.column_stack([np.ones(len(data)), t_cols[:, 0]])
        random_terms = ["Intercept", t_names[0]]
    else:
        Z = np.ones((len(data), 1))
        random_terms = ["Intercept"]
    codes, ids = pd.factorize(data["participant_id"])
    if isinstance(ids.dtype, pd.StringDtype):  # a loaded table: text already, converted in one call
        ids = ids.to_numpy(dtype=object)
    else:
        ids = np.array([str(i) for i in ids], dtype=object)
    therapist = pd.factorize(data[spec.therapist])[0] if spec.therapist else None
    return Design(data=data, y=data["score"].to_numpy(float), X=X, terms=names, term_parts=parts, Z=Z, random_terms=random_terms,
                  participant=codes, participant_ids=np.asarray(ids), therapist=therapist, time_terms=t_names,
                  arm_levels=arm_levels, n_dropped=n_dropped)
