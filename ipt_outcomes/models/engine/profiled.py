"""The fast engine: lme4's profiled (RE)ML criterion from per-participant sufficient statistics.

Two-level models (participant random intercept, or correlated intercept and slope) with any fixed
effects. The data enter once, as per-participant sums ``Z'Z``, ``Z'X``, ``Z'y`` (one pass,
:func:`.likelihood.sufficient_statistics`); every evaluation of the criterion is then closed-form
1x1 or 2x2 algebra vectorised over participants, so its cost grows with the number of participants,
not of rows.

Following Bates et al. (2015, section 3), the covariance parameters are ``theta``, the lower
Cholesky factor of ``G / sigma^2``; with ``Lambda = chol(G / sigma^2)`` and
``C_i = I + Lambda' Z_i'Z_i Lambda``:

    log|V_i / sigma^2| = log|C_i|,  V_i^-1 sigma^2 = I - Z_i Lambda C_i^-1 Lambda' Z_i'
    r(theta) = y'V^-1 y - b' X'V^-1 y (penalised residual sum of squares, sigma^2 = 1)
    ML:   d(theta) = log|V| + n (1 + log(2 pi r / n))
    REML: d(theta) = log|V| + log|X'V^-1 X| + (n - p) (1 + log(2 pi r / (n - p)))

and ``sigma^2 = r / n`` (ML) or ``r / (n - p)`` (REML). ``theta`` is optimised with bounded
L-BFGS-B (diagonal elements >= 0, so a zero variance is reachable), then polished.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...inference.optimise import minimise
from .likelihood import MixedData
from .nested import nested_forms
from .statistics import LOG_2PI, lambda_matrix, quadratic_forms

__all__ = ["ProfiledFit", "fit_profiled", "profiled_deviance", "theta_to_varpar"]


@dataclass(frozen=True)
class ProfiledFit:
    theta: np.ndarray
    varpar: np.ndarray
    deviance: float
    converged: bool
    n_evaluations: int
    message: str


def profiled_deviance(theta: np.ndarray, data: MixedData, reml: bool) -> tuple[float, float]:
    """(deviance, sigma^2) at ``theta``; +inf where the criterion is not defined."""
    theta = np.asarray(theta, float)
    n, p = data.n_obs, data.p
    if data.nested is not None:  # last theta: the therapist intercept's SD relative to sigma
        xtvx, xtvy, ytvy, logdet_v = nested_forms(data.nested, lambda_matrix(theta[:-1], data.q), theta[-1] ** 2)
    elif data.stats is not None:
        xtvx, xtvy, ytvy, logdet_v = quadratic_forms(data.stats, lambda_matrix(theta, data.q))
    else:
        raise ValueError("the profiled criterion needs participant-level sufficient statistics")
    try:
        chol = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError:
        return math.inf, math.nan
    beta = np.linalg.solve(xtvx, xtvy)
    r = ytvy - float(beta @ xtvy)
    if not r > 0:
        return math.inf, math.nan
    if reml:
        dof = n - p
        dev = logdet_v + 2.0 * float(np.sum(np.log(np.diag(chol)))) + dof * (1.0 + LOG_2PI + math.log(r / dof))
        return dev, r / dof
    return logdet_v + n * (1.0 + LOG_2PI + math.log(r / n)), r / n


def theta_to_varpar(theta: np.ndarray, sigma2: float, q: int, therapist: bool = False) -> np.ndarray:
    lam = lambda_matrix(theta, q)
    G = sigma2 * lam @ lam.T
    v = [G[0, 0]] if q == 1 else [G[0, 0], G[0, 1], G[1, 1]]
    if therapist:
        v.append(sigma2 * theta[-1] ** 2)
    return np.array([*v, sigma2])


def fit_profiled(data: MixedData, reml: bool, theta0: np.ndarray | None = None) -> ProfiledFit:
    """Minimise the profiled criterion over ``theta``."""
    q, nested = data.q, data.nested is not None
    x0 = np.asarray(theta0, float) if theta0 is not None else np.array(([1.0] if q == 1 else [1.0, 0.0, 0.1])
                                                                         + ([0.3] if nested else []))
    bounds: list[tuple[float | None, float | None]] = (
        [(0.0, None)] if q == 1 else [(0.0, None), (None, None), (0.0, None)])
    if nested:
        bounds.append((0.0, None))
    theta, converged, count, message = minimise(lambda t: profiled_deviance(t, data, reml)[0], x0, bounds)
    dev, sigma2 = profiled_deviance(theta, data, reml)
    return ProfiledFit(theta=theta, varpar=theta_to_varpar(theta, sigma2, q, nested), deviance=dev,
                       converged=converged and bool(math.isfinite(dev)), n_evaluations=count, message=message)


