"""The rules of the canonical table, each with its check name, severity and how-to-fix message.

A rule is a vectorised test returning a boolean Series (True = the row passes) and an ``explain``
function that words the problem of each failing row. :mod:`.schema` turns the rules into one
pandera schema so that every rule runs in one lazy pass; :mod:`.validate` collects the result.

Each ``explain`` returns ``(value, text)`` per failing position; the caller prefixes the location
(file, line, participant, column).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..distinct import distinct_map
from ..vocabulary import alias_map, canonical_spec, fold
from .context import ValidationContext

__all__ = ["Rule", "as_numbers", "build_rules", "participant_keys"]

Severity = Literal["error", "warning"]
Explain = Callable[[pd.DataFrame, np.ndarray], list[tuple[object, str]]]


@dataclass(frozen=True)
class Rule:
    """One check. ``column`` is the column it reports; ``frame_level`` rules see the whole table."""

    check: str
    column: str | None
    severity: Severity
    passes: Callable[[pd.DataFrame], pd.Series]
    explain: Explain
    frame_level: bool = False

    @property
    def key(self) -> str:
        """Unique name inside the pandera schema."""
        return f"{self.check}:{self.column}"


# --- helpers ---------------------------------------------------------------------------------

def _to_float(value: object) -> float:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return np.nan
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return np.nan
    return np.nan


def as_numbers(series: pd.Series) -> pd.Series:
    """Float view of a column; NaN for anything that is not a finite number (inf included)."""
    if pd.api.types.is_bool_dtype(series):
        out = pd.Series(np.nan, index=series.index)
    elif pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype):
        out = series.astype("float64")
    else:
        out = distinct_map(series, _to_float, np.nan, "float64")
    return out.where(np.isfinite(out))


def _present(series: pd.Series) -> pd.Series:
    return ~series.isna()


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _values(frame: pd.DataFrame, column: str, pos: np.ndarray) -> list[object]:
    return list(frame[column].to_numpy(dtype=object)[pos])


def participant_keys(frame: pd.DataFrame) -> list[str]:
    """Columns that identify a participant: participant_id, within trial_id when pooled."""
    return [c for c in ("trial_id", "participant_id") if c in frame.columns]


def _cell_code(value: object) -> str:
    return "\x00" if _is_na(value) else str(value)


def _is_na(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def cell_codes(series: pd.Series) -> pd.Series:
    """``_cell_code`` of every cell, computed once per distinct value and spread back by position (a
    million rows hold a few thousand distinct values), as an Arrow-backed text column."""
    return distinct_map(series, _cell_code, "\x00", dtype="string")


def codes(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """One text code per row for the values of ``columns`` (missing values get their own code)."""
    if not columns:
        return pd.Series("", index=frame.index, dtype=object)
    out = cell_codes(frame[columns[0]])
    for column in columns[1:]:
        out = out + "\x1f" + cell_codes(frame[column])
    return out.astype(object)


def participant_code(frame: pd.DataFrame, extra: list[str] | None = None) -> pd.Series:
    """Participant code per row (within trial, plus ``extra`` columns); None without participant_id."""
    code = codes(frame, participant_keys(frame) + list(extra or []))
    return code.where(_present(frame["participant_id"]), None)


def _format_number(x: float) -> str:
    return f"{x:g}"


# --- column rules ----------------------------------------------------------------------------

def _not_null(column: str) -> Rule:
    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [("", f"is empty; every row needs a {column}. Fill it in or remove the row.")] * len(pos)

    return Rule("not_null", column, "error", lambda f: _present(f[column]), explain)


def _allowed_values(column: str, allowed: tuple[str, ...]) -> Rule:
    allowed_set = set(allowed)
    aliases = alias_map(column)

    def passes(frame: pd.DataFrame) -> pd.Series:
        s = frame[column]
        return ~_present(s) | distinct_map(s, lambda v: isinstance(v, str) and v in allowed_set, False, bool)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        out = []
        for value in _values(frame, column, pos):
            guess = aliases.get(fold(value)) if isinstance(value, str) else None
            hint = (f"it looks like {guess!r}: load the file with ipt.load, which maps known aliases, or "
                    f"write {guess!r}" if guess else
                    f"use one of {', '.join(allowed)}, or map it in the study file under values.{column}")
            out.append((value, f"{_text(value)!r} is not an allowed value; {hint}."))
        return out

    return Rule("allowed_values", column, "error", passes, explain)


def _known_instrument(ctx: ValidationContext) -> Rule:
    keys = set(ctx.registry)

    def passes(frame: pd.DataFrame) -> pd.Series:
        s = frame["instrument"]
        return ~_present(s) | distinct_map(s, lambda v: isinstance(v, str) and v in keys, False, bool)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        out = []
        for value in _values(frame, "instrument", pos):
            guess = ctx.registry.resolve(value)
            hint = (f"it looks like {guess!r}: write {guess!r} or load the file with ipt.load" if guess else
                    f"known instruments are {', '.join(sorted(keys))}; declare a new one in the study file "
                    "under instruments: with min, max and higher_is")
            out.append((value, f"instrument {_text(value)!r} is not known; {hint}."))
        return out

    return Rule("known_instrument", "instrument", "error", passes, explain)


def _numeric(column: str) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        s = frame[column]
        return ~_present(s) | as_numbers(s).notna()

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)!r} is not a number; write a number (decimal point '.'), or leave the cell "
                    "empty if the value is missing.") for v in _values(frame, column, pos)]

    return Rule("numeric", column, "error", passes, explain)


def _integer(column: str) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame[column])
        return x.isna() | (x == np.round(x))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is not a whole number; write the number of sessions as a whole "
                    "number (use week for fractional times).")
                for v in _values(frame, column, pos)]

    return Rule("integer", column, "error", passes, explain)


def _max_value(column: str, maximum: float) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame[column])
        return x.isna() | (x <= maximum)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is above {_format_number(maximum)}, more than any course of therapy; correct "
                    "it, or leave the cell empty if the value is unknown.")
                for v in _values(frame, column, pos)]

    return Rule("max_value", column, "error", passes, explain)


def _min_value(column: str, minimum: float) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame[column])
        return x.isna() | (x >= minimum)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is below {_format_number(minimum)}; correct it ({column} counts from 0 "
                    "at baseline).")
                for v in _values(frame, column, pos)]

    return Rule("min_value", column, "error", passes, explain)


def _date(column: str) -> Rule:
    def parsed(s: pd.Series) -> pd.Series:
        if pd.api.types.is_datetime64_any_dtype(s):
            return s
        return distinct_map(s, _parse_date, pd.NaT)

    def passes(frame: pd.DataFrame) -> pd.Series:
        s = frame[column]
        return ~_present(s) | _present(parsed(s))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)!r} is outside the dates that can be analysed ({DATE_RANGE}); if it is a code "
                    "for an unknown date, leave the cell empty or list the code in read.na_values."
                 if _out_of_range(v) else
                 f"{_text(v)!r} is not a date; write dates as YYYY-MM-DD, or give read.date_format "
                 "in the study file.") for v in _values(frame, column, pos)]

    return Rule("date", column, "error", passes, explain)


#: the dates pandas holds at nanosecond resolution (``pd.Timestamp.min`` to ``max``)
DATE_RANGE = "1677-09-22 to 2262-04-11"


def _out_of_range(value: object) -> bool:
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return False
    return not pd.isna(stamp) and not pd.Timestamp.min <= stamp <= pd.Timestamp.max


def _parse_date(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return pd.NaT
    if not isinstance(value, (str, pd.Timestamp, np.datetime64)) and not hasattr(value, "isoformat"):
        return pd.NaT
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return pd.NaT
    return stamp if not pd.isna(stamp) and pd.Timestamp.min <= stamp <= pd.Timestamp.max else pd.NaT


def parse_dates(series: pd.Series) -> pd.Series:
    """Datetime view of a column; NaT where a value is not a date."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    return pd.to_datetime(distinct_map(series, _parse_date, pd.NaT), errors="coerce")


# --- frame rules -----------------------------------------------------------------------------

def _score_range(ctx: ValidationContext) -> Rule:
    def bounds(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        inst = frame["instrument"]
        lo = distinct_map(inst, lambda k: ctx.registry[k].min if isinstance(k, str) and k in ctx.registry else np.nan,
                          np.nan, "float64")
        hi = distinct_map(inst, lambda k: ctx.registry[k].max if isinstance(k, str) and k in ctx.registry else np.nan,
                          np.nan, "float64")
        return lo, hi

    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame["score"])
        lo, hi = bounds(frame)
        return ~((x < lo) | (x > hi))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        out = []
        for value, inst in zip(_values(frame, "score", pos), _values(frame, "instrument", pos), strict=True):
            i = ctx.registry[inst]
            out.append((value, f"score {_text(value)} is outside the {inst} range {_format_number(i.min)} to "
                               f"{_format_number(i.max)}; correct the score (or leave it empty if unknown), or "
                               "check that the row's instrument is right."))
        return out

    return Rule("score_range", "score", "error", passes, explain, frame_level=True)


def _score_integer(ctx: ValidationContext) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame["score"])
        integer = distinct_map(frame["instrument"],
                               lambda k: bool(isinstance(k, str) and k in ctx.registry and ctx.registry[k].integer),
                               False, bool)
        return ~(integer & x.notna() & (x != np.round(x)))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"score {_text(v)} of {inst} is not a whole number although its totals are; check for "
                    "prorated or averaged totals.")
                for v, inst in zip(_values(frame, "score", pos), _values(frame, "instrument", pos), strict=True)]

    return Rule("score_integer", "score", "warning", passes, explain, frame_level=True)


def _unique_key(ctx: ValidationContext) -> Rule:
    def key_columns(frame: pd.DataFrame) -> list[str]:
        return participant_keys(frame) + list(ctx.time_columns) + ["instrument"]

    def passes(frame: pd.DataFrame) -> pd.Series:
        key = participant_code(frame, list(ctx.time_columns) + ["instrument"])
        return key.isna() | ~key.duplicated(keep=False)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        cols = key_columns(frame)
        key = frame[cols].astype(object).map(_text).apply(tuple, axis=1)
        groups: dict[tuple[str, ...], list[int]] = {}
        for p in pos:
            groups.setdefault(key.iloc[p], []).append(int(p))
        out = []
        for p in pos:
            k = key.iloc[p]
            others = [q for q in groups[k] if q != p]
            desc = ", ".join(f"{c}={v}" for c, v in zip(cols, k, strict=True) if c != "participant_id")
            also = ", ".join(ctx.where(q, q)[2] for q in others[:5])
            out.append((desc, f"the same participant, time and instrument ({desc}) appear on {len(groups[k])} "
                              f"rows (also {also}); keep one row, or fix the time or instrument of the other."))
        return out

    return Rule("unique_key", "participant_id", "error", passes, explain, frame_level=True)


def _modal_values(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per row: the most common non-missing value (as text) of ``column`` among the participant's rows."""
    pcode = participant_code(frame)
    value = cell_codes(frame[column]).astype(object)
    ok = pcode.notna() & _present(frame[column])
    sub = pd.DataFrame({"p": pcode[ok], "v": value[ok]})
    if sub.empty:
        return pd.Series(None, index=frame.index, dtype=object)
    counts = sub.groupby(["p", "v"], sort=False).size().reset_index(name="n")
    counts = counts.sort_values("n", ascending=False, kind="stable").drop_duplicates("p").set_index("p")["v"]
    return pcode.map(counts).astype(object)


def _participant_constant(column: str) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        if "participant_id" not in frame.columns:
            return pd.Series(True, index=frame.index)
        mode = _modal_values(frame, column)
        value = cell_codes(frame[column]).astype(object)
        return ~_present(frame[column]) | mode.isna() | (value == mode)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        mode = _modal_values(frame, column)
        return [(v, f"{_text(v)!r} differs from this participant's other rows ({mode.iloc[p]!r}); "
                    f"{column} is a participant-level column and must be the same on every row.")
                for v, p in zip(_values(frame, column, pos), pos, strict=True)]

    return Rule("participant_constant", column, "error", passes, explain, frame_level=True)


def _spelling_variants(column: str) -> Rule:
    """Labels that differ only in case or spacing (``ipt`` and ``IPT``) would be analysed as different
    arms (trials, therapists): an error, since nothing tells which spelling is meant."""

    def variants(frame: pd.DataFrame) -> dict[str, list[str]]:
        labels = pd.Series(pd.unique(frame[column].dropna().astype(str)))
        groups = labels.groupby(labels.map(lambda v: " ".join(v.split()).casefold())).agg(list)
        return {k: sorted(v) for k, v in groups.items() if len(v) > 1}

    def passes(frame: pd.DataFrame) -> pd.Series:
        clash = variants(frame)
        if not clash:
            return pd.Series(True, index=frame.index)
        text = frame[column].astype("string")
        minority: set[str] = set()
        for group in clash.values():  # report the rows of the less common spellings
            counts = text[text.isin(group)].value_counts()
            minority |= set(counts.index[1:])
        return ~text.isin(minority).fillna(False).astype(bool)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        clash = variants(frame)
        out = []
        for v in _values(frame, column, pos):
            group = clash.get(" ".join(str(v).split()).casefold(), [str(v)])
            out.append((v, f"{_text(v)!r} and {', '.join(repr(g) for g in group if g != str(v))} differ only in "
                           f"case or spacing and would count as different {column} values; write one spelling "
                           "(or map them in the study file's values section)."))
        return out

    return Rule("spelling_variants", column, "error", passes, explain, frame_level=True)


def _problem_areas_distinct() -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        a, b = frame["problem_area"], frame["problem_area_secondary"]
        return ~(_present(a) & _present(b) & (distinct_map(a, str) == distinct_map(b, str)))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"the secondary problem area repeats the primary one ({_text(v)!r}); leave "
                    "problem_area_secondary empty or give a different area.")
                for v in _values(frame, "problem_area_secondary", pos)]

    return Rule("problem_areas_distinct", "problem_area_secondary", "error", passes, explain, frame_level=True)


def _at_most_two_problem_areas() -> Rule:
    columns = ["problem_area", "problem_area_secondary"]

    def areas(frame: pd.DataFrame) -> pd.Series:
        pcode = participant_code(frame)
        present = [c for c in columns if c in frame.columns]
        long = pd.concat([pd.DataFrame({"p": pcode, "a": frame[c].astype(object)}) for c in present],
                         ignore_index=True)
        long = long[long["p"].notna() & _present(long["a"])].assign(a=lambda d: d["a"].map(str))
        sets = long.groupby("p", sort=False)["a"].agg(lambda s: tuple(sorted(set(s))))
        return pcode.map(sets).astype(object)

    def passes(frame: pd.DataFrame) -> pd.Series:
        sets = areas(frame)
        too_many = sets.map(lambda s: isinstance(s, tuple) and len(s) > 2).astype(bool)
        first = ~participant_code(frame).duplicated()
        return ~(too_many & first)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        sets = areas(frame)
        return [(", ".join(sets.iloc[p]), f"this participant has {len(sets.iloc[p])} problem areas "
                 f"({', '.join(sets.iloc[p])}); IPT works on at most two: keep the primary and one secondary.")
                for p in pos]

    return Rule("at_most_two_problem_areas", "problem_area", "error", passes, explain, frame_level=True)


def _secondary_without_primary() -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        return ~(_present(frame["problem_area_secondary"]) & ~_present(frame["problem_area"]))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, "a secondary problem area is given without a primary one; fill in problem_area.")
                for v in _values(frame, "problem_area_secondary", pos)]

    return Rule("secondary_without_primary", "problem_area_secondary", "warning", passes, explain,
                frame_level=True)


def _baseline_present(ctx: ValidationContext) -> Rule:
    time = ctx.time_columns[0]

    def passes(frame: pd.DataFrame) -> pd.Series:
        code = participant_code(frame, ["instrument"])
        t = as_numbers(frame[time])
        has_zero = (t == 0).groupby(code, sort=False).transform("any").reindex(frame.index, fill_value=True)
        return has_zero.astype(bool) | code.isna() | code.duplicated()

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        code = participant_code(frame, ["instrument"])
        earliest = as_numbers(frame[time]).groupby(code, sort=False).transform("min")
        return [(inst, f"no baseline ({time} 0) for {inst}; the earliest {time} is "
                       f"{_text(earliest.get(p))}. Add the baseline row, or check the {time} numbering "
                       "(baseline is 0).")
                for inst, p in zip(_values(frame, "instrument", pos), pos, strict=True)]

    return Rule("baseline_present", "instrument", "warning", passes, explain, frame_level=True)


def _planned_sessions(ctx: ValidationContext) -> Rule:
    limit = ctx.planned_sessions_max

    def passes(frame: pd.DataFrame) -> pd.Series:
        x = as_numbers(frame["session"])
        return ~(x > limit)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"session {_text(v)} is beyond the planned maximum of {limit} sessions; check the value, "
                    "or set sessions.max in the study file.") for v in _values(frame, "session", pos)]

    return Rule("planned_sessions", "session", "warning", passes, explain, frame_level=True)


def _time_order(ctx: ValidationContext) -> Rule:
    time = ctx.time_columns[0]

    def disorder(frame: pd.DataFrame) -> pd.Series:
        code = participant_code(frame, ["instrument"])
        dates = parse_dates(frame["assessment_date"])
        t = as_numbers(frame[time])
        ok = dates.notna() & t.notna() & code.notna()
        sub = pd.DataFrame({"_k": code[ok], "_d": dates[ok], "_t": t[ok]})
        sub = sub.sort_values(["_k", "_d", "_t"], kind="stable")
        running = sub.groupby("_k", sort=False)["_t"].cummax()
        bad = sub["_t"] < running
        return bad.reindex(frame.index, fill_value=False)

    def passes(frame: pd.DataFrame) -> pd.Series:
        return ~disorder(frame)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(f"{time}={_text(t)}, date={_text(d)}",
                 f"{time} {_text(t)} on {_text(d)} comes after a higher {time} at an earlier date; check the "
                 f"{time} numbers and dates of this participant.")
                for t, d in zip(_values(frame, time, pos), _values(frame, "assessment_date", pos), strict=True)]

    return Rule("time_order", time, "warning", passes, explain, frame_level=True)


def _problem_area_arm(ctx: ValidationContext) -> Rule:
    def passes(frame: pd.DataFrame) -> pd.Series:
        has_area = pd.Series(False, index=frame.index)
        for c in ("problem_area", "problem_area_secondary"):
            if c in frame.columns:
                has_area |= _present(frame[c])
        ipt = distinct_map(frame["arm"], ctx.is_ipt_arm, False, bool)
        flagged = has_area & ~ipt & _present(frame["arm"])
        code = participant_code(frame) if "participant_id" in frame.columns else pd.Series(frame.index, index=frame.index)
        first = ~(code.where(flagged).duplicated() & flagged)  # once per participant: the first such row
        return ~(flagged & first)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(a, f"a problem area is recorded for arm {_text(a)!r}, which is not an IPT arm; remove it, list "
                    "the arm under ipt_arms, or set problem_areas_assessed: all in the study file if problem areas "
                    "were rated at intake in every arm.") for a in _values(frame, "arm", pos)]

    return Rule("problem_area_arm", "problem_area", "warning", passes, explain, frame_level=True)


# --- assembly --------------------------------------------------------------------------------

def build_rules(frame: pd.DataFrame, ctx: ValidationContext) -> Iterator[Rule]:
    """Yield the rules that apply to the columns this table has."""
    spec = canonical_spec()["columns"]
    have = set(frame.columns)
    for column, col in spec.items():
        if column not in have:
            continue
        if not col.get("nullable", True):
            yield _not_null(column)
        if col.get("values"):
            yield _allowed_values(column, tuple(col["values"]))
        if col.get("type") in ("float", "int"):
            yield _numeric(column)
        if col.get("type") == "int":
            yield _integer(column)
        if "min" in col:
            yield _min_value(column, float(col["min"]))
        if "max" in col:
            yield _max_value(column, float(col["max"]))
        if col.get("type") == "date":
            yield _date(column)
    if "instrument" in have:
        yield _known_instrument(ctx)
        if "score" in have:
            yield _score_range(ctx)
            yield _score_integer(ctx)
    if {"participant_id", "instrument"} <= have and ctx.time_columns:
        yield _unique_key(ctx)
        yield _baseline_present(ctx)
        if "assessment_date" in have:
            yield _time_order(ctx)
    for column in ("arm", "trial_id", "therapist_id", "site"):
        if column in have:
            yield _spelling_variants(column)
    if "participant_id" in have:
        for column, col in spec.items():
            if col.get("participant_level") and column in have:
                yield _participant_constant(column)
        if have & {"problem_area", "problem_area_secondary"}:
            yield _at_most_two_problem_areas()
    if {"problem_area", "problem_area_secondary"} <= have:
        yield _problem_areas_distinct()
        yield _secondary_without_primary()
    if "session" in have:
        yield _planned_sessions(ctx)
    if "arm" in have and have & {"problem_area", "problem_area_secondary"} and not ctx.problem_areas_all_arms:
        yield _problem_area_arm(ctx)
