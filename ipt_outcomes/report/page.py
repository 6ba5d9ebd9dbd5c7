"""The HTML page: one self-contained file, plotly.js embedded once, every data string escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from ..plaintext import printable

__all__ = ["Section", "escape", "figure_html", "render_page", "table_html"]

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f2f5f9}td:first-child,th:first-child{text-align:left}.note{background:#fff8e1;border-left:4px solid #E69F00;
padding:.5em 1em;margin:1em 0}.apa{background:#f4f9fd;border-left:4px solid #0072B2;padding:.6em 1em}
nav a{margin-right:1em}.figure{margin:1em 0;overflow:hidden}code{background:#f4f4f4;padding:0 .2em}
pre{overflow-x:auto;font-size:.85em}section{overflow-x:auto}
"""


def escape(value: object) -> str:
    """HTML text of a value: markup escaped, control characters shown as escapes."""
    return html.escape(printable("" if value is None else str(value)))


class Section:
    """A titled part of the report; ``parts`` are HTML snippets already escaped."""

    def __init__(self, key: str, title: str) -> None:
        self.key, self.title = key, title
        self.parts: list[str] = []

    def add(self, snippet: str) -> None:
        self.parts.append(snippet)

    def paragraph(self, text: str, css: str | None = None) -> None:
        cls = f' class="{css}"' if css else ""
        self.parts.append(f"<p{cls}>{escape(text)}</p>")


def table_html(df: pd.DataFrame, digits: int = 2, caption: str | None = None) -> str:
    shown = df.copy()
    for column in shown.columns:
        if column in ("p_value", "p_unc", "p-unc") and pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else ("<.001" if v < 0.001 else
                                                                             f"{v:.3f}".replace("0.", ".", 1)))
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
        elif not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: printable(v) if isinstance(v, str) else v)
    shown.columns = [printable(str(c)) for c in shown.columns]
    out = shown.to_html(index=False, escape=True, na_rep="", border=0)
    if caption:
        i = out.index(">") + 1
        out = out[:i] + f"<caption>{escape(caption)}</caption>" + out[i:]
    return out


def figure_html(fig: go.Figure, div_id: str) -> str:
    body = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config={"displaylogo": False})
    return f'<div class="figure">{body}</div>'


def render_page(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    nav = " ".join(f'<a href="#{s.key}">{escape(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{s.key}"><h2>{escape(s.title)}</h2>{"".join(s.parts)}</section>' for s in sections)
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
            f"<style>{CSS}</style><script type=\"text/javascript\">{get_plotlyjs()}</script></head><body>"
            f"<h1>{escape(title)}</h1><p>{escape(subtitle)}</p><nav>{nav}</nav>{body}</body></html>")
