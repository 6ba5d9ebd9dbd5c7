"""Forest plot of the arm effect at the end of treatment, overall and by moderator level."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..registry import Registry, default_registry
from .style import arm_colors, base_layout, outcome_label, plain

__all__ = ["forest_figure"]


def forest_figure(rows: pd.DataFrame, outcome: str, title: str | None = None, registry: Registry | None = None
                  ) -> go.Figure:
    """Rows with ``label``, ``arm``, ``reference_arm``, ``difference``, ``ci_lower``, ``ci_upper``
    (and optional ``n``, shown as "label (n = 120)"): one marker with its interval per row, a line at
    no difference, and "favours" labels on each side, read from the registry's direction."""
    colors = arm_colors(rows["arm"].astype(str).unique())
    fig = go.Figure()
    labels = [plain(x) if "n" not in rows or pd.isna(n) else f"{plain(x)} (n = {int(n):,})"
              for x, n in zip(rows["label"], rows["n"] if "n" in rows else [None] * len(rows), strict=True)]
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
    known = outcome in reg
    lower_better = not known or reg[outcome].higher_is == "worse"
    pairs = rows[["arm", "reference_arm"]].astype(str).drop_duplicates()
    arm, ref = (plain(pairs.iloc[0, 0]), plain(pairs.iloc[0, 1])) if len(pairs) == 1 else ("the arm", "the reference")
    left, right = (arm, ref) if lower_better else (ref, arm)
    direction = ("lower is better" if lower_better else "higher is better") if known else \
        "direction not in the registry: lower assumed better"
    fig.add_annotation(x=0, y=1.0, xref="x", yref="paper", yanchor="bottom", showarrow=False,
                       text=f"\u2190 favours {left}   |   favours {right} \u2192")
    fig = base_layout(fig, plain(title) if title else f"{plain(outcome)}: arm difference at the end of treatment by subgroup",
                      f"Difference in {outcome_label(outcome, reg)} ({direction})", "")
    fig.update_layout(height=max(360, 34 * len(labels) + 200))
    return fig
