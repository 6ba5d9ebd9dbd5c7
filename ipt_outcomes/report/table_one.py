"""Table 1: the baseline characteristics of the participants by arm.

One column per arm headed with its N ("IPT (N = 80)") and an overall column. The baseline score of
the outcome, age and sessions attended are given as mean (SD), with the number missing where any
value is; categorical characteristics as n (%), with a "missing" row where any value is. The
study file's ``characteristics`` add columns of the user's (``employment``, ``antidepressant``),
and its ``labels`` name the rows. A number with fewer than ten distinct values (a 0/1 code, a
rating) is shown as categories, as gtsummary does. A characteristic with one level in every
participant is left out (it describes the sample, not a difference between arms), and so is one
that groups the participants exactly as a row already shown (population "perinatal" and disorder
"perinatal depression").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..selection import outcome_rows

__all__ = ["baseline_table"]

BUILT_IN = ("sex", "disorder", "problem_area", "population", "format")
CONTINUOUS = (("age", "Age, years"), ("sessions_attended", "Sessions attended"))
#: a number with at least this many distinct values is summarised by its mean (SD)
CONTINUOUS_LEVELS = 10


def _label(column: str, labels: Mapping[str, str]) -> str:
    if column in labels:
        return labels[column]
    text = column.replace("_", " ")
    return text[:1].upper() + text[1:]


def baseline_table(df: pd.DataFrame, outcome: str | None = None, time: str | None = None, study: Any = None
                   ) -> pd.DataFrame:
    """Table 1 of ``outcome``'s participants (see the module's description).

    ``outcome`` and ``time`` default as in every analysis (the study's primary instrument, the time
    column rules); ``study`` (default: the one the table was loaded with) gives the
    ``characteristics`` and ``labels`` of the study file.
    """
    from ..study import Study, primary_outcome, time_column

    study = study if study is not None else Study.from_attrs(df.attrs.get("ipt_study"))
    outcome = primary_outcome(df, outcome, study)
    time = time_column(df, time, study).column
    labels: Mapping[str, str] = dict(study.labels) if study is not None else {}
    extra: Sequence[str] = tuple(study.characteristics) if study is not None else ()
    absent = [c for c in extra if c not in df.columns]
    if absent:
        raise ArgumentError(f"the study file's characteristics name {', '.join(map(repr, absent))}, which the data do not "
                            f"have; columns: {', '.join(map(str, df.columns))}. Fix the name (after the study's "
                            "columns mapping) or remove it.")
    wanted = ["participant_id", "arm", time, "score", *(c for c, _ in CONTINUOUS), *BUILT_IN, *extra]
    rows_of = outcome_rows(df, outcome, list(dict.fromkeys(wanted)))
    rows_of = rows_of.iloc[np.argsort(pd.to_numeric(rows_of[time], errors="coerce").to_numpy(), kind="stable")]
    per = rows_of.groupby("participant_id", sort=False).first()  # the earliest value recorded of each
    at_baseline = pd.to_numeric(rows_of[time], errors="coerce") == 0
    base = rows_of[at_baseline].groupby("participant_id")["score"].first().reindex(per.index)
    arms = sorted(per["arm"].dropna().astype(str).unique())
    groups = {f"{a} (N = {int((per['arm'].astype(str) == a).sum())})": (per["arm"].astype(str) == a).to_numpy()
              for a in arms}
    groups[f"Overall (N = {len(per)})"] = np.ones(len(per), dtype=bool)

    rows = [{"characteristic": f"Baseline {outcome}, mean (SD)", **{g: _mean_sd(base, m) for g, m in groups.items()}}]
    for column, label in CONTINUOUS:
        if column in per.columns and per[column].notna().any() and column not in extra:
            rows.append({"characteristic": f"{labels.get(column, label)}, mean (SD)",
                         **{g: _mean_sd(per[column], m) for g, m in groups.items()}})
    shown: list[str] = []
    for column in dict.fromkeys([*BUILT_IN, *extra]):
        if column not in per.columns or column in ("participant_id", "arm"):
            continue
        values = per[column]
        numbers = _as_numbers(values)
        if numbers is not None and numbers.notna().sum() == values.notna().sum() and \
                numbers.nunique() >= CONTINUOUS_LEVELS:
            rows.append({"characteristic": f"{_label(column, labels)}, mean (SD)",
                         **{g: _mean_sd(numbers, m) for g, m in groups.items()}})
            continue
        values = _one_spelling(values)
        levels = sorted(values.dropna().astype(str).unique(), key=_level_order)
        if len(levels) < 2 and values.notna().all():
            continue  # the same for everyone: not a characteristic that differs
        if column not in extra and any(_same_partition(values, per[other]) for other in shown):
            continue  # a relabelling of a row already shown
        shown.append(column)
        present = values.notna().to_numpy()
        text = values[present].astype(str)  # once per characteristic, not once per level and arm
        counts = {g: text[m[present]].value_counts() for g, m in groups.items()}
        for level in levels:
            cells = {}
            for g, m in groups.items():
                n = int(counts[g].get(level, 0))
                cells[g] = f"{n} ({100 * n / max(int(m.sum()), 1):.0f}%)"
            rows.append({"characteristic": f"{_label(column, labels)}: {level.replace('_', ' ')}", **cells})
        if values.isna().any():
            rows.append({"characteristic": f"{_label(column, labels)}: missing",
                         **{g: str(int(values[m].isna().sum())) for g, m in groups.items()}})
    return pd.DataFrame(rows)


def _one_spelling(values: pd.Series) -> pd.Series:
    """Codes that differ only in case or surrounding spaces (``F``, ``f``, `` F``) as one level, shown in
    its most frequent spelling (validation warns about them)."""
    present = values.dropna().astype(str)
    if present.empty:
        return values
    counts = present.value_counts()
    folded = pd.Series(counts.index, index=counts.index).map(lambda v: " ".join(v.split()).casefold())
    if folded.nunique() == len(folded):
        return values
    shown = {v: counts.index[folded == f][0] for v, f in folded.items()}  # value_counts: the most frequent first
    return values.map(lambda v: shown.get(str(v), v) if pd.notna(v) else v)


def _as_numbers(values: pd.Series) -> pd.Series | None:
    """The column as numbers when it is numeric (or text of numbers), else None. Text is parsed
    through its distinct values, so a text column of a million participants costs one pass."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return None
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        return values.astype(float)
    distinct = pd.Series(pd.unique(values.dropna()))
    parsed = pd.to_numeric(distinct, errors="coerce")
    if parsed.isna().any():
        return None  # some value is not a number: the column is categorical
    return values.map(dict(zip(distinct, parsed, strict=True))).astype(float)


def _level_order(level: str) -> tuple[int, float, str]:
    """Numbers in numeric order (2 before 10), then texts alphabetically."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def _mean_sd(values: pd.Series, mask: np.ndarray) -> str:
    v = pd.to_numeric(values[mask], errors="coerce")
    present = v.dropna()
    text = f"{present.mean():.1f} ({present.std(ddof=1):.1f})" if len(present) > 1 else ""
    missing = int(v.isna().sum())
    return f"{text}; missing {missing}" if missing and text else text


def _same_partition(a: pd.Series, b: pd.Series) -> bool:
    """True when two participant-level columns group the participants identically (one is a
    relabelling of the other)."""
    pair = pd.DataFrame({"a": a.astype(str), "b": b.astype(str)})
    return bool(pair.groupby("a")["b"].nunique().max() == 1 and pair.groupby("b")["a"].nunique().max() == 1)
