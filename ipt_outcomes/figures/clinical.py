"""Clinical-significance figures: Jacobson plot, waterfall of percent change, dose-response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..study import registry_in_force
from .style import arm_colors, base_layout, outcome_label, plain, shown_note, thinned

__all__ = ["dose_response_figure", "jacobson_figure", "waterfall_figure"]


def jacobson_figure(cc: pd.DataFrame) -> go.Figure:
    """Baseline against final score, with the line of no change, the reliable-change band and the cut-off."""
    settings = cc.attrs["settings"]
    outcome = settings["outcome"]
    data = cc.dropna(subset=["baseline", "final"])
    colors = arm_colors(cc["arm"].astype(str).unique())
    total = len(data)
    lo = float(min(data["baseline"].min(), data["final"].min()))  # the lines span every participant
    hi = float(max(data["baseline"].max(), data["final"].max()))
    data = data.iloc[thinned(total)]
    note = shown_note(len(data), total, "participants", "random sample")
    fig = go.Figure()
    for arm, d in data.groupby(data["arm"].astype(str)):
        fig.add_trace(go.Scatter(x=d["baseline"], y=d["final"], mode="markers", name=plain(arm),
                                 marker={"color": colors[arm], "size": 7, "opacity": 0.8},
                                 text=[plain(p) for p in d["participant_id"]], customdata=d["category"],
                                 hovertemplate="participant %{text}<br>baseline %{x}<br>final %{y}<br>%{customdata}"
                                 "<extra>" + plain(arm) + "</extra>"))
    rc = settings["reliable_change"]
    line = np.array([lo, hi])
    fig.add_trace(go.Scatter(x=line, y=line, mode="lines", line={"color": "black", "width": 1}, name="no change"))
    for sign, name in ((-1, "reliable improvement"), (1, "reliable deterioration")):
        offset = sign * rc * (1 if settings["higher_is"] == "worse" else -1)
        fig.add_trace(go.Scatter(x=line, y=line + offset, mode="lines", line={"color": "grey", "dash": "dash", "width": 1},
                                 name=f"reliable change band ({name} beyond)"))
    if settings["cutoff"] is not None:
        fig.add_hline(y=settings["cutoff"], line={"color": "#009E73", "dash": "dot"},
                      annotation_text=f"cut-off {settings['cutoff_type']} = {settings['cutoff']:.1f}")
    return base_layout(fig, f"{plain(outcome)}: Jacobson plot (reliable change {rc:.1f} points){note}",
                       f"Baseline {outcome_label(outcome, registry_in_force(cc))}",
                       f"Final {outcome_label(outcome, registry_in_force(cc))}")


def waterfall_figure(cc: pd.DataFrame) -> go.Figure:
    """Percent change from baseline of every participant, sorted, coloured by arm."""
    outcome = cc.attrs["settings"]["outcome"]
    data = cc.dropna(subset=["percent_change"]).sort_values("percent_change", ascending=False).reset_index(drop=True)
    colors = arm_colors(cc["arm"].astype(str).unique())
    total = len(data)
    data = data.iloc[thinned(total, evenly=True)]  # every k-th rank; the x axis keeps the ranks
    note = shown_note(len(data), total, "participants", "evenly spaced ranks")
    fig = go.Figure()
    for arm, d in data.groupby(data["arm"].astype(str)):
        fig.add_trace(go.Bar(x=d.index, y=d["percent_change"], name=plain(arm), marker_color=colors[arm],
                             text=[plain(p) for p in d["participant_id"]], textposition="none",
                             hovertemplate="participant %{text}<br>change %{y:.1f}%<extra>" + plain(arm) + "</extra>"))
    resp = cc.attrs["settings"]["response_percent"]
    sign = -1 if cc.attrs["settings"]["higher_is"] == "worse" else 1
    fig.add_hline(y=sign * resp, line={"dash": "dash", "color": "grey"}, annotation_text=f"response ({resp:g}%)")
    fig.update_layout(bargap=0.05)
    return base_layout(fig, f"{plain(outcome)}: percent change from baseline per participant{note}", "Participants (sorted)",
                       "Change from baseline (%)")


def dose_response_figure(table: pd.DataFrame, outcome: str) -> go.Figure:
    """Mean change and share reliably improved by sessions attended (descriptive, not causal)."""
    colors = arm_colors(table["arm"].astype(str).unique())
    fig = go.Figure()
    for arm, d in table.groupby(table["arm"].astype(str)):
        fig.add_trace(go.Scatter(x=d["sessions_attended"], y=d["percent_reliably_improved"], mode="lines+markers",
                                 name=plain(arm), line={"color": colors[arm]}, marker={"size": 4 + 2 * np.sqrt(d["n"])},
                                 customdata=np.c_[d["n"], d["mean_change"]],
                                 hovertemplate="sessions %{x}<br>%{y:.0f}% reliably improved<br>n = %{customdata[0]}"
                                 "<br>mean change %{customdata[1]:.1f}<extra>" + plain(arm) + "</extra>"))
    fig.update_yaxes(range=[0, 100])
    return base_layout(fig, f"{plain(outcome)}: reliably improved by sessions attended (marker size ~ n; not randomised)",
                       "Sessions attended", "Reliably improved (%)")
