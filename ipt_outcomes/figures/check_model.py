"""One grid of model checks, as R's ``performance::check_model``: residuals against fitted (is the
mean right?), scale-location (is the spread constant?), a normal QQ plot of the residuals and of each
participant random effect, and influential participants (Cook's distance on the fixed effects).
Each panel says what a good model looks like; dense panels show a sample and say so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..errors import AnalysisError
from ..models import GrowthFit
from ..models.derived.influence import participant_influence
from .diagnostics import normal_qq
from .style import MAX_POINTS, plain, thinned

__all__ = ["diagnostics_figure"]

BLUE, RED = "#0072B2", "#D55E00"
N_BINS = 20


def _binned_mean(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean of y in (up to) 20 bins of equal count along x: the smooth line of each residual panel."""
    if len(x) < 2 * N_BINS:
        return np.array([]), np.array([])
    edges = np.unique(np.quantile(x, np.linspace(0, 1, N_BINS + 1)))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    n = np.bincount(which, minlength=len(edges) - 1)
    filled = n > 0  # sums by bin in one pass each, no table of the rows (13 million in a registry)
    return (np.bincount(which, x, len(edges) - 1)[filled] / n[filled],
            np.bincount(which, y, len(edges) - 1)[filled] / n[filled])


def diagnostics_figure(fit: GrowthFit) -> go.Figure:
    """The grid of checks for a growth (or formula) model; influence where the model allows it."""
    res = fit.residuals()
    fitted, resid = res["fitted"].to_numpy(float, copy=True), res["residual"].to_numpy(float, copy=True)  # not views
    keep = thinned(len(resid))
    pid = [plain(p) for p in res["participant_id"].iloc[keep]]
    del res  # the table of every row is not kept while influence is worked out (13 million rows in a registry)
    sd = resid.std(ddof=1) if len(resid) > 1 else 1.0
    std_resid = resid / (sd if sd > 0 else 1.0)
    try:
        effects = fit.random_effects()
    except (AnalysisError, NotImplementedError, ValueError):
        effects = pd.DataFrame()
    terms = [c for c in effects.columns if c != "participant_id"][:2]
    try:
        influence = participant_influence(fit)
    except AnalysisError as exc:
        influence, why = None, str(exc)
    titles = ["Residuals vs fitted (line flat at 0)", "Scale-location (line flat: equal spread)",
              "QQ of residuals (points on the line)", *[f"QQ of participant effects: {plain(t)}" for t in terms],
              "Influential participants (Cook's distance)"]
    fig = make_subplots(rows=2, cols=3, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.16)
    shown = "" if len(keep) == len(resid) else f" (points: {len(keep):,} of {len(resid):,} residuals, random sample)"
    for col, y, name in ((1, resid, "residual"), (2, np.sqrt(np.abs(std_resid)), "\u221a|standardised residual|")):
        fig.add_trace(go.Scatter(x=fitted[keep], y=y[keep], mode="markers", showlegend=False, text=pid,
                                   marker={"size": 3, "color": BLUE, "opacity": 0.35},
                                   hovertemplate="participant %{text}<br>fitted %{x:.1f}<br>" + name
                                   + " %{y:.2f}<extra></extra>"), row=1, col=col)
        bx, by = _binned_mean(fitted, y)
        fig.add_trace(go.Scatter(x=bx, y=by, mode="lines", line={"color": RED, "width": 2}, showlegend=False,
                                 hovertemplate="binned mean %{y:.2f}<extra></extra>"), row=1, col=col)
        fig.update_xaxes(title_text="Fitted value", row=1, col=col)
        fig.update_yaxes(title_text=name.capitalize() if col == 1 else name, row=1, col=col)
    panels = [(1, 3, std_resid, "residuals")] + [(2, i + 1, effects[t].to_numpy(float), plain(t))
                                                 for i, t in enumerate(terms)]
    for r, c, values, what in panels:
        q, z = normal_qq(values)
        fig.add_trace(go.Scatter(x=q, y=z, mode="markers", showlegend=False, marker={"size": 3, "color": BLUE},
                                   hovertemplate="normal %{x:.2f}<br>" + what + " %{y:.2f}<extra></extra>"), row=r, col=c)
        if len(q):
            fig.add_trace(go.Scatter(x=[q[0], q[-1]], y=[q[0], q[-1]], mode="lines", line={"color": RED},
                                     showlegend=False, hoverinfo="skip"), row=r, col=c)
        fig.update_xaxes(title_text="Normal quantile", row=r, col=c)
        fig.update_yaxes(title_text="Standardised", row=r, col=c)
    c = len(terms) + 1
    if influence is not None and len(influence):
        d = influence["cooks_distance"].to_numpy(float)
        ranks = np.argsort(-np.nan_to_num(d, nan=-1.0))
        show = np.sort(np.r_[ranks[:10], thinned(len(d), MAX_POINTS // 2)])
        show = np.unique(show)
        cut = 4.0 / len(d)
        ids = influence["participant_id"].astype(str).to_numpy()
        fig.add_trace(go.Scatter(x=show, y=d[show], mode="markers", showlegend=False,
                                   text=[plain(i) for i in ids[show]],
                                   marker={"size": 4, "color": np.where(d[show] > cut, RED, BLUE)},
                                   hovertemplate="participant %{text}<br>Cook's distance %{y:.3g}<extra></extra>"),
                      row=2, col=c)
        fig.add_hline(y=cut, line={"dash": "dash", "color": "grey"}, row=2, col=c)
        for i in ranks[:3]:
            if np.isfinite(d[i]) and d[i] > cut:
                fig.add_annotation(x=int(i), y=float(d[i]), text=plain(ids[i]), showarrow=False, yshift=10,
                                   font={"size": 10}, row=2, col=c)
        fig.update_xaxes(title_text="Participant (model order)", row=2, col=c)
        fig.update_yaxes(title_text="Cook's distance (dashed: 4/N)", row=2, col=c)
    else:
        fig.add_annotation(text=plain(f"Not available: {why}" if influence is None else "No participants"),
                           showarrow=False, xref=f"x{3 + c} domain", yref=f"y{3 + c} domain", x=0.5, y=0.5,
                           font={"size": 11})
    fig.update_layout(title={"text": f"{plain(fit.outcome)}: model checks{shown}", "x": 0.01}, template="plotly_white",
                      height=720, margin={"l": 60, "r": 20, "t": 90, "b": 60})
    return fig
