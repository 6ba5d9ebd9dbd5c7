"""Trajectory figures: individual courses with model-implied means, and observed means by session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

from ..models import GrowthFit
from ..registry import Registry
from ..selection import outcome_rows
from ..study import Study, registry_in_force, time_column
from .style import arm_colors, base_layout, outcome_label, plain, with_alpha
from .visits import planned_visits

__all__ = ["observed_means_figure", "trajectory_figure"]


def trajectory_figure(df: pd.DataFrame, fit: GrowthFit, max_participants: int | None = 300, seed: int = 1) -> go.Figure:
    """Each participant's observed scores (thin lines; hover names the participant) under the
    model-implied mean trajectory of each arm with its 95 % confidence band."""
    outcome, time = fit.outcome, fit.spec.time
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time]).dropna(subset=["score"])
    colors = arm_colors(data["arm"].astype(str).unique())
    codes, ids = pd.factorize(data["participant_id"].astype(str))
    chosen = np.arange(len(ids))
    if max_participants is not None and len(ids) > max_participants:
        chosen = np.random.default_rng(seed).choice(len(ids), max_participants, replace=False)
    fig = go.Figure()
    shown = data[np.isin(codes, chosen)].sort_values(["participant_id", time])  # integer codes: fast at 1M
    for arm, part in shown.groupby(shown["arm"].astype(str)):
        xs, ys, texts = [], [], []
        for pid, g in part.groupby("participant_id", sort=False):
            xs += [*g[time].astype(float), None]
            ys += [*g["score"].astype(float), None]
            texts += [plain(pid)] * len(g) + [None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 0.7, "color": with_alpha(colors[arm], 0.25)},
                                 name=f"{plain(arm)}: participants", legendgroup=arm, text=texts, connectgaps=False,
                                 hovertemplate="participant %{text}<br>" + plain(time) + " %{x}<br>score %{y}<extra>"
                                 + plain(arm) + "</extra>"))
    times = np.linspace(float(data[time].min()), float(data[time].max()), 40)
    traj = fit.trajectories(times=list(times))
    for arm, t in traj.groupby("arm"):
        c = colors.get(arm, "#333333")
        fig.add_trace(go.Scatter(x=np.r_[t["time"], t["time"][::-1]], y=np.r_[t["ci_upper"], t["ci_lower"][::-1]],
                                 fill="toself", fillcolor=with_alpha(c, 0.2), line={"width": 0}, hoverinfo="skip",
                                 name=f"{plain(arm)}: 95&#37; CI", legendgroup=arm, showlegend=False))
        fig.add_trace(go.Scatter(x=t["time"], y=t["estimate"], mode="lines", line={"width": 3, "color": c},
                                 name=f"{plain(arm)}: model mean", legendgroup=arm,
                                 hovertemplate=plain(time) + " %{x:.1f}<br>mean %{y:.2f}<extra>" + plain(arm) + "</extra>"))
    note = "" if len(chosen) == len(ids) else f" ({len(chosen):,} of {len(ids):,} participants, random sample)"
    return base_layout(fig, f"{plain(outcome)}: individual courses and model-implied means{note}", plain(time.capitalize()),
                       outcome_label(outcome, registry_in_force(df)))


def observed_means_figure(df: pd.DataFrame, outcome: str, time: str | None = None, level: float = 0.95,
                          registry: Registry | None = None, study: Study | None = None,
                          complete_from: float | None = None) -> go.Figure:
    """Observed mean score by arm at each planned visit with a t-based confidence interval and n.

    A variable end of treatment is one point and off-plan times are left out
    (:func:`ipt_outcomes.figures.visits.planned_visits`); the subtitle says what was done.
    """
    time = time_column(df, time).column
    study = study if study is not None else Study.from_attrs(df.attrs.get("ipt_study"))
    visits = planned_visits(df, outcome, time, study, complete_from)
    data = visits.data
    colors = arm_colors(data["arm"].unique())
    summary = data.groupby(["arm", "x"])["score"].agg(["mean", "std", "count"]).reset_index()
    summary["visit"] = summary["x"].map(visits.label)
    crit = stats.t.ppf(0.5 + level / 2, (summary["count"] - 1).clip(lower=1))
    summary["half"] = crit * summary["std"] / np.sqrt(summary["count"])
    fig = go.Figure()
    for arm, s in summary.groupby("arm"):
        s = s.sort_values("x")
        symbols = ["diamond" if visits.end is not None and x == visits.end[0] else "circle" for x in s["x"]]
        fig.add_trace(go.Scatter(x=s["x"], y=s["mean"], mode="lines+markers", name=plain(arm),
                                 line={"color": colors[arm]}, marker={"symbol": symbols, "size": 8},
                                 error_y={"type": "data", "array": s["half"].fillna(0)},
                                 customdata=np.c_[s["count"], [plain(v) for v in s["visit"]]],
                                 hovertemplate="%{customdata[1]}<br>mean %{y:.2f}<br>n = %{customdata[0]}<extra>"
                                 + plain(arm) + "</extra>"))
    sub = f"<br><sup>{plain(visits.note[0].upper() + visits.note[1:])}</sup>" if visits.note else ""
    fig = base_layout(fig, f"{plain(outcome)}: observed means with {level:.0%} CI (n in hover){sub}",
                      plain(time.capitalize()), outcome_label(outcome, registry_in_force(df, registry)))
    if sub:
        fig.update_layout(margin={"t": 90})
    return fig
