"""``fit_growth(df, formula=...)``: a model from the analysis plan's formula (the fields of a
:class:`~.growth.GrowthFit`, which :func:`~.growth.fit_growth` makes)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..study import time_column
from .checks import check_growth_input
from .design import GrowthSpec
from .formula import parse_formula
from .formula_design import build_formula_design, tidy_response
from .formula_fit import fit_formula_design

__all__ = ["FormulaFit", "fit_formula", "formula_time"]


@dataclass(frozen=True)
class FormulaFit:
    """What a formula fit yields: the fields of a :class:`~.growth.GrowthFit`, which
    :func:`~.growth.fit_growth` makes of them (this module imports no result class)."""

    spec: GrowthSpec
    fixed_effects: pd.DataFrame
    variance_components: pd.DataFrame
    log_likelihood: float
    aic: float
    bic: float
    converged: bool
    singular: bool
    n_obs: int
    n_participants: int
    method: str
    engine: str
    notes: list[str]
    variance_parameters: np.ndarray
    satterthwaite_state: Any
    formula: str
    formula_model: Any
    options: dict[str, Any] = field(default_factory=dict)

    def fields(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def fit_formula(df: pd.DataFrame, formula: str, *, outcome: str | None, time: str | None, method: str,
                reference_arm: str | None, reference_levels: dict[str, str], level: float, check: bool,
                arm: str | None = None):
    """A formula model on the canonical table (the left side an instrument key) or on any tidy long
    table (the left side a column): the grouping factors, time and arm come from the formula and the
    arguments. Canonical validation runs where the canonical table is given; otherwise only the checks
    the model needs (columns exist, the response is numeric, missing values counted and stated)."""
    parsed = parse_formula(formula)
    if parsed.covariance is not None:
        raise ArgumentError(f"formula {formula!r}: {parsed.covariance.text} is an MMRM's residual covariance; fit it "
                            "with ipt.fit_mmrm(df, formula=...), or write random terms ( ... | group) for a growth model.")
    if outcome is not None and outcome != parsed.response:
        raise ArgumentError(f"outcome={outcome!r} but the formula's left side is {parsed.response!r}; give one of them.")
    used = set(parsed.variables)
    tidy = tidy_response(df, parsed)
    subject = _subject(df, parsed)
    notes: list[str] = []
    needs_time = "baseline" in used and "baseline" not in df.columns
    time_name, statement = formula_time(df, parsed, time, needs_time, arm or "arm")
    if statement:
        notes.append(statement)
    if needs_time:
        notes.append(f"baseline: the {parsed.response} score at {time_name} 0 of each participant, as a covariate; "
                     "baseline rows left the response.")
    time_name = time_name or "session"
    if arm is None and "arm" in parsed.fixed_variables:
        arm = "arm"
    if arm is not None and arm not in parsed.fixed_variables:
        raise ArgumentError(f"arm={arm!r} is not a variable of the fixed part of {formula!r}; name the treatment "
                            "column the formula uses.")
    reference = None
    if arm is not None:
        reference = _reference_level(df, parsed.response, arm, reference_arm, tidy)
        if reference.assumed:
            notes.append(reference.statement.replace("reference arm", "reference arm" if arm == "arm"
                                                     else f"reference level of {arm}") + ".")
    elif reference_arm is not None:
        raise ArgumentError(f"reference_arm={reference_arm!r}, but the formula {formula!r} has no arm: name the "
                            "treatment column with arm=.")
    unknown = sorted(set(reference_levels) - used)
    if unknown:
        raise ArgumentError(f"reference_levels names {', '.join(map(repr, unknown))}, which the formula does not use.")
    levels = dict(reference_levels)
    if arm is not None and reference is not None:
        levels[arm] = reference.arm
    spec = GrowthSpec(outcome=parsed.response, time=time_name, method=method,  # type: ignore[arg-type]
                      reference_arm=reference.arm if reference else None,
                      covariates=tuple(sorted(used - {"baseline", arm or "arm", subject or "participant_id", time_name,
                                                      "session", "week"} & set(df.columns))),
                      reference_levels=dict(reference_levels))
    if check and not tidy:
        check_growth_input(df, spec)
    design = build_formula_design(df, parsed, time_name if time_name in df.columns else None, None, levels,
                                  subject=subject)
    if tidy:
        notes.append("the data are not the canonical table: only the checks the model needs were run (its columns "
                     "exist, the outcome is numeric, missing values counted).")
    design = replace(design, arm=arm)
    result = fit_formula_design(design, method == "reml", level)
    if design.n_dropped:
        notes.append(f"{design.n_dropped} row(s) without a {parsed.response} value or a value of a formula variable "
                     "were left out.")
    if design.structure is None:
        notes.append("no random term: a linear model (ordinary least squares, t tests on the residual df, as R's lm); "
                     "the log-likelihood is the maximum-likelihood one, as R's logLik.lm.")
    notes += result.notes
    n = len(design.y)
    return FormulaFit(spec=spec, fixed_effects=result.fixed, variance_components=result.variance,
                      log_likelihood=float(result.loglik), aic=float(result.aic), bic=float(result.bic),
                      converged=bool(result.converged), singular=bool(result.singular), n_obs=n,
                      n_participants=int(design.data[subject].nunique()) if subject and subject in design.data else n,
                      method=method if design.structure is not None else "ols", engine=result.engine, notes=notes,
                      variance_parameters=np.append(result.theta, result.sigma2), satterthwaite_state=result.satt,
                      formula=parsed.text, formula_model=design,
                      options=dict(formula=formula, time=time, method=method, reference_arm=reference_arm,
                                   reference_levels=dict(reference_levels), level=level, arm=arm))


def _subject(df: pd.DataFrame, parsed) -> str | None:
    """The participant column: the data model's ``participant_id`` where the data have it, else the
    grouping factor (one column) of the formula's random terms with the most levels."""
    if "participant_id" in df.columns:
        return "participant_id"
    groups = [bar.group[0] for bar in parsed.bars if len(bar.group) == 1 and bar.group[0] in df.columns]
    if not groups:
        return None
    return max(dict.fromkeys(groups), key=lambda g: df[g].nunique())


def _reference_level(df: pd.DataFrame, outcome: str, arm: str, given: str | None, tidy: bool):
    """The reference arm among the levels of the arm column in the outcome's rows (the toolkit's rule)."""
    from ..arms import ReferenceArm, choose_reference_arm
    from ..study import Study

    if arm not in df.columns:
        raise ArgumentError(f"the arm column {arm!r} is not in the data; columns: {', '.join(map(str, df.columns))}.")
    values = df[arm] if tidy or "instrument" not in df.columns else df.loc[df["instrument"].astype(str) == outcome, arm]
    if values.dropna().empty:
        return ReferenceArm(str(given or ""), "given")
    return choose_reference_arm(values.dropna().astype(str).unique(), given, Study.from_attrs(df.attrs.get("ipt_study")))


def formula_time(df: pd.DataFrame, parsed, given: str | None, needed: bool,
                 arm: str = "arm") -> tuple[str | None, str | None]:
    """The time variable of a formula model (what ``arm_differences(at=)`` and trajectories move) and a
    statement when it was not given: ``time=``; else the study's time, ``session`` or ``week`` when the
    fixed part uses it; else the one numeric column that enters a term with ``arm`` (``month * arm``);
    else, when the baseline score is needed, the time-column rule; else none."""
    if given is not None:
        return time_column(df, given).column, None
    fixed = set(parsed.fixed_variables)
    from ..study import Study

    study = Study.from_attrs(df.attrs.get("ipt_study"))
    for name in ([study.time] if study is not None and study.time else []) + ["session", "week"]:
        if name in fixed and name in df.columns:
            return name, None
    with_arm = []
    for term in parsed.fixed_terms.terms:
        if arm not in term:
            continue
        for label in term:
            factor = parsed.factors[label]
            if factor.kind == "C":
                continue
            for column in factor.columns:
                values = df[column] if column in df.columns else None
                if (values is not None and column != arm and pd.api.types.is_numeric_dtype(values)
                        and not pd.api.types.is_bool_dtype(values)):
                    with_arm.append(column)
    with_arm = list(dict.fromkeys(with_arm))
    if len(with_arm) == 1:
        return with_arm[0], (f"time: {with_arm[0]}, the numeric variable that enters the formula with {arm} (give "
                             "time= to choose another).")
    if needed:
        chosen = time_column(df, None)
        return chosen.column, (chosen.statement + "." if chosen.how == "default" else None)
    return None, None


def simulate_response(fit, rng: np.random.Generator) -> np.ndarray:
    """A response drawn from a fitted formula model: ``X b + sum over factors of Z_f u_f + e`` with
    ``u_f ~ N(0, G_f)`` per level and ``e ~ N(0, s2)``."""
    design = fit.formula_model
    beta = fit.fixed_effects["estimate"].to_numpy(float)
    s2 = float(fit.variance_parameters[-1])
    y = design.X @ beta
    if design.structure is not None:
        theta = np.asarray(fit.variance_parameters[:-1], float)
        for f, G, Z, code in zip(design.structure.factors, design.structure.covariances(theta, s2), design.Zs,
                                 design.codes, strict=True):
            u = rng.multivariate_normal(np.zeros(f.q), G, size=f.n_levels, method="eigh")
            y = y + np.einsum("ij,ij->i", Z, u[code])
    return y + rng.normal(0.0, np.sqrt(s2), len(y))


def refit_response(fit, y: np.ndarray):
    """The formula fit refitted to response ``y`` on the same rows (bootstrap replicates): estimates
    and ``Var(b)`` exact; tests use the residual df (no Satterthwaite derivatives per replicate)."""
    model = fit.formula_model
    design = replace(model, y=np.asarray(y, float), data=model.data.assign(**{model.response_column: y}))
    result = fit_formula_design(design, fit.method == "reml", 0.95, warn=False, inference=False)
    return replace(fit, fixed_effects=result.fixed, variance_components=result.variance,
                   log_likelihood=float(result.loglik), aic=float(result.aic), bic=float(result.bic),
                   converged=bool(result.converged), singular=bool(result.singular),
                   variance_parameters=np.append(result.theta, result.sigma2), satterthwaite_state=result.satt,
                   formula_model=design,
                   notes=list(result.notes), _twin=None)
