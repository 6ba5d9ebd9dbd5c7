"""One convention for every result object (growth models, the MMRM, meta-analysis, estimands):

* ``summary()`` returns a :class:`Summary`, which prints as text (the terminal, ``print``) and renders
  as HTML in a notebook (``_repr_html_``), every data text escaped;
* named DataFrame properties (``fixed_effects``, ...) and ``to_frame()`` for the main table;
* ``to_dict()`` for JSON (:func:`jsonable`: numbers as numbers, missing values as ``null``).

Numbers in a summary are shown by quantity, as a journal prints them (:func:`format_frame`): p values
as APA writes them (``< .001``, ``.034``), degrees of freedom to one decimal, counts as whole numbers,
percentages to whole numbers, other numbers to two decimals (small ones to two significant digits).
Stored results are never rounded.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .formatting import p_cell

__all__ = ["Summary", "format_frame", "format_number", "jsonable", "records"]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON-ready records (missing values as None)."""
    return [jsonable(r) for r in frame.astype(object).where(frame.notna(), None).to_dict(orient="records")]


def jsonable(value: Any) -> Any:
    """``value`` with numpy and pandas values made plain Python (NaN and infinities as None)."""
    if isinstance(value, pd.DataFrame):
        return records(value)
    if isinstance(value, pd.Series):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(float(value)) else None
    if value is None or value is pd.NA:
        return None
    return value


def _kind(column: str) -> str:
    name = column.lower()
    if name in ("p", "p_value") or name.endswith("p_value"):
        return "p"
    if name in ("df", "q_df", "q_between_df", "df_num", "df_den") or name.endswith("_df"):
        return "df"
    if name in ("n", "k", "count") or name.startswith("n_") or name.endswith("_n"):
        return "count"
    if "percent" in name or name.endswith("_pct"):
        return "percent"
    return "number"


def format_number(value: Any, kind: str = "number") -> str:
    """One number as a summary shows it (see the module docstring); a missing value is empty."""
    if value is None or (isinstance(value, float | np.floating) and not math.isfinite(float(value))):
        return "" if value is None or math.isnan(float(value)) else ("inf" if float(value) > 0 else "-inf")
    if not isinstance(value, int | float | np.integer | np.floating) or isinstance(value, bool | np.bool_):
        return str(value)
    v = float(value)
    if kind == "p":
        return p_cell(v)
    if kind == "df":
        return f"{v:.1f}"
    if kind == "count":
        return f"{v:.0f}"
    if kind == "percent":
        return f"{v:.0f}"
    if v != 0 and abs(v) < 0.01:
        return f"{v:.2g}"
    if abs(v) >= 1e6:
        return f"{v:.4g}"
    return f"{v:.2f}"


def format_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every number written as a summary shows it (by its column's name)."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        kind = _kind(str(column))
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = [format_number(v, kind) for v in values]
        else:
            out[column] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in values]
    return out


@dataclass(frozen=True)
class Summary:
    """A result in brief: a title, lines of text, captioned tables and notes. ``str()`` gives the
    text; a notebook shows ``_repr_html_``."""

    title: str
    lines: tuple[str, ...] = ()
    tables: tuple[tuple[str, pd.DataFrame], ...] = field(default=())
    notes: tuple[str, ...] = ()

    @classmethod
    def of(cls, title: str, lines: Iterable[str] = (), tables: Iterable[tuple[str, pd.DataFrame]] = (),
           notes: Iterable[str] = ()) -> Summary:
        return cls(title, tuple(lines), tuple(tables), tuple(dict.fromkeys(notes)))

    def __str__(self) -> str:
        parts = [self.title, *self.lines]
        for caption, table in self.tables:
            parts += ["", caption, format_frame(table).to_string(index=False) if len(table) else "(none)"]
        if self.notes:
            parts += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        out = [f"<p><strong>{html.escape(self.title)}</strong></p>"]
        if self.lines:
            out.append("<p>" + "<br>".join(html.escape(line) for line in self.lines) + "</p>")
        for caption, table in self.tables:
            out.append(f"<p>{html.escape(caption)}</p>")
            out.append(format_frame(table).to_html(index=False, escape=True))
        if self.notes:
            out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes) + "</ul>")
        return "\n".join(out)
