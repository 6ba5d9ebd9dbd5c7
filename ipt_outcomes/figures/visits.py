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
    """``data``: participant (integer code), arm, score, x (plotted time); ``end``: the binned end of
    treatment (x, first and last time) or None; ``note``: what was done, for the figure; ``time``:
    the time column (for :meth:`label`)."""

    data: pd.DataFrame
    end: tuple[float, float, float] | None
    note: str
    dropped_thin: list[float]
    time: str

    def label(self, x: float) -> str:
        """The reader's name of a plotted time: 'session 4' or 'end of treatment (session 12–16)'."""
        if self.end is not None and x == self.end[0]:
            return f"end of treatment ({self.time} {self.end[1]:g}\u2013{self.end[2]:g})"
        return f"{self.time} {x:g}"


def planned_visits(df: pd.DataFrame, outcome: str, time: str, study: Study | None = None,
                   complete_from: float | None = None) -> PlannedVisits:
    """Scores of ``outcome`` at planned visits (see the module docstring). Vectorised on integer
    participant codes: a million participants take seconds."""
    rows = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    score = pd.to_numeric(rows["score"], errors="coerce").to_numpy(float)
    t = pd.to_numeric(rows[time], errors="coerce").to_numpy(float)
    ok = ~(np.isnan(score) | np.isnan(t))
    codes = pd.factorize(rows["participant_id"])[0][ok]
    arm = rows["arm"].astype(str).to_numpy()[ok] if not isinstance(rows["arm"].dtype, pd.CategoricalDtype) else \
        np.asarray(rows["arm"].cat.categories.astype(str))[rows["arm"].cat.codes.to_numpy()[ok]]
    score, t = score[ok], t[ok]
    notes = []
    if study is not None and study.visits:
        placed = t == 0
        mapped = t.copy()
        for visit, (lo, hi) in study.visits.items():
            inside = (t >= lo) & (t <= hi)
            mapped[inside] = float(visit)
            placed |= inside
        off = int((~placed).sum())
        codes, arm, score, t = codes[placed], arm[placed], score[placed], mapped[placed]
        notes.append("times mapped to the planned visits of the study file's visits: windows"
                     + (f"; {off} assessment(s) outside every window left out" if off else ""))
    end = None
    if complete_from is None:
        from ..errors import AnalysisError
        from ..missing.sensitivity import completer_threshold

        try:
            complete_from = completer_threshold(df, outcome, time, study)[0]
        except AnalysisError:  # no scores after baseline: nothing to bin
            complete_from = float("inf")
    last = pd.Series(t).groupby(codes).max()
    ends = last[(last >= complete_from) & (last > 0)]
    if len(ends) and ends.nunique() > 1 and ends.value_counts().iloc[0] < FIXED_END_SHARE * len(ends):
        late = t >= complete_from
        is_last = t == last.reindex(codes).to_numpy()
        x_end = float(np.median(ends))
        lo, hi = float(ends.min()), float(ends.max())
        keep = ~late | is_last
        dropped = int((~keep).sum())
        codes, arm, score, t = codes[keep], arm[keep], score[keep], np.where(late[keep], x_end, t[keep])
        end = (x_end, lo, hi)
        notes.append(f"end of treatment varies ({time} {lo:g} to {hi:g}): each participant's last score at {time} "
                     f"{complete_from:g} or later is one point at {time} {x_end:g} (the median end); "
                     f"{dropped} earlier score(s) in that range are not in the means")
    pairs = pd.DataFrame({"c": codes, "t": t}).drop_duplicates()
    per_time = pairs.groupby("t").size()
    floor = max(2.0, THIN_SHARE * float(per_time.max())) if len(per_time) else 2.0
    thin = [float(x) for x, n in per_time.items() if n < floor and (end is None or x != end[0])]
    if thin:
        keep = ~np.isin(t, thin)
        codes, arm, score, t = codes[keep], arm[keep], score[keep], t[keep]
        notes.append(f"{len(thin)} {time}(s) held by fewer than {floor:.0f} participants (under 10 % of the busiest) "
                     f"left out: {', '.join(f'{x:g}' for x in thin[:8])}{' ...' if len(thin) > 8 else ''}")
    out = pd.DataFrame({"participant": codes, "arm": arm, "score": score, "x": t})
    return PlannedVisits(out, end, "; ".join(notes), thin, time)
