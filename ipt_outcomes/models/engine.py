"""Estimate the covariance parameters: the fast profiled engine (default) or statsmodels MixedLM.

With ``engine="statsmodels"``, statsmodels fits the participant-level model (optimizers tried in turn until one converges). Its
covariance parameters are then refined by minimising the exact lme4 deviance
(:mod:`.likelihood`) with bounded L-BFGS-B, so the optimum matches lme4's where statsmodels stops
early, and fixed effects are recomputed by GLS at the optimum: this is the guard against
statsmodels issue 10239 (between-group fixed effects returned as 0.0 when a random-effect variance
is near zero). A therapist (or site) component, which MixedLM cannot combine with correlated
participant slopes, is estimated by the same deviance minimisation, started from the statsmodels
fit without it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

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


def _to_varpar(x: np.ndarray, q: int, therapist: bool) -> np.ndarray:
    if q == 1:
        out = [x[0] ** 2]
        k = 1
    else:
        l00, l10, l11 = x[0], x[1], x[2]
        out = [l00 ** 2, l00 * l10, l10 ** 2 + l11 ** 2]
        k = 3
    if therapist:
        out.append(x[k] ** 2)
        k += 1
    out.append(x[k] ** 2)
    return np.array(out)


def _from_varpar(v: np.ndarray, q: int, therapist: bool) -> np.ndarray:
    if q == 1:
        x = [np.sqrt(max(v[0], 0.0))]
        k = 1
    else:
        l00 = np.sqrt(max(v[0], 1e-12))
        l10 = v[1] / l00
        l11 = np.sqrt(max(v[2] - l10 ** 2, 0.0))
        x = [l00, l10, l11]
        k = 3
    if therapist:
        x.append(np.sqrt(max(v[k], 0.0)))
        k += 1
    x.append(np.sqrt(max(v[k], 1e-12)))
    return np.array(x, float)


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

    ``engine="ipt"`` (default): the profiled criterion from sufficient statistics (:mod:`.fast`);
    ``engine="statsmodels"``: statsmodels MixedLM, refined on the same criterion. A therapist
    component starts from the participant-only fit of the chosen engine.
    """
    q, has_t = data.q, data.therapist is not None
    base = MixedData.build(data.y, data.X, data.Z, data.participant) if has_t else data
    if engine == "ipt":
        from .fast import fit_profiled

        fast = fit_profiled(base, reml)
        if not has_t:
            notes = [] if fast.converged else ["the profiled criterion did not reach a stationary point."]
            return EngineResult(fast.varpar, evaluate(data, fast.varpar, reml).deviance, fast.converged,
                                "ipt_outcomes profiled (RE)ML from sufficient statistics", notes, None)
        start, method, notes, sm_beta = fast.varpar, "ipt", [], None
    elif engine == "statsmodels":
        start, method, notes, sm_beta = _statsmodels(base, reml)
    else:
        raise ValueError(f"engine must be 'ipt' or 'statsmodels', not {engine!r}")
    if start is None:
        resid = data.y - data.X @ np.linalg.lstsq(data.X, data.y, rcond=None)[0]
        v = float(np.var(resid))
        start = np.array([v / 2, v / 2] if q == 1 else [v / 2, 0.0, v / 100, v / 2])
        notes.append("statsmodels did not converge with any optimizer; started from moment estimates.")
    if has_t:
        start = np.insert(start, len(start) - 1, 0.1 * start[0])
    x0 = _from_varpar(start, q, has_t)
    bounds = [(0.0, None)] if q == 1 else [(0.0, None), (None, None), (0.0, None)]
    if has_t:
        bounds.append((0.0, None))
    bounds.append((1e-8, None))

    def objective(x: np.ndarray) -> float:
        return evaluate(data, _to_varpar(x, q, has_t), reml).deviance

    best = optimize.minimize(objective, x0, method="L-BFGS-B", bounds=bounds,
                             options={"maxiter": 5000, "ftol": 1e-14, "gtol": 1e-9})
    x = best.x
    for _ in range(3):  # restart from the solution: L-BFGS-B may stop on a flat stretch
        again = optimize.minimize(objective, x, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
        if again.fun >= best.fun - 1e-10:
            break
        best, x = again, again.x
    x = np.where([b[0] is not None for b in bounds], np.abs(x), x)
    varpar = _to_varpar(x, q, has_t)
    dev = objective(x)
    sm_dev = evaluate(base, start if not has_t else np.delete(start, len(start) - 2), reml).deviance
    converged = bool(np.isfinite(dev)) and (best.success or dev <= sm_dev + 1e-6)
    origin = "statsmodels MixedLM" if engine == "statsmodels" else "the fast engine"
    label = (f"statsmodels MixedLM ({method}) + deviance check" if not has_t else
             f"ipt_outcomes deviance minimisation (therapist component), started from {origin}")
    return EngineResult(varpar, dev, converged, label, notes, sm_beta)
