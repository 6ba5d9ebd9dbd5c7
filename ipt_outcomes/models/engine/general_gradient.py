"""Analytic gradient of lme4's profiled criterion for any random part (:func:`.general.general_deviance`).

With ``V = I + Z Lambda Lambda' Z'`` (sigma^2 = 1), ``A = X'V^-1X``, ``e = y - X beta_hat``,
``r = e'V^-1e`` and ``V_k = dV/dtheta_k = Z (Lambda_k Lambda' + Lambda Lambda_k') Z'``:

    d/dtheta_k [log|V| + log|A| + (n - p) log r]
        = tr(V^-1 V_k) - tr(A^-1 X'V^-1 V_k V^-1 X) - (n - p)/r e'V^-1 V_k V^-1 e

(``beta_hat`` minimises ``r``, so its own change does not enter). ``Lambda`` repeats one block
``lambda_f`` for every level ``l`` of a grouping factor ``f``; with the blocks of level ``l``
``M_l = Z_l'V^-1Z_l``, ``N_l = Z_l'V^-1X`` and ``u_l = Z_l'V^-1e``, every trace collapses to

    d/dtheta_k = 2 (G_f lambda_f)[i, j],   G_f = sum_l (M_l - N_l A^-1 N_l' - c u_l u_l')

where ``theta_k`` is element ``(i, j)`` of ``lambda_f``, ``c = (n - p)/r`` for REML and ``n/r`` for ML
(which has no ``A`` term). ``M_l``, ``N_l`` and ``u_l`` come from the same block elimination as the
criterion (:mod:`.general`): the primary factor's blocks through ``D^-1`` and a correction from the
other factors' dense system, theirs from ``Z2'V^-1Z2 = P - P H P`` with ``P = Z2'D^-1Z2`` and
``H = Lambda_2 S^-1 Lambda_2'``. One gradient costs about two evaluations of the criterion, against
``2 n_theta`` for central differences.

Checked against central differences of the criterion in ``tests/test_formula_gradient.py``.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from ...inference.stacks import products
from .general import GeneralData, general_forms
from .statistics import LOG_2PI
from .structure import _tril

__all__ = ["general_deviance_and_gradient"]


def general_deviance_and_gradient(theta: np.ndarray, data: GeneralData, reml: bool) -> tuple[float, np.ndarray]:
    """The profiled deviance of :func:`.general.general_deviance` and its gradient in ``theta``
    (float64; ``(inf, 0)`` where the criterion is undefined)."""
    theta = np.asarray(theta, float)
    parts: dict = {}
    try:
        xtvx, xtvy, ytvy, logdet_v = general_forms(data, theta, parts)
        chol = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError:
        return math.inf, np.zeros(len(theta))
    w = scipy.linalg.solve_triangular(chol, xtvy, lower=True)
    r = ytvy - float(w @ w)
    if not r > 0:
        return math.inf, np.zeros(len(theta))
    n, p = data.n_obs, data.p
    if reml:
        dof = n - p
        dev = logdet_v + 2.0 * float(np.sum(np.log(np.diag(chol)))) + dof * (1.0 + LOG_2PI + math.log(r / dof))
        a_inv = scipy.linalg.cho_solve((chol, True), np.eye(p))
        c = dof / r
    else:
        dev = logdet_v + n * (1.0 + LOG_2PI + math.log(r / n))
        a_inv = np.zeros((p, p))
        c = n / r
    beta = scipy.linalg.cho_solve((chol, True), xtvy)
    G = _level_sums(data, parts, beta, a_inv, c)
    return float(dev), _chain(data, parts["lams"], G)


def _chain(data: GeneralData, lams: list[np.ndarray], G: list[np.ndarray]) -> np.ndarray:
    """``2 (G_f lambda_f)[i, j]`` for each theta, in the structure's order."""
    out = []
    for f, lam, g in zip(data.structure.factors, lams, G, strict=True):
        GL = 2.0 * g @ lam
        for b in f.blocks:
            rows, cols = _tril(b.size)
            out.extend(GL[b.start + rows, b.start + cols])
    return np.array(out, float)


def _level_sums(data: GeneralData, parts: dict, beta: np.ndarray, a_inv: np.ndarray, c: float) -> list[np.ndarray]:
    """``G_f = sum_l (M_l - N_l A^-1 N_l' - c u_l u_l')`` for every factor, in the structure's order."""
    st = data.stats
    G: list[np.ndarray] = [np.zeros((f.q, f.q)) for f in data.structure.factors]
    if not data.has_others and "pattern_W" in parts:
        G[data.primary] = _pattern_sum(st, parts["pattern_W"], beta, a_inv, c)
        return G
    ZZ, ZX, Zy = st["ZZ"], st["ZX"], st["Zy"]
    q = ZZ.shape[1]
    B = np.eye(q) - products(ZZ, parts["W"])                  # Z_i'D^-1 Z_i = B_i Z_i'Z_i, and so on
    M = np.tensordot(B, ZZ, axes=([0, 2], [0, 1]))            # only the sum over levels is needed
    N, uy = products(B, ZX), products(B, Zy[:, :, None])[:, :, 0]
    if data.has_others:
        R = _relative_root(parts)
        H = R.T @ R
        hx, hy = H @ parts["z2dx"], H @ parts["z2dy"]
        level, col = data.cross_level, data.cross_col
        e1, e2 = data.pairs
        K = np.einsum("eab,eb->ea", B[level], data.cross)       # Z_i'D^-1 (column of Z2), per entry
        h = H[col[e1], col[e2]]
        M = M - K[e1].T @ (h[:, None] * K[e2])
        N = N - (data.entry_by_level @ (K[:, :, None] * hx[col][:, None, :]).reshape(len(col), -1)).reshape(N.shape)
        uy = uy - data.entry_by_level @ (K * hy[col][:, None])
    u = uy - N @ beta
    G[data.primary] = M - np.tensordot(N, N @ a_inv, axes=([0, 2], [0, 2])) - c * u.T @ u
    if data.has_others:
        P = parts["z2dz2"]
        F = R @ P                                               # P H P = F'F
        N2 = parts["z2dx"] - P @ hx
        u2 = parts["z2dy"] - P @ hy - N2 @ beta
        offset = 0
        for i in data.other_factors:
            f = data.structure.factors[i]
            span = slice(offset, offset + f.n_levels * f.q)
            Pf = P[span, span].reshape(f.n_levels, f.q, f.n_levels, f.q)
            Ff = F[:, span].reshape(-1, f.n_levels, f.q)
            Nf, uf = N2[span].reshape(f.n_levels, f.q, -1), u2[span].reshape(f.n_levels, f.q)
            G[i] = (np.einsum("lalb->ab", Pf) - np.einsum("kla,klb->ab", Ff, Ff)
                    - np.einsum("lap,pr,lbr->ab", Nf, a_inv, Nf) - c * uf.T @ uf)
            offset = span.stop
    return G


def _relative_root(parts: dict) -> np.ndarray:
    """``R = chol(S)^-1 Lambda_2'``, so that ``H = Lambda_2 S^-1 Lambda_2' = R'R``."""
    return scipy.linalg.solve_triangular(parts["chol"], parts["lam2"].T, lower=True)


def _pattern_sum(st: dict[str, np.ndarray], W: np.ndarray, beta: np.ndarray, a_inv: np.ndarray, c: float) -> np.ndarray:
    """``G`` of the primary factor from the sums within patterns of ``Z'Z`` (no other factor): with
    ``B_g = I - M_g W_g``, ``sum_i M_i = sum_g n_g B_g M_g`` and the outer products of ``N_i`` and
    ``u_i = B_g (Z_i'y - Z_i'X beta)`` from the second moments T, U and V of the pattern."""
    M = st["pattern_ZZ"]
    B = np.eye(M.shape[1]) - M @ W
    total = np.einsum("g,gab->ab", st["pattern_count"], B @ M)
    Ub = np.einsum("gabr,r->gab", st["pattern_U"], beta)        # sum_i (Z'X beta)_a (Z'y)_b
    inner = (np.einsum("gabrs,rs->gab", st["pattern_T"], a_inv + c * np.outer(beta, beta))
             + c * (st["pattern_V"] - Ub - Ub.transpose(0, 2, 1)))
    return total - np.einsum("gai,gij,gbj->ab", B, inner, B)
