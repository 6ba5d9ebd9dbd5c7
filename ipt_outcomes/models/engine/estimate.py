"""Estimate the covariance parameters: the fast profiled engine (default) or statsmodels MixedLM.

Both engines end on lme4's profiled (RE)ML criterion over the relative Cholesky factor
(:mod:`.profiled`). With ``engine="statsmodels"``, statsmodels MixedLM fits the participant-level model
(optimizers tried in turn until one converges) and the criterion is minimised from its estimate,
so the optimum matches lme4's where statsmodels stops early; fixed effects are GLS at the optimum,
the guard against statsmodels issue 10239 (between-group fixed effects returned as 0.0 when a
random-effect variance is near zero). A therapist (or site) component, which MixedLM cannot
combine with correlated participant slopes, is added in that last step.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .likelihood import MixedData, evaluate

__all__ = ["EngineResult", "fit_covariance"]

SM_METHODS = ("lbfgs", "bfgs", "cg", "nm", "powell")


@dataclass
class EngineResult:
    varpar: np.ndarray
    deviance: float
    converged: bool
    optimizer: str
    notes: list[str] = field(default_factory=list)
    statsmodels_beta: np.ndarray | None = None


def _statsmodels(data: MixedData, reml: bool) -> tuple[np.ndarray | None, str, list[str], np.ndarray | None]:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning as SMConvergenceWarning

    notes: list[str] = []
    model = sm.MixedLM(data.y, data.X, groups=data.participant, exog_re=data.Z)
    for method in SM_METHODS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = model.fit(reml=reml, method=[method], maxiter=2000)
            except (np.linalg.LinAlgError, ValueError) as exc:
                notes.append(f"statsmodels optimizer {method} failed ({exc}).")
                continue
        trouble = [w for w in caught if issubclass(w.category, SMConvergenceWarning)]
        if res.converged and not trouble:
            cov = np.asarray(res.cov_re, float)
            v = [cov[0, 0]] if data.q == 1 else [cov[0, 0], cov[0, 1], cov[1, 1]]
            return np.array([*v, float(res.scale)]), method, notes, np.asarray(res.fe_params, float)
        notes.append(f"statsmodels optimizer {method} did not converge; trying the next.")
    return None, "none", notes, None


def fit_covariance(data: MixedData, reml: bool, engine: str = "ipt") -> EngineResult:
    """Estimate the covariance parameters of the model in ``data``.

    ``engine="ipt"`` (default): the profiled criterion from sufficient statistics (:mod:`.fast`,
    with a therapist intercept through :mod:`.nested`); ``engine="statsmodels"``: statsmodels
    MixedLM for the participant-level model, then the same criterion minimised from its estimate
    (with a therapist component added), so both engines reach lme4's optimum.
    """
    from .profiled import fit_profiled
    from .satterthwaite import theta_sigma

    q, has_t = data.q, data.therapist is not None
    if engine == "ipt":
        fast = fit_profiled(data, reml)
        notes = [] if fast.converged else ["the profiled criterion did not reach a stationary point."]
        label = "ipt_outcomes profiled (RE)ML from sufficient statistics"
        return EngineResult(fast.varpar, fast.deviance, fast.converged, label, notes, None)
    if engine != "statsmodels":
        raise ValueError(f"engine must be 'ipt' or 'statsmodels', not {engine!r}")
    base = MixedData.build(data.y, data.X, data.Z, data.participant) if has_t else data
    start, method, notes, sm_beta = _statsmodels(base, reml)
    if start is None:
        resid = data.y - data.X @ np.linalg.lstsq(data.X, data.y, rcond=None)[0]
        v = float(np.var(resid))
        start = np.array([v / 2, v / 2] if q == 1 else [v / 2, 0.0, v / 100, v / 2])
        notes.append("statsmodels did not converge with any optimizer; started from moment estimates.")
    theta0 = theta_sigma(start, q, False)[:-1]
    if has_t:
        theta0 = np.append(theta0, 0.3)
    polished = fit_profiled(data, reml, theta0=theta0)
    sm_dev = evaluate(base, start, reml).deviance
    converged = polished.converged or (not has_t and polished.deviance <= sm_dev + 1e-6)
    label = (f"statsmodels MixedLM ({method}), polished on lme4's profiled criterion" if not has_t else
             f"statsmodels MixedLM ({method}) without the therapist component, then lme4's profiled criterion")
    return EngineResult(polished.varpar, polished.deviance, bool(converged), label, notes, sm_beta)
