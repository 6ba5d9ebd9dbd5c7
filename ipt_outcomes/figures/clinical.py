"""Clinical-significance figures: Jacobson plot, waterfall of percent change, dose-response."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..study import registry_in_force
from .style import arm_colors, base_layout, outcome_label, plain, shown_note, thinned

__all__ = ["dose_response_figure", "jacobson_figure", "waterfall_figure"]


#: smallest bin the dose-response figure draws
MIN_BIN_N = 5


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


def _merged_bins(d: pd.DataFrame, min_n: int) -> tuple[pd.DataFrame, int]:
    """Consecutive doses merged until each bin holds ``min_n`` participants (exact: shares and means
    are n-weighted); a last bin still short of ``min_n`` is left out. Returns the bins and the
    number of participants left out."""
    bins, acc = [], []
    for r in d.sort_values("sessions_attended").itertuples():
        acc.append(r)
        n = sum(a.n for a in acc)
        if n >= min_n:
            lo, hi = acc[0].sessions_attended, acc[-1].sessions_attended
            bins.append({"x": sum(a.n * a.sessions_attended for a in acc) / n, "n": n,
                         "label": f"{lo}" if lo == hi else f"{lo}\u2013{hi}",
                         "percent": sum(a.n * a.percent_reliably_improved for a in acc) / n,
                         "mean_change": sum(a.n * a.mean_change for a in acc) / n})
            acc = []
    return pd.DataFrame(bins, columns=["x", "n", "label", "percent", "mean_change"]), sum(a.n for a in acc)


def dose_response_figure(table: pd.DataFrame, outcome: str, min_n: int = MIN_BIN_N) -> go.Figure:
    """Share reliably improved by sessions attended and arm (descriptive, not causal), n written at
    each point. Doses with fewer than ``min_n`` participants are merged with the next ones into a
    range (a share of one or two people is noise, and can identify them); a last range still too
    small is not drawn, and the subtitle says how many participants that leaves out."""
    colors = arm_colors(table["arm"].astype(str).unique())
    fig = go.Figure()
    left_out = merged = 0
    for arm, d in table.groupby(table["arm"].astype(str)):
        bins, out = _merged_bins(d, min_n)
        left_out += out
        merged += int(bins["label"].str.contains("\u2013").sum())
        fig.add_trace(go.Scatter(x=bins["x"], y=bins["percent"], mode="lines+markers+text",
                                 name=plain(arm), line={"color": colors[arm]}, marker={"size": 4 + 2 * np.sqrt(bins["n"])},
                                 text=[f"n={n}" for n in bins["n"]], textposition="top center", textfont={"size": 9},
                                 customdata=np.c_[bins["n"], bins["mean_change"], bins["label"]],
                                 hovertemplate="sessions %{customdata[2]}<br>%{y:.0f}% reliably improved<br>n = "
                                 "%{customdata[0]}<br>mean change %{customdata[1]:.1f}<extra>" + plain(arm) + "</extra>"))
    fig.update_yaxes(range=[0, 105])
    notes = []
    if merged:
        notes.append(f"doses with fewer than {min_n} participants merged into ranges (plotted at their mean dose)")
    if left_out:
        notes.append(f"{left_out} participant(s) in a last range of fewer than {min_n} not drawn")
    sub = f"<br><sup>{'; '.join(notes).capitalize()}</sup>" if notes else ""
    fig = base_layout(fig, f"{plain(outcome)}: reliably improved by sessions attended (not randomised; marker size and "
                           f"label: n){sub}", "Sessions attended", "Reliably improved (%)")
    if sub:
        fig.update_layout(margin={"t": 90})
    return fig
