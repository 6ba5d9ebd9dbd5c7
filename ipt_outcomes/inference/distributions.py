"""The few distribution functions the models need, from :mod:`scipy.special`.

``scipy.stats`` takes about a second to import (it builds every distribution object); a model fit
needs only Student's t, the normal and the chi-square, which ``scipy.special`` computes with the
same Cephes routines that ``scipy.stats`` calls for them (``stats.t.sf(x, df)`` is
``stdtr(df, -x)``, ``stats.t.ppf(q, df)`` is ``stdtrit(df, q)``, ``stats.norm.ppf`` is ``ndtri``,
``stats.chi2.sf(x, df)`` is ``chdtrc(df, x)``). Tests compare each with ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def t_sf(x, df):
    """Upper tail of Student's t: ``P(T > x)``; an infinite ``df`` is the normal."""
    return special.stdtr(df, -np.asarray(x, dtype=float))


def t_two_sided(x, df):
    """Two-sided p-value of a t statistic."""
    return 2.0 * t_sf(np.abs(np.asarray(x, dtype=float)), df)


def t_ppf(q, df):
    """Quantile of Student's t."""
    return special.stdtrit(df, np.asarray(q, dtype=float))


def norm_ppf(q):
    """Quantile of the standard normal."""
    return special.ndtri(np.asarray(q, dtype=float))


def norm_sf(x):
    """Upper tail of the standard normal."""
    return special.ndtr(-np.asarray(x, dtype=float))


def chi2_sf(x, df):
    """Upper tail of the chi-square."""
    return special.chdtrc(df, np.asarray(x, dtype=float))
