"""Missing-data patterns: last observed session by arm, and retention (dropout) curves."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..arguments import checked, frame, optional, text
from ..errors import AnalysisError
from ..selection import outcome_rows
from ..study import time_column

__all__ = ["last_observed", "retention"]


def _scores(df: pd.DataFrame, outcome: str, time: str) -> pd.DataFrame:
    time = time_column(df, time).column
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    if len(data) == 0:
        raise AnalysisError(f"no rows for outcome {outcome!r}.")
    return data.assign(score=pd.to_numeric(data["score"], errors="coerce"), _t=pd.to_numeric(data[time], errors="coerce"))


@checked(df=frame, outcome=text, time=optional(text))
def last_observed(df: pd.DataFrame, outcome: str, time: str | None = None) -> pd.DataFrame:
    """Per arm: how many participants had their last observed score at each time.

    Returns ``arm``, ``last_time``, ``n``, ``percent`` (of the arm's participants); participants
    with no observed score at all have ``last_time`` missing.
    """
    data = _scores(df, outcome, time)
    arms = data.groupby("participant_id")["arm"].first()
    last = data.dropna(subset=["score"]).groupby("participant_id")["_t"].max()
    per = pd.DataFrame({"arm": arms, "last_time": last.reindex(arms.index)})
    table = per.groupby(["arm", "last_time"], dropna=False).size().rename("n").reset_index()
    table["percent"] = 100 * table["n"] / table.groupby("arm")["n"].transform("sum")
    return table


@checked(df=frame, outcome=text, time=optional(text))
def retention(df: pd.DataFrame, outcome: str, time: str | None = None) -> pd.DataFrame:
    """Per arm and time: participants still providing data (a score at this time or later).

    Returns ``arm``, ``time``, ``n_randomised``, ``n_retained``, ``percent_retained``, ``n_observed``
    (a score at exactly this time).
    """
    data = _scores(df, outcome, time)
    arms = data.groupby("participant_id")["arm"].first().dropna()  # as the arm of a participant everywhere
    observed = data.dropna(subset=["score"])
    last = observed.groupby("participant_id")["_t"].max().reindex(arms.index).to_numpy(float)
    times = np.sort(data["_t"].dropna().unique())
    # participants observed at each time (each participant once per time), by position in ``arms``
    seen = observed[["participant_id", "_t"]].dropna().drop_duplicates()
    seen_pos = arms.index.get_indexer(seen["participant_id"])
    seen_t = seen["_t"].to_numpy(float)[seen_pos >= 0]
    seen_pos = seen_pos[seen_pos >= 0]
    rows = []
    arm_values = arms.to_numpy(dtype=object)
    for arm in sorted(arms.unique()):
        in_arm = arm_values == arm
        n = int(in_arm.sum())
        arm_last = np.sort(last[in_arm][~np.isnan(last[in_arm])])
        retained = len(arm_last) - np.searchsorted(arm_last, times, side="left")  # last observed >= t
        at = seen_t[in_arm[seen_pos]]
        observed_at = np.searchsorted(np.sort(at), times, side="right") - np.searchsorted(np.sort(at), times, side="left")
        for t, r, o in zip(times, retained, observed_at, strict=True):
            rows.append({"arm": arm, "time": float(t), "n_randomised": n, "n_retained": int(r),
                         "percent_retained": 100 * int(r) / n, "n_observed": int(o)})
    return pd.DataFrame(rows)
