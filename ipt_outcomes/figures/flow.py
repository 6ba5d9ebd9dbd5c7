"""Participant flow: retention by session and a CONSORT-style count of each stage by arm."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..selection import outcome_rows
from .style import arm_colors, base_layout, plain

__all__ = ["flow_counts", "flow_figure", "retention_figure"]


#: participant-level columns read as the reason a participant stopped (first present is used)
REASON_COLUMNS = ("dropout_reason", "withdrawal_reason", "discontinuation_reason", "reason_for_dropout")


def retention_figure(retention: pd.DataFrame, outcome: str, time: str = "session",
                     complete_from: float | None = None) -> go.Figure:
    """Share of each arm still providing data at each time (from :func:`ipt_outcomes.retention`);
    with ``complete_from``, the completer threshold of the flow diagram as a dashed line, so the
    retained share there is the flow's "completed"."""
    colors = arm_colors(retention["arm"].astype(str).unique())
    fig = go.Figure()
    for arm, d in retention.groupby(retention["arm"].astype(str)):
        fig.add_trace(go.Scatter(x=d["time"], y=d["percent_retained"], mode="lines+markers", name=plain(arm),
                                 line={"color": colors[arm], "shape": "hv"},
                                 customdata=d[["n_retained", "n_randomised"]].to_numpy(),
                                 hovertemplate=plain(time) + " %{x}<br>%{y:.0f}% retained (%{customdata[0]} of "
                                 "%{customdata[1]})<extra>" + plain(arm) + "</extra>"))
    if complete_from is not None:
        fig.add_vline(x=complete_from, line={"dash": "dash", "color": "grey"},
                      annotation_text=f"completed: observed at {plain(time)} {complete_from:g} or later")
    fig.update_yaxes(range=[0, 105])
    return base_layout(fig, f"{plain(outcome)}: participants still providing data (a score at this time or later)",
                       plain(time.capitalize()), "Retained (%)")


def flow_counts(df: pd.DataFrame, outcome: str, complete_from: float, analysed: set[str], time: str | None = None
                ) -> pd.DataFrame:
    """Counts per arm: randomised, with a baseline score, with a score after baseline, completed
    (observed at or after ``complete_from``), not completed, analysed in the primary model; and
    ``reasons``: the non-completers' reasons ("moved away: 3; not recorded: 2") when the data have a
    reason column (:data:`REASON_COLUMNS`), else empty. One pass over the rows (integer codes)."""
    from ..study import time_column

    time = time_column(df, time).column
    reason_col = next((c for c in REASON_COLUMNS if c in df.columns), None)
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time, *([reason_col] if reason_col else [])])
    codes, ids = pd.factorize(data["participant_id"])
    t = pd.to_numeric(data[time], errors="coerce").to_numpy(float)
    t = np.where(pd.to_numeric(data["score"], errors="coerce").notna().to_numpy(), t, np.nan)
    per = pd.DataFrame({"arm": data["arm"].astype(str).to_numpy(), "c": codes}).groupby("c")["arm"].first().to_frame()
    per["baseline"] = pd.Series(t == 0).groupby(codes).any()
    per["any_post_baseline"] = pd.Series(t > 0).groupby(codes).any()
    per["completed"] = pd.Series(t >= complete_from).groupby(codes).any()
    # set lookups: pandas' isin on Arrow text makes an Arrow scalar of each of the values (10 s at 1M)
    per["analysed"] = np.array([i in analysed for i in map(str, ids)], dtype=bool)[per.index]
    if reason_col:
        given = data[reason_col].where(data[reason_col].notna(), None)
        per["reason"] = pd.Series(given.to_numpy(dtype=object)).groupby(codes).first()
    rows = []
    for arm, g in per.groupby("arm"):
        text = ""
        if reason_col:
            tally = g.loc[~g["completed"], "reason"].fillna("not recorded").astype(str).value_counts()
            text = "; ".join(f"{why}: {n}" for why, n in tally.items())
        rows.append({"arm": arm, "randomised": len(g), "baseline": int(g["baseline"].sum()),
                     "any_post_baseline": int(g["any_post_baseline"].sum()), "completed": int(g["completed"].sum()),
                     "not_completed": int((~g["completed"]).sum()), "analysed": int(g["analysed"].sum()),
                     "reasons": text})
    out = pd.DataFrame(rows)
    out.attrs["complete_from"], out.attrs["time"], out.attrs["reason_column"] = complete_from, time, reason_col
    return out


def flow_figure(counts: pd.DataFrame) -> go.Figure:
    """CONSORT-style diagram: randomised, then per arm allocated, baseline assessed, followed up
    (completed, and not completed with the reasons the data give), analysed."""
    time, cut = counts.attrs.get("time", "session"), counts.attrs.get("complete_from")
    colors = arm_colors(counts["arm"].astype(str).unique())
    fig = go.Figure()
    k = len(counts)
    levels = {"randomised": 0.95, "allocated": 0.77, "baseline": 0.59, "follow": 0.36, "analysed": 0.08}

    def box(x: float, y: float, text: str, color: str = "#444444") -> None:
        fig.add_annotation(x=x, y=y, xref="x", yref="y", text=text, showarrow=False, align="center",
                           bordercolor=color, borderwidth=1.5, borderpad=6, bgcolor="white", font={"size": 12})

    def arrow(x0: float, y0: float, x1: float, y1: float) -> None:
        fig.add_annotation(x=x1, y=y1 + 0.045, ax=x0, ay=y0 - 0.045, xref="x", yref="y", axref="x", ayref="y",
                           text="", showarrow=True, arrowhead=2, arrowwidth=1.2, arrowcolor="#777777")

    box(0.5, levels["randomised"], f"<b>Randomised</b> (n = {int(counts['randomised'].sum()):,})")
    rule = f"observed at {plain(time)} {cut:g} or later" if cut is not None else "completed"
    for i, r in enumerate(counts.itertuples()):
        x = (i + 0.5) / k
        arm = plain(r.arm)
        arrow(0.5, levels["randomised"], x, levels["allocated"])
        box(x, levels["allocated"], f"<b>Allocated to {arm}</b> (n = {r.randomised:,})", colors[str(r.arm)])
        arrow(x, levels["allocated"], x, levels["baseline"])
        box(x, levels["baseline"], f"Baseline score: {r.baseline:,}<br>Any score after baseline: {r.any_post_baseline:,}")
        arrow(x, levels["baseline"], x, levels["follow"])
        lines = [f"<b>Completed</b> ({rule}): {r.completed:,}", f"<b>Did not complete</b>: {r.not_completed:,}"]
        if r.reasons:
            lines += [plain(part) for part in r.reasons.split("; ")][:8]
        box(x, levels["follow"], "<br>".join(lines))
        arrow(x, levels["follow"] - 0.06, x, levels["analysed"])
        box(x, levels["analysed"], f"<b>Analysed</b> (mixed model, all with a score): {r.analysed:,}")
    fig.update_xaxes(visible=False, range=[0, 1], fixedrange=True)
    fig.update_yaxes(visible=False, range=[0, 1], fixedrange=True)
    fig.update_layout(title={"text": "Participant flow (CONSORT)", "x": 0.01}, template="plotly_white",
                      height=560 + 14 * max((len(str(x).split("; ")) for x in counts["reasons"]), default=0),
                      margin={"l": 20, "r": 20, "t": 60, "b": 20})
    return fig
