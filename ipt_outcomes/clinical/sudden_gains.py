"""Sudden gains in session-by-session scores (Tang and DeRubeis 1999).

A gain between consecutive sessions n-1 and n (an improvement, read by the instrument's direction)
is a sudden gain when:

1. it is at least ``threshold`` points (the original used 7 BDI points; default here: the
   registry's reliable-change points, else the Jacobson-Truax reliable change from the data);
2. it is at least 25 % of the pre-gain score (of its distance from the healthy end of the scale);
3. the mean of the (up to) three scores before the gain differs from the mean of the (up to) three
   scores after it by more than ``t_crit x pooled SD``, with the critical t of df = n_pre + n_post - 2
   (2.776 for 3 + 3 scores, 3.182 for 3 + 2, 4.303 for 2 + 2), as in the suddengains R package.

A gain is reversed when a later score loses at least half of it, i.e. returns to
``pre_gain_score - gain / 2`` or worse.

References: Tang TZ, DeRubeis RJ (1999) J Consult Clin Psychol 67:894-904. doi:10.1037/0022-006X.67.6.894;
Wiedemann M, Thew GR, Stott R, Ehlers A (2020) suddengains: an R package. PLoS ONE 15:e0230276.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ..arguments import checked, frame, number, optional, text
from ..errors import AnalysisError
from ..inference.distributions import t_ppf
from ..registry import Registry
from ..selection import outcome_rows
from ..study import registry_in_force, time_column

__all__ = ["SUDDEN_GAIN_COLUMNS", "sudden_gains"]

SUDDEN_GAIN_COLUMNS = ["participant_id", "arm", "session", "pre_gain_score", "post_gain_score", "gain",
                       "percent_of_pre", "pre_mean", "post_mean", "critical_value", "reversed", "reversal_session"]


@checked(df=frame, outcome=text, threshold=optional(number(0, open_low=True)), time=optional(text),
         percent=number(0, 100, open_low=True, open_high=True),
         reliability=optional(number(0, 1, open_low=True, open_high=True)))
def sudden_gains(df: pd.DataFrame, outcome: str, threshold: float | None = None, *, time: str | None = None,
                 percent: float = 25.0, reliability: float | None = None, registry: Registry | None = None
                 ) -> pd.DataFrame:
    """Find sudden gains; one row per gain (a participant may have several).

    Parameters
    ----------
    df
        Canonical table with session-by-session scores of ``outcome``.
    threshold
        Minimum absolute gain (criterion 1). Default: the registry's ``reliable_change`` points, else
        ``1.96 * sqrt(2) * SD_baseline * sqrt(1 - reliability)``.
    percent
        Minimum gain as a percentage of the pre-gain score (criterion 2).

    Returns
    -------
    pandas.DataFrame
        ``participant_id, arm, session`` (first session after the gain), ``pre_gain_score``,
        ``post_gain_score``, ``gain`` (positive = improvement), ``percent_of_pre``, ``pre_mean``,
        ``post_mean``, ``critical_value``, ``reversed``, ``reversal_session``;
        ``attrs["threshold"]`` is the threshold used and ``attrs["consecutive_pairs"]`` the number of
        pairs of consecutive sessions examined (0: the data are not session by session).
    """
    reg = registry_in_force(df, registry)
    inst = reg[outcome] if outcome in reg else None
    time = time_column(df, time).column
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    data = data.assign(score=pd.to_numeric(data["score"], errors="coerce"), _t=pd.to_numeric(data[time], errors="coerce"))
    data = data.dropna(subset=["score", "_t"]).sort_values(["participant_id", "_t"])
    if data.empty:
        raise AnalysisError(f"no {outcome} scores to look for sudden gains in.")
    worse_high = inst is None or inst.higher_is == "worse"
    if threshold is None:
        threshold = _default_threshold(data, inst, reliability)
    # Criteria 1 and 2 for every pair of consecutive sessions at once; criterion 3 and the reversal
    # for the few pairs that pass them (O(rows), however many participants)
    data = data[data["participant_id"].notna().to_numpy()]  # as groupby: rows without a participant are left out
    pid, names = pd.factorize(data["participant_id"])  # integer codes: no Python object per row
    names = np.asarray(names, dtype=object)
    arm_code, arm_names = pd.factorize(data["arm"]) if "arm" in data.columns else (np.full(len(data), -1), [])
    arm_names = np.append(np.asarray(arm_names, dtype=object), None)  # code -1 (missing) -> None
    t = data["_t"].to_numpy(dtype=float)
    y = data["score"].to_numpy(dtype=float) if worse_high else -data["score"].to_numpy(dtype=float)
    index = np.arange(len(y))
    first = np.r_[True, pid[1:] != pid[:-1]]
    last = np.r_[pid[1:] != pid[:-1], True]
    seg_start = np.maximum.accumulate(np.where(first, index, 0))
    seg_end = np.minimum.accumulate(np.where(last, index + 1, len(y))[::-1])[::-1]
    consecutive = ~first & (t - np.r_[np.nan, t[:-1]] == 1)
    pairs = int(consecutive.sum())
    y_pre = np.r_[np.nan, y[:-1]]
    gain_all = y_pre - y
    base = 0 if inst is None else (inst.min if worse_high else -inst.max)
    level_all = np.abs(y_pre - base)
    candidate = consecutive & ~(gain_all < threshold) & ~(gain_all < percent / 100 * level_all)
    sign = 1 if worse_high else -1
    i = np.flatnonzero(candidate)
    # criterion 3 (Tang & DeRubeis): mean of up to three sessions before the gain minus mean of up to
    # three from it exceeds t(0.975, n_pre + n_post - 2) times their pooled SD; windows stay within
    # the participant, and each needs two sessions
    pre = _window(y, i, range(-3, 0), seg_start, seg_end)
    post = _window(y, i, range(0, 3), seg_start, seg_end)
    n_pre, n_post = np.sum(~np.isnan(pre), axis=1), np.sum(~np.isnan(post), axis=1)
    ok = (n_pre >= 2) & (n_post >= 2)
    i, pre, post, n_pre, n_post = i[ok], pre[ok], post[ok], n_pre[ok], n_post[ok]
    pre_mean, pre_var = _mean_var(pre, n_pre)
    post_mean, post_var = _mean_var(post, n_post)
    df_t = n_pre + n_post - 2
    pooled = np.sqrt(((n_pre - 1) * pre_var + (n_post - 1) * post_var) / df_t)
    crit = t_ppf(0.975, df_t.astype(float)) if len(df_t) else np.zeros(0)
    gained = pre_mean - post_mean > crit * pooled
    i, pre_mean, post_mean, crit = i[gained], pre_mean[gained], post_mean[gained], crit[gained]
    gain = gain_all[i]
    # reversal: a later session of the participant back within half the gain of the pre-gain score
    reversal = np.full(len(i), np.nan)
    limit = y[i - 1] - gain / 2
    for k in range(1, int((seg_end[i] - i).max(initial=1))):
        j = i + k
        inside = j < seg_end[i]
        back = inside & np.isnan(reversal)
        back[back] = y[j[back]] >= limit[back]
        reversal[back] = t[j[back]]
    pre_level = level_all[i]
    with np.errstate(divide="ignore", invalid="ignore"):
        percent_of_pre = np.where(pre_level != 0, 100 * gain / pre_level, np.nan)
    out = pd.DataFrame({
        "participant_id": [str(v) for v in names[pid[i]]], "arm": arm_names[arm_code[seg_start[i]]].tolist(),
        "session": t[i],
        "pre_gain_score": sign * y[i - 1], "post_gain_score": sign * y[i], "gain": gain,
        "percent_of_pre": percent_of_pre, "pre_mean": sign * pre_mean, "post_mean": sign * post_mean,
        "critical_value": crit, "reversed": ~np.isnan(reversal), "reversal_session": reversal,
    }, columns=SUDDEN_GAIN_COLUMNS) if len(i) else pd.DataFrame(columns=SUDDEN_GAIN_COLUMNS)
    out.attrs["threshold"] = float(threshold)
    out.attrs["consecutive_pairs"] = pairs
    return out


def _window(y: np.ndarray, rows: np.ndarray, offsets: range, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``y`` at ``rows + offset`` for each offset (columns), NaN outside the row's participant."""
    out = np.full((len(rows), len(offsets)), np.nan)
    for c, k in enumerate(offsets):
        j = rows + k
        inside = (j >= start[rows]) & (j < end[rows])
        out[inside, c] = y[j[inside]]
    return out


def _mean_var(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row means and variances (ddof 1) of the present values, summed left to right as ``np.var``."""
    mean = np.nansum(x, axis=1) / n
    var = np.nansum((x - mean[:, None]) ** 2, axis=1) / (n - 1)
    return mean, var


def _default_threshold(data: pd.DataFrame, inst: Any, reliability: float | None) -> float:
    if inst is not None and reliability is None and getattr(inst, "reliable_change_points", None):
        return float(inst.reliable_change_points)
    r = reliability if reliability is not None else getattr(inst, "reliability", None)
    if r is None:
        raise AnalysisError("no reliable-change threshold for this instrument; pass threshold= or reliability=.")
    sd0 = float(data.loc[data["_t"] == 0, "score"].std(ddof=1))
    return 1.959963984540054 * math.sqrt(2) * sd0 * math.sqrt(1 - r)
