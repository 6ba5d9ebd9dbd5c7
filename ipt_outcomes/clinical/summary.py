"""Clinical-change summaries by arm: counts, percentages, risk differences, odds ratios and NNT.

- Risk difference with Newcombe's hybrid score interval (method 10; Newcombe 1998).
- Odds ratio with Woolf's logit interval; 0.5 is added to every cell when one is empty (Haldane).
- Number needed to treat ``NNT = 1 / RD`` with the interval ``1 / (RD limits)`` (Altman 1998):
  when the RD interval spans 0 the NNT interval runs from NNT(benefit) through infinity to
  NNT(harm), written with a negative number for harm.

References: Newcombe RG (1998) Stat Med 17:873-890, doi:10.1002/(SICI)1097-0258(19980430)17:8<873::AID-SIM779>3.0.CO;2-I;
Altman DG (1998) BMJ 317:1309-1312, doi:10.1136/bmj.317.7168.1309.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..arguments import checked, frame, level, optional, text
from ..arms import choose_reference_arm
from ..errors import ArgumentError

__all__ = [
    "SUMMARY_OUTCOMES",
    "number_needed_to_treat",
    "odds_ratio",
    "risk_difference",
    "summarise_change",
    "wilson_interval",
]

#: binary outcomes summarised (column of the clinical-change table or derived from ``category``)
SUMMARY_OUTCOMES = ("reliable_improvement", "recovered", "deteriorated", "response", "remission")


def wilson_interval(x: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion x/n."""
    if n == 0:
        return math.nan, math.nan
    z = stats.norm.ppf(0.5 + level / 2)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def risk_difference(x1: int, n1: int, x0: int, n0: int, level: float = 0.95) -> tuple[float, float, float]:
    """p1 - p0 with Newcombe's hybrid score interval.

    >>> [round(v, 4) for v in risk_difference(56, 70, 48, 80)]  # Newcombe (1998), example (a)
    [0.2, 0.0524, 0.3339]
    """
    p1, p0 = x1 / n1, x0 / n0
    l1, u1 = wilson_interval(x1, n1, level)
    l0, u0 = wilson_interval(x0, n0, level)
    rd = p1 - p0
    return rd, rd - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), rd + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)


def odds_ratio(x1: int, n1: int, x0: int, n0: int, level: float = 0.95) -> tuple[float, float, float]:
    """Odds ratio with Woolf's interval (Haldane's 0.5 added to every cell if one is zero)."""
    a, b, c, d = float(x1), float(n1 - x1), float(x0), float(n0 - x0)
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    log_or = math.log(a * d / (b * c))
    se = math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    z = stats.norm.ppf(0.5 + level / 2)
    return math.exp(log_or), math.exp(log_or - z * se), math.exp(log_or + z * se)


def number_needed_to_treat(rd: float, lower: float, upper: float) -> tuple[float, float, float, str]:
    """NNT and its interval from a risk difference (positive RD = benefit of the arm).

    Returns ``(nnt, ci_lower, ci_upper, text)``; negative values are numbers needed to harm.
    """
    nnt = math.inf if rd == 0 else 1 / rd
    if lower > 0 or upper < 0:
        lo, hi = sorted((1 / upper, 1 / lower))
        kind = "NNTB" if rd > 0 else "NNTH"
        text = f"{kind} {abs(nnt):.1f} ({abs(lo):.1f} to {abs(hi):.1f})" if rd > 0 else \
            f"{kind} {abs(nnt):.1f} ({abs(hi):.1f} to {abs(lo):.1f})"
        return nnt, lo, hi, text
    benefit = math.inf if upper == 0 else 1 / upper
    harm = -math.inf if lower == 0 else 1 / lower
    head = f"NNTB {nnt:.1f}" if rd > 0 else (f"NNTH {abs(nnt):.1f}" if rd < 0 else "NNT infinite")
    return nnt, benefit, harm, f"{head} (NNTB {benefit:.1f} to infinity to NNTH {abs(harm):.1f})"


def _binary(cc: pd.DataFrame, outcome: str) -> pd.Series:
    if outcome == "recovered":
        return cc["category"].map(lambda c: None if c is None or c != c else c == "recovered")
    if outcome == "deteriorated":
        return cc["category"].map(lambda c: None if c is None or c != c else c == "deteriorated")
    return cc[outcome]


@checked(cc=frame, reference_arm=optional(text), level=level)
def summarise_change(cc: pd.DataFrame, reference_arm: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Counts and percentages per arm and comparisons with the reference arm, one row per arm x outcome.

    Columns: ``outcome``, ``arm``, ``n``, ``count``, ``percent``, ``n_missing``, and against the
    reference arm ``risk_difference``, ``rd_ci_lower``, ``rd_ci_upper``, ``odds_ratio``,
    ``or_ci_lower``, ``or_ci_upper``, ``nnt``, ``nnt_ci_lower``, ``nnt_ci_upper``, ``nnt_text``
    (missing on the reference arm's rows). For ``deteriorated`` a positive risk difference is harm,
    so its NNT is a number needed to harm.
    """
    missing = [c for c in ("arm", "reliable_improvement") if c not in cc.columns]
    if missing:
        raise ArgumentError(f"summarise_change() needs the table ipt.clinical_change() returns; this one lacks "
                            f"{', '.join(missing)}.")
    arms = sorted(cc["arm"].dropna().astype(str).unique())
    reference = choose_reference_arm(arms, reference_arm, cc.attrs.get("ipt_study"))
    reference_arm = reference.arm
    rows = []
    for outcome in SUMMARY_OUTCOMES:
        flags = _binary(cc, outcome)
        counts = {}
        for arm in arms:
            f = flags[cc["arm"].astype(str) == arm]
            known = f.dropna().astype(bool)
            counts[arm] = (int(known.sum()), len(known), int(f.isna().sum()))
        if all(n == 0 for _, n, _ in counts.values()):
            continue
        x0, n0, _ = counts[reference_arm]
        for arm in arms:
            x, n, miss = counts[arm]
            row = {"outcome": outcome, "arm": arm, "n": n, "count": x, "percent": 100 * x / n if n else np.nan,
                   "n_missing": miss}
            if arm != reference_arm and n and n0:
                rd, rl, ru = risk_difference(x, n, x0, n0, level)
                oratio, ol, ou = odds_ratio(x, n, x0, n0, level)
                sign = -1.0 if outcome == "deteriorated" else 1.0
                nnt, nl, nu, text = number_needed_to_treat(sign * rd, *sorted((sign * rl, sign * ru)))
                row.update(risk_difference=rd, rd_ci_lower=rl, rd_ci_upper=ru, odds_ratio=oratio, or_ci_lower=ol,
                           or_ci_upper=ou, nnt=nnt, nnt_ci_lower=nl, nnt_ci_upper=nu, nnt_text=text)
            rows.append(row)
    columns = ["outcome", "arm", "n", "count", "percent", "n_missing", "risk_difference", "rd_ci_lower",
               "rd_ci_upper", "odds_ratio", "or_ci_lower", "or_ci_upper", "nnt", "nnt_ci_lower", "nnt_ci_upper",
               "nnt_text"]
    out = pd.DataFrame(rows).reindex(columns=columns)
    out.attrs["reference_arm"] = reference_arm
    out.attrs["reference_statement"] = reference.statement
    return out
