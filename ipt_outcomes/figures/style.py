"""Shared look of the figures: one colour per arm everywhere, axis labels with instrument and unit."""

from __future__ import annotations

import html
from collections.abc import Iterable

import numpy as np
import plotly.graph_objects as go

from ..plaintext import printable
from ..registry import Registry, default_registry

__all__ = ["MAX_POINTS", "arm_colors", "base_layout", "outcome_label", "plain", "shown_note", "thinned", "with_alpha"]

#: most markers one figure draws; beyond it figures show a sample (or evenly spaced ranks) and say
#: so in the title, so a report on a million participants stays a few megabytes and opens quickly
MAX_POINTS = 4000

#: colour-blind-safe palette (Okabe-Ito); IPT arms take the blues, comparators the others
_IPT_COLORS = ["#0072B2", "#56B4E9", "#009E73"]
_OTHER_COLORS = ["#D55E00", "#E69F00", "#CC79A7", "#999999", "#F0E442"]


def arm_colors(arms: Iterable[str]) -> dict[str, str]:
    """A fixed colour for each arm (sorted, so the same arm keeps its colour across figures)."""
    ipt, other = iter(_IPT_COLORS), iter(_OTHER_COLORS)
    out = {}
    for arm in sorted({str(a) for a in arms}):
        is_ipt = "ipt" in arm.lower() or "interpersonal" in arm.lower()
        out[arm] = next(ipt if is_ipt else other, "#555555")
    return out


def plain(value: object) -> str:
    """Text from the data as plotly shows it: as text only. Plotly reads a subset of HTML in names,
    labels and hover text (``<a href>`` makes a link, ``<b>`` bold) and ``%{...}`` in hover templates;
    here ``<``, ``>``, ``&`` and ``%`` become entities, which plotly shows as the characters typed."""
    return html.escape(printable(str(value)), quote=False).replace("%", "&#37;")


def with_alpha(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def outcome_label(outcome: str, registry: Registry | None = None) -> str:
    """'HAM-D 17 (points)' for an instrument of the registry in force (a study's own included), else the key."""
    reg = registry if registry is not None else default_registry()
    return plain(reg[outcome].label if outcome in reg else outcome)


def base_layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", hovermode="closest",
                      legend={"orientation": "h", "y": -0.2}, margin={"l": 70, "r": 20, "t": 60, "b": 70})
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


def thinned(n: int, limit: int | None = None, evenly: bool = False, seed: int = 1) -> np.ndarray:
    """Positions of the items shown out of ``n``: all when they fit in ``limit``; else ``limit``
    evenly spaced positions (``evenly``: for sorted data, keeps the shape of a QQ plot or a ranked
    plot) or a random sample (seeded, in order). ``limit`` defaults to :data:`MAX_POINTS`."""
    limit = MAX_POINTS if limit is None else limit
    if n <= limit:
        return np.arange(n)
    if evenly:
        return np.unique(np.linspace(0, n - 1, limit).round().astype(np.int64))
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def shown_note(shown: int, total: int, what: str, how: str) -> str:
    """Title suffix saying that a figure shows part of the data: '(4,000 of 1,318,664 residuals, random sample)'."""
    return "" if shown >= total else f" ({shown:,} of {total:,} {what}, {how})"
