"""Satterthwaite degrees of freedom for contrasts of fixed effects (lmerTest's method).

For a contrast ``L``, ``df = 2 (L V L')^2 / (g' A g)`` where ``V = Var(beta_hat)`` as a function
of the covariance parameters, ``g`` its gradient along them (``g_i = L dV/dvarpar_i L'``) and
``A = 2 H^-1`` the asymptotic covariance of the covariance parameters (``H``: Hessian of the
deviance). The result does not depend on how the covariance parameters are written.

Reference: Kuznetsova A, Brockhoff PB, Christensen RHB (2017) lmerTest package: tests in linear
mixed effects models. J Stat Softw 82(13):1-26, doi:10.18637/jss.v082.i13.
"""

from __future__ import annotations

import numpy as np

from .likelihood import MixedData, evaluate
from .numdiff import hessian, jacobian

__all__ = ["SatterthwaiteState", "satterthwaite_state"]


class SatterthwaiteState:
    """The pieces shared by every contrast of one fit: V, dV/dvarpar and A."""

    def __init__(self, vcov: np.ndarray, jac: np.ndarray, A: np.ndarray) -> None:
        self.vcov = vcov
        self.jac = jac        # p x p x k
        self.A = A            # k x k

    def df(self, L: np.ndarray) -> float:
        L = np.asarray(L, float).ravel()
        var = float(L @ self.vcov @ L)
        g = np.array([float(L @ self.jac[:, :, i] @ L) for i in range(self.jac.shape[2])])
        denom = float(g @ self.A @ g)
        if not np.isfinite(denom) or denom <= 0:
            return float("inf")
        return 2.0 * var ** 2 / denom


def satterthwaite_state(data: MixedData, varpar: np.ndarray, reml: bool, active: np.ndarray | None = None
                        ) -> SatterthwaiteState:
    """Compute V, its Jacobian and A at ``varpar``. ``active`` marks parameters not on a boundary;
    parameters at a boundary (a variance estimated as zero) are held fixed, as in lmerTest."""
    varpar = np.asarray(varpar, float)
    active = np.ones(len(varpar), bool) if active is None else np.asarray(active, bool)
    idx = np.flatnonzero(active)

    def full(sub: np.ndarray) -> np.ndarray:
        x = varpar.copy()
        x[idx] = sub
        return x

    def deviance(sub: np.ndarray) -> float:
        return evaluate(data, full(sub), reml).deviance

    def vcov(sub: np.ndarray) -> np.ndarray:
        return evaluate(data, full(sub), reml).vcov_beta

    base = evaluate(data, varpar, reml)
    H = hessian(deviance, varpar[idx])
    try:
        A = 2.0 * np.linalg.inv(H)
    except np.linalg.LinAlgError:
        A = 2.0 * np.linalg.pinv(H)
    jac = jacobian(vcov, varpar[idx])
    return SatterthwaiteState(base.vcov_beta, jac, A)
