"""``fit_growth(df, formula=...)``: a model from the analysis plan's formula, as a :class:`GrowthFit`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..study import time_column
from .design import GrowthSpec
from .formula import parse_formula
from .formula_design import build_formula_design
from .formula_fit import fit_formula_design

__all__ = ["fit_formula", "formula_time"]


def fit_formula(df: pd.DataFrame, formula: str, *, outcome: str | None, time: str | None, method: str,
                reference_arm: str | None, reference_levels: dict[str, str], level: float, check: bool):
    from .growth import GrowthFit, _check_input, _reference

    parsed = parse_formula(formula)
    if outcome is not None and outcome != parsed.response:
        raise ArgumentError(f"outcome={outcome!r} but the formula's left side is {parsed.response!r}; give one of them.")
    used = set(parsed.variables)
    notes: list[str] = []
    needs_time = "baseline" in used and "baseline" not in df.columns
    time_name, statement = formula_time(df, parsed, time, needs_time)
    if statement:
        notes.append(statement)
    if needs_time:
        notes.append(f"baseline: the {parsed.response} score at {time_name} 0 of each participant, as a covariate; "
                     "baseline rows left the response.")
    time_name = time_name or "session"
    reference = None
    if "arm" in used:
        reference = _reference(df, parsed.response, reference_arm)
        if reference.assumed:
            notes.append(reference.statement + ".")
    unknown = sorted(set(reference_levels) - used)
    if unknown:
        raise ArgumentError(f"reference_levels names {', '.join(map(repr, unknown))}, which the formula does not use.")
    spec = GrowthSpec(outcome=parsed.response, time=time_name, method=method,  # type: ignore[arg-type]
                      reference_arm=reference.arm if reference else None,
                      covariates=tuple(sorted(used - {"baseline", "arm", "participant_id", time_name, "session", "week"}
                                              & set(df.columns))),
                      reference_levels=dict(reference_levels))
    if check:
        _check_input(df, spec)
    design = build_formula_design(df, parsed, time_name, spec.reference_arm, dict(reference_levels))
    result = fit_formula_design(design, method == "reml", level)
    if design.n_dropped:
        notes.append(f"{design.n_dropped} row(s) without a {parsed.response} score or a value of a formula variable "
                     "were left out.")
    if design.structure is None:
        notes.append("no random term: a linear model (ordinary least squares, t tests on the residual df, as R's lm); "
                     "the log-likelihood is the maximum-likelihood one, as R's logLik.lm.")
    notes += result.notes
    n = len(design.y)
    fit = GrowthFit(spec=spec, fixed_effects=result.fixed, variance_components=result.variance,
                    log_likelihood=float(result.loglik), aic=float(result.aic), bic=float(result.bic),
                    converged=bool(result.converged), singular=bool(result.singular), n_obs=n,
                    n_participants=int(design.data["participant_id"].nunique()) if "participant_id" in design.data
                    else n, method=method if design.structure is not None else "ols", engine=result.engine,
                    notes=notes, _varpar=np.append(result.theta, result.sigma2), _satt=result.satt,
                    formula=parsed.text, formula_model=design)
    fit._source, fit._source_attrs = df, dict(df.attrs)
    fit._options = dict(formula=formula, time=time, method=method, reference_arm=reference_arm,
                        reference_levels=dict(reference_levels), level=level)
    return fit


def formula_time(df: pd.DataFrame, parsed, given: str | None, needed: bool) -> tuple[str | None, str | None]:
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
        if "arm" not in term:
            continue
        for label in term:
            factor = parsed.factors[label]
            if factor.kind == "C":
                continue
            for column in factor.columns:
                values = df[column] if column in df.columns else None
                if (values is not None and column != "arm" and pd.api.types.is_numeric_dtype(values)
                        and not pd.api.types.is_bool_dtype(values)):
                    with_arm.append(column)
    with_arm = list(dict.fromkeys(with_arm))
    if len(with_arm) == 1:
        return with_arm[0], (f"time: {with_arm[0]}, the numeric variable that enters the formula with arm (give time= "
                             "to choose another).")
    if needed:
        chosen = time_column(df, None)
        return chosen.column, (chosen.statement + "." if chosen.how == "default" else None)
    return None, None


def simulate_response(fit, rng: np.random.Generator) -> np.ndarray:
    """A response drawn from a fitted formula model: ``X b + sum over factors of Z_f u_f + e`` with
    ``u_f ~ N(0, G_f)`` per level and ``e ~ N(0, s2)``."""
    design = fit.formula_model
    beta = fit.fixed_effects["estimate"].to_numpy(float)
    s2 = float(fit._varpar[-1])
    y = design.X @ beta
    if design.structure is not None:
        theta = np.asarray(fit._varpar[:-1], float)
        for f, G, Z, code in zip(design.structure.factors, design.structure.covariances(theta, s2), design.Zs,
                                 design.codes, strict=True):
            u = rng.multivariate_normal(np.zeros(f.q), G, size=f.n_levels, method="eigh")
            y = y + np.einsum("ij,ij->i", Z, u[code])
    return y + rng.normal(0.0, np.sqrt(s2), len(y))


def refit_response(fit, y: np.ndarray):
    """The formula fit refitted to response ``y`` on the same rows (bootstrap replicates): estimates
    and ``Var(b)`` exact; tests use the residual df (no Satterthwaite derivatives per replicate)."""
    from dataclasses import replace

    design = replace(fit.formula_model, y=np.asarray(y, float), data=fit.formula_model.data.assign(score=y))
    result = fit_formula_design(design, fit.method == "reml", 0.95, warn=False, inference=False)
    return replace(fit, fixed_effects=result.fixed, variance_components=result.variance,
                   log_likelihood=float(result.loglik), aic=float(result.aic), bic=float(result.bic),
                   converged=bool(result.converged), singular=bool(result.singular),
                   _varpar=np.append(result.theta, result.sigma2), _satt=result.satt, formula_model=design,
                   notes=list(result.notes), _twin=None)
