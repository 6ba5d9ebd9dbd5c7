"""Participant flow: retention by session and a CONSORT-style count of each stage by arm."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..selection import outcome_rows
from .style import arm_colors, base_layout, plain

__all__ = ["flow_counts", "flow_figure", "retention_figure"]


def retention_figure(retention: pd.DataFrame, outcome: str) -> go.Figure:
    """Share of each arm still providing data at each time (from :func:`ipt_outcomes.retention`)."""
    colors = arm_colors(retention["arm"].astype(str).unique())
    fig = go.Figure()
    for arm, d in retention.groupby(retention["arm"].astype(str)):
        fig.add_trace(go.Scatter(x=d["time"], y=d["percent_retained"], mode="lines+markers", name=plain(arm),
                                 line={"color": colors[arm], "shape": "hv"},
                                 customdata=d[["n_retained", "n_randomised"]].to_numpy(),
                                 hovertemplate="time %{x}<br>%{y:.0f}% retained (%{customdata[0]} of %{customdata[1]})"
                                 "<extra>" + plain(arm) + "</extra>"))
    fig.update_yaxes(range=[0, 105])
    return base_layout(fig, f"{plain(outcome)}: participants still providing data", "Session", "Retained (%)")


def flow_counts(df: pd.DataFrame, outcome: str, complete_from: float, analysed: set[str], time: str | None = None
                ) -> pd.DataFrame:
    """Counts per arm: randomised, with a baseline score, with a score after baseline, completed
    (observed at or after ``complete_from``), analysed in the primary model."""
    from ..study import time_column

    time = time_column(df, time).column
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    scored = data.dropna(subset=["score"])
    t = pd.to_numeric(scored[time], errors="coerce")
    rows = []
    for arm, ids in data.groupby(data["arm"].astype(str))["participant_id"].unique().items():
        ids = set(map(str, ids))
        pid = scored["participant_id"].astype(str)
        in_arm = pid.isin(ids)
        rows.append({"arm": arm, "randomised": len(ids),
                     "baseline": pid[in_arm & (t == 0)].nunique(),
                     "any_post_baseline": pid[in_arm & (t > 0)].nunique(),
                     "completed": pid[in_arm & (t >= complete_from)].nunique(),
                     "analysed": len(ids & analysed)})
    return pd.DataFrame(rows)


def flow_figure(counts: pd.DataFrame) -> go.Figure:
    """CONSORT-style funnel of participant counts per arm."""
    stages = {"randomised": "Randomised", "baseline": "Baseline score", "any_post_baseline": "Any score after baseline",
              "completed": "Completed treatment", "analysed": "Analysed (mixed model)"}
    colors = arm_colors(counts["arm"].astype(str).unique())
    fig = go.Figure()
    for row in counts.itertuples():
        fig.add_trace(go.Funnel(name=plain(row.arm), y=list(stages.values()), x=[getattr(row, s) for s in stages],
                                marker={"color": colors[str(row.arm)]}, textinfo="value+percent initial"))
    return base_layout(fig, "Participant flow by arm (CONSORT-style counts)", "Participants", "")
