"""Rubin's rules for pooling estimates from multiply imputed data sets.

``Q = mean(q_i)``, ``W = mean(u_i)`` (within), ``B = var(q_i)`` (between, ddof 1),
``T = W + (1 + 1/m) B``; degrees of freedom of Barnard and Rubin (1999):
``lambda = (1 + 1/m) B / T``, ``v_old = (m - 1) / lambda^2``,
``v_obs = (v_com + 1) / (v_com + 3) * v_com * (1 - lambda)``, ``v = v_old v_obs / (v_old + v_obs)``;
relative increase in variance ``r = (1 + 1/m) B / W`` and fraction of missing information
``fmi = (r + 2 / (v + 3)) / (r + 1)`` (as R's ``mice::pool.scalar``).

References: Rubin DB (1987) Multiple Imputation for Nonresponse in Surveys. Wiley.
Barnard J, Rubin DB (1999) Biometrika 86:948-955. doi:10.1093/biomet/86.4.948
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

from ..arguments import checked, each, level, number, optional
from ..errors import ArgumentError

__all__ = ["pool_rubin"]


@checked(estimates=each(number()), variances=each(number(0)), df_complete=optional(number(0, open_low=True)),
         level=level)
def pool_rubin(estimates: Sequence[float], variances: Sequence[float], df_complete: float | None = None,
               level: float = 0.95) -> dict[str, float]:
    """Pool m estimates and their squared standard errors.

    >>> r = pool_rubin([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])
    >>> r["estimate"], r["within"], r["between"], round(r["total"], 4)
    (2.0, 0.5, 1.0, 1.8333)
    """
    q = np.asarray(estimates, float)
    u = np.asarray(variances, float)
    m = len(q)
    if m < 2:
        raise ArgumentError("pool_rubin() needs at least two imputations (estimates and variances).")
    if len(u) != m:
        raise ArgumentError(f"pool_rubin() needs one variance per estimate; got {m} estimates and {len(u)} variances.")
    qbar = float(q.mean())
    w = float(u.mean())
    b = float(q.var(ddof=1))
    t = w + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    df_old = math.inf if lam == 0 else (m - 1) / lam ** 2
    if df_complete is None:
        df = df_old
    else:
        df_obs = (df_complete + 1) / (df_complete + 3) * df_complete * (1 - lam)
        df = df_obs if math.isinf(df_old) else df_old * df_obs / (df_old + df_obs)
    se = math.sqrt(t)
    crit = float(stats.t.ppf(0.5 + level / 2, df)) if math.isfinite(df) else float(stats.norm.ppf(0.5 + level / 2))
    stat = qbar / se if se > 0 else math.nan
    p = float(2 * (stats.t.sf(abs(stat), df) if math.isfinite(df) else stats.norm.sf(abs(stat))))
    return {"estimate": qbar, "within": w, "between": b, "total": t, "std_error": se, "df": df,
            "lambda": lam, "relative_increase": (1 + 1 / m) * b / w if w > 0 else math.inf,
            "fraction_missing_info": ((1 + 1 / m) * b / w + 2 / (df + 3)) / ((1 + 1 / m) * b / w + 1) if w > 0 else 1.0,
            "statistic": stat, "p_value": p,
            "ci_lower": qbar - crit * se, "ci_upper": qbar + crit * se, "m": m}
