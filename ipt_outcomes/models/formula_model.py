"""``fit_growth(df, formula=...)``: a model from the analysis plan's formula, as a :class:`GrowthFit`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..study import time_column
from .design import GrowthSpec
from .formula import parse_formula
from .formula_design import _variables, build_formula_design
from .formula_fit import fit_formula_design

__all__ = ["fit_formula"]


def fit_formula(df: pd.DataFrame, formula: str, *, outcome: str | None, time: str | None, method: str,
                reference_arm: str | None, reference_levels: dict[str, str], level: float, check: bool):
    from .growth import GrowthFit, _check_input, _reference

    parsed = parse_formula(formula)
    if outcome is not None and outcome != parsed.response:
        raise ArgumentError(f"outcome={outcome!r} but the formula's left side is {parsed.response!r}; give one of them.")
    used = _variables(parsed.fixed)
    for bar in parsed.bars:
        used |= _variables(bar.terms) | set(bar.group)
    notes: list[str] = []
    needs_time = "baseline" in used and "baseline" not in df.columns
    chosen = time_column(df, time) if (needs_time or time is not None) else None
    time_name = chosen.column if chosen is not None else "session"
    if needs_time:
        notes.append(f"baseline: the {parsed.response} score at {time_name} 0 of each participant, as a covariate; "
                     "baseline rows left the response.")
        if chosen is not None and chosen.how == "default":
            notes.append(chosen.statement + ".")
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
