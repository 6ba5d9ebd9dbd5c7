"""Missing-data patterns: last observed session by arm, and retention (dropout) curves."""

from __future__ import annotations

import pandas as pd

from ..arguments import checked, frame, optional, text
from ..errors import AnalysisError
from ..study import time_column

__all__ = ["last_observed", "retention"]


def _scores(df: pd.DataFrame, outcome: str, time: str) -> pd.DataFrame:
    data = df[df["instrument"].astype(str) == outcome] if "instrument" in df.columns else df
    if data.empty:
        raise AnalysisError(f"no rows for outcome {outcome!r}.")
    time = time_column(df, time).column
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
    arms = data.groupby("participant_id")["arm"].first()
    observed = data.dropna(subset=["score"])
    last = observed.groupby("participant_id")["_t"].max().reindex(arms.index)
    times = sorted(data["_t"].dropna().unique())
    rows = []
    for arm, ids in arms.groupby(arms).groups.items():
        n = len(ids)
        arm_obs = observed[observed["participant_id"].isin(ids)]
        for t in times:
            retained = int((last.loc[ids] >= t).sum())
            rows.append({"arm": arm, "time": float(t), "n_randomised": n, "n_retained": retained,
                         "percent_retained": 100 * retained / n,
                         "n_observed": int(arm_obs.loc[arm_obs["_t"] == t, "participant_id"].nunique())})
    return pd.DataFrame(rows)
