"""Figures of pooled trials: the forest plot by disorder, trajectories on the harmonised scale, and
sessions to reliable improvement by disorder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .style import arm_colors, base_layout, plain

__all__ = ["harmonised_trajectories_figure", "improvement_by_disorder_figure", "meta_forest_figure"]


def meta_forest_figure(fit, by: str = "disorder", what: str = "effect") -> go.Figure:
    """Each trial's effect with its 95 % CI and n, grouped by ``by``; under each group its pooled
    estimate (diamond) with its confidence interval and, as a line, its prediction interval; the
    overall diamond last. "Favours" labels on both sides of no effect."""
    effects = fit.studies
    groups = fit.subgroups.set_index(by) if getattr(fit, "subgroups", None) is not None else None
    fig = go.Figure()
    y: list[float] = []
    labels: list[str] = []
    row = 0.0
    z = 1.959963984540054
    order = sorted(effects[by].astype(str).unique()) if by in effects.columns else [None]
    for level in order:
        part = effects if level is None else effects[effects[by].astype(str) == level]
        for r in part.itertuples(index=False):
            n = getattr(r, "n_arm", 0) + getattr(r, "n_reference", 0)
            labels.append(f"{plain(r.label)} (n = {n})" if n else plain(r.label))
            y.append(row)
            fig.add_trace(go.Scatter(
                x=[r.estimate], y=[row], mode="markers", showlegend=False, marker={"symbol": "square", "size": 9,
                                                                                   "color": "#1f4e79"},
                error_x={"type": "data", "array": [z * r.std_error], "thickness": 1.5},
                hovertemplate=f"{plain(r.label)}<br>%{{x:.2f}} [{r.estimate - z * r.std_error:.2f}, "
                              f"{r.estimate + z * r.std_error:.2f}]<extra></extra>"))
            row += 1
        if groups is not None and level in groups.index and groups.loc[level, "k"] > 1:
            g = groups.loc[level]
            _diamond(fig, row, g["estimate"], g["ci_lower"], g["ci_upper"], "#c0504d", g.get("pi_lower"), g.get("pi_upper"))
            labels.append(f"{plain(level)}: pooled ({int(g['k'])} trials)")
            y.append(row)
            row += 1
        row += 0.5
    _diamond(fig, row, fit.estimate, fit.ci_lower, fit.ci_upper, "#000000", fit.pi_lower, fit.pi_upper)
    labels.append(f"All trials ({fit.k}; I\u00b2 {fit.i2:.0f}%)")
    y.append(row)
    fig.add_vline(x=0, line={"color": "grey", "width": 1})
    title = f"Arm effect by {plain(by)} ({plain(what)}; diamonds: pooled with 95&#37; CI, lines: prediction interval)"
    base_layout(fig, title, f"{plain(what)} (negative favours IPT)", "")
    fig.update_yaxes(tickvals=y, ticktext=labels, autorange="reversed")
    fig.add_annotation(x=0, y=-0.08, xref="x", yref="paper", text="\u2190 favours IPT   |   favours comparator \u2192",
                       showarrow=False)
    fig.update_layout(height=max(360, 28 * len(labels) + 160))
    return fig


def _diamond(fig: go.Figure, y: float, est: float, lo: float, hi: float, color: str, pi_lo=None, pi_hi=None) -> None:
    if pi_lo is not None and np.isfinite(pi_lo):
        fig.add_trace(go.Scatter(x=[pi_lo, pi_hi], y=[y, y], mode="lines", line={"color": color, "width": 1.5,
                                                                                 "dash": "dot"},
                                 showlegend=False, hovertemplate=f"prediction interval [{pi_lo:.2f}, {pi_hi:.2f}]"
                                                                 "<extra></extra>"))
    fig.add_trace(go.Scatter(x=[lo, est, hi, est, lo], y=[y, y - 0.3, y, y + 0.3, y], fill="toself", mode="lines",
                             line={"color": color}, fillcolor=color, showlegend=False,
                             hovertemplate=f"pooled {est:.2f} [{lo:.2f}, {hi:.2f}]<extra></extra>"))


def harmonised_trajectories_figure(df: pd.DataFrame, time: str, label: str) -> go.Figure:
    """Observed mean harmonised score by disorder and arm at each planned visit (visits held by
    fewer than 10 participants of an arm are not drawn)."""
    data = df.dropna(subset=["score"])
    disorders = sorted(data["disorder"].astype(str).unique()) if "disorder" in data.columns else ["all"]
    dash = dict(zip(disorders, ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"] * 3, strict=False))
    colors = arm_colors(sorted(data["arm"].astype(str).unique()))
    fig = go.Figure()
    key = data["disorder"].astype(str) if "disorder" in data.columns else pd.Series("all", index=data.index)
    for (disorder, arm), part in data.groupby([key, data["arm"].astype(str)]):
        means = part.groupby(time)["score"].agg(["mean", "count"]).reset_index()
        means = means[means["count"] >= 10]
        fig.add_trace(go.Scatter(x=means[time], y=means["mean"], mode="lines+markers", name=f"{plain(disorder)}: {plain(arm)}",
                                 line={"color": colors[arm], "dash": dash[disorder]},
                                 customdata=means["count"], hovertemplate=plain(time) + " %{x}<br>mean %{y:.2f}<br>n "
                                 "%{customdata}<extra>" + plain(f"{disorder}: {arm}") + "</extra>"))
    return base_layout(fig, f"Observed means on the harmonised scale ({plain(label)}) by disorder and arm",
                       plain(time.capitalize()), plain(label))


def improvement_by_disorder_figure(table: pd.DataFrame) -> go.Figure:
    """Percent of each disorder's participants reliably improved by each session, by arm."""
    fig = go.Figure()
    colors = arm_colors(sorted(table["arm"].astype(str).unique()))
    disorders = sorted(table["disorder"].astype(str).unique())
    dash = dict(zip(disorders, ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"] * 3, strict=False))
    for (disorder, arm), part in table.groupby([table["disorder"].astype(str), table["arm"].astype(str)]):
        fig.add_trace(go.Scatter(x=part["session"], y=part["percent_improved_by"], mode="lines+markers",
                                 name=f"{plain(disorder)}: {plain(arm)}", line={"color": colors[arm], "dash": dash[disorder]},
                                 hovertemplate="session %{x}<br>%{y:.0f}&#37; reliably improved<extra>"
                                 + plain(f"{disorder}: {arm}") + "</extra>"))
    return base_layout(fig, "Sessions to reliable improvement by disorder (each trial's own instrument)", "Session",
                       "Reliably improved by this session (%)")
