"""Marginal means and contrasts of a formula model, as emmeans computes them.

The reference grid holds every level of each categorical variable of the fixed part and, for each
numeric variable, its mean in the analysed rows; a numeric variable with at most two distinct values
is kept at both, as a factor (emmeans' default ``cov.keep = "2"``). ``at`` replaces a variable's
values. The fixed-part model matrix of the grid comes from formulaic's model spec of the fit, so
transforms (``log(session + 1)``, ``I(session ** 2)``, ``poly()``) are evaluated at the grid values.
A mean for one combination of ``specs`` (and of the ``at`` variables given several values, which are
always kept apart) averages the grid rows over the remaining factors, with equal weights (emmeans'
default) or weights proportional to how often each combination of those factors occurs in the
analysed rows (``weights="proportional"``). Standard errors from ``Var(b)``; degrees of freedom by
Satterthwaite's method (``lmer.df = "satterthwaite"``), or the residual df of a linear model.

References
----------
Searle SR, Speed FM, Milliken GA (1980). Population marginal means in the linear model: an
alternative to least squares means. Am Stat 34:216-221. doi:10.1080/00031305.1980.10483031
Lenth RV (2024). emmeans: Estimated Marginal Means, aka Least-Squares Means. R package.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...errors import ArgumentError
from ..fitted import FormulaModel, GrowthModel

__all__ = ["contrasts", "marginal_means", "reference_rows"]

WEIGHTS = ("equal", "proportional")
METHODS = ("trt.vs.ctrl", "pairwise")
ADJUST = ("none", "bonferroni")


def fixed_variables(fit: FormulaModel) -> list[str]:
    from ..formula import parse_formula

    names = set(parse_formula(fit.formula).fixed_variables)
    return [c for c in fit.formula_model.data.columns if c in names]


def _grid_values(fit: FormulaModel, at: Mapping[str, Any]) -> tuple[dict[str, list[Any]], list[str], dict[str, float]]:
    """Values of each fixed-part variable on the grid; the factor-like ones; numeric ones held at a mean."""
    data = fit.formula_model.data
    variables = fixed_variables(fit)
    unknown = sorted(set(at) - set(variables))
    if unknown:
        raise ArgumentError(f"at= names {', '.join(map(repr, unknown))}, not a variable of the fixed part; variables: "
                            f"{', '.join(variables) or 'none'}.")
    values: dict[str, list[Any]] = {}
    factors: list[str] = []
    means: dict[str, float] = {}
    for v in variables:
        column = data[v]
        categorical = isinstance(column.dtype, pd.CategoricalDtype)
        if v in at:
            given = list(np.atleast_1d(at[v])) if not isinstance(at[v], str) else [at[v]]
            if not given:
                raise ArgumentError(f"at[{v!r}] is empty; give at least one value.")
            if categorical:
                levels = list(column.cat.categories)
                bad = [g for g in given if str(g) not in levels]
                if bad:
                    raise ArgumentError(f"at[{v!r}] has {', '.join(map(repr, bad))}, not a level of {v}; levels: "
                                        f"{', '.join(map(str, levels))}.")
                given = [str(g) for g in given]
            else:
                try:
                    given = [float(g) for g in given]
                except (TypeError, ValueError):
                    raise ArgumentError(f"at[{v!r}] must hold numbers: {v} is numeric in the model.") from None
            values[v] = given
            if categorical or len(np.unique(column)) <= 2:
                factors.append(v)
        elif categorical:
            values[v] = list(column.cat.categories)
            factors.append(v)
        elif column.nunique() <= 2:
            values[v] = sorted(float(x) for x in column.unique())
            factors.append(v)
        else:
            means[v] = float(column.mean())
            values[v] = [means[v]]
    return values, factors, means


def reference_rows(fit: FormulaModel, specs: Sequence[str] | str, at: Mapping[str, Any] | None, weights: str,
                   by: Sequence[str] | str | None = None) -> tuple[pd.DataFrame, np.ndarray, list[str], list[str]]:
    """One row per combination of ``specs`` within each combination of the ``by`` variables (``by``
    plus the ``at`` variables given several values), its ``L`` (rows of the returned matrix), the
    grouping variables and notes on what the grid assumed."""
    if fit.formula_model is None:
        raise ArgumentError("marginal means need a model given by formula.")
    if weights not in WEIGHTS:
        raise ArgumentError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}.")
    at = dict(at or {})
    specs = [specs] if isinstance(specs, str) else list(specs)
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    values, factors, means = _grid_values(fit, at)
    missing = [s for s in [*specs, *by] if s not in values]
    if missing:
        raise ArgumentError(f"{', '.join(map(repr, missing))} is not a variable of the fixed part; variables: "
                            f"{', '.join(values) or 'none'}.")
    groups = [v for v in dict.fromkeys([*by, *[v for v in at if len(values[v]) > 1]]) if v not in specs]
    kept = [*groups, *specs]
    averaged = [v for v in factors if v not in kept and len(values[v]) > 1]
    data = fit.formula_model.data
    combos = list(itertools.product(*[values[v] for v in kept])) if kept else [()]
    inner = list(itertools.product(*[values[v] for v in averaged])) if averaged else [()]
    if weights == "equal" or not averaged:
        w = np.full(len(inner), 1.0 / len(inner))
    else:
        keys = data[averaged].astype(object).apply(lambda c: c.map(lambda x: x if isinstance(x, str) else float(x)))
        counts = keys.value_counts()
        w = np.array([float(counts.get(tuple(c), 0.0)) for c in inner])
        w = w / w.sum()
    rows = []
    for combo in combos:
        for c in inner:
            point = {v: values[v][0] for v in values}
            point.update(dict(zip(kept, combo, strict=True)))
            point.update(dict(zip(averaged, c, strict=True)))
            rows.append(point)
    grid = pd.DataFrame(rows, columns=list(values))
    for v in values:
        if isinstance(data[v].dtype, pd.CategoricalDtype):
            grid[v] = pd.Categorical(grid[v].astype(str), categories=data[v].cat.categories)
    X = np.asarray(fit.formula_model.model_spec.get_model_matrix(grid), float) if len(grid) else np.empty((0, 0))
    L = np.einsum("cij,i->cj", X.reshape(len(combos), len(inner), -1), w)
    frame = pd.DataFrame(list(combos), columns=kept)[[*specs, *groups]]
    notes = [f"{v} at its mean {m:.4g}" for v, m in means.items() if v not in at]
    notes += [f"{v} at {values[v][0]:g}" if isinstance(values[v][0], float) else f"{v} at {values[v][0]}"
              for v in at if len(values[v]) == 1 and v not in specs]
    if averaged:
        notes.append(f"averaged over {', '.join(averaged)} with {weights} weights")
    return frame, L, groups, notes


def marginal_means(fit: FormulaModel, specs: Sequence[str] | str, at: Mapping[str, Any] | None = None,
                   weights: str = "equal", by: Sequence[str] | str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Estimated marginal means (emmeans' ``emmeans(fit, ~ specs | by, at=, weights=)``).

    Returns one row per combination of ``specs`` within each combination of ``by`` (and of the ``at``
    variables given several values) with ``estimate``, ``std_error``, ``df``, ``ci_lower``, ``ci_upper``; ``attrs["notes"]`` says
    where the other variables were held and how factors were averaged.
    """
    frame, L, _, notes = reference_rows(fit, specs, at, weights, by)
    out = []
    for row in L:
        e = fit.contrast(row, level=level)
        out.append({k: e[k] for k in ("estimate", "std_error", "df", "ci_lower", "ci_upper")})
    result = pd.concat([frame.reset_index(drop=True), pd.DataFrame(out)], axis=1)
    result.attrs["notes"] = notes
    return result


def _label(values: tuple[Any, ...]) -> str:
    return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def contrasts(fit: FormulaModel, specs: Sequence[str] | str, at: Mapping[str, Any] | None = None,
              method: str = "trt.vs.ctrl", weights: str = "equal", by: Sequence[str] | str | None = None,
              adjust: str = "none", level: float = 0.95) -> pd.DataFrame:
    """Contrasts of marginal means (emmeans' ``contrast(emmeans(fit, ~ specs | by), method)``), within each
    combination of ``by`` and of the ``at`` variables given several values.

    ``method="trt.vs.ctrl"``: each level minus the first (for ``arm``, the reference arm);
    ``"pairwise"``: every earlier level minus every later one, as emmeans orders them. ``adjust``:
    ``"none"`` (the default; emmeans adjusts pairwise contrasts by Tukey unless told otherwise) or
    ``"bonferroni"`` (p values and the interval level within each group).
    Columns: ``contrast``, the grouping variables, ``estimate``, ``std_error``, ``df``, ``statistic``,
    ``p_value``, ``ci_lower``, ``ci_upper``.
    """
    if method not in METHODS:
        raise ArgumentError(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
    if adjust not in ADJUST:
        raise ArgumentError(f"adjust must be one of {', '.join(ADJUST)}, not {adjust!r}.")
    specs = [specs] if isinstance(specs, str) else list(specs)
    frame, L, by, notes = reference_rows(fit, specs, at, weights, by)
    groups = frame.groupby(by, sort=False).indices if by else {(): np.arange(len(frame))}
    rows = []
    for key, index in groups.items():
        key = key if isinstance(key, tuple) else (key,)
        labels = [_label(tuple(frame.iloc[i][specs])) for i in index]
        pairs = ([(i, 0) for i in range(1, len(index))] if method == "trt.vs.ctrl"
                 else [(i, j) for i in range(len(index)) for j in range(i + 1, len(index))])
        m = len(pairs)
        lvl = 1 - (1 - level) / m if adjust == "bonferroni" and m else level
        for a, b in pairs:
            e = fit.contrast(L[index[a]] - L[index[b]], level=lvl)
            p = min(1.0, e["p_value"] * m) if adjust == "bonferroni" else e["p_value"]
            rows.append({"contrast": f"{labels[a]} - {labels[b]}", **dict(zip(by, key, strict=True)),
                         "estimate": e["estimate"], "std_error": e["std_error"], "df": e["df"],
                         "statistic": e["statistic"], "p_value": p, "ci_lower": e["ci_lower"],
                         "ci_upper": e["ci_upper"]})
    result = pd.DataFrame(rows, columns=["contrast", *by, "estimate", "std_error", "df", "statistic", "p_value",
                                         "ci_lower", "ci_upper"])
    result.attrs["notes"] = notes + (["p values and intervals Bonferroni-adjusted within each group"]
                                     if adjust == "bonferroni" else [])
    return result



def _time_in_model(fit: GrowthModel) -> str | None:
    time = fit.spec.time
    return time if time in fixed_variables(fit) else None


def arm_column(fit: GrowthModel) -> str:
    """The treatment column of a formula fit (``arm`` on the canonical table; ``arm=`` names another)."""
    return getattr(fit.formula_model, "arm", None) or "arm"


def _arm_in_model(fit: GrowthModel) -> bool:
    data, arm = fit.formula_model.data, arm_column(fit)
    return arm in fixed_variables(fit) and isinstance(data[arm].dtype, pd.CategoricalDtype)


def _by_levels(fit: GrowthModel, by: str | None) -> list[str]:
    if by is None:
        return []
    data = fit.formula_model.data
    if by not in fixed_variables(fit) or not isinstance(data[by].dtype, pd.CategoricalDtype):
        raise ArgumentError(f"by={by!r} must be a categorical variable of the fixed part of {fit.formula}.")
    return [by]


def end_of_treatment(fit: GrowthModel) -> float:
    """The study's planned end of treatment (sessions), else the largest analysed time."""
    from ...study import Study

    study = Study.from_attrs(fit.data_attrs.get("ipt_study")) if fit.data_attrs else None
    if study is not None and study.planned_sessions_max is not None and fit.spec.time == "session":
        return float(study.planned_sessions_max)
    return float(fit.formula_model.data[fit.spec.time].max())


def trajectories(fit: GrowthModel, times: Sequence[float] | None = None, by: str | None = None,
                 level: float = 0.95, weights: str = "proportional") -> pd.DataFrame:
    """Model-implied mean of each arm over time (marginal means at each time), as the keyword fits'
    ``trajectories``: columns ``arm``, [``by``], ``time``, ``estimate``, ``std_error``, ``df``,
    ``ci_lower``, ``ci_upper``."""
    time = _time_in_model(fit)
    if time is None:
        raise ArgumentError(f"the fixed part of {fit.formula} has no {fit.spec.time} term: there is no trajectory to "
                            "draw. Use fit.marginal_means() for the means it does model.")
    data = fit.formula_model.data
    if times is None:
        observed = np.unique(data[time].to_numpy(float))
        times = list(observed if len(observed) <= 40 else np.linspace(observed.min(), observed.max(), 40))
    arm = arm_column(fit)
    specs = [arm] if _arm_in_model(fit) else []
    means = marginal_means(fit, specs, at={time: [float(t) for t in times]}, weights=weights,
                           by=[*_by_levels(fit, by), time], level=level).rename(columns={time: "time", arm: "arm"})
    if not specs:
        source = fit.data
        arms = (source.loc[source["instrument"].astype(str) == fit.outcome, "arm"].dropna().astype(str).unique()
                if source is not None and {"arm", "instrument"} <= set(source.columns) else [])
        means.insert(0, "arm", arms[0] if len(arms) == 1 else "all")
    order = ["arm", *([by] if by else []), "time"]
    means = means.sort_values(order, kind="stable", key=lambda c: c.map(_arm_rank(fit)) if c.name == "arm" else c)
    return means[[*order, "estimate", "std_error", "df", "ci_lower", "ci_upper"]].reset_index(drop=True)


def _arm_rank(fit: GrowthModel) -> dict[str, int]:
    data, arm = fit.formula_model.data, arm_column(fit)
    if arm in data and isinstance(data[arm].dtype, pd.CategoricalDtype):
        return {a: i for i, a in enumerate(data[arm].cat.categories)}
    return {}


def arm_differences(fit: GrowthModel, at: float | None = None, level: float = 0.95, by: str | None = None,
                    weights: str = "proportional") -> pd.DataFrame:
    """Each arm against the reference arm at time ``at`` (default: end of treatment), the keyword fits'
    columns: ``arm``, [``by``], ``reference_arm``, ``time``, ``difference``, ``std_error``, ``df``,
    ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper``, ``change_difference``, ``effect_size_d``,
    ``d_ci_lower``, ``d_ci_upper``.

    ``change_difference`` is the difference in model-implied change from time 0 (with no time term
    and the baseline score as a covariate, e.g. an ANCOVA of the post-treatment score, the adjusted
    difference itself; without a baseline covariate it is not defined). ``effect_size_d`` divides it
    by the SD of the baseline scores (Feingold 2009).

    Other factors of the model (moderators, categorical covariates) are averaged with ``weights``:
    ``"proportional"`` (the default, as the keyword fits and the MMRM: the observed frequencies, the
    trial population's average) or ``"equal"`` (emmeans' default); numeric covariates are held at
    their mean. ``attrs["notes"]`` states both.
    """
    if not _arm_in_model(fit):
        raise ArgumentError(f"the fixed part of {fit.formula} has no arm term: there is no arm difference to estimate.")
    design = fit.formula_model
    time = _time_in_model(fit)
    groups = _by_levels(fit, by)
    if time is not None:
        at = end_of_treatment(fit) if at is None else float(at)
    elif at is not None:
        raise ArgumentError(f"at={at!r}, but the model {fit.formula} has no time variable to set: give time= (the "
                            "numeric column of the formula that holds time) when fitting, or leave at= out.")
    column = arm_column(fit)
    frame, L, _, notes = reference_rows(fit, [column], {time: [at]} if time else {}, weights, groups)
    frame = frame.rename(columns={column: "arm"})
    L0 = reference_rows(fit, [column], {time: [0.0]}, weights, groups)[1] if time else None
    arms = [str(a) for a in design.data[column].cat.categories]
    ref = arms[0]
    sd = _baseline_sd(fit)
    rows = []
    for key, index in (frame.groupby(groups, sort=False).indices if groups else {(): np.arange(len(frame))}).items():
        key = key if isinstance(key, tuple) else (key,)
        by_arm = {str(frame.iloc[i]["arm"]): i for i in index}
        for arm in arms[1:]:
            Ld = L[by_arm[arm]] - L[by_arm[ref]]
            d = fit.contrast(Ld, level=level)
            Lc = Ld - (L0[by_arm[arm]] - L0[by_arm[ref]]) if L0 is not None else None
            if Lc is not None and not np.any(np.abs(Lc) > 1e-12):
                change = (0.0, 0.0, 0.0)  # no time x arm term: the model has the arms change alike
            elif Lc is not None:
                c = fit.contrast(Lc, level=level)
                change = (c["estimate"], c["ci_lower"], c["ci_upper"])
            elif design.baseline_covariate:
                change = (d["estimate"], d["ci_lower"], d["ci_upper"])
            else:
                change = (np.nan, np.nan, np.nan)
            rows.append({"arm": arm, **dict(zip(groups, key, strict=True)), "reference_arm": ref,
                         "time": at if time is not None else np.nan, "difference": d["estimate"],
                         "std_error": d["std_error"], "df": d["df"], "statistic": d["statistic"],
                         "p_value": d["p_value"], "ci_lower": d["ci_lower"], "ci_upper": d["ci_upper"],
                         "change_difference": change[0], "effect_size_d": change[0] / sd,
                         "d_ci_lower": change[1] / sd, "d_ci_upper": change[2] / sd})
    out = pd.DataFrame(rows)
    out.attrs["notes"] = [n for n in notes if not n.startswith(f"{time} at ")] if time else notes
    return out


def _baseline_sd(fit: GrowthModel) -> float:
    """SD of the baseline scores (participants' first baseline value when it is a covariate; the scores
    at time 0 otherwise); NaN when there are fewer than two or no spread (d is then not defined)."""
    design = fit.formula_model
    data = design.data
    if design.baseline_covariate and design.subject in data:
        values = data.groupby(design.subject, observed=True)["baseline"].first()
    elif fit.spec.time in data:
        values = data.loc[data[fit.spec.time] == 0, design.response_column]
    else:
        return float("nan")
    sd = float(values.std(ddof=1)) if len(values) > 1 else float("nan")
    return sd if sd > 0 else float("nan")
