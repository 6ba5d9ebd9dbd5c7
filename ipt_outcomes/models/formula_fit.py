"""Fit a formula model: linear mixed model (lme4's criterion, :mod:`.general`) or, with no random
part, a linear model (as R's ``lm``: t tests on the residual df)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..errors import ConvergenceWarning, SingularFitWarning
from ..inference.distributions import t_ppf, t_two_sided
from ..inference.numdiff import hessian, jacobian
from ..inference.optimise import minimise
from .engine.general import GeneralData, general_deviance, general_evaluate
from .engine.general_gradient import general_deviance_and_gradient
from .engine.satterthwaite import EIGEN_TOL, SatterthwaiteState
from .formula_design import FormulaDesign

__all__ = ["FormulaResult", "fit_formula_design"]

#: long-double derivatives while the dense system of the other grouping factors is at most this size
#: (its products and Cholesky have no BLAS in long double: cubic Python-speed cost beyond it)
LONG_DOUBLE_MAX = 60

#: lme4's isSingular: a diagonal element of a relative factor below this
SINGULAR_TOL = 1e-4


@dataclass(eq=False)
class FormulaResult:
    """What :func:`fit_formula_design` computes; turned into a GrowthFit by :func:`..growth.fit_growth`."""

    fixed: pd.DataFrame
    variance: pd.DataFrame
    loglik: float
    aic: float
    bic: float
    converged: bool
    singular: bool
    beta: np.ndarray
    vcov: np.ndarray
    theta: np.ndarray
    sigma2: float
    satt: SatterthwaiteState
    data: Any
    engine: str
    notes: list[str] = field(default_factory=list)


def _table(terms: list[str], beta: np.ndarray, se: np.ndarray, dfs: np.ndarray, level: float) -> pd.DataFrame:
    rows = []
    for term, b, s, d in zip(terms, beta, se, dfs, strict=True):
        t = b / s
        crit = t_ppf(0.5 + level / 2, d)
        rows.append({"term": term, "estimate": float(b), "std_error": float(s), "df": float(d), "statistic": float(t),
                     "p_value": float(t_two_sided(t, d)), "ci_lower": float(b - crit * s),
                     "ci_upper": float(b + crit * s)})
    return pd.DataFrame(rows, columns=["term", "estimate", "std_error", "df", "statistic", "p_value", "ci_lower",
                                       "ci_upper"])


def _linear_model(design: FormulaDesign, level: float) -> FormulaResult:
    X, y = design.X, design.y
    n, p = X.shape
    if n <= p:
        from ..errors import AnalysisError

        raise AnalysisError(f"{n} observations for {p} fixed effects: no residual degrees of freedom.")
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ y)
    resid = y - X @ beta
    rss = float(resid @ resid)
    s2 = rss / (n - p)
    rinv = np.linalg.solve(r, np.eye(p))
    vcov = s2 * rinv @ rinv.T
    se = np.sqrt(np.diag(vcov))
    fixed = _table(design.terms, beta, se, np.full(p, float(n - p)), level)
    loglik = -0.5 * n * (math.log(2 * math.pi * rss / n) + 1.0)  # R's logLik.lm (ML)
    k = p + 1
    variance = pd.DataFrame([{"group": "Residual", "term1": None, "term2": None, "estimate": s2}],
                            columns=["group", "term1", "term2", "estimate"])
    return FormulaResult(fixed=fixed, variance=variance, loglik=loglik, aic=-2 * loglik + 2 * k,
                         bic=-2 * loglik + math.log(n) * k, converged=True, singular=False, beta=beta, vcov=vcov,
                         theta=np.empty(0), sigma2=s2, satt=_LinearState(vcov, n - p), data=None,
                         engine="least squares (QR), as R's lm", notes=[])


class _LinearState(SatterthwaiteState):
    """Residual df for every contrast of a linear model."""

    def __init__(self, vcov: np.ndarray, dof: int) -> None:
        super().__init__(vcov, np.zeros((*vcov.shape, 0)), np.zeros((0, 0)))
        self.dof = float(dof)

    def df(self, L: np.ndarray) -> float:
        return self.dof


def _small_enough(data: GeneralData) -> bool:
    """Long double for the derivatives unless the dense part is large (float64 and LAPACK beyond it)."""
    return data.Z2Z2 is None or data.Z2Z2.shape[0] <= LONG_DOUBLE_MAX


def fit_formula_design(design: FormulaDesign, reml: bool, level: float, warn: bool = True,
                       inference: bool = True) -> FormulaResult:
    """Fit the design. ``inference=False`` (bootstrap replicates) skips Satterthwaite's derivatives: the
    estimates and ``Var(b)`` are exact, the df of every test the residual df."""
    if design.structure is None:
        return _linear_model(design, level)
    # one BLAS thread: the matrices are small, and idle BLAS threads spinning between the many short
    # products of an evaluation halve its speed on a 2-core machine
    with threadpool_limits(1):
        return _fit_mixed(design, reml, level, warn, inference)


def _fit_mixed(design: FormulaDesign, reml: bool, level: float, warn: bool, inference: bool) -> FormulaResult:
    structure = design.structure
    data = GeneralData.build(design.y, design.X, structure, design.Zs, design.codes)
    theta, converged, _, _ = minimise(lambda t: general_deviance(t, data, reml)[0], structure.start(),
                                      structure.bounds(), lambda t: general_deviance_and_gradient(t, data, reml))
    dev, s2 = general_deviance(theta, data, reml)
    phi = np.append(theta, math.sqrt(s2))
    _, beta, vcov = general_evaluate(data, phi, reml)
    beta, vcov = np.asarray(beta, float), np.asarray(vcov, float)
    if not inference:
        satt: SatterthwaiteState = _LinearState(vcov, max(data.n_obs - data.p, 1))
        return _mixed_result(design, data, theta, s2, dev, beta, vcov, satt, converged, level, warn)
    # derivatives in long double, on the residuals as the response (sums of squares that do not cancel)
    shifted = data.shifted(beta).in_precision(np.longdouble if _small_enough(data) else np.float64)
    H = np.asarray(hessian(lambda x: general_evaluate(shifted, x, reml)[0], phi), float)
    values, vectors = np.linalg.eigh((H + H.T) / 2.0)
    keep = values > EIGEN_TOL
    A = 2.0 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    jac = jacobian(lambda x: general_evaluate(shifted, x, reml)[2], phi)
    satt = SatterthwaiteState(vcov, jac, A, int(np.sum(~keep)))
    return _mixed_result(design, data, theta, s2, dev, beta, vcov, satt, converged, level, warn)


def _mixed_result(design: FormulaDesign, data: GeneralData, theta: np.ndarray, s2: float, dev: float,
                  beta: np.ndarray, vcov: np.ndarray, satt: SatterthwaiteState, converged: bool, level: float,
                  warn: bool) -> FormulaResult:
    structure = design.structure
    notes: list[str] = []
    n, p = data.n_obs, data.p
    dfs = []
    for i, term in enumerate(design.terms):
        L = np.zeros(p)
        L[i] = 1.0
        d = satt.df(L)
        if not (math.isfinite(d) and d > 0):
            d = float(max(n - p, 1))
            notes.append(f"the Satterthwaite df of {term!r} are not defined (a singular fit); the residual df {d:.0f} "
                         "were used.")
        dfs.append(d)
    fixed = _table(design.terms, beta, np.sqrt(np.diag(vcov)), np.array(dfs), level)
    lower = np.array([b[0] == 0.0 for b in structure.bounds()])
    singular = bool(np.any(theta[lower] < SINGULAR_TOL))
    if not singular:  # a correlation at +-1 makes a block rank deficient as well
        for lam in structure.lambdas(theta):
            if lam.size and np.min(np.abs(np.diag(lam))) < SINGULAR_TOL:
                singular = True
    if singular:
        msg = ("singular fit: a random-effect variance is at 0 or a correlation at +-1; the data do not support the "
               "random part as written. Simplify it (uncorrelated terms with ||, or fewer random slopes).")
        notes.append(msg)
        if warn:
            warnings.warn(msg, SingularFitWarning, stacklevel=4)
    if not converged:
        notes.append("the optimizer did not reach a stationary point; treat the estimates with caution.")
        if warn:
            warnings.warn("the formula model did not converge.", ConvergenceWarning, stacklevel=4)
    k = p + structure.n_theta + 1
    loglik = -dev / 2.0
    rows = []
    for f, G in zip(structure.factors, structure.covariances(theta, s2), strict=True):
        for b in f.blocks:
            for i, t1 in enumerate(b.columns):
                rows.append({"group": f.name, "term1": t1, "term2": None, "estimate": float(G[b.start + i, b.start + i])})
            for i in range(b.size):
                for j in range(i + 1, b.size):
                    rows.append({"group": f.name, "term1": b.columns[i], "term2": b.columns[j],
                                 "estimate": float(G[b.start + i, b.start + j])})
    rows.append({"group": "Residual", "term1": None, "term2": None, "estimate": float(s2)})
    variance = pd.DataFrame(rows, columns=["group", "term1", "term2", "estimate"])
    return FormulaResult(fixed=fixed, variance=variance, loglik=loglik, aic=-2 * loglik + 2 * k,
                         bic=-2 * loglik + math.log(n) * k, converged=converged, singular=singular, beta=beta,
                         vcov=vcov, theta=theta, sigma2=s2, satt=satt, data=data,
                         engine="ipt_outcomes profiled (RE)ML, any random part (block elimination)", notes=notes)
