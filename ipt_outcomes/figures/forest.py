"""Forest plot of the arm effect at the end of treatment, overall and by moderator level."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..registry import Registry, default_registry
from .style import arm_colors, base_layout, outcome_label, plain

__all__ = ["forest_figure"]


def forest_figure(rows: pd.DataFrame, outcome: str, title: str | None = None, registry: Registry | None = None
                  ) -> go.Figure:
    """Rows with ``label``, ``arm``, ``difference``, ``ci_lower``, ``ci_upper`` (and optional ``n``):
    one marker with its interval per row, a line at no difference."""
    colors = arm_colors(rows["arm"].astype(str).unique())
    fig = go.Figure()
    labels = [plain(x) for x in rows["label"]]
    for arm, d in rows.assign(_label=labels).groupby(rows["arm"].astype(str), sort=False):
        fig.add_trace(go.Scatter(
            x=d["difference"], y=d["_label"], mode="markers", name=f"{plain(arm)} vs {plain(d['reference_arm'].iloc[0])}",
            marker={"color": colors[arm], "size": 10, "symbol": "square"},
            error_x={"type": "data", "symmetric": False, "array": d["ci_upper"] - d["difference"],
                     "arrayminus": d["difference"] - d["ci_lower"]},
            customdata=d[["ci_lower", "ci_upper"]].to_numpy(),
            hovertemplate="%{y}<br>difference %{x:.2f} [%{customdata[0]:.2f}, %{customdata[1]:.2f}]<extra>"
            + plain(arm) + "</extra>"))
    fig.add_vline(x=0, line={"color": "black", "width": 1})
    fig.update_yaxes(autorange="reversed")
    reg = registry if registry is not None else default_registry()
    better = "higher" if outcome in reg and reg[outcome].higher_is == "better" else "lower"
    favours = "positive" if better == "higher" else "negative"
    return base_layout(fig, plain(title) if title else f"{plain(outcome)}: arm difference at the end of treatment by subgroup",
                       f"Difference in {outcome_label(outcome, reg)} ({favours} favours the arm: {better} is better)", "")
