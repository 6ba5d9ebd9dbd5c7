"""Residual diagnostics of a growth model: normal QQ plot, residuals against fitted, caterpillar."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from scipy import stats

from ..models import GrowthFit
from .style import arm_colors, base_layout, plain, shown_note, thinned

__all__ = ["caterpillar_figure", "qq_figure", "residual_fitted_figure"]


def qq_figure(fit: GrowthFit) -> go.Figure:
    """Normal QQ plot of the conditional residuals, standardised by their SD."""
    res = fit.residuals()
    r = np.sort(res["residual"].to_numpy())
    z = (r - r.mean()) / r.std(ddof=1)
    q = stats.norm.ppf((np.arange(1, len(r) + 1) - 0.5) / len(r))
    keep = thinned(len(r), evenly=True)  # evenly spaced order statistics: the same curve, fewer points
    note = shown_note(len(keep), len(r), "residuals", "evenly spaced quantiles")
    q, z = q[keep], z[keep]
    fig = go.Figure([go.Scatter(x=q, y=z, mode="markers", marker={"size": 4, "color": "#0072B2"}, name="residuals"),
                     go.Scatter(x=[q[0], q[-1]], y=[q[0], q[-1]], mode="lines", line={"color": "black"},
                                name="normal")])
    return base_layout(fig, f"{plain(fit.outcome)}: normal QQ plot of residuals{note}", "Normal quantile",
                       "Standardised residual")


def residual_fitted_figure(fit: GrowthFit) -> go.Figure:
    """Conditional residuals against fitted values, coloured by arm; hover names the participant."""
    res = fit.residuals()
    colors = arm_colors(res["arm"].unique())
    total = len(res)
    res = res.iloc[thinned(total)]
    note = shown_note(len(res), total, "residuals", "random sample")
    fig = go.Figure()
    for arm, d in res.groupby("arm"):
        fig.add_trace(go.Scatter(x=d["fitted"], y=d["residual"], mode="markers", name=plain(arm),
                                 marker={"size": 4, "color": colors[arm], "opacity": 0.6},
                                 text=[plain(p) for p in d["participant_id"]],
                                 hovertemplate="participant %{text}<br>fitted %{x:.1f}<br>residual %{y:.2f}<extra></extra>"))
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    return base_layout(fig, f"{plain(fit.outcome)}: residuals against fitted values{note}", "Fitted value", "Residual")


def caterpillar_figure(fit: GrowthFit, term: str = "Intercept") -> go.Figure:
    """Participant random effects (BLUPs) with 95 % conditional intervals, sorted."""
    ri = fit.random_effect_intervals()
    d = ri[ri["term"] == term].sort_values("estimate").reset_index(drop=True)
    total = len(d)
    d = d.iloc[thinned(total, evenly=True)]  # every k-th rank: the caterpillar's shape, its extremes kept
    note = shown_note(len(d), total, "participants", "evenly spaced ranks")
    fig = go.Figure(go.Scatter(
        x=d.index, y=d["estimate"], mode="markers", marker={"size": 4, "color": "#0072B2"}, name=plain(term),
        error_y={"type": "data", "symmetric": False, "array": d["ci_upper"] - d["estimate"],
                 "arrayminus": d["estimate"] - d["ci_lower"], "thickness": 0.6},
        text=[plain(p) for p in d["participant_id"]],
        hovertemplate="participant %{text}<br>%{y:.2f}<extra></extra>"))
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    return base_layout(fig, f"{plain(fit.outcome)}: participant random effects ({plain(term)}) with 95% intervals{note}",
                       "Participants (sorted)", f"Random effect: {plain(term)}")
