"""Between-trial variance ``tau2`` of a random-effects meta-analysis.

* ``dl``: DerSimonian & Laird (1986), the method-of-moments estimator, from
  :func:`statsmodels.stats.meta_analysis.combine_effects` (``method_re="dl"``).
* ``pm``: Paule & Mandel (1982), the root of the generalised ``Q(tau2) = k - 1`` (``Q`` falls with
  ``tau2``), bracketed and found by Brent's method to 1e-14. Not statsmodels' ``method_re="pm"``:
  its iteration returned 0 on trial subsets of metafor's ``dat.bcg`` where the root is 0.33
  (statsmodels 0.15; the tests keep the cases).
* ``reml``: restricted maximum likelihood by Fisher scoring, as metafor's ``rma(method = "REML")``
  (Viechtbauer 2005); see :func:`reml`.

Every estimate is truncated at 0, as metafor does.
"""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_tau2"]


def estimate_tau2(y: np.ndarray, v: np.ndarray, method: str) -> tuple[float, bool]:
    """``tau2`` and whether its iterations converged (always True for ``dl``)."""
    if method == "fe":
        return 0.0, True
    if len(y) < 2:
        return 0.0, True
    if method == "dl":
        import warnings

        from statsmodels.stats.meta_analysis import combine_effects

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = combine_effects(y, v, method_re="dl")
        return max(float(res.tau2), 0.0), True
    if method == "pm":
        return paule_mandel(y, v)
    if method == "reml":
        return reml(y, v)
    raise ValueError(method)


def paule_mandel(y: np.ndarray, v: np.ndarray) -> tuple[float, bool]:
    """The ``tau2`` at which ``sum w (y - mu_w)^2 = k - 1`` (0 when already below at 0)."""
    from scipy.optimize import brentq

    k = len(y)

    def excess(tau2: float) -> float:
        w = 1.0 / (v + tau2)
        mu = float(w @ y) / float(w.sum())
        return float(w @ (y - mu) ** 2) - (k - 1)

    if excess(0.0) <= 0:
        return 0.0, True
    upper = max(float(np.var(y, ddof=1)), float(np.max(v)), 1e-8)
    for _ in range(200):
        if excess(upper) < 0:
            break
        upper *= 2.0
    else:
        return upper, False
    return float(brentq(excess, 0.0, upper, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500)), True


def reml(y: np.ndarray, v: np.ndarray, tol: float = 1e-12, max_iter: int = 1000) -> tuple[float, bool]:
    """REML ``tau2`` by Fisher scoring on the restricted likelihood (metafor's algorithm and start,
    the Hedges estimator), step-halving so that the estimate stays at or above 0.

    With ``w = 1 / (v + tau2)`` and ``P = W - W 1 1' W / sum(w)``, the score is
    ``(y'PPy - tr P) / 2`` and the expected information ``tr(PP) / 2``; the step is their ratio."""
    k = len(y)
    start = float(np.var(y, ddof=1) - np.mean(v))  # Hedges (1983)
    tau2 = max(start, 0.0)
    for _ in range(max_iter):
        w = 1.0 / (v + tau2)
        sw = w.sum()
        mu = float(w @ y) / sw
        Py = w * (y - mu)
        trP = sw - float(w @ w) / sw
        trPP = float(w @ w) - 2.0 * float(w ** 3 @ np.ones(k)) / sw + (float(w @ w) / sw) ** 2
        step = (float(Py @ Py) - trP) / trPP
        new = tau2 + step
        while new < 0:  # metafor: step halving at the boundary
            step /= 2.0
            new = tau2 + step
            if abs(step) < tol:
                new = 0.0
                break
        if abs(new - tau2) < tol * max(1.0, tau2):
            return new, True
        tau2 = new
    return tau2, False
