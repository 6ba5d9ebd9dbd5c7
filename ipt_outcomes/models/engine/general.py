"""lme4's profiled criterion for any random-effect structure, from sufficient statistics.

The grouping factor with the most levels (participants, as a rule) is the *primary* factor: its
random effects are eliminated block by block, one small dense block per level, as the fast engine
does (:mod:`.fast`). The random effects of every other factor (therapists, sites, trials, raters;
nested or crossed) are then eliminated together through one dense system of their total size
``Q2``. With ``V = I + Z1 L1 L1' Z1' + Z2 L2 L2' Z2'`` (relative to ``sigma^2``) and
``D = I + Z1 L1 L1' Z1'``:

    D^-1 = I - Z1 W Z1',  W_i = L1 C_i^-1 L1',  C_i = I + L1' Z1i'Z1i L1
    V^-1 = D^-1 - D^-1 Z2 L2 S^-1 L2' Z2' D^-1,  S = I + L2' Z2'D^-1 Z2 L2
    log|V| = sum_i log|C_i| + log|S|

so every quantity of the criterion (``X'V^-1X``, ``X'V^-1y``, ``y'V^-1y``, ``log|V|``) comes from
per-level sums of the primary factor (``Z1'Z1``, ``Z1'X``, ``Z1'y``), the cross-products ``Z1'Z2``
(sparse: a participant meets few therapists or raters) and ``Z2'Z2``, ``Z2'X``, ``Z2'y``. This is
exact for nested and crossed factors alike; the cost of an evaluation is O(levels of the primary
factor) plus a Cholesky factorisation of size ``Q2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ...errors import AnalysisError
from ...inference.stacks import congruence
from .statistics import LOG_2PI, pattern_statistics, sufficient_statistics
from .structure import RandomStructure

__all__ = ["MAX_DENSE", "GeneralData", "general_deviance", "general_evaluate", "general_forms"]

#: largest number of non-primary random effects eliminated densely (a Q2 x Q2 Cholesky per evaluation)
MAX_DENSE = 4000


@dataclass(frozen=True)
class GeneralData:
    structure: RandomStructure
    primary: int                       # index of the primary factor in structure.factors
    stats: dict[str, np.ndarray]       # per-level sums of the primary factor, and X'X, X'y, y'y
    n_obs: int
    p: int
    #: the non-zero column blocks of Z1'Z2: entry e is level ``cross_level[e]`` of the primary factor
    #: meeting column ``cross_col[e]`` of Z2 with the q1-vector ``cross[e]``; ``pairs`` are the
    #: entries (e1, e2) of one level, every ordered pair
    cross: np.ndarray | None = None
    cross_level: np.ndarray | None = None
    cross_col: np.ndarray | None = None
    pairs: tuple[np.ndarray, np.ndarray] | None = None
    #: the same entries grouped by their cell of Z2'Z2 (pairs) and their column of Z2 (entries)
    pair_cells: tuple[np.ndarray, np.ndarray] | None = None
    col_cells: tuple[np.ndarray, np.ndarray] | None = None
    #: sparse sums of the entries by their level of the primary factor
    entry_by_level: sp.csr_matrix | None = None
    Z2Z2: np.ndarray | None = None
    Z2X: np.ndarray | None = None
    Z2y: np.ndarray | None = None

    @classmethod
    def build(cls, y: np.ndarray, X: np.ndarray, structure: RandomStructure, Zs: list[np.ndarray],
              codes: list[np.ndarray]) -> GeneralData:
        """``Zs[f]`` (n x q_f) and ``codes[f]`` (level of each row, 0..n_levels-1) per factor."""
        y, X = np.asarray(y, float), np.asarray(X, float)
        primary = int(np.argmax([f.n_levels for f in structure.factors]))
        stats = sufficient_statistics(y, X, np.asarray(Zs[primary], float), np.asarray(codes[primary]))
        others = [i for i in range(len(structure.factors)) if i != primary]
        if not others:
            return cls(structure, primary, stats, len(y), X.shape[1])
        q2 = sum(structure.factors[i].q * structure.factors[i].n_levels for i in others)
        if q2 > MAX_DENSE:
            names = ", ".join(structure.factors[i].name for i in others)
            raise AnalysisError(f"the random effects of {names} number {q2}; beyond {MAX_DENSE} (besides those of the "
                                f"factor with most levels, {structure.factors[primary].name}) this engine does not fit them. "
                                "Simplify the random part (fewer terms by those groups).")
        Z2 = _expanded(Zs, codes, structure, others, len(y))
        Z1 = _expanded(Zs, codes, structure, [primary], len(y))
        cross, level, col = _cross_entries((Z1.T @ Z2).tocoo(), structure.factors[primary].q)
        e1, e2 = pairs = _pairs(level)
        return cls(structure, primary, stats, len(y), X.shape[1], cross=cross, cross_level=level, cross_col=col,
                   pairs=pairs, pair_cells=_cells(col[e1] * q2 + col[e2]), col_cells=_cells(col),
                   entry_by_level=_summing(level, structure.factors[primary].n_levels),
                   Z2Z2=(Z2.T @ Z2).toarray(), Z2X=np.asarray(Z2.T @ X), Z2y=np.asarray(Z2.T @ y).ravel())

    @property
    def has_others(self) -> bool:
        return self.cross is not None

    def in_precision(self, dtype: type) -> GeneralData:
        """The same statistics in ``dtype`` (long double for numerical derivatives)."""
        def cast(v: np.ndarray | None) -> np.ndarray | None:
            return None if v is None else np.asarray(v, dtype)

        st = {k: cast(v) for k, v in self.stats.items()}
        return replace(self, stats=st, cross=cast(self.cross), Z2Z2=cast(self.Z2Z2), Z2X=cast(self.Z2X),
                       Z2y=cast(self.Z2y))

    @property
    def other_factors(self) -> list[int]:
        return [i for i in range(len(self.structure.factors)) if i != self.primary]

    def shifted(self, beta0: np.ndarray) -> GeneralData:
        """The model for the response ``y - X beta0`` (see :meth:`.likelihood.MixedData.shifted`)."""
        st = {k: v for k, v in self.stats.items() if not k.startswith("pattern_")}
        beta0 = np.asarray(beta0, st["XX"].dtype)
        st["Zy"] = st["Zy"] - np.einsum("gqp,p->gq", st["ZX"], beta0)
        st["yy"] = np.array(float(st["yy"]) - 2.0 * float(beta0 @ st["Xy"]) + float(beta0 @ st["XX"] @ beta0))
        st["Xy"] = st["Xy"] - st["XX"] @ beta0
        z2y = None if self.Z2y is None else self.Z2y - self.Z2X @ beta0
        st.update(pattern_statistics(st["ZZ"], st["ZX"], st["Zy"]))  # the residuals' patterns
        return replace(self, stats=st, Z2y=z2y)


def _expanded(Zs: list[np.ndarray], codes: list[np.ndarray], structure: RandomStructure, which: list[int],
              n: int) -> sp.csc_matrix:
    """The sparse random-effect design of the factors ``which``: level-major columns (level 0's q
    columns, then level 1's, ...), factors one after the other."""
    rows, cols, vals, offset = [], [], [], 0
    for i in which:
        f, Z, code = structure.factors[i], np.asarray(Zs[i], float), np.asarray(codes[i])
        rows.append(np.repeat(np.arange(n), f.q))
        cols.append((offset + code[:, None] * f.q + np.arange(f.q)[None, :]).ravel())
        vals.append(Z.ravel())
        offset += f.n_levels * f.q
    return sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, offset))


def _cross_entries(B: sp.coo_matrix, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group the non-zeros of Z1'Z2 (rows level * q + a) by (level, column): one q-vector each."""
    level, a = np.divmod(B.row.astype(np.int64), q)
    key = level * B.shape[1] + B.col
    keys, entry = np.unique(key, return_inverse=True)
    cross = np.zeros((len(keys), q))
    np.add.at(cross, (entry.ravel(), a), B.data)
    return cross, keys // B.shape[1], keys % B.shape[1]


def _pairs(level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair of entries of one level (entries sorted by level, as np.unique leaves them)."""
    starts = np.r_[0, np.flatnonzero(np.diff(level)) + 1]
    sizes = np.diff(np.r_[starts, len(level)])
    size_of = np.repeat(sizes, sizes)
    start_of = np.repeat(starts, sizes)
    e1 = np.repeat(np.arange(len(level)), size_of)
    offset = np.arange(len(e1)) - np.repeat(np.cumsum(size_of) - size_of, size_of)
    return e1, np.repeat(start_of, size_of) + offset


def _summing(level: np.ndarray, n_levels: int) -> sp.csr_matrix:
    """The n_levels x len(level) matrix that sums rows by their level."""
    return sp.csr_matrix((np.ones(len(level)), (level, np.arange(len(level)))), shape=(n_levels, len(level)))


def _cells(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``key`` values and each entry's index among them."""
    cells, index = np.unique(key, return_inverse=True)
    return cells, index.ravel()


def _subtract_grouped(target: np.ndarray, cells: tuple[np.ndarray, np.ndarray], values: np.ndarray) -> np.ndarray:
    """A copy of ``target`` with the ``values`` (one row per entry) subtracted from their cells (flat
    indices of ``target``'s leading axes): bincount in float64, np.add.at for long double (bincount
    would round it)."""
    out = target.copy()
    where, index = cells
    flat = out.reshape(-1, *target.shape[target.ndim - values.ndim + 1:]) if values.ndim > 1 else out.reshape(-1)
    if values.dtype == np.float64:
        n = len(where)
        sums = (np.bincount(index, weights=values, minlength=n) if values.ndim == 1 else
                np.stack([np.bincount(index, weights=values[:, j], minlength=n) for j in range(values.shape[1])], 1))
        flat[where] -= sums
    else:
        np.add.at(flat, where[index], -values)
    return out


def _cholesky(A: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor in A's precision (LAPACK for float64; long double by columns)."""
    if A.dtype == np.float64:
        return np.linalg.cholesky(A)
    n = A.shape[0]
    L = np.zeros_like(A)
    for j in range(n):
        d = A[j, j] - L[j, :j] @ L[j, :j]
        if not d > 0:
            raise np.linalg.LinAlgError("not positive definite")
        L[j, j] = np.sqrt(d)
        L[j + 1:, j] = (A[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    return L


def _solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    if L.dtype == np.float64:
        import scipy.linalg

        return scipy.linalg.solve_triangular(L, B, lower=True)
    X = np.zeros_like(B)
    for i in range(L.shape[0]):
        X[i] = (B[i] - L[i, :i] @ X[:i]) / L[i, i]
    return X


def _small_inverse(C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and log-determinants of a stack of small symmetric positive definite matrices."""
    q = C.shape[1]
    if q == 1:
        return 1.0 / C, np.log(C[:, 0, 0])
    if q == 2:
        det = C[:, 0, 0] * C[:, 1, 1] - C[:, 0, 1] * C[:, 1, 0]
        inv = np.empty_like(C)
        inv[:, 0, 0], inv[:, 1, 1] = C[:, 1, 1] / det, C[:, 0, 0] / det
        inv[:, 0, 1], inv[:, 1, 0] = -C[:, 0, 1] / det, -C[:, 1, 0] / det
        return inv, np.log(det)
    L = np.zeros_like(C)  # batched Cholesky by columns (any float precision)
    for j in range(q):
        d = C[:, j, j] - np.einsum("gk,gk->g", L[:, j, :j], L[:, j, :j])
        L[:, j, j] = np.sqrt(d)
        L[:, j + 1:, j] = (C[:, j + 1:, j] - np.einsum("gik,gk->gi", L[:, j + 1:, :j], L[:, j, :j])) / L[:, j, j, None]
    Linv = np.zeros_like(C)  # forward substitution for L^-1
    for i in range(q):
        Linv[:, i, i] = 1.0 / L[:, i, i]
        for j in range(i):
            Linv[:, i, j] = -np.einsum("gk,gk->g", L[:, i, j:i], Linv[:, j:i, j]) / L[:, i, i]
    return np.einsum("gji,gjk->gik", Linv, Linv), 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)


def _weights(M: np.ndarray, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``W = L C^-1 L'`` and ``log|C|`` for each ``C = I + L' M L``."""
    q = lam.shape[0]
    C = np.eye(q, dtype=M.dtype) + congruence(lam, M)
    Cinv, logdet = _small_inverse(C)
    return congruence(lam.T, Cinv), logdet


def general_forms(data: GeneralData, theta: np.ndarray, parts: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray, float, float]:
    """``X'V^-1X``, ``X'V^-1y``, ``y'V^-1y`` and ``log|V|`` of the relative covariance (sigma^2 = 1).
    ``parts`` (a dict) receives the intermediate results the analytic gradient reuses
    (:mod:`.general_gradient`)."""
    lams = data.structure.lambdas(np.asarray(theta, data.stats["XX"].dtype))
    lam1 = lams[data.primary]
    st = data.stats
    parts = {} if parts is None else parts
    parts["lams"] = lams
    if "pattern_T" in st:  # few distinct Z'Z among many levels: sums within each pattern
        W, logdet = _weights(st["pattern_ZZ"], lam1)
        parts["pattern_W"] = W
        xdx = st["XX"] - np.einsum("gab,gabpr->pr", W, st["pattern_T"])
        xdy = st["Xy"] - np.einsum("gab,gabp->p", W, st["pattern_U"])
        ydy = st["yy"][()] - np.einsum("gab,gab->", W, st["pattern_V"])
        logdet_v = np.sum(st["pattern_count"] * logdet)
        if not data.has_others:
            return xdx, xdy, ydy, logdet_v
        W, _ = _weights(st["ZZ"], lam1)
        parts["W"] = W
    else:
        W, logdet = _weights(st["ZZ"], lam1)
        parts["W"] = W
        WZX = np.einsum("gab,gbp->gap", W, st["ZX"])
        WZy = np.einsum("gab,gb->ga", W, st["Zy"])
        xdx = st["XX"] - np.einsum("gap,gar->pr", st["ZX"], WZX)
        xdy = st["Xy"] - np.einsum("gap,ga->p", st["ZX"], WZy)
        ydy = st["yy"][()] - np.einsum("ga,ga->", st["Zy"], WZy)
        logdet_v = np.sum(logdet)
        if not data.has_others:
            return xdx, xdy, ydy, logdet_v
    e1, e2 = data.pairs
    level = data.cross_level
    Q = np.einsum("ea,eab->eb", data.cross, W[level])   # (Z1'Z2 entry)' W of its level
    z2dz2 = _subtract_grouped(data.Z2Z2, data.pair_cells, np.einsum("eb,eb->e", Q[e1], data.cross[e2]))
    z2dx = _subtract_grouped(data.Z2X, data.col_cells, np.einsum("eb,ebp->ep", Q, st["ZX"][level]))
    z2dy = _subtract_grouped(data.Z2y, data.col_cells, np.einsum("eb,eb->e", Q, st["Zy"][level]))
    if all(data.structure.factors[i].q == 1 for i in data.other_factors):  # intercepts only: Lambda_2 diagonal
        d = np.concatenate([np.full(data.structure.factors[i].n_levels, lams[i][0, 0]) for i in data.other_factors])
        S = d[:, None] * z2dz2 * d[None, :]
        S[np.diag_indices_from(S)] += 1.0
        ltx, lty = d[:, None] * z2dx, d * z2dy
        parts["lam2"] = np.diag(d)
    else:
        lam2 = _lambda2(data, lams)
        S = np.eye(len(z2dy), dtype=z2dy.dtype) + lam2.T @ z2dz2 @ lam2
        ltx, lty = lam2.T @ z2dx, lam2.T @ z2dy
        parts["lam2"] = lam2
    chol = _cholesky(S)
    parts.update(z2dz2=z2dz2, z2dx=z2dx, z2dy=z2dy, chol=chol)
    R = _solve_lower(chol, ltx)
    r = _solve_lower(chol, lty[:, None])[:, 0]
    return (xdx - R.T @ R, xdy - R.T @ r, ydy - r @ r, logdet_v + 2.0 * np.sum(np.log(np.diag(chol))))


def _lambda2(data: GeneralData, lams: list[np.ndarray]) -> np.ndarray:
    """Block-diagonal relative factor of the non-primary random effects (dense, Q2 x Q2)."""
    blocks = [np.kron(np.eye(data.structure.factors[i].n_levels), lams[i]) for i in data.other_factors]
    size = sum(b.shape[0] for b in blocks)
    out = np.zeros((size, size), dtype=lams[0].dtype)
    k = 0
    for b in blocks:
        out[k:k + b.shape[0], k:k + b.shape[0]] = b
        k += b.shape[0]
    return out


def general_deviance(theta: np.ndarray, data: GeneralData, reml: bool) -> tuple[float, float]:
    """Profiled deviance and sigma^2 at ``theta`` (+inf where undefined), as :func:`.fast.profiled_deviance`
    but with the residual sum of squares from the Cholesky factor (``r = y'V^-1y - |L^-1 X'V^-1y|^2``):
    along the flat directions of nearly unidentifiable models the optimizer's end point depends on
    this rounding, and this form matches lme4's optimum more closely."""
    try:
        xtvx, xtvy, ytvy, logdet_v = general_forms(data, np.asarray(theta, float))
        chol = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError:
        return math.inf, math.nan
    w = np.linalg.solve(chol, xtvy)
    r = ytvy - float(w @ w)
    if not r > 0:
        return math.inf, math.nan
    n, p = data.n_obs, data.p
    if reml:
        dof = n - p
        return (logdet_v + 2.0 * float(np.sum(np.log(np.diag(chol)))) + dof * (1.0 + LOG_2PI + math.log(r / dof)),
                r / dof)
    return logdet_v + n * (1.0 + LOG_2PI + math.log(r / n)), r / n


def general_evaluate(data: GeneralData, phi: np.ndarray, reml: bool) -> tuple[float, np.ndarray, np.ndarray]:
    """Deviance (not profiled over sigma), fixed effects and ``Var(beta)`` at lme4's ``(theta, sigma)``,
    in the precision of ``data`` (:meth:`GeneralData.in_precision`)."""
    dtype = data.stats["XX"].dtype
    phi = np.asarray(phi, dtype)
    s2 = phi[-1] ** 2
    p = data.p
    failed = (math.inf, np.full(p, np.nan), np.full((p, p), np.nan))
    if not s2 > 0:
        return failed
    try:
        xtvx, xtvy, ytvy, logdet_v = general_forms(data, phi[:-1])
        chol = _cholesky(xtvx)
    except np.linalg.LinAlgError:
        return failed
    w = _solve_lower(chol, xtvy[:, None])[:, 0]
    r = ytvy - w @ w
    n = data.n_obs
    dev = logdet_v + r / s2 + n * np.log(2 * np.pi * s2)
    if reml:
        dev = dev + 2.0 * np.sum(np.log(np.diag(chol))) - p * np.log(2 * np.pi * s2)
    linv = _solve_lower(chol, np.eye(p, dtype=dtype))
    return dev, linv.T @ w, s2 * (linv.T @ linv)
