"""(RE)ML deviance of a linear mixed model with participant and optional therapist random effects.

The model is ``y = X b + Z_p u_p + z_t u_t + e`` with ``u_p ~ N(0, G)`` per participant (G is 1x1 or
2x2: intercept and time), ``u_t ~ N(0, g_t)`` per therapist and ``e ~ N(0, s2 I)``. The marginal
covariance is block diagonal by the outermost group (therapist when present, else participant), so
the deviance is accumulated block by block. Used to compute Satterthwaite degrees of freedom (as
lmerTest does, Kuznetsova et al. 2017) and to fit models statsmodels cannot (therapist component).

``varpar`` (covariance scale) is ``[G00, (G01, G11,) g_t?, s2]``.

References: Bates D, Maechler M, Bolker B, Walker S (2015) J Stat Softw 67(1):1-48,
doi:10.18637/jss.v067.i01 (section 3, REML criterion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MixedData", "Evaluation", "evaluate", "unpack"]

LOG_2PI = float(np.log(2 * np.pi))


@dataclass(frozen=True)
class MixedData:
    """Response, designs and groups, sorted into blocks by the outermost grouping factor."""

    y: np.ndarray
    X: np.ndarray
    Z: np.ndarray               # participant random-effect design (n x q)
    participant: np.ndarray     # integer codes
    therapist: np.ndarray | None
    blocks: tuple[np.ndarray, ...]  # row indices of each block

    @classmethod
    def build(cls, y: np.ndarray, X: np.ndarray, Z: np.ndarray, participant: np.ndarray,
              therapist: np.ndarray | None = None) -> MixedData:
        outer = therapist if therapist is not None else participant
        order = np.argsort(outer, kind="stable")
        bounds = np.flatnonzero(np.diff(outer[order])) + 1
        blocks = tuple(np.split(order, bounds))
        return cls(y=np.asarray(y, float), X=np.asarray(X, float), Z=np.asarray(Z, float),
                   participant=np.asarray(participant), therapist=None if therapist is None else np.asarray(therapist),
                   blocks=blocks)

    @property
    def q(self) -> int:
        return self.Z.shape[1]

    @property
    def n_varpar(self) -> int:
        return self.q * (self.q + 1) // 2 + (1 if self.therapist is not None else 0) + 1


@dataclass(frozen=True)
class Evaluation:
    deviance: float        # -2 log-likelihood (REML or ML), as in lme4
    beta: np.ndarray       # GLS fixed effects
    vcov_beta: np.ndarray  # (X' V^-1 X)^-1
    xtvx: np.ndarray


def unpack(varpar: np.ndarray, q: int, has_therapist: bool) -> tuple[np.ndarray, float, float]:
    """Split varpar into (G, g_t, s2)."""
    G = np.zeros((q, q))
    if q == 1:
        G[0, 0] = varpar[0]
        k = 1
    else:
        G[0, 0], G[0, 1], G[1, 1] = varpar[0], varpar[1], varpar[2]
        G[1, 0] = G[0, 1]
        k = 3
    g_t = float(varpar[k]) if has_therapist else 0.0
    s2 = float(varpar[-1])
    return G, g_t, s2


def evaluate(data: MixedData, varpar: np.ndarray, reml: bool = True) -> Evaluation:
    """Deviance, GLS fixed effects and their covariance at the covariance parameters ``varpar``."""
    G, g_t, s2 = unpack(np.asarray(varpar, float), data.q, data.therapist is not None)
    p = data.X.shape[1]
    xtvx = np.zeros((p, p))
    xtvy = np.zeros(p)
    ytvy = 0.0
    logdet = 0.0
    for rows in data.blocks:
        Zb = data.Z[rows]
        pid = data.participant[rows]
        same = pid[:, None] == pid[None, :]
        V = (Zb @ G @ Zb.T) * same + s2 * np.eye(len(rows))
        if data.therapist is not None:
            V += g_t
        try:
            L = np.linalg.cholesky(V)
        except np.linalg.LinAlgError:
            return Evaluation(np.inf, np.full(p, np.nan), np.full((p, p), np.nan), xtvx)
        Xw = np.linalg.solve(L, data.X[rows])
        yw = np.linalg.solve(L, data.y[rows])
        xtvx += Xw.T @ Xw
        xtvy += Xw.T @ yw
        ytvy += float(yw @ yw)
        logdet += 2.0 * float(np.sum(np.log(np.diag(L))))
    try:
        C = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError:
        return Evaluation(np.inf, np.full(p, np.nan), np.full((p, p), np.nan), xtvx)
    beta = np.linalg.solve(xtvx, xtvy)
    rss = ytvy - float(beta @ xtvy)
    n = len(data.y)
    if reml:
        deviance = (n - p) * LOG_2PI + logdet + 2.0 * float(np.sum(np.log(np.diag(C)))) + rss
    else:
        deviance = n * LOG_2PI + logdet + rss
    vcov = np.linalg.inv(xtvx)
    return Evaluation(float(deviance), beta, vcov, xtvx)
