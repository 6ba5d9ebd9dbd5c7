"""Kenward-Roger inference for the MMRM, as SAS PROC MIXED computes it with ``DDFM=KR``.

Kenward & Roger (1997) replace ``Phi = Var(beta_hat) = (X'V^-1X)^-1`` by the adjusted

    Phi_A = Phi + 2 Phi { sum_hj W_hj (Q_hj - P_h Phi P_j - R_hj / 4) } Phi

    P_h  = X' dV^-1/dpsi_h X = -X'V^-1 V_h V^-1 X
    Q_hj = X'V^-1 V_h V^-1 V_j V^-1 X
    R_hj = X'V^-1 V_hj V^-1 X          (V_h, V_hj: first and second derivatives of V)

with ``W`` the covariance of the covariance parameters ``psi``: the inverse of the observed REML
information (half the Hessian of ``-2 log L_REML``), as SAS uses by default and the ``mmrm`` package
follows. For a single contrast ``l`` the df are ``2 (l'Phi l)^2 / (g'Wg)``, ``g_h = l' dPhi/dpsi_h l =
-l'Phi P_h Phi l``: Satterthwaite's df on the unadjusted variance (the general formula of Kenward &
Roger at one numerator df), while the standard error, the t statistic and the interval use
``l'Phi_A l``.

``Phi_A`` depends on how the covariance is parameterised, through ``R``. The parameters here are
SAS's: the covariances themselves for ``us`` (UN(i,j)), ``cs`` (CS and Residual) and ``toeplitz``
(TOEP(k)), all linear so that ``R = 0``; variances and correlations for ``ar1`` (Residual, AR(1)),
``csh``, ``ar1h``, ``toeph`` and ``adh`` (Var(i), then the correlations), where ``R`` is not zero.
Their derivatives are exact (the covariance is a polynomial in the correlations times
``sqrt(v_i v_j)``) by Richardson differences on the ``m x m`` matrix; ``W`` from the Hessian of the
criterion in these parameters. Everything is summed over visit patterns, as the likelihood is.

``information="expected"`` takes ``W`` from the expected REML information instead,
``I_hj = tr(P V_h P V_j) / 2`` with ``P = V^-1 - V^-1 X Phi X'V^-1``, as pbkrtest does; the tests
compare it with pbkrtest's ``vcovAdj`` on a random-intercept model (compound symmetry).

References: Kenward MG, Roger JH (1997) Small sample inference for fixed effects from restricted
maximum likelihood. Biometrics 53:983-997. SAS/STAT User's Guide, The MIXED Procedure, DDFM=KR.
Halekoh U, Hojsgaard S (2014) A Kenward-Roger approximation and parametric bootstrap methods for
tests in linear mixed models: the R package pbkrtest. J Stat Softw 59(9).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from ..inference.numdiff import hessian, jacobian
from ..models.engine.satterthwaite import EIGEN_TOL
from .covariance import SPATIAL, distances
from .engine import MmrmData, evaluate_covariances

__all__ = ["CovarianceInference", "covariance_inference", "sas_covariance", "sas_parameters"]


def _lags(m: int) -> np.ndarray:
    idx = np.arange(m)
    return np.abs(idx[:, None] - idx[None, :])


def sas_parameters(structure: str, S: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """SAS's covariance parameters of the ``m x m`` covariance ``S`` of ``structure``: for the spatial
    structures ``(phi, sigma2)`` of ``SP(EXP)``/``SP(GAU)`` and ``(rho, sigma2)`` of ``SP(POW)``, SAS's
    order (the range first, then the variance)."""
    m = len(S)
    sd = np.sqrt(np.diag(S))
    R = S / np.outer(sd, sd)
    if structure in SPATIAL:
        d = distances(m, times)
        i, j = np.unravel_index(np.argmax(d), d.shape)  # the farthest pair: the best-conditioned correlation
        r, dist = float(R[i, j]), float(d[i, j])
        if structure == "sp_pow":
            return np.array([r ** (1.0 / dist) if dist > 0 else 0.0, float(S[0, 0])])
        if structure == "sp_exp":
            return np.array([-dist / np.log(r) if dist > 0 else 1.0, float(S[0, 0])])
        return np.array([dist / np.sqrt(-np.log(r)) if dist > 0 else 1.0, float(S[0, 0])])
    if structure == "ad":
        return np.concatenate([[float(S[0, 0])], [R[k, k + 1] for k in range(m - 1)]])
    if structure == "us":
        return S[np.triu_indices(m)].copy()
    if structure == "cs":
        common = float(S[0, 1]) if m > 1 else 0.0
        return np.array([common, float(S[0, 0]) - common])
    if structure == "toeplitz":
        return np.array([float(S[0, k]) for k in range(m)])
    if structure == "ar1":
        return np.array([float(S[0, 0]), float(R[0, 1]) if m > 1 else 0.0])
    if structure in ("csh", "ar1h"):
        return np.append(np.diag(S), float(R[0, 1]) if m > 1 else 0.0)
    if structure == "toeph":
        return np.concatenate([np.diag(S), [R[0, k] for k in range(1, m)]])
    if structure == "adh":
        return np.concatenate([np.diag(S), [R[k, k + 1] for k in range(m - 1)]])
    raise ValueError(structure)


def sas_covariance(structure: str, m: int, psi: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """The covariance of SAS's parameters ``psi`` (the inverse of :func:`sas_parameters`)."""
    psi = np.asarray(psi, float)
    lag = _lags(m)
    if structure in SPATIAL:
        d = distances(m, times)
        if structure == "sp_pow":
            return psi[1] * np.power(psi[0], d)
        if structure == "sp_exp":
            return psi[1] * np.exp(-d / psi[0])
        return psi[1] * np.exp(-(d / psi[0]) ** 2)
    if structure == "ad":
        rho = psi[1:]
        C = np.ones((m, m))
        for i in range(m):
            for j in range(i + 1, m):
                C[i, j] = C[j, i] = float(np.prod(rho[i:j]))
        return psi[0] * C
    if structure == "us":
        S = np.zeros((m, m))
        S[np.triu_indices(m)] = psi
        return S + np.triu(S, 1).T
    if structure == "cs":
        return psi[0] + psi[1] * np.eye(m)
    if structure == "toeplitz":
        return psi[lag]
    if structure == "ar1":
        return psi[0] * psi[1] ** lag
    v = psi[:m]
    scale = np.sqrt(np.outer(v, v))
    if structure == "csh":
        return scale * np.where(lag == 0, 1.0, psi[m])
    if structure == "ar1h":
        return scale * psi[m] ** lag
    if structure == "toeph":
        return scale * np.r_[1.0, psi[m:]][lag]
    if structure == "adh":
        rho = psi[m:]
        C = np.ones((m, m))
        for i in range(m):
            for j in range(i + 1, m):
                C[i, j] = C[j, i] = float(np.prod(rho[i:j]))
        return scale * C
    raise ValueError(structure)


LINEAR = ("us", "cs", "toeplitz")


def spatial_derivatives(structure: str, psi: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivatives of a spatial covariance in SAS's parameters ``psi = (phi, sigma2)``
    (``(rho, sigma2)`` for ``sp_pow``) at distances ``d``: shapes (2, m, m) and (2, 2, m, m)."""
    a, s2 = float(psi[0]), float(psi[1])
    if structure == "sp_exp":      # s2 exp(-d / phi)
        c = np.exp(-d / a)
        da = c * d / a ** 2
        daa = c * ((d / a ** 2) ** 2 - 2.0 * d / a ** 3)
    elif structure == "sp_gau":    # s2 exp(-d^2 / phi^2)
        c = np.exp(-(d / a) ** 2)
        g = 2.0 * d ** 2 / a ** 3
        da = c * g
        daa = c * (g ** 2 - 6.0 * d ** 2 / a ** 4)
    else:                          # s2 rho^d
        c = np.power(a, d)
        with np.errstate(divide="ignore", invalid="ignore"):
            da = np.where(d > 0, d * np.power(a, d - 1.0), 0.0)
            daa = np.where(d > 1, d * (d - 1.0) * np.power(a, d - 2.0), 0.0)
    first = np.stack([s2 * da, c])
    second = np.array([[s2 * daa, da], [da, np.zeros_like(c)]])
    return first, second


class CovarianceInference:
    """What the df and the Kenward-Roger adjustment need, at the REML (or ML) optimum, in SAS's
    parameters ``psi``: ``Phi = Var(beta)``, ``P_h`` (so that ``dPhi/dpsi_h = -Phi P_h Phi``), ``W``
    (twice the inverse Hessian of ``-2 log L``, over eigenvalues above ``EIGEN_TOL``) and
    ``Phi_A`` (Kenward-Roger's adjusted ``Var(beta)``)."""

    def __init__(self, vcov: np.ndarray, vcov_adjusted: np.ndarray, P: np.ndarray, W: np.ndarray,
                 hessian: np.ndarray, dropped_eigenvalues: int) -> None:
        self.vcov = vcov
        self.vcov_adjusted = vcov_adjusted
        self.P = P                      # (k, p, p)
        self.W = W                      # (k, k)
        self.hessian = hessian          # (k, k) of -2 log L
        self.dropped_eigenvalues = dropped_eigenvalues

    def df(self, L: np.ndarray) -> float:
        """``2 (l'Phi l)^2 / (g'Wg)``: Satterthwaite's df, and Kenward-Roger's for one contrast; +inf or
        NaN where the formula gives them (the caller decides what to report)."""
        L = np.asarray(L, float).ravel()
        u = self.vcov @ L
        var = float(L @ u)
        g = -np.einsum("p,hpr,r->h", u, self.P, u)
        denom = float(g @ self.W @ g)
        if not math.isfinite(denom):
            return math.nan
        return math.inf if denom <= 0 else 2.0 * var ** 2 / denom


def covariance_inference(data: MmrmData, structure: str, sigmas: np.ndarray, reml: bool = True,
                         information: str = "observed", linear: bool = False) -> CovarianceInference:
    """:class:`CovarianceInference` at the covariances ``sigmas`` (groups x m x m) of the optimum.

    The Hessian of ``-2 log L`` is analytic (Jennrich & Schluchter 1986), with ``e = y - X beta`` and,
    under REML, ``Pi = V^-1 - V^-1 X Phi X'V^-1`` (under ML ``Pi = V^-1`` and the ``Phi`` terms drop):

        H_hj = tr(Pi V_hj) - tr(Pi V_h Pi V_j) + 2 e'V^-1 V_h Pi V_j V^-1 e - e'V^-1 V_hj V^-1 e

    summed over visit patterns from the same sufficient statistics as the likelihood. ``linear=True``
    leaves ``R`` out of ``Phi_A`` (the "linear" Kenward-Roger of the mmrm package and SAS's
    ``DDFM=KR(FIRSTORDER)``)."""
    m, n_groups = data.m, data.n_groups
    times = data.times
    psi = [sas_parameters(structure, S, times) for S in sigmas]
    k = len(psi[0])
    K = k * n_groups
    D1, D2 = [], []
    for g in range(n_groups):
        if structure in SPATIAL:  # closed forms: the range parameter spans orders of magnitude
            first, second = spatial_derivatives(structure, psi[g], distances(m, times))
            D1.append(first)
            D2.append(second)
            continue
        def matrix(x: np.ndarray) -> np.ndarray:
            return sas_covariance(structure, m, x, times)

        D1.append(np.moveaxis(jacobian(matrix, psi[g]), -1, 0))  # (k, m, m)
        if structure in LINEAR:
            D2.append(np.zeros((k, k, m, m)))
        else:
            def entry(x: np.ndarray, a: int, b: int) -> float:
                return float(sas_covariance(structure, m, x, times)[a, b])

            flat = [hessian(partial(entry, a=a, b=b), psi[g]) for a in range(m) for b in range(m)]
            D2.append(np.moveaxis(np.array(flat).reshape(m, m, k, k), (2, 3), (0, 1)))
    _, beta, Phi = evaluate_covariances(data, sigmas, reml)
    p = data.p
    P = np.zeros((K, p, p))
    Q = np.zeros((K, K, p, p))
    R = np.zeros((K, K, p, p))
    tr_vv = np.zeros((K, K))        # tr(V^-1 V_h V^-1 V_j)
    tr_v2 = np.zeros((K, K))        # tr(V^-1 V_hj)
    e_vv = np.zeros((K, K))         # e'V^-1 V_h V^-1 V_j V^-1 e
    e_v2 = np.zeros((K, K))         # e'V^-1 V_hj V^-1 e
    w = np.zeros((K, p))            # X'V^-1 V_h V^-1 e
    for st in data.stacks:
        S = sigmas[st.group[:, None, None], st.visits[:, :, None], st.visits[:, None, :]]
        Si = np.linalg.inv(S)
        for g in range(n_groups):
            rows = np.flatnonzero(st.group == g)
            if not len(rows):
                continue
            v, Sig, T, U, V, n = st.visits[rows], Si[rows], st.T[rows], st.U[rows], st.V[rows], st.count[rows]
            Ub = U @ beta                                                   # (P, kv, kv): sum x_ia'beta y_ib
            E = V - Ub - np.swapaxes(Ub, 1, 2) + np.einsum("qabpr,p,r->qab", T, beta, beta)  # sum e_a e_b
            F = U - T @ beta                                                # (P, kv, kv, p): sum x_ia e_ib
            d1 = D1[g][:, v[:, :, None], v[:, None, :]]                     # (k, P, kv, kv)
            d2 = D2[g][:, :, v[:, :, None], v[:, None, :]]                  # (k, k, P, kv, kv)
            B = np.einsum("qac,hqcb->qhab", Sig, d1)                         # Sigma^-1 V_h
            A = np.einsum("qhac,qcb->qhab", B, Sig)                          # Sigma^-1 V_h Sigma^-1
            blk = slice(g * k, (g + 1) * k)
            P[blk] -= np.einsum("qhab,qabpr->hpr", A, T)
            Q[blk, blk] += np.einsum("qhac,qjcb,qabpr->hjpr", B, A, T, optimize=True)
            tr_vv[blk, blk] += np.einsum("q,qhab,qjba->hj", n, B, B)
            e_vv[blk, blk] += np.einsum("qhac,qjcb,qba->hj", B, A, E, optimize=True)
            w[blk] += np.einsum("qhab,qabp->hp", A, F)
            if np.any(d2):
                A2 = np.einsum("qac,hjqcd,qdb->hjqab", Sig, d2, Sig, optimize=True)
                R[blk, blk] += np.einsum("hjqab,qabpr->hjpr", A2, T, optimize=True)
                tr_v2[blk, blk] += np.einsum("q,qab,hjqba->hj", n, Sig, d2, optimize=True)
                e_v2[blk, blk] += np.einsum("hjqab,qba->hj", A2, E)
    if reml:
        PhiP = np.einsum("pr,hrs->hps", Phi, P)
        tr_pvpv = tr_vv - 2.0 * np.einsum("pr,hjrp->hj", Phi, Q) + np.einsum("hpr,jrp->hj", PhiP, PhiP)
        tr_pv2 = tr_v2 - np.einsum("pr,hjrp->hj", Phi, R)
    else:
        tr_pvpv, tr_pv2 = tr_vv, tr_v2
    e_term = e_vv - w @ Phi @ w.T  # under ML: beta profiled out
    H = tr_pv2 - tr_pvpv + 2.0 * e_term - e_v2
    H = (H + H.T) / 2.0
    if information == "expected":  # E(H) under REML: tr(Pi V_h Pi V_j)
        W, dropped = _inverse_times_two(tr_pvpv)
    elif information == "observed":
        W, dropped = _inverse_times_two(H)
    else:
        raise ValueError(information)
    U_ = np.einsum("hj,hjpr->pr", W, Q - (0.0 if linear else 0.25) * R) - np.einsum("hj,hpr,rs,jst->pt", W, P, Phi, P)
    adjusted = Phi + 2.0 * Phi @ ((U_ + U_.T) / 2.0) @ Phi
    return CovarianceInference(Phi, adjusted, P, W, H, dropped)


def _inverse_times_two(M: np.ndarray) -> tuple[np.ndarray, int]:
    """``2 M^+`` over the eigenvalues above ``EIGEN_TOL`` (lmerTest's rule), and how many were dropped."""
    values, vectors = np.linalg.eigh((M + M.T) / 2.0)
    keep = values > EIGEN_TOL
    return 2.0 * (vectors[:, keep] / values[keep]) @ vectors[:, keep].T, int(np.sum(~keep))
