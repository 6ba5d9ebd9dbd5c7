"""Satterthwaite degrees of freedom for contrasts of fixed effects, computed as lmerTest does.

For a contrast ``L``, ``df = 2 (L V L')^2 / (g' A g)`` where ``V = Var(beta_hat)``, ``g_i = L dV/dphi_i
L'`` and ``A = 2 H^+`` (``H``: Hessian of the deviance, ``H^+`` its Moore-Penrose inverse over the
eigenvalues above 1e-8). As in lmerTest (``as_lmerModLT``), the derivatives are taken along lme4's
own parameters ``phi = (theta, sigma)``: ``theta`` the relative Cholesky factor of each random-effect
covariance (``G = sigma^2 Lambda Lambda'``), ``sigma`` the residual SD, with the deviance not profiled
over sigma, by numDeriv's Richardson differences (:mod:`.numdiff`). Derivatives along variances
and covariances would agree only at an interior optimum; at a singular fit (a variance at 0, a
correlation at +-1) or with time on a large scale they give df far from lmerTest's, even infinite.

Reference: Kuznetsova A, Brockhoff PB, Christensen RHB (2017) lmerTest package: tests in linear
mixed effects models. J Stat Softw 82(13):1-26, doi:10.18637/jss.v082.i13.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...inference.numdiff import hessian, jacobian
from .likelihood import MixedData, evaluate, unpack

__all__ = ["EIGEN_TOL", "SatterthwaiteState", "satterthwaite_state", "theta_sigma", "varpar_from_theta"]

EIGEN_TOL = 1e-8  # lmerTest: eigenvalues of the Hessian at or below this are dropped from its inverse


class SatterthwaiteState:
    """The pieces shared by every contrast of one fit: V, dV/dphi and A."""

    def __init__(self, vcov: np.ndarray, jac: np.ndarray, A: np.ndarray, dropped_eigenvalues: int = 0) -> None:
        self.vcov = vcov
        self.jac = jac        # p x p x k
        self.A = A            # k x k
        self.dropped_eigenvalues = dropped_eigenvalues

    def df(self, L: np.ndarray) -> float:
        """Satterthwaite df of ``L b``: +inf or NaN where lmerTest's formula gives them (the caller
        decides what to report, see :func:`ipt_outcomes.models.growth.GrowthFit.contrast`)."""
        L = np.asarray(L, float).ravel()
        var = float(L @ self.vcov @ L)
        g = np.einsum("i,ijk,j->k", L, self.jac, L)
        denom = float(g @ self.A @ g)
        if not math.isfinite(denom):
            return math.nan
        if denom <= 0:
            return math.inf
        return 2.0 * var ** 2 / denom


def theta_sigma(varpar: np.ndarray, q: int, has_therapist: bool) -> np.ndarray:
    """lme4's parameters ``(theta, sigma)`` for covariance-scale ``varpar`` ``[G00, (G01, G11,) g_t?, s2]``."""
    G, g_t, s2 = unpack(np.asarray(varpar, float), q, has_therapist)
    sigma = math.sqrt(s2)
    rel = G / s2
    if q == 1:
        theta = [math.sqrt(max(rel[0, 0], 0.0))]
    else:
        l00 = math.sqrt(max(rel[0, 0], 0.0))
        l10 = rel[0, 1] / l00 if l00 > 0 else 0.0
        l11 = math.sqrt(max(rel[1, 1] - l10 * l10, 0.0))
        theta = [l00, l10, l11]
    if has_therapist:
        theta.append(math.sqrt(max(g_t / s2, 0.0)))
    return np.array([*theta, sigma])


def varpar_from_theta(phi: np.ndarray, q: int, has_therapist: bool) -> np.ndarray:
    """Inverse of :func:`theta_sigma` (any sign of theta: only ``Lambda Lambda'`` matters)."""
    phi = np.asarray(phi, float)
    s2 = phi[-1] ** 2
    if q == 1:
        out = [s2 * phi[0] ** 2]
        k = 1
    else:
        l00, l10, l11 = phi[0], phi[1], phi[2]
        out = [s2 * l00 ** 2, s2 * l00 * l10, s2 * (l10 ** 2 + l11 ** 2)]
        k = 3
    if has_therapist:
        out.append(s2 * phi[k] ** 2)
    return np.array([*out, s2])


class _Precise:
    """Deviance and ``Var(beta)`` of a participant-only model at ``(theta, sigma)`` in long double.

    numDeriv's steps are relative to each parameter (``1e-4 |x|``), so a small ``theta`` gets a tiny
    step and float64 rounding of the deviance (about 1e-12 of it) would dominate the second
    differences; in long double (about 1e-19 where the platform has it) the derivatives are those
    of the exact criterion."""

    def __init__(self, data: MixedData) -> None:
        self.is_nested = data.nested is not None
        st = data.nested if self.is_nested else data.stats
        assert st is not None
        self.stats = {k: (v if k in ("therapist_of", "n_therapists") else np.asarray(v, np.longdouble))
                      for k, v in st.items()}
        self.q, self.p, self.n = data.q, data.p, data.n_obs

    def __call__(self, phi: np.ndarray, reml: bool) -> tuple[Any, np.ndarray]:
        from .nested import nested_forms
        from .statistics import quadratic_forms

        phi = np.asarray(phi, np.longdouble)
        lam = np.array([[phi[0]]]) if self.q == 1 else np.array([[phi[0], 0], [phi[1], phi[2]]], np.longdouble)
        s2 = phi[-1] ** 2
        if self.is_nested:
            xtvx, xtvy, ytvy, logdet_rel = nested_forms(self.stats, lam, phi[-2] ** 2)
        else:
            xtvx, xtvy, ytvy, logdet_rel = quadratic_forms(self.stats, lam)
        from .general import _cholesky, _solve_lower

        try:
            L = _cholesky(xtvx)
        except np.linalg.LinAlgError:
            L = None
        if L is None or not s2 > 0:
            return math.inf, np.full((self.p, self.p), np.nan)
        w = _solve_lower(L, xtvy)
        r = ytvy - w @ w                        # penalised residual sum of squares (relative scale)
        n, p = self.n, self.p
        logdet_x = 2 * np.sum(np.log(np.diag(L)))  # log|X'V_rel^-1 X|
        dev = logdet_rel + r / s2 + n * np.log(2 * np.pi * s2)
        if reml:
            dev = dev + logdet_x - p * np.log(2 * np.pi * s2)
        Linv = _solve_lower(L, np.eye(p, dtype=np.longdouble))
        vcov = s2 * (Linv.T @ Linv)
        return dev, vcov


def _evaluator(data: MixedData, reml: bool):
    """phi -> (deviance, Var(beta)): long double for participant-only models, float64 otherwise."""
    has_t = data.therapist is not None
    if (data.stats is not None and not has_t) or data.nested is not None:
        precise = _Precise(data)
        return lambda phi: precise(phi, reml)

    def plain(phi: np.ndarray) -> tuple[float, np.ndarray]:
        ev = evaluate(data, varpar_from_theta(phi, data.q, has_t), reml)
        return ev.deviance, ev.vcov_beta

    return plain


def satterthwaite_state(data: MixedData, varpar: np.ndarray, reml: bool) -> SatterthwaiteState:
    """V, its Jacobian along ``(theta, sigma)`` and ``A = 2 H^+`` at the estimate ``varpar``."""
    has_t = data.therapist is not None
    phi = theta_sigma(varpar, data.q, has_t)
    base = evaluate(data, varpar, reml)
    # residuals as the response: the same derivatives, with sums of squares that do not cancel
    f = _evaluator(data.shifted(base.beta), reml)
    H = hessian(lambda x: f(x)[0], phi)
    values, vectors = np.linalg.eigh((H + H.T) / 2.0)
    keep = values > EIGEN_TOL
    A = 2.0 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    jac = jacobian(lambda x: f(x)[1], phi)
    return SatterthwaiteState(base.vcov_beta, jac, A, int(np.sum(~keep)))
