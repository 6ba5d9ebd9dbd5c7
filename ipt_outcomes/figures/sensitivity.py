"""The tipping-point plot: the end-of-treatment difference as the dropouts of the compared arm are
assumed to do worse than missing at random predicts (from :func:`ipt_outcomes.sensitivity_analyses`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .style import arm_colors, base_layout, plain, with_alpha

__all__ = ["tipping_point_figure"]


def tipping_point_figure(tipping: pd.DataFrame, points: Mapping[str, float | None], outcome: str,
                         reference_arm: str, time_label: str = "end of treatment") -> go.Figure:
    """Per compared arm: the multiple-imputation difference (line) and its 95 % CI (band) against the
    shift delta; the line of no difference, and the tipping point marked where the CI first reaches it."""
    colors = arm_colors(tipping["arm"].astype(str).unique())
    fig = go.Figure()
    for arm, d in tipping.groupby(tipping["arm"].astype(str), sort=False):
        d = d.sort_values("delta")
        c = colors[arm]
        fig.add_trace(go.Scatter(x=np.r_[d["delta"], d["delta"][::-1]], y=np.r_[d["ci_upper"], d["ci_lower"][::-1]],
                                 fill="toself", fillcolor=with_alpha(c, 0.18), line={"width": 0}, hoverinfo="skip",
                                 legendgroup=arm, showlegend=False, name=f"{plain(arm)}: 95&#37; CI"))
        fig.add_trace(go.Scatter(x=d["delta"], y=d["estimate"], mode="lines+markers", line={"color": c},
                                 marker={"size": 5}, legendgroup=arm, name=f"{plain(arm)} \u2212 {plain(reference_arm)}",
                                 customdata=d[["ci_lower", "ci_upper"]].to_numpy(),
                                 hovertemplate="shift %{x:.2f} points<br>difference %{y:.2f} "
                                 "[%{customdata[0]:.2f}, %{customdata[1]:.2f}]<extra>" + plain(arm) + "</extra>"))
        point = points.get(arm)
        if point is not None:
            fig.add_vline(x=point, line={"dash": "dash", "color": c},
                          annotation_text=f"tipping point {plain(arm)}: {point:.2f}", annotation_position="top")
    fig.add_hline(y=0, line={"color": "black", "width": 1})
    return base_layout(fig, f"{plain(outcome)}: tipping-point analysis (delta adjustment of the dropouts' imputed "
                            f"scores)", "Shift: dropouts score this many points worse than MAR predicts",
                       f"Difference at {plain(time_label)} (points)")
