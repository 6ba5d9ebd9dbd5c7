"""Participants nested in therapists (or sites): the deviance from per-participant sufficient statistics.

With a random intercept ``u_k ~ N(0, g_t)`` for therapist ``k`` on top of the participant effects,
the relative marginal covariance of therapist ``k``'s rows is ``V_k = D_k + t^2 1 1'`` with
``D_k = blockdiag_i(I + Z_i Lambda Lambda' Z_i')`` over its participants and ``t^2 = g_t / sigma^2``.
By the Sherman-Morrison and matrix-determinant identities,

    V_k^-1 = D_k^-1 - c_k D_k^-1 1 1' D_k^-1,    c_k = t^2 / (1 + t^2 1'D_k^-1 1),
    log|V_k| = sum_i log|C_i| + log(1 + t^2 1'D_k^-1 1),

and ``D_i^-1 = I - Z_i W_i Z_i'`` with ``W_i = Lambda C_i^-1 Lambda'``, ``C_i = I + Lambda' Z_i'Z_i Lambda``.
So every quantity of the criterion is a sum over participants of ``Z'Z``, ``Z'X``, ``Z'y``, ``Z'1``,
``X'1``, ``y'1`` and ``n_i``, then over therapists: one pass over the data, and each evaluation
costs O(participants), in float64 for fitting or long double for numerical derivatives.
"""

from __future__ import annotations

import numpy as np

from ...inference.stacks import congruence
from .statistics import sufficient_statistics

__all__ = ["nested_forms", "nested_statistics"]


def nested_statistics(y: np.ndarray, X: np.ndarray, Z: np.ndarray, participant: np.ndarray,
                      therapist: np.ndarray) -> dict[str, np.ndarray] | None:
    """Per-participant sums for a model with a therapist intercept; None when a participant is seen
    with more than one therapist (not nested: the caller falls back to dense blocks)."""
    n_groups = int(participant.max()) + 1 if len(participant) else 0
    first = np.full(n_groups, -1)
    first[participant[::-1]] = therapist[::-1]
    if np.any(first[participant] != therapist):
        return None
    st = {k: v for k, v in sufficient_statistics(y, X, Z, participant).items() if not k.startswith("pattern_")}
    st["Z1"] = np.column_stack([np.bincount(participant, Z[:, a], n_groups) for a in range(Z.shape[1])])
    st["X1"] = np.column_stack([np.bincount(participant, X[:, b], n_groups) for b in range(X.shape[1])])
    st["y1"] = np.bincount(participant, y, n_groups)
    st["therapist_of"] = first
    st["n_therapists"] = np.array(int(therapist.max()) + 1)
    return st


def _inverse_small(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse and determinant of a stack of 1x1 or 2x2 matrices (any float dtype)."""
    if C.shape[1] == 1:
        return 1.0 / C, C[:, 0, 0]
    det = C[:, 0, 0] * C[:, 1, 1] - C[:, 0, 1] * C[:, 1, 0]
    inv = np.empty_like(C)
    inv[:, 0, 0], inv[:, 1, 1] = C[:, 1, 1] / det, C[:, 0, 0] / det
    inv[:, 0, 1], inv[:, 1, 0] = -C[:, 0, 1] / det, -C[:, 1, 0] / det
    return inv, det


def _by_therapist(values: np.ndarray, index: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n, *values.shape[1:]), dtype=values.dtype)
    np.add.at(out, index, values)  # keeps long double (bincount would round to float64)
    return out


def nested_forms(st: dict[str, np.ndarray], lam: np.ndarray, t2: float) -> tuple[np.ndarray, np.ndarray, float, float]:
    """X'V^-1X, X'V^-1y, y'V^-1y and log|V| of the relative covariance (sigma^2 = 1)."""
    q = lam.shape[0]
    C = np.eye(q, dtype=lam.dtype) + congruence(lam, st["ZZ"])
    Cinv, det = _inverse_small(C)
    W = congruence(lam.T, Cinv)
    WZX = np.einsum("gab,gbp->gap", W, st["ZX"])
    WZ1 = np.einsum("gab,gb->ga", W, st["Z1"])
    xdx = st["XX"] - np.einsum("gap,gar->pr", st["ZX"], WZX)
    xdy = st["Xy"] - np.einsum("gap,ga->p", WZX, st["Zy"])
    ydy = st["yy"][()] - np.einsum("ga,gab,gb->", st["Zy"], W, st["Zy"])
    d1 = st["n"] - np.einsum("ga,ga->g", st["Z1"], WZ1)
    dX = st["X1"] - np.einsum("gap,ga->gp", st["ZX"], WZ1)
    dy = st["y1"] - np.einsum("ga,ga->g", st["Zy"], WZ1)
    k, nt = st["therapist_of"], int(st["n_therapists"])
    s = _by_therapist(d1, k, nt)
    a = _by_therapist(dX, k, nt)
    b = _by_therapist(dy, k, nt)
    c = t2 / (1.0 + t2 * s)
    xtvx = xdx - np.einsum("k,kp,kr->pr", c, a, a)
    xtvy = xdy - np.einsum("k,kp,k->p", c, a, b)
    ytvy = ydy - np.sum(c * b * b)
    logdet = np.sum(np.log(det)) + np.sum(np.log1p(t2 * s))
    return xtvx, xtvy, ytvy, logdet
