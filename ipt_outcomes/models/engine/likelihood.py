"""(RE)ML deviance of a linear mixed model with participant and optional therapist random effects.

The model is ``y = X b + Z_p u_p + z_t u_t + e`` with ``u_p ~ N(0, G)`` per participant (G is 1x1 or
2x2: intercept and time), ``u_t ~ N(0, g_t)`` per therapist and ``e ~ N(0, s2 I)``. Everything is
computed from per-participant sufficient statistics (with a therapist component through
:mod:`.nested`, participants nested in therapists). Used by both engines and to compute
Satterthwaite degrees of freedom (as lmerTest does, Kuznetsova et al. 2017).

``varpar`` (covariance scale) is ``[G00, (G01, G11,) g_t?, s2]``.

References: Bates D, Maechler M, Bolker B, Walker S (2015) J Stat Softw 67(1):1-48,
doi:10.18637/jss.v067.i01 (section 3, REML criterion).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .nested import nested_forms, nested_statistics
from .statistics import LOG_2PI, pattern_statistics, quadratic_forms, sufficient_statistics

__all__ = ["Evaluation", "MixedData", "evaluate", "evaluate_relative", "sufficient_statistics", "unpack"]

@dataclass(frozen=True)
class MixedData:
    """Response, designs and groups, sorted into blocks by the outermost grouping factor."""

    y: np.ndarray
    X: np.ndarray
    Z: np.ndarray               # participant random-effect design (n x q)
    participant: np.ndarray     # integer codes
    therapist: np.ndarray | None
    stats: dict[str, np.ndarray] | None = None  # per-participant sufficient statistics (no therapist)
    nested: dict[str, np.ndarray] | None = None  # the same with a therapist intercept (participants nested)

    @classmethod
    def build(cls, y: np.ndarray, X: np.ndarray, Z: np.ndarray, participant: np.ndarray,
              therapist: np.ndarray | None = None) -> MixedData:
        y, X, Z = np.asarray(y, float), np.asarray(X, float), np.asarray(Z, float)
        participant = np.asarray(participant)
        if therapist is None:
            return cls(y=y, X=X, Z=Z, participant=participant, therapist=None,
                       stats=sufficient_statistics(y, X, Z, participant))
        therapist = np.asarray(therapist)
        nested = nested_statistics(y, X, Z, participant, therapist)
        if nested is None:
            from ...errors import AnalysisError

            raise AnalysisError("a participant is seen by more than one therapist: the therapist component needs "
                                "participants nested in therapists (one therapist per participant). Validate the "
                                "data to see which participants, or fit without the therapist component.")
        return cls(y=y, X=X, Z=Z, participant=participant, therapist=therapist, nested=nested)

    @property
    def q(self) -> int:
        return self.stats["ZZ"].shape[1] if self.stats is not None else self.Z.shape[1]

    @property
    def n_obs(self) -> int:
        """Number of observations (rows), also when only sufficient statistics are kept."""
        return round(float(self.stats["n"].sum())) if self.stats is not None else len(self.y)

    @property
    def p(self) -> int:
        return self.stats["XX"].shape[0] if self.stats is not None else self.X.shape[1]

    def shifted(self, beta0: np.ndarray) -> MixedData:
        """The same model for the response ``y - X beta0``: every deviance and ``Var(beta)`` are
        unchanged and ``beta`` moves by ``-beta0``, but with ``beta0`` the estimate the sums of
        squares no longer cancel, so the deviance is evaluated to near machine precision (what
        numerical second derivatives need)."""
        beta0 = np.asarray(beta0, float)
        if len(self.y):
            y = self.y - self.X @ beta0
            if self.therapist is not None or self.stats is None:
                return MixedData.build(y, self.X, self.Z, self.participant, self.therapist)
            # X and Z are unchanged: only the sums with y are made again, from the rows (for precision)
            st = dict(self.stats)
            st["Zy"] = np.stack([np.bincount(self.participant, self.Z[:, a] * y, len(st["n"]))
                                 for a in range(self.q)], axis=1).reshape(len(st["n"]), self.q)
            st["Xy"], st["yy"] = self.X.T @ y, np.array(float(y @ y))
            if "pattern_T" in st:
                st.update(pattern_statistics(st["ZZ"], st["ZX"], st["Zy"], T=st["pattern_T"]))
            return MixedData(y=y, X=self.X, Z=self.Z, participant=self.participant, therapist=None, stats=st)
        st = dict(self.stats or {})
        st["Zy"] = st["Zy"] - np.einsum("gqp,p->gq", st["ZX"], beta0)
        st["yy"] = np.array(float(st["yy"]) - 2.0 * float(beta0 @ st["Xy"]) + float(beta0 @ st["XX"] @ beta0))
        st["Xy"] = st["Xy"] - st["XX"] @ beta0
        for key in ("pattern_ZZ", "pattern_count", "pattern_T", "pattern_U", "pattern_V"):
            st.pop(key, None)
        return MixedData.from_statistics(st)

    @classmethod
    def from_statistics(cls, stats: dict[str, np.ndarray]) -> MixedData:
        """A participant-only model known only through its sufficient statistics (e.g. combined
        from data partitions); patterns are derived here."""
        stats = dict(stats)
        stats.update(pattern_statistics(stats["ZZ"], stats["ZX"], stats["Zy"]))
        empty = np.empty(0)
        return cls(y=empty, X=np.empty((0, stats["XX"].shape[0])), Z=np.empty((0, stats["ZZ"].shape[1])),
                   participant=np.empty(0, int), therapist=None, stats=stats)


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


def _evaluate_stats(data: MixedData, G: np.ndarray, s2: float, reml: bool) -> Evaluation:
    """Participant-only model, by Woodbury and Sylvester identities on q x q blocks:
    V_i^-1 = (I - Z_i K_i Z_i') / s2 with K_i = G (s2 I + Z_i'Z_i G)^-1, and
    log|V_i| = n_i log s2 + log|I + Z_i'Z_i G / s2|."""
    st = data.stats
    assert st is not None
    p, q = data.p, data.q
    if s2 <= 0:
        return _failed(p)
    lam = _psd_cholesky(G / s2)
    if lam is not None:  # closed-form 1x1 / 2x2 algebra of the fast engine
        return evaluate_relative(data, lam, s2, reml)
    MG = st["ZZ"] @ G                                   # (N, q, q)
    sign, logdet_c = np.linalg.slogdet(np.eye(q) + MG / s2)
    if np.any(sign <= 0):
        return _failed(p)
    try:
        K = G @ np.linalg.inv(s2 * np.eye(q) + MG)       # (N, q, q)
    except np.linalg.LinAlgError:
        return _failed(p)
    KZX = K @ st["ZX"]                                   # (N, q, p)
    KZy = np.einsum("nab,nb->na", K, st["Zy"])
    xtvx = (st["XX"] - np.einsum("nqp,nqr->pr", st["ZX"], KZX)) / s2
    xtvy = (st["Xy"] - np.einsum("nqp,nq->p", st["ZX"], KZy)) / s2
    ytvy = (float(st["yy"]) - float(np.einsum("nq,nq->", st["Zy"], KZy))) / s2
    logdet = float(np.sum(st["n"]) * np.log(s2) + np.sum(logdet_c))
    return _finish(xtvx, xtvy, ytvy, logdet, data.n_obs, reml)


def evaluate_relative(data: MixedData, lam: np.ndarray, s2: float, reml: bool) -> Evaluation:
    """Participant-only model at lme4's parameters: ``Lambda`` (the relative Cholesky factor,
    ``G = s2 Lambda Lambda'``, any sign) and the residual variance ``s2``; closed-form 1x1 / 2x2
    algebra of the fast engine."""

    st = data.stats
    if st is None:
        raise ValueError("evaluate_relative needs participant-level sufficient statistics")
    if not s2 > 0:
        return _failed(data.p)
    xtvx, xtvy, ytvy, logdet_rel = quadratic_forms(st, lam)
    n = data.n_obs
    return _finish(xtvx / s2, xtvy / s2, ytvy / s2, n * math.log(s2) + logdet_rel, n, reml)


def _psd_cholesky(G: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor of a positive semi-definite 1x1 or 2x2 matrix; None if it is not PSD."""
    if G.shape == (1, 1):
        return np.sqrt(G) if G[0, 0] >= 0 else None
    g00, g01, g11 = G[0, 0], G[0, 1], G[1, 1]
    if g00 < 0 or g11 < 0:
        return None
    if g00 == 0:
        return np.array([[0.0, 0.0], [0.0, math.sqrt(g11)]]) if g01 == 0 else None
    l00 = math.sqrt(g00)
    l10 = g01 / l00
    rest = g11 - l10 * l10
    if rest < -1e-12 * max(g11, 1e-300):
        return None
    return np.array([[l00, 0.0], [l10, math.sqrt(max(rest, 0.0))]])


def _failed(p: int) -> Evaluation:
    return Evaluation(np.inf, np.full(p, np.nan), np.full((p, p), np.nan), np.full((p, p), np.nan))


def _finish(xtvx: np.ndarray, xtvy: np.ndarray, ytvy: float, logdet: float, n: int, reml: bool) -> Evaluation:
    p = len(xtvy)
    try:
        C = np.linalg.cholesky(xtvx)
    except np.linalg.LinAlgError:
        return _failed(p)
    beta = np.linalg.solve(xtvx, xtvy)
    rss = ytvy - float(beta @ xtvy)
    if reml:
        deviance = (n - p) * LOG_2PI + logdet + 2.0 * float(np.sum(np.log(np.diag(C)))) + rss
    else:
        deviance = n * LOG_2PI + logdet + rss
    return Evaluation(float(deviance), beta, np.linalg.inv(xtvx), xtvx)


def evaluate(data: MixedData, varpar: np.ndarray, reml: bool = True) -> Evaluation:
    """Deviance, GLS fixed effects and their covariance at the covariance parameters ``varpar``."""
    G, g_t, s2 = unpack(np.asarray(varpar, float), data.q, data.therapist is not None)
    if data.stats is not None:
        return _evaluate_stats(data, G, s2, reml)
    if data.nested is not None:
        lam = _psd_cholesky(G / s2) if s2 > 0 else None
        if lam is None or g_t < 0:
            return _failed(data.X.shape[1])
        xtvx, xtvy, ytvy, logdet_rel = nested_forms(data.nested, lam, g_t / s2)
        n = len(data.y)
        return _finish(xtvx / s2, xtvy / s2, ytvy / s2, n * math.log(s2) + logdet_rel, n, reml)
    raise ValueError("the model data hold neither participant nor nested sufficient statistics")
