"""Residual covariance structures of an MMRM over ``m`` planned visits, each a map from unconstrained
parameters ``theta`` to a positive definite ``m x m`` matrix (the likelihood, and so every estimate,
does not depend on the parameterisation; the starting point and the optimizer's path do).

=========  ==========================================================  ===========
structure  covariance                                                  parameters
=========  ==========================================================  ===========
us         unstructured: ``L L'``, L lower triangular, log diagonal     m (m + 1)/2
cs         ``s2 ((1 - rho) I + rho 11')``                               2
csh        ``D ((1 - rho) I + rho 11') D``, D = diag of m SDs            m + 1
ar1        ``s2 rho^|i - j|`` (i, j: visit positions)                   2
ar1h       ``D [rho^|i - j|] D``                                         m + 1
toeplitz   ``s2 [r_|i - j|]``, r from m - 1 partial autocorrelations    m
toeph      ``D [r_|i - j|] D``                                           2 m - 1
ad         ante-dependence, one variance: ``s2 prod_{k=i}^{j-1} rho_k``  m
adh        ante-dependence: ``corr(i, j) = prod_{k=i}^{j-1} rho_k``, D   2 m - 1
sp_exp     spatial exponential: ``s2 exp(-d_ij / phi)``                  2
sp_gau     spatial Gaussian: ``s2 exp(-d_ij^2 / phi^2)``                 2
sp_pow     spatial power: ``s2 rho^d_ij``                                2
=========  ==========================================================  ===========

The spatial structures (SAS's ``SP(EXP)``, ``SP(GAU)``, ``SP(POW)``; the mmrm package's ``sp_exp`` is
``s2 rho^d``, the same model as ``SP(EXP)`` with ``rho = exp(-1/phi)``) take the distance
``d_ij = |t_i - t_j|`` between the assessment times of the positions (``times``), so they model
irregular times; the others read only the visit positions.

Correlations are kept in range by ``rho = t / sqrt(1 + t^2)`` (as the mmrm package does); the
common correlation of ``cs``/``csh`` by ``rho = (e^t - 1) / (e^t + m - 1)``, which spans exactly its
positive definite range ``(-1/(m - 1), 1)``; Toeplitz correlations through the Durbin-Levinson
recursion from partial autocorrelations, which spans every positive definite Toeplitz correlation.
"""

from __future__ import annotations

import numpy as np

from .options import STRUCTURES

__all__ = ["SPATIAL", "STRUCTURES", "covariance_matrix", "distances", "n_parameters", "start"]


SPATIAL = ("sp_exp", "sp_gau", "sp_pow")


def n_parameters(structure: str, m: int) -> int:
    return {"us": m * (m + 1) // 2, "cs": 2, "csh": m + 1, "ar1": 2, "ar1h": m + 1, "toeplitz": m,
            "toeph": 2 * m - 1, "ad": m, "adh": 2 * m - 1, "sp_exp": 2, "sp_gau": 2, "sp_pow": 2}[structure]


def distances(m: int, times: np.ndarray | None) -> np.ndarray:
    """``|t_i - t_j|`` between the positions' times (the positions themselves when no times are given)."""
    t = np.arange(m, dtype=float) if times is None else np.asarray(times, float)
    return np.abs(t[:, None] - t[None, :])


def start(structure: str, m: int, sds: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """Independent visits with the observed SDs (``sds``, one per visit)."""
    logsd = np.log(np.maximum(np.asarray(sds, float), 1e-8))
    pooled = float(np.log(np.sqrt(np.mean(np.exp(2 * logsd)))))
    if structure == "us":
        out = np.zeros(m * (m + 1) // 2)
        out[_diagonal_positions(m)] = logsd
        return out
    if structure in SPATIAL:  # a correlation of about 0.5 at the typical distance between times
        d = distances(m, times)
        typical = float(np.median(d[d > 0])) if np.any(d > 0) else 1.0
        return np.array([pooled, 0.0 if structure == "sp_pow" else np.log(typical / np.log(2.0))])
    if structure in ("cs", "ar1"):
        return np.array([pooled, 0.0])
    if structure == "ad":
        return np.append(pooled, np.zeros(m - 1))
    if structure in ("csh", "ar1h"):
        return np.append(logsd, 0.0)
    if structure == "toeplitz":
        return np.append(pooled, np.zeros(m - 1))
    return np.concatenate([logsd, np.zeros(m - 1)])  # toeph, adh


def _diagonal_positions(m: int) -> np.ndarray:
    """Positions of the diagonal in the row-major lower triangle (row i holds i + 1 entries)."""
    return np.array([i * (i + 1) // 2 + i for i in range(m)])


def _rho(t: np.ndarray) -> np.ndarray:
    return t / np.sqrt(1.0 + t * t)


def _toeplitz_correlations(partial: np.ndarray) -> np.ndarray:
    """Autocorrelations r_1..r_p from partial autocorrelations (Durbin-Levinson)."""
    p = len(partial)
    r = np.zeros(p)
    phi = np.zeros(p)
    for k in range(p):
        a = partial[k]
        if k == 0:
            phi[0] = a
            r[0] = a
            continue
        new = phi[:k] - a * phi[:k][::-1]
        phi[:k], phi[k] = new, a
        r[k] = float(np.dot(phi[:k + 1], np.r_[r[:k][::-1], 1.0]))
    return r


def _ante_dependence(rho: np.ndarray, m: int) -> np.ndarray:
    logs = np.r_[0.0, np.cumsum(np.log(np.abs(rho) + 1e-300))]
    signs = np.r_[1.0, np.cumprod(np.where(rho < 0, -1.0, 1.0))]
    C = np.exp(-np.abs(logs[:, None] - logs[None, :]))
    return C * signs[:, None] * signs[None, :]


def correlation_matrix(structure: str, m: int, theta: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """The correlation part of a structure (not for ``us``)."""
    idx = np.arange(m)
    lag = np.abs(idx[:, None] - idx[None, :])
    if structure in SPATIAL:
        d = distances(m, times)
        if structure == "sp_pow":
            return (1.0 / (1.0 + np.exp(-theta[1]))) ** d
        phi = np.exp(theta[1])
        return np.exp(-d / phi) if structure == "sp_exp" else np.exp(-(d / phi) ** 2)
    if structure in ("cs", "csh"):
        t = theta[-1]
        rho = np.expm1(t) / (np.exp(t) + m - 1) if t < 30 else 1.0 - m / np.exp(t)
        return np.where(lag == 0, 1.0, rho)
    if structure in ("ar1", "ar1h"):
        return _rho(theta[-1]) ** lag
    if structure in ("toeplitz", "toeph"):
        r = np.r_[1.0, _toeplitz_correlations(_rho(theta[-(m - 1):]))] if m > 1 else np.ones(1)
        return r[lag]
    if structure == "adh":
        return _ante_dependence(_rho(theta[m:]), m)
    if structure == "ad":
        return _ante_dependence(_rho(theta[1:]), m)
    raise ValueError(structure)


def covariance_matrix(structure: str, m: int, theta: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    theta = np.asarray(theta, float)
    if structure == "us":
        L = np.zeros((m, m))
        L[np.tril_indices(m)] = theta
        L[np.diag_indices(m)] = np.exp(np.diag(L))
        return L @ L.T
    if structure in ("cs", "ar1", "toeplitz", "ad", *SPATIAL):
        sd = np.full(m, np.exp(theta[0]))
    else:
        sd = np.exp(theta[:m])
    return correlation_matrix(structure, m, theta, times) * np.outer(sd, sd)
