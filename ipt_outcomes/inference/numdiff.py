"""Numerical derivatives exactly as R's numDeriv computes them (the package lmerTest relies on).

lmerTest obtains the Hessian of the deviance with ``numDeriv::hessian`` (``genD``) and the Jacobian
of ``Var(beta)`` with ``numDeriv::jacobian``, both with Richardson extrapolation and numDeriv's
defaults: initial step ``h = |d x| + eps (|x| < zero_tol)`` with ``d = 1e-4``, ``eps = 1e-4``,
``zero_tol = sqrt(machine eps / 7e-7)``, ``r = 4`` halvings. Reproducing the same steps reproduces
lmerTest's degrees of freedom also where the derivative is ill-conditioned (a parameter at or near
zero, where the step is ``1e-4`` whatever the parameter's scale).

Reference: Gilbert P, Varadhan R (2019). numDeriv: Accurate Numerical Derivatives. R package,
https://CRAN.R-project.org/package=numDeriv (functions ``genD.default`` and ``jacobian.default``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["hessian", "jacobian"]

EPS = 1e-4
D = 1e-4
ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))
R = 4
V = 2.0


def _initial_steps(x: np.ndarray) -> np.ndarray:
    return np.abs(D * x) + EPS * (np.abs(x) < ZERO_TOL)


def _richardson(approx: list[np.ndarray]) -> np.ndarray:
    """numDeriv's extrapolation: ``a_k <- (4^m a_{k+1} - a_k) / (4^m - 1)`` for m = 1..r-1."""
    a = list(approx)
    for m in range(1, len(a)):
        a = [(a[k + 1] * 4.0 ** m - a[k]) / (4.0 ** m - 1.0) for k in range(len(a) - 1)]
    return a[0]


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """d f / d x of a vector- or array-valued f (numDeriv::jacobian, method "Richardson").

    Returns an array of shape ``f(x).shape + (len(x),)``.
    """
    x = np.asarray(x, float)
    n = len(x)
    h = _initial_steps(x)
    per_param: list[list[np.ndarray]] = [[] for _ in range(n)]
    for _ in range(R):
        for i in range(n):
            e = np.zeros(n)
            e[i] = h[i]
            per_param[i].append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2.0 * h[i]))
        h = h / V
    return np.stack([_richardson(per_param[i]) for i in range(n)], axis=-1).astype(float)


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Hessian of a scalar f (numDeriv::hessian through genD, method "Richardson").

    The differences are taken in the precision f returns (long double keeps its extra digits)."""
    x = np.asarray(x, float)
    n = len(x)
    f0 = f(x)
    h0 = _initial_steps(x)
    diag = np.zeros(n, dtype=np.result_type(f0, float))
    for i in range(n):
        h = h0.copy()
        approx = []
        for _ in range(R):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append(np.asarray((f(x + e) - 2.0 * f0 + f(x - e)) / h[i] ** 2))
            h = h / V
        diag[i] = _richardson(approx)
    H = np.diag(diag)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = []
            for _ in range(R):
                e = np.zeros(n)
                e[i] += h[i]
                e[j] += h[j]
                f1, f2 = f(x + e), f(x - e)
                approx.append(np.asarray((f1 - 2.0 * f0 + f2 - diag[i] * h[i] ** 2 - diag[j] * h[j] ** 2)
                                         / (2.0 * h[i] * h[j])))
                h = h / V
            H[i, j] = H[j, i] = _richardson(approx)
    return H.astype(float)
