"""Influence of each participant on the fixed effects: Cook's distance by deleting the participant.

With the variance parameters held at their estimates (as HLMdiag's ``cooks.distance`` for a mixed
model; Christensen, Pearson & Johnson 1992, Stat Probab Lett 13:337-345), deleting participant i
changes the GLS estimate by

    b - b_(i) = (A - A_i)^-1 X_i' V_i^-1 (y_i - X_i b),   A = sum_i X_i' V_i^-1 X_i,

and Cook's distance is ``D_i = (b - b_(i))' A (b - b_(i)) / p``. ``V_i^-1`` comes from the
Woodbury identity without inverting G (a singular G is fine):
``V_i^-1 = (I - Z_i G (s2 I + Z_i'Z_i G)^-1 Z_i') / s2``. Every step is a sum over a participant's
rows or a small batched solve, so the cost is O(rows), in chunks of participants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...distinct import row_texts
from ...errors import AnalysisError

__all__ = ["participant_influence"]

CHUNK = 20_000  # participants per batch: bounds the memory of the per-participant matrices


def _g_matrix(fit) -> tuple[np.ndarray, float]:
    vc = fit.variance_components
    terms = list(fit.design.random_terms)
    g = np.zeros((len(terms), len(terms)))
    part = vc[vc["group"] == "participant_id"]
    for r in part.itertuples():
        i = terms.index(r.term1)
        j = i if pd.isna(r.term2) else terms.index(r.term2)
        g[i, j] = g[j, i] = r.estimate
    sigma2 = float(vc.loc[vc["group"] == "Residual", "estimate"].iloc[0])
    return g, sigma2


def participant_influence(fit) -> pd.DataFrame:
    """Cook's distance of each participant on the fixed effects (variance parameters fixed).

    Returns ``participant_id``, ``n_obs``, ``cooks_distance``, sorted as the model's participants.
    Available for the growth model with participant random effects only (not with a therapist
    effect or a formula model, where the random part couples participants or has another shape).
    """
    design = getattr(fit, "design", None)
    if design is None or fit.formula_model is not None or design.therapist is not None:
        raise AnalysisError("participant influence needs the growth model with participant random effects only "
                            "(no therapist effect, no formula model).")
    X, y, Z = design.X, design.y, design.Z
    beta = fit.fixed_effects["estimate"].to_numpy()
    g, s2 = _g_matrix(fit)
    p, q = X.shape[1], Z.shape[1]
    order = np.argsort(design.participant, kind="stable")
    codes = design.participant[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    ids = codes[starts]
    counts = np.diff(np.r_[starts, len(codes)])
    e = y - X @ beta
    A_parts, w_parts = [], []
    for lo in range(0, len(starts), CHUNK):
        hi = min(lo + CHUNK, len(starts))
        rows = order[starts[lo]:starts[hi] if hi < len(starts) else len(order)]
        st = starts[lo:hi] - starts[lo]
        Xr, Zr, er = X[rows], Z[rows], e[rows]

        def total(a: np.ndarray, b: np.ndarray, st: np.ndarray = st) -> np.ndarray:
            return np.add.reduceat(np.einsum("ni,nj->nij", a, b), st, axis=0)

        xx, xz, zz = total(Xr, Xr), total(Xr, Zr), total(Zr, Zr)
        xe = np.add.reduceat(Xr * er[:, None], st, axis=0)
        ze = np.add.reduceat(Zr * er[:, None], st, axis=0)
        n_mat = s2 * np.eye(q) + zz @ g                              # s2 I + Z_i'Z_i G
        k = g @ np.linalg.inv(n_mat)                                 # G (s2 I + Z_i'Z_i G)^-1
        zx = np.transpose(xz, (0, 2, 1))
        A_parts.append((xx - xz @ k @ zx) / s2)                      # X_i' V_i^-1 X_i
        w_parts.append((xe - np.einsum("nij,nj->ni", xz @ k, ze)) / s2)  # X_i' V_i^-1 e_i
    A_i = np.concatenate(A_parts)
    w = np.concatenate(w_parts)
    A = A_i.sum(axis=0)
    try:
        delta = np.linalg.solve(A[None] - A_i, w[..., None])[..., 0]
    except np.linalg.LinAlgError:  # some deletion leaves the fixed effects unidentified: no distance for it
        delta = np.full_like(w, np.nan)
        for i in range(len(w)):
            try:
                delta[i] = np.linalg.solve(A - A_i[i], w[i])
            except np.linalg.LinAlgError:
                pass
    d = np.einsum("ni,ij,nj->n", delta, A, delta) / p
    return pd.DataFrame({"participant_id": row_texts(design.participant_ids, ids), "n_obs": counts,
                         "cooks_distance": d})
