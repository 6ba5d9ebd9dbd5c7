"""Residual diagnostics of a growth model: normal QQ plot, residuals against fitted, caterpillar."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from scipy import stats

from ..models import GrowthFit
from .style import arm_colors, base_layout, plain, shown_note, thinned

__all__ = ["caterpillar_figure", "normal_qq", "qq_figure", "residual_fitted_figure"]


def normal_qq(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normal quantiles at R's ``ppoints`` for n > 10, ``(i - 1/2) / n``, and the standardised sorted
    values (missing ones left out), at evenly spaced order statistics when there are more than a
    figure shows (the same curve, fewer points); worked out only at the points shown, so 13 million
    residuals cost one sorted copy."""
    v = np.sort(values[np.isfinite(values)])
    if not len(v):
        return np.array([]), np.array([])
    sd = v.std(ddof=1) if len(v) > 1 else 1.0
    keep = thinned(len(v), evenly=True)
    z = (v[keep] - v.mean()) / (sd if sd > 0 else 1.0)
    return stats.norm.ppf((keep + 0.5) / len(v)), z


def qq_figure(fit: GrowthFit) -> go.Figure:
    """Normal QQ plot of the conditional residuals, standardised by their SD."""
    residuals = fit.residuals()["residual"].to_numpy(float)
    q, z = normal_qq(residuals)
    note = shown_note(len(q), int(np.isfinite(residuals).sum()), "residuals", "evenly spaced quantiles")
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
