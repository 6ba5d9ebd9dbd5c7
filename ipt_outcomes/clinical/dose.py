"""Dose-response: change by sessions attended, and the proportion reliably improved by session.

Attendance is not randomised: people who improve early may stop early (the "good-enough level",
Barkham et al. 2006) and people who do not improve may drop out, so these tables describe, they do
not estimate the effect of more sessions. The caveat travels with the results (``attrs["caveat"]``).
"""

from __future__ import annotations

import pandas as pd

from ..arguments import checked, frame, number, optional, text
from ..errors import AnalysisError
from ..selection import outcome_rows
from ..study import time_column
from .change import Z_RELIABLE, clinical_change

__all__ = ["CAVEAT", "dose_response", "improvement_by_session"]

CAVEAT = ("Sessions attended were not randomised: early improvers may stop early and non-improvers may drop "
          "out, so change by dose describes the sample and is not a causal dose-effect estimate.")


@checked(df=frame, outcome=text, reliability=optional(number(0, 1, open_low=True, open_high=True)), dose=text,
         time=optional(text))
def dose_response(df: pd.DataFrame, outcome: str, *, reliability: float | None = None,
                  dose: str = "sessions_attended", time: str | None = None) -> pd.DataFrame:
    """Change from baseline to the last score, by arm and number of sessions attended.

    Returns columns ``arm``, ``sessions_attended``, ``n``, ``mean_change``, ``sd_change``,
    ``percent_reliably_improved``, ``percent_recovered``.
    """
    if dose not in df.columns:
        raise AnalysisError(f"column {dose!r} is needed for dose-response; add the number of sessions attended.")
    import warnings

    from ..errors import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        cc = clinical_change(df, outcome, reliability=reliability, time=time)
    given = df[["participant_id", dose]]
    doses = given[given[dose].notna()].drop_duplicates("participant_id").set_index("participant_id")[dose]  # first given
    cc = cc.assign(sessions_attended=cc["participant_id"].map(doses)).dropna(subset=["change", "sessions_attended"])
    cc["improved"] = cc["reliable_improvement"].astype(bool)
    cc["recovered"] = cc["category"] == "recovered"
    table = cc.groupby(["arm", "sessions_attended"]).agg(
        n=("change", "size"), mean_change=("change", "mean"), sd_change=("change", "std"),
        percent_reliably_improved=("improved", "mean"), percent_recovered=("recovered", "mean")).reset_index()
    table[["percent_reliably_improved", "percent_recovered"]] *= 100
    table["sessions_attended"] = table["sessions_attended"].astype(int)
    table.attrs["caveat"] = CAVEAT
    return table


@checked(df=frame, outcome=text, reliability=optional(number(0, 1, open_low=True, open_high=True)),
         time=optional(text))
def improvement_by_session(df: pd.DataFrame, outcome: str, *, reliability: float | None = None,
                           time: str | None = None) -> pd.DataFrame:
    """Per arm and session: share of participants observed there who are reliably improved at it,
    and who have been reliably improved at it or any earlier session (Howard et al. 1986 style).

    Returns ``arm``, ``session``, ``n_observed``, ``percent_improved_at``, ``percent_improved_by``.
    """
    import warnings

    from ..errors import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        settings = clinical_change(df, outcome, reliability=reliability, time=time).attrs["settings"]
    time = time_column(df, time).column
    rc = Z_RELIABLE * settings["s_diff"]
    sign = -1.0 if settings["higher_is"] == "worse" else 1.0
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time]).assign(
        score=lambda d: pd.to_numeric(d["score"], errors="coerce"), _t=lambda d: pd.to_numeric(d[time], errors="coerce"))
    data = data.dropna(subset=["score"])
    base = data[data["_t"] == 0].groupby("participant_id")["score"].first()
    post = data[data["_t"] > 0].assign(_b=lambda d: d["participant_id"].map(base)).dropna(subset=["_b"])
    post = post.sort_values(["participant_id", "_t"])
    post["_improved"] = sign * (post["score"] - post["_b"]) > rc  # as |RCI| > 1.96
    post["_ever"] = post.groupby("participant_id")["_improved"].cummax()
    table = post.groupby(["arm", "_t"]).agg(n_observed=("_improved", "size"), percent_improved_at=("_improved", "mean"),
                                             percent_improved_by=("_ever", "mean")).reset_index()
    table = table.rename(columns={"_t": time})
    table[["percent_improved_at", "percent_improved_by"]] *= 100
    table.attrs["caveat"] = CAVEAT
    return table
