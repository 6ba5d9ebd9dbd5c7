"""The MMRM likelihood from sufficient statistics by visit pattern.

Participant ``i`` has scores ``y_i`` at a subset ``v_i`` of the planned visits with
``y_i ~ N(X_i beta, Sigma[v_i, v_i])`` (one ``Sigma`` per covariance group). Participants who share
their group and their set of visits share ``Sigma_p^-1``; with the second moments summed within each
pattern, ``T_p[a, b] = sum_i x_ia x_ib'``, ``U_p[a, b] = sum_i x_ia y_ib``, ``V_p[a, b] = sum_i y_ia y_ib``:

    X'V^-1X = sum_p sum_ab Sigma_p^-1[a, b] T_p[a, b]     (and X'V^-1y, y'V^-1y alike)
    -2 l_REML = sum_p n_p log|Sigma_p| + log|X'V^-1X| + r + (n - k) log(2 pi)
    -2 l_ML   = sum_p n_p log|Sigma_p| + r + n log(2 pi),      r = min_beta (y - X beta)'V^-1(y - X beta)

so an evaluation costs the same for 100,000 participants as for 100 (patterns are at most the
groups times ``2^m``). The log-likelihood is ``-dev / 2`` on the scale of nlme::gls (tested).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .covariance import covariance_matrix

__all__ = ["MmrmData", "criterion", "evaluate"]

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class MmrmData:
    m: int                          # planned visits
    n_groups: int                   # covariance groups (1, or the arms)
    visits: list[np.ndarray]        # per pattern: the visit positions observed
    group: np.ndarray               # per pattern: its covariance group
    count: np.ndarray               # per pattern: participants
    T: list[np.ndarray]             # per pattern: (k_p, k_p, p, p)
    U: list[np.ndarray]             # per pattern: (k_p, k_p, p)   sum x_a y_b
    V: list[np.ndarray]             # per pattern: (k_p, k_p)
    n_obs: int
    p: int
    XX: np.ndarray

    @classmethod
    def build(cls, y: np.ndarray, X: np.ndarray, participant: np.ndarray, visit: np.ndarray, group: np.ndarray,
              m: int, n_groups: int) -> MmrmData:
        """Rows sorted or not; ``participant`` codes 0..N-1, ``visit`` positions 0..m-1, ``group`` per row
        (constant within a participant)."""
        order = np.lexsort((visit, participant))
        y, X, participant, visit, group = y[order], X[order], participant[order], visit[order], group[order]
        n, p = X.shape
        n_part = int(participant.max()) + 1
        mask = np.zeros((n_part, m), bool)
        mask[participant, visit] = True
        pgroup = np.zeros(n_part, np.int64)
        pgroup[participant] = group
        key = pgroup * (1 << m) + (mask * (1 << np.arange(m))).sum(axis=1)
        keys, pattern = np.unique(key, return_inverse=True)
        Yw = np.zeros((n_part, m))
        Yw[participant, visit] = y
        Xw = np.zeros((n_part, m, p))
        Xw[participant, visit] = X
        visits, T, U, V, groups, counts = [], [], [], [], [], []
        for k, kv in enumerate(keys):
            members = np.flatnonzero(pattern == k)
            v = np.flatnonzero(mask[members[0]])
            Xp, Yp = Xw[members][:, v], Yw[members][:, v]
            visits.append(v)
            T.append(np.einsum("iap,ibr->abpr", Xp, Xp))
            U.append(np.einsum("iap,ib->abp", Xp, Yp))
            V.append(Yp.T @ Yp)
            groups.append(int(kv // (1 << m)))
            counts.append(len(members))
        return cls(m=m, n_groups=n_groups, visits=visits, group=np.array(groups), count=np.array(counts, float),
                   T=T, U=U, V=V, n_obs=n, p=p, XX=X.T @ X)


def _split(theta: np.ndarray, n_groups: int) -> list[np.ndarray]:
    return np.split(np.asarray(theta, float), n_groups)


def covariances(data: MmrmData, structure: str, theta: np.ndarray) -> list[np.ndarray]:
    return [covariance_matrix(structure, data.m, t) for t in _split(theta, data.n_groups)]


def evaluate(data: MmrmData, structure: str, theta: np.ndarray, reml: bool
             ) -> tuple[float, np.ndarray, np.ndarray]:
    """``-2 log L`` (REML or ML), beta and ``Var(beta) = (X'V^-1X)^-1`` at ``theta``; ``inf`` where
    a covariance is not positive definite."""
    p = data.p
    failed = (math.inf, np.full(p, np.nan), np.full((p, p), np.nan))
    try:
        sigmas = covariances(data, structure, theta)
        xvx, xvy, yvy, logdet = np.zeros((p, p)), np.zeros(p), 0.0, 0.0
        for v, g, c, T, U, V in zip(data.visits, data.group, data.count, data.T, data.U, data.V, strict=True):
            S = sigmas[g][np.ix_(v, v)]
            L = np.linalg.cholesky(S)
            Si = np.linalg.inv(S)
            logdet += c * 2.0 * float(np.sum(np.log(np.diag(L))))
            xvx += np.einsum("ab,abpr->pr", Si, T)
            xvy += np.einsum("ab,abp->p", Si, U)
            yvy += float(np.sum(Si * V))
        chol = np.linalg.cholesky(xvx)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        return failed
    w = np.linalg.solve(chol, xvy)
    r = yvy - float(w @ w)
    n = data.n_obs
    cinv = np.linalg.inv(chol)
    vcov = cinv.T @ cinv
    if reml:
        dev = logdet + 2.0 * float(np.sum(np.log(np.diag(chol)))) + r + (n - p) * LOG_2PI
    else:
        dev = logdet + r + n * LOG_2PI
    return dev, vcov @ xvy, vcov


def criterion(data: MmrmData, structure: str, theta: np.ndarray, reml: bool) -> float:
    return evaluate(data, structure, theta, reml)[0]
