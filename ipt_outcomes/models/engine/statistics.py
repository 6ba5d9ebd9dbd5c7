"""Sufficient statistics of a linear mixed model with participant random effects, and the quadratic
forms of the profiled criterion computed from them (the bottom of the engines).

Per participant ``Z'Z``, ``Z'X``, ``Z'y`` and counts (one pass over the rows), with the totals
``X'X``, ``X'y``, ``y'y``; participants that share ``Z'Z`` share ``C_i`` at every theta, so their
second moments are summed per pattern when that pays. From them, for a relative covariance factor
``Lambda`` (Bates et al. 2015), ``X'V^-1X``, ``X'V^-1y``, ``y'V^-1y`` and ``log|V|`` at sigma^2 = 1,
in closed form for one or two random effects per participant.
"""

from __future__ import annotations

import numpy as np

from ...inference.stacks import congruence

__all__ = ["LOG_2PI", "lambda_matrix", "pattern_statistics", "quadratic_forms", "sufficient_statistics"]

LOG_2PI = float(np.log(2 * np.pi))


def sufficient_statistics(y: np.ndarray, X: np.ndarray, Z: np.ndarray, participant: np.ndarray) -> dict[str, np.ndarray]:
    """Per-participant Z'Z, Z'X, Z'y and counts, plus the totals X'X, X'y, y'y: one pass over the rows."""
    n_groups = int(participant.max()) + 1 if len(participant) else 0
    q, p = Z.shape[1], X.shape[1]
    ZZ = np.zeros((n_groups, q, q))
    ZX = np.zeros((n_groups, q, p))
    Zy = np.zeros((n_groups, q))
    for a in range(q):
        Zy[:, a] = np.bincount(participant, Z[:, a] * y, n_groups)
        for b in range(q):
            ZZ[:, a, b] = np.bincount(participant, Z[:, a] * Z[:, b], n_groups)
        for b in range(p):
            ZX[:, a, b] = np.bincount(participant, Z[:, a] * X[:, b], n_groups)
    out = {"ZZ": ZZ, "ZX": ZX, "Zy": Zy, "n": np.bincount(participant, minlength=n_groups).astype(float),
           "XX": X.T @ X, "Xy": X.T @ y, "yy": np.array(float(y @ y))}
    out.update(pattern_statistics(ZZ, ZX, Zy))
    return out


def pattern_statistics(ZZ: np.ndarray, ZX: np.ndarray, Zy: np.ndarray, max_p: int = 16,
                        T: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Participants with the same ``Z'Z`` share ``C_i`` at every theta. When they are few patterns
    for many participants (session-by-session data), the second moments of ``Z'X`` and ``Z'y``
    summed within each pattern make an evaluation cost independent of the number of participants.
    ``T`` (the moments of ``Z'X`` alone), when known, is kept rather than summed again."""
    n_groups, q, p = ZX.shape
    if n_groups < 1000 or p > max_p:
        return {}
    flat = ZZ.reshape(n_groups, -1)
    index, first = _row_patterns(flat)
    patterns = flat[first]
    n_pat = len(patterns)
    if n_pat > n_groups / 4:
        return {}
    known = T is not None
    T = T if known else np.zeros((n_pat, q, q, p, p))
    U = np.zeros((n_pat, q, q, p))
    V = np.zeros((n_pat, q, q))
    for a in range(q):
        for b in range(q):
            V[:, a, b] = np.bincount(index, Zy[:, a] * Zy[:, b], n_pat)
            for r in range(p):
                U[:, a, b, r] = np.bincount(index, ZX[:, a, r] * Zy[:, b], n_pat)
                for c in range(r, p if not known else r):
                    T[:, a, b, r, c] = np.bincount(index, ZX[:, a, r] * ZX[:, b, c], n_pat)
                    T[:, b, a, c, r] = T[:, a, b, r, c]
    return {"pattern_ZZ": patterns.reshape(n_pat, q, q), "pattern_count": np.bincount(index, minlength=n_pat).astype(float),
            "pattern_T": T, "pattern_U": U, "pattern_V": V}


def _row_patterns(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the distinct rows of a float matrix (in lexicographic order of the rows) and the first
    row of each. Column by column with 1-D ``np.unique``: ``np.unique(axis=0)`` sorts the rows as byte
    strings, ten times slower at a million rows (and it tells 0.0 from -0.0)."""
    codes = np.zeros(len(rows), dtype=np.int64)
    for column in rows.T:
        values, inverse = np.unique(column, return_inverse=True)
        codes = codes * len(values) + inverse.reshape(-1)
        _, codes = np.unique(codes, return_inverse=True)  # dense again: no overflow however many columns
        codes = codes.reshape(-1)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[True, codes[order][1:] != codes[order][:-1]] if len(codes) else np.zeros(0, bool)
    return codes, order[starts]


def lambda_matrix(theta: np.ndarray, q: int) -> np.ndarray:
    if q == 1:
        return np.array([[theta[0]]])
    return np.array([[theta[0], 0.0], [theta[1], theta[2]]])


def _pattern_forms(stats: dict[str, np.ndarray], lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """The same quantities from per-pattern moments: for participants sharing Z'Z = M_g,
    sum_i ZX_i' (Lambda C_g^-1 Lambda') ZX_i = sum_ab W_g[a, b] T_g[a, b] with W_g = Lambda C_g^-1 Lambda'."""
    M = stats["pattern_ZZ"]
    q = M.shape[1]
    C = np.eye(q) + congruence(lam, M)   # Lambda' M_g Lambda + I
    if q == 1:
        det = C[:, 0, 0]
        Cinv = 1.0 / C
    else:
        det = C[:, 0, 0] * C[:, 1, 1] - C[:, 0, 1] * C[:, 1, 0]
        rows = [np.stack([C[:, 1, 1], -C[:, 0, 1]], -1), np.stack([-C[:, 1, 0], C[:, 0, 0]], -1)]
        Cinv = np.stack(rows, 1) / det[:, None, None]
    W = congruence(lam.T, Cinv)
    xtvx = stats["XX"] - np.einsum("gab,gabpr->pr", W, stats["pattern_T"])
    xtvy = stats["Xy"] - np.einsum("gab,gabp->p", W, stats["pattern_U"])
    ytvy = stats["yy"][()] - np.einsum("gab,gab->", W, stats["pattern_V"])
    return xtvx, xtvy, ytvy, np.sum(stats["pattern_count"] * np.log(det))


def quadratic_forms(stats: dict[str, np.ndarray], lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """X'V^-1X, X'V^-1y, y'V^-1y and log|V| for sigma^2 = 1, closed form in q = 1 or 2 (in the
    precision of the statistics: float64, or long double for numerical derivatives)."""
    if "pattern_T" in stats:
        return _pattern_forms(stats, lam)
    ZZ, ZX, Zy = stats["ZZ"], stats["ZX"], stats["Zy"]
    q = ZZ.shape[1]
    if q == 1:
        t2 = lam[0, 0] ** 2
        c = 1.0 + t2 * ZZ[:, 0, 0]
        a = ZX[:, 0, :]
        w = t2 / c
        wa = a * w[:, None]
        xtvx = stats["XX"] - a.T @ wa
        xtvy = stats["Xy"] - wa.T @ Zy[:, 0]
        ytvy = stats["yy"][()] - np.sum(w * Zy[:, 0] ** 2)
        return xtvx, xtvy, ytvy, np.sum(np.log(c))
    l00, l10, l11 = lam[0, 0], lam[1, 0], lam[1, 1]
    m00, m01, m11 = ZZ[:, 0, 0], ZZ[:, 0, 1], ZZ[:, 1, 1]
    # Lambda' M Lambda for Lambda = [[l00, 0], [l10, l11]]
    c00 = 1.0 + l00 * l00 * m00 + 2 * l00 * l10 * m01 + l10 * l10 * m11
    c01 = l00 * l11 * m01 + l10 * l11 * m11
    c11 = 1.0 + l11 * l11 * m11
    det = c00 * c11 - c01 * c01
    a0 = l00 * ZX[:, 0, :] + l10 * ZX[:, 1, :]   # (Lambda' Z'X)_0
    a1 = l11 * ZX[:, 1, :]
    w0 = l00 * Zy[:, 0] + l10 * Zy[:, 1]
    w1 = l11 * Zy[:, 1]
    i00, i01, i11 = c11 / det, -c01 / det, c00 / det
    # sum_i A_i' C_i^-1 A_i with A_i = (a0_i; a1_i), by BLAS products of weighted rows
    b0 = a0 * i00[:, None] + a1 * i01[:, None]
    b1 = a0 * i01[:, None] + a1 * i11[:, None]
    xtvx = stats["XX"] - (a0.T @ b0 + a1.T @ b1)
    xtvy = stats["Xy"] - (b0.T @ w0 + b1.T @ w1)
    ytvy = stats["yy"][()] - np.sum(i00 * w0 * w0 + 2 * i01 * w0 * w1 + i11 * w1 * w1)
    return xtvx, xtvy, ytvy, np.sum(np.log(det))
