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

__all__ = ["MmrmData", "PatternStack", "criterion", "evaluate", "evaluate_covariances"]

LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class PatternStack:
    """The patterns that observe ``k`` visits, stacked: one batched Cholesky and inverse for all."""
    visits: np.ndarray              # (P, k) visit positions observed
    group: np.ndarray               # (P,) covariance group
    count: np.ndarray               # (P,) participants
    T: np.ndarray                   # (P, k, k, p, p)  sum x_a x_b'
    U: np.ndarray                   # (P, k, k, p)     sum x_a y_b
    V: np.ndarray                   # (P, k, k)        sum y_a y_b


@dataclass(frozen=True)
class MmrmData:
    m: int                          # planned visits
    n_groups: int                   # covariance groups (1, or the arms)
    stacks: list[PatternStack]      # patterns grouped by their number of visits
    n_obs: int
    p: int
    XX: np.ndarray
    times: np.ndarray | None = None  # each position's time (spatial structures); None: the positions

    @classmethod
    def build(cls, y: np.ndarray, X: np.ndarray, participant: np.ndarray, visit: np.ndarray, group: np.ndarray,
              m: int, n_groups: int, times: np.ndarray | None = None) -> MmrmData:
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
        # a pattern is the group and the visits observed: bytes of the group and the packed mask (any m)
        key = np.concatenate([pgroup.astype("<i8").view(np.uint8).reshape(n_part, 8), np.packbits(mask, axis=1)], axis=1)
        key = np.ascontiguousarray(key).view(np.dtype((np.void, key.shape[1]))).reshape(-1)
        _, first, pattern = np.unique(key, return_index=True, return_inverse=True)
        pattern = pattern.reshape(-1)
        _memory_guard(mask[first].sum(axis=1), n_part, m, p)
        Yw = np.zeros((n_part, m))
        Yw[participant, visit] = y
        Xw = np.zeros((n_part, m, p))
        Xw[participant, visit] = X
        by_size: dict[int, list[tuple]] = {}
        members_of = np.split(np.argsort(pattern, kind="stable"), np.cumsum(np.bincount(pattern))[:-1])
        for one, members in zip(first, members_of, strict=True):
            v = np.flatnonzero(mask[one])
            Xp, Yp = Xw[members][:, v], Yw[members][:, v]
            by_size.setdefault(len(v), []).append((
                v, int(pgroup[one]), float(len(members)), np.einsum("iap,ibr->abpr", Xp, Xp),
                np.einsum("iap,ib->abp", Xp, Yp), Yp.T @ Yp))
        stacks = [PatternStack(*(np.array(column) for column in zip(*patterns, strict=True)))
                  for _, patterns in sorted(by_size.items())]
        return cls(m=m, n_groups=n_groups, stacks=stacks, n_obs=n, p=p, XX=X.T @ X, times=times)


def _split(theta: np.ndarray, n_groups: int) -> list[np.ndarray]:
    return np.split(np.asarray(theta, float), n_groups)


def covariances(data: MmrmData, structure: str, theta: np.ndarray) -> list[np.ndarray]:
    return [covariance_matrix(structure, data.m, t, data.times) for t in _split(theta, data.n_groups)]


def evaluate(data: MmrmData, structure: str, theta: np.ndarray, reml: bool
             ) -> tuple[float, np.ndarray, np.ndarray]:
    """``-2 log L`` (REML or ML), beta and ``Var(beta) = (X'V^-1X)^-1`` at ``theta``; ``inf`` where
    a covariance is not positive definite."""
    try:
        sigmas = np.stack(covariances(data, structure, theta))
    except (np.linalg.LinAlgError, FloatingPointError, ValueError):
        p = data.p
        return math.inf, np.full(p, np.nan), np.full((p, p), np.nan)
    return evaluate_covariances(data, sigmas, reml)


def evaluate_covariances(data: MmrmData, sigmas: np.ndarray, reml: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """:func:`evaluate` at given covariances ``sigmas`` (groups x m x m), whatever their parameters."""
    p = data.p
    failed = (math.inf, np.full(p, np.nan), np.full((p, p), np.nan))
    try:
        xvx, xvy, yvy, logdet = np.zeros((p, p)), np.zeros(p), 0.0, 0.0
        for st in data.stacks:
            S = sigmas[st.group[:, None, None], st.visits[:, :, None], st.visits[:, None, :]]  # (P, k, k)
            L = np.linalg.cholesky(S)
            Si = np.linalg.inv(S)
            logdet += 2.0 * float(st.count @ np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1))
            xvx += np.einsum("qab,qabpr->pr", Si, st.T)
            xvy += np.einsum("qab,qabp->p", Si, st.U)
            yvy += float(np.sum(Si * st.V))
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


def gradient(data: MmrmData, structure: str, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray]:
    """``-2 log L`` and its gradient in ``theta``, analytically (Jennrich & Schluchter 1986):
    ``d/dtheta_h = tr(Pi V_h) - e'V^-1 V_h V^-1 e`` with ``e = y - X beta_hat`` and, under REML,
    ``Pi = V^-1 - V^-1 X Phi X'V^-1`` (``V^-1`` under ML; beta is profiled, so no term of its own).
    ``V_h = dSigma/dtheta_h`` by central differences on the ``m x m`` covariance alone, which costs
    nothing next to an evaluation of the likelihood. ``(inf, nan)`` where not positive definite."""
    from ..inference.numdiff import jacobian

    theta = np.asarray(theta, float)
    dev, beta, Phi = evaluate(data, structure, theta, reml)
    if not math.isfinite(dev):
        return math.inf, np.full(len(theta), np.nan)
    parts = _split(theta, data.n_groups)
    k = len(parts[0])
    sigmas = np.stack(covariances(data, structure, theta))
    D = [np.moveaxis(jacobian(lambda t: covariance_matrix(structure, data.m, t, data.times), t), -1, 0) for t in parts]
    grad = np.zeros(len(theta))
    for st in data.stacks:
        S = sigmas[st.group[:, None, None], st.visits[:, :, None], st.visits[:, None, :]]
        Si = np.linalg.inv(S)
        Ub = st.U @ beta
        E = st.V - Ub - np.swapaxes(Ub, 1, 2) + np.einsum("qabpr,p,r->qab", st.T, beta, beta)  # sum e_a e_b
        for g in range(data.n_groups):
            rows = np.flatnonzero(st.group == g)
            if not len(rows):
                continue
            v, Sig = st.visits[rows], Si[rows]
            d1 = D[g][:, v[:, :, None], v[:, None, :]]                     # (k, P, kv, kv)
            A = np.einsum("qac,hqcd,qdb->qhab", Sig, d1, Sig)               # Sigma^-1 V_h Sigma^-1
            block = slice(g * k, (g + 1) * k)
            grad[block] += np.einsum("q,qab,hqba->h", st.count[rows], Sig, d1)    # tr(V^-1 V_h)
            grad[block] -= np.einsum("qhab,qba->h", A, E[rows])                   # e'V^-1 V_h V^-1 e
            if reml:  # - tr(Phi X'V^-1 V_h V^-1 X)
                grad[block] -= np.einsum("qhab,qabpr,rp->h", A, st.T[rows], Phi, optimize=True)
    return dev, grad


def _memory_guard(pattern_sizes: np.ndarray, n_part: int, m: int, p: int) -> None:
    """Refuse, before building them, sufficient statistics that would not fit in memory: per visit
    pattern of k visits, k^2 p^2 numbers (many visits with an arm x visit design grow as m^4)."""
    from ..errors import AnalysisError
    from ..io.files import available_memory

    need = 8 * (float(p) ** 2 * float(np.sum(pattern_sizes.astype(float) ** 2)) + 2.0 * n_part * m * (p + 1))
    available = available_memory()
    if available is not None and need > 0.8 * available:
        raise AnalysisError(f"this MMRM ({m} visits, {p} fixed effects, {len(pattern_sizes)} visit patterns) needs about "
                            f"{need / 2**30:.1f} GiB for its sufficient statistics; {available / 2**30:.1f} GiB are "
                            "available. Map the assessments to fewer planned visits (the study file's visits:), or fit "
                            "a growth model of time instead.")
