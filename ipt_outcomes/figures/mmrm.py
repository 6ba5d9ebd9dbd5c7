"""The MMRM's least-squares means by visit and arm, with their confidence intervals."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .style import arm_colors, base_layout, outcome_label, plain

__all__ = ["ls_means_figure"]


def ls_means_figure(fit, registry=None) -> go.Figure:
    """Least-squares means of each arm at every planned visit (points joined by lines) with their
    confidence intervals (error bars); arms side by side at each visit so the bars do not overlap."""
    means: pd.DataFrame = fit.marginal_means()
    visit = fit.visit
    colors = arm_colors(means["arm"].astype(str).unique())
    arms = list(dict.fromkeys(means["arm"].astype(str)))
    fig = go.Figure()
    for k, arm in enumerate(arms):
        part = means.loc[means["arm"].astype(str) == arm]
        x = pd.to_numeric(part[visit], errors="coerce")
        offset = (k - (len(arms) - 1) / 2) * 0.15 * (float(x.diff().median()) if len(x) > 1 else 1.0)
        fig.add_trace(go.Scatter(
            x=x + offset, y=part["estimate"], mode="lines+markers", name=plain(arm),
            line={"color": colors[arm], "width": 2}, marker={"size": 8},
            error_y={"type": "data", "symmetric": False, "array": part["ci_upper"] - part["estimate"],
                     "arrayminus": part["estimate"] - part["ci_lower"], "thickness": 1.5},
            customdata=pd.concat([part[visit].astype(str), part["ci_lower"], part["ci_upper"], part["df"]], axis=1),
            hovertemplate=(plain(visit) + " %{customdata[0]}<br>LS mean %{y:.2f} [%{customdata[1]:.2f}, "
                           "%{customdata[2]:.2f}]<br>df %{customdata[3]:.1f}<extra>" + plain(arm) + "</extra>")))
    level = "95&#37;"
    title = (f"{plain(fit.outcome)}: least-squares means by {plain(visit)} ({level} CI), MMRM with "
             f"{plain(fit.covariance_structure)} covariance")
    return base_layout(fig, title, plain(visit.capitalize()), outcome_label(fit.outcome, registry))
