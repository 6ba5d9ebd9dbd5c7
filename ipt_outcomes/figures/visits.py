"""Observed scores placed at planned visits, for figures of observed means.

IPT courses are planned as ranges (12 to 16 sessions), so participants end treatment at different
sessions. Means at session 13, 14, 15 and 16 are then means of ever smaller and different groups of
people, and a line through them zig-zags. Here:

1. assessment times are mapped to the study's planned visits when the study file has ``visits:``
   windows (as the MMRM does);
2. when the end of treatment varies (no single last time holds 80 % of those who completed), each
   participant's last score at or after the completer threshold is one point, *End of treatment*,
   placed at the median of those last times; their earlier scores in that range are not shown;
3. a time held by fewer than 10 % of the participants of the busiest time (or by one person) is an
   assessment off the plan and is left out of the means.

Every choice is stated in ``note`` (the figure shows it), with the counts it affected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..selection import outcome_rows
from ..study import Study

__all__ = ["PlannedVisits", "planned_visits"]

#: a last time held by at least this share of completers is a fixed end of treatment (not binned)
FIXED_END_SHARE = 0.8
#: a time with fewer participants than this share of the busiest time's is off the plan
THIN_SHARE = 0.1


@dataclass
class PlannedVisits:
    """``data``: participant_id, arm, score, x (plotted time), visit (label); ``end``: the binned
    end of treatment (x, first and last time) or None; ``note``: what was done, for the figure."""

    data: pd.DataFrame
    end: tuple[float, float, float] | None
    note: str
    dropped_thin: list[float]


def planned_visits(df: pd.DataFrame, outcome: str, time: str, study: Study | None = None,
                   complete_from: float | None = None) -> PlannedVisits:
    """Scores of ``outcome`` at planned visits (see the module docstring)."""
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time]).dropna(subset=["score"])
    data = data.assign(participant_id=data["participant_id"].astype(str), arm=data["arm"].astype(str),
                       score=pd.to_numeric(data["score"], errors="coerce"),
                       t=pd.to_numeric(data[time], errors="coerce").astype(float)).dropna(subset=["score", "t"])
    notes = []
    if study is not None and study.visits:
        placed = data["t"] == 0
        mapped = data["t"].copy()
        for visit, (lo, hi) in study.visits.items():
            inside = (data["t"] >= lo) & (data["t"] <= hi)
            mapped[inside] = float(visit)
            placed |= inside
        off = int((~placed).sum())
        data = data.assign(t=mapped)[placed]
        notes.append("times mapped to the planned visits of the study file's visits: windows"
                     + (f"; {off} assessment(s) outside every window left out" if off else ""))
    end = None
    if complete_from is None:
        from ..missing.sensitivity import completer_threshold

        complete_from = completer_threshold(df, outcome, time, study)[0]
    last = data.groupby("participant_id")["t"].max()
    ends = last[(last >= complete_from) & (last > 0)]
    if len(ends) and ends.nunique() > 1 and ends.value_counts().iloc[0] < FIXED_END_SHARE * len(ends):
        late = data["t"] >= complete_from
        is_last = data["t"] == data["participant_id"].map(last)
        x_end = float(np.median(ends))
        lo, hi = float(ends.min()), float(ends.max())
        dropped = int((late & ~is_last).sum())
        data = data[~late | is_last].copy()
        data.loc[data["t"] >= complete_from, "t"] = x_end
        end = (x_end, lo, hi)
        notes.append(f"end of treatment varies ({time} {lo:g} to {hi:g}): each participant's last score at {time} "
                     f"{complete_from:g} or later is one point at {time} {x_end:g} (the median end); "
                     f"{dropped} earlier score(s) in that range are not in the means")
    per_time = data.groupby("t")["participant_id"].nunique()
    floor = max(2.0, THIN_SHARE * float(per_time.max())) if len(per_time) else 2.0
    thin = [float(t) for t, n in per_time.items() if n < floor and (end is None or t != end[0])]
    if thin:
        data = data[~data["t"].isin(thin)]
        notes.append(f"{len(thin)} {time}(s) held by fewer than {floor:.0f} participants (under 10 % of the busiest) "
                     f"left out: {', '.join(f'{t:g}' for t in thin[:8])}{' ...' if len(thin) > 8 else ''}")
    label = data["t"].map(lambda t: f"{time} {t:g}")
    if end is not None:
        label = label.where(data["t"] != end[0], f"end of treatment ({time} {end[1]:g}\u2013{end[2]:g})")
    out = pd.DataFrame({"participant_id": data["participant_id"], "arm": data["arm"], "score": data["score"],
                        "x": data["t"], "visit": label})
    return PlannedVisits(out, end, "; ".join(notes), thin)
