"""The rules of the canonical table, each with its check name, severity and how-to-fix message.

A rule is a vectorised test returning a boolean array (True = the row passes), computed from the
integer codes of :class:`.coded.CodedTable`, and an ``explain`` function that words the problem of
each failing row (called only for the rows a report shows). :mod:`.schema` turns the rules into one
pandera schema so that every rule runs in one lazy pass; :mod:`.validate` collects the result.

Each ``explain`` returns ``(value, text)`` per failing position; the caller prefixes the location
(file, line, participant, column).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..vocabulary import alias_map, canonical_spec, fold
from .coded import CodedTable, first_in_group
from .context import ValidationContext

__all__ = ["Rule", "build_rules", "participant_keys"]

Severity = Literal["error", "warning"]
Passes = Callable[[pd.DataFrame], np.ndarray]
Explain = Callable[[pd.DataFrame, np.ndarray], list[tuple[object, str]]]


@dataclass(frozen=True)
class Rule:
    """One check. ``column`` is the column it reports; ``frame_level`` rules see the whole table."""

    check: str
    column: str | None
    severity: Severity
    passes: Passes
    explain: Explain
    frame_level: bool = False

    @property
    def key(self) -> str:
        """Unique name inside the pandera schema."""
        return f"{self.check}:{self.column}"


# --- helpers ---------------------------------------------------------------------------------

Tables = Callable[[pd.DataFrame], CodedTable]


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _values(frame: pd.DataFrame, column: str, pos: np.ndarray) -> list[object]:
    return list(frame[column].iloc[pos].to_numpy(dtype=object))


def participant_keys(frame: pd.DataFrame) -> list[str]:
    """Columns that identify a participant: participant_id, within trial_id when pooled."""
    return [c for c in ("trial_id", "participant_id") if c in frame.columns]


def _format_number(x: float) -> str:
    return f"{x:g}"


# --- column rules ----------------------------------------------------------------------------

def _not_null(column: str, t: Tables) -> Rule:
    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [("", f"is empty; every row needs a {column}. Fill it in or remove the row.")] * len(pos)

    return Rule("not_null", column, "error", lambda f: t(f).present(column), explain)


def _allowed_values(column: str, allowed: tuple[str, ...], t: Tables) -> Rule:
    allowed_set = set(allowed)
    aliases = alias_map(column)

    def passes(frame: pd.DataFrame) -> np.ndarray:
        return t(frame).per_value(column, lambda v: isinstance(v, str) and v in allowed_set, True, bool)

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


def _known_instrument(ctx: ValidationContext, t: Tables) -> Rule:
    keys = set(ctx.registry)

    def passes(frame: pd.DataFrame) -> np.ndarray:
        return t(frame).per_value("instrument", lambda v: isinstance(v, str) and v in keys, True, bool)

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


def _numeric(column: str, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        return ~table.present(column) | ~np.isnan(table.numbers(column))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)!r} is not a number; write a number (decimal point '.'), or leave the cell "
                    "empty if the value is missing.") for v in _values(frame, column, pos)]

    return Rule("numeric", column, "error", passes, explain)


def _integer(column: str, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        x = t(frame).numbers(column)
        return np.isnan(x) | (x == np.round(x))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is not a whole number; write the number of sessions as a whole "
                    "number (use week for fractional times).")
                for v in _values(frame, column, pos)]

    return Rule("integer", column, "error", passes, explain)


def _max_value(column: str, maximum: float, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        return ~(t(frame).numbers(column) > maximum)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is above {_format_number(maximum)}, more than any course of therapy; correct "
                    "it, or leave the cell empty if the value is unknown.")
                for v in _values(frame, column, pos)]

    return Rule("max_value", column, "error", passes, explain)


def _min_value(column: str, minimum: float, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        return ~(t(frame).numbers(column) < minimum)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"{_text(v)} is below {_format_number(minimum)}; correct it ({column} counts from 0 "
                    "at baseline).")
                for v in _values(frame, column, pos)]

    return Rule("min_value", column, "error", passes, explain)


def _date(column: str, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            return np.ones(len(frame), dtype=bool)
        return table.per_value(column, lambda v: not pd.isna(_parse_date(v)), True, bool)

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


def _date_numbers(table: CodedTable, column: str) -> np.ndarray:
    """Dates as int64 nanoseconds (NaT's integer where a value is not a date), for ordering."""
    s = table.frame[column]
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    def stamp(v: object) -> np.datetime64:
        parsed = _parse_date(v)
        return np.datetime64("NaT", "ns") if pd.isna(parsed) else pd.Timestamp(parsed).as_unit("ns").to_datetime64()

    stamps = table.per_value(column, stamp, np.datetime64("NaT", "ns"), "datetime64[ns]")
    return stamps.astype(np.int64)


# --- frame rules -----------------------------------------------------------------------------

def _instrument_values(table: CodedTable, ctx: ValidationContext, attribute: str, missing: Any) -> np.ndarray:
    registry = ctx.registry

    def value(k: object) -> Any:
        return getattr(registry[k], attribute) if isinstance(k, str) and k in registry else missing

    return table.per_value("instrument", value, missing, "float64")


def _score_range(ctx: ValidationContext, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        x = table.numbers("score")
        lo = _instrument_values(table, ctx, "min", np.nan)
        hi = _instrument_values(table, ctx, "max", np.nan)
        return ~((x < lo) | (x > hi))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        out = []
        for value, inst in zip(_values(frame, "score", pos), _values(frame, "instrument", pos), strict=True):
            i = ctx.registry[str(inst)]
            out.append((value, f"score {_text(value)} is outside the {inst} range {_format_number(i.min)} to "
                               f"{_format_number(i.max)}; correct the score (or leave it empty if unknown), or "
                               "check that the row's instrument is right."))
        return out

    return Rule("score_range", "score", "error", passes, explain, frame_level=True)


def _score_integer(ctx: ValidationContext, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        x = table.numbers("score")
        integer = table.per_value("instrument", lambda k: bool(isinstance(k, str) and k in ctx.registry
                                                               and ctx.registry[k].integer), False, bool)
        return ~(integer & ~np.isnan(x) & (x != np.round(x)))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"score {_text(v)} of {inst} is not a whole number although its totals are; check for "
                    "prorated or averaged totals.")
                for v, inst in zip(_values(frame, "score", pos), _values(frame, "instrument", pos), strict=True)]

    return Rule("score_integer", "score", "warning", passes, explain, frame_level=True)


def _unique_key(ctx: ValidationContext, t: Tables) -> Rule:
    extra = (*ctx.time_columns, "instrument")

    def passes(frame: pd.DataFrame) -> np.ndarray:
        if _in_strict_key_order(t(frame), ctx.time_columns[:1]):  # the usual sorted export: nothing repeats
            return np.ones(len(frame), dtype=bool)
        key = t(frame).participant(extra)
        counts = np.bincount(key[key >= 0], minlength=1)
        return (key < 0) | (counts[np.maximum(key, 0)] == 1)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        cols = participant_keys(frame) + list(extra)
        key = t(frame).participant(extra)
        wanted = np.isin(key, key[pos])  # the rows that share a key with a shown row: found once, not per row
        rows_of: dict[int, list[int]] = {}
        for q in np.flatnonzero(wanted):
            rows_of.setdefault(int(key[q]), []).append(int(q))
        out: list[tuple[object, str]] = []
        for p in pos:
            same = rows_of[int(key[p])]
            others = [q for q in same if q != p]
            values = frame[cols].iloc[int(p)].to_numpy(dtype=object)
            desc = ", ".join(f"{c}={_text(v)}" for c, v in zip(cols, values, strict=True) if c != "participant_id")
            also = ", ".join(ctx.where(q, q)[2] for q in others[:5])
            out.append((desc, f"the same participant, time and instrument ({desc}) appear on {len(same)} "
                              f"rows (also {also}); keep one row, or fix the time or instrument of the other."))
        return out

    return Rule("unique_key", "participant_id", "error", passes, explain, frame_level=True)


def _in_strict_key_order(table: CodedTable, time: tuple[str, ...]) -> bool:
    """Whether the rows are in strictly increasing order of (trial, participant, instrument, time),
    each compared by its code (the time by its number) and every participant present: then no two
    rows share a key, since rows equal in a part of the key are equal in the whole of it. A few
    comparisons of adjacent rows spare grouping a million rows by four columns; any other order
    (or a missing or non-numeric time) answers False and the key is grouped."""
    frame = table.frame
    if len(frame) < 2 or not time or "instrument" not in frame.columns:
        return len(frame) < 2
    if not table.present("participant_id").all():
        return False
    x = table.numbers(time[0])
    if np.isnan(x).any():
        return False
    parts = [table.keys(c) for c in ("trial_id", "participant_id", "instrument") if c in frame.columns] + [x]
    greater = np.zeros(len(frame) - 1, dtype=bool)  # row i+1 after row i in the parts compared so far
    equal = np.ones(len(frame) - 1, dtype=bool)
    for part in parts:
        before, after = part[:-1], part[1:]
        greater |= equal & (after > before)
        equal &= after == before
        if not (greater | equal).all():  # a row before its predecessor: not in this order
            return False
    return bool(greater.all())


def _modal_codes(table: CodedTable, column: str) -> np.ndarray:
    """Per row: the code (:meth:`CodedTable.keys`) of the most common present value of ``column`` among
    the participant's rows (ties: the value seen first); -1 when the participant has none."""
    person = table.participant()
    value = table.keys(column)
    ok = (person >= 0) & (value >= 0)
    mode_of = np.full(int(person.max(initial=-1)) + 1, -1, dtype=np.int64)
    if ok.any():
        pair, _ = pd.factorize(person[ok] * (int(value.max()) + 1) + value[ok])  # first-appearance order
        counts = np.bincount(pair)
        pair_person = np.empty(len(counts), dtype=np.int64)
        pair_value = np.empty(len(counts), dtype=np.int64)
        pair_person[pair], pair_value[pair] = person[ok], value[ok]  # every row of a pair has the same two
        order = np.lexsort((np.arange(len(counts)), -counts, pair_person))
        best = order[_run_starts(pair_person[order])]
        mode_of[pair_person[best]] = pair_value[best]
    return np.where(person >= 0, mode_of[np.maximum(person, 0)], -1)


def _one_value_each(group: np.ndarray, value: np.ndarray) -> bool:
    """Whether every group (non-negative ids) has a single value (non-negative codes)."""
    if not len(group):
        return True
    # one row's value per group (which row does not matter: with duplicate indices some write wins),
    # then every row against it; two scatters of O(rows) (ufunc.at took 0.16 s per column at 100k)
    seen = np.empty(int(group.max()) + 1, dtype=value.dtype)
    seen[group] = value
    return bool(np.array_equal(seen[group], value))


def _participant_constant(column: str, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        value = table.keys(column)
        person = table.participant()
        ok = (person >= 0) & (value >= 0)
        if _one_value_each(*((person, value) if ok.all() else (person[ok], value[ok]))):  # nothing to find
            return np.ones(len(frame), dtype=bool)
        mode = _modal_codes(table, column)
        return (value < 0) | (mode < 0) | (value == mode)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        table = t(frame)
        mode = _modal_codes(table, column)[pos]
        texts = table.key_texts(column)
        return [(v, f"{_text(v)!r} differs from this participant's other rows ({texts[m] if m >= 0 else None!r}); "
                    f"{column} is a participant-level column and must be the same on every row.")
                for v, m in zip(_values(frame, column, pos), mode, strict=True)]

    return Rule("participant_constant", column, "error", passes, explain, frame_level=True)


def _spelling_variants(column: str, t: Tables, severity: str = "error") -> Rule:
    """Labels that differ only in case or spacing (``ipt`` and ``IPT``) would be analysed as different
    arms (trials, therapists): an error, since nothing tells which spelling is meant. In a covariate
    (``F`` and ``f`` in ``sex``) a warning: Table 1 counts them as one, a model as two levels."""

    def variants(frame: pd.DataFrame) -> dict[str, list[str]]:
        _, values = t(frame).codes(column)
        labels = pd.Series(pd.unique(np.array([str(v) for v in values], dtype=object)), dtype=object)
        groups = labels.groupby(labels.map(lambda v: " ".join(v.split()).casefold())).agg(list)
        return {k: sorted(v) for k, v in groups.items() if len(v) > 1}

    def passes(frame: pd.DataFrame) -> np.ndarray:
        clash = variants(frame)
        if not clash:
            return np.ones(len(frame), dtype=bool)
        table = t(frame)
        text = table.per_value(column, str, None)
        counts = pd.Series(text[table.present(column)]).value_counts()
        minority: set[str] = set()
        for group in clash.values():  # report the rows of the less common spellings
            minority |= set(counts[counts.index.isin(group)].index[1:])
        return ~table.per_value(column, lambda v: str(v) in minority, False, bool)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        clash = variants(frame)
        out = []
        for v in _values(frame, column, pos):
            group = clash.get(" ".join(str(v).split()).casefold(), [str(v)])
            out.append((v, f"{_text(v)!r} and {', '.join(repr(g) for g in group if g != str(v))} differ only in "
                           f"case or spacing and would count as different {column} values"
                           f"{' in a model (Table 1 counts them as one)' if severity == 'warning' else ''}; write one "
                           "spelling (or map them in the study file's values section)."))
        return out

    return Rule("spelling_variants", column, "warning" if severity == "warning" else "error", passes, explain,
                frame_level=True)


def _area_codes(table: CodedTable, columns: list[str]) -> tuple[list[np.ndarray], list[str]]:
    """Codes of the problem-area columns on one shared scale of texts (-1 when missing), and the texts."""
    scale: dict[str, int] = {}
    out = []
    for column in columns:
        positions, values = table.codes(column)
        mapped = np.array([scale.setdefault(str(v), len(scale)) for v in values] + [-1], dtype=np.int64)
        out.append(mapped[positions])
    return out, list(scale)


def _problem_areas_distinct(t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        (a, b), _ = _area_codes(t(frame), ["problem_area", "problem_area_secondary"])
        return ~((a >= 0) & (a == b))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"the secondary problem area repeats the primary one ({_text(v)!r}); leave "
                    "problem_area_secondary empty or give a different area.")
                for v in _values(frame, "problem_area_secondary", pos)]

    return Rule("problem_areas_distinct", "problem_area_secondary", "error", passes, explain, frame_level=True)


def _at_most_two_problem_areas(t: Tables) -> Rule:
    columns = ["problem_area", "problem_area_secondary"]

    def pairs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Distinct (participant, area) pairs, and the texts of the areas."""
        table = t(frame)
        present = [c for c in columns if c in frame.columns]
        person = table.participant()
        codes, names = _area_codes(table, present)
        people = np.concatenate([person[c >= 0] for c in codes])
        areas = np.concatenate([c[c >= 0] for c in codes])
        keep = people >= 0
        unique = pd.unique(people[keep] * (len(names) + 1) + areas[keep])
        return unique // (len(names) + 1), unique % (len(names) + 1), names

    def counts_per_person(frame: pd.DataFrame) -> np.ndarray:
        people, _, _ = pairs(frame)
        person = t(frame).participant()
        return np.bincount(people, minlength=int(person.max(initial=-1)) + 1)

    def passes(frame: pd.DataFrame) -> np.ndarray:
        person = t(frame).participant()
        n = counts_per_person(frame)
        too_many = (person >= 0) & (n[np.maximum(person, 0)] > 2) if len(n) else np.zeros(len(frame), bool)
        return ~(too_many & first_in_group(person))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        people, areas, names = pairs(frame)
        person = t(frame).participant()
        out: list[tuple[object, str]] = []
        for p in pos:
            found = tuple(sorted(names[a] for a in areas[people == person[p]]))
            out.append((", ".join(found), f"this participant has {len(found)} problem areas "
                        f"({', '.join(found)}); IPT works on at most two: keep the primary and one secondary."))
        return out

    return Rule("at_most_two_problem_areas", "problem_area", "error", passes, explain, frame_level=True)


def _secondary_without_primary(t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        return ~(table.present("problem_area_secondary") & ~table.present("problem_area"))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, "a secondary problem area is given without a primary one; fill in problem_area.")
                for v in _values(frame, "problem_area_secondary", pos)]

    return Rule("secondary_without_primary", "problem_area_secondary", "warning", passes, explain,
                frame_level=True)


def _baseline_present(ctx: ValidationContext, t: Tables) -> Rule:
    time = ctx.time_columns[0]

    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        code = table.participant(("instrument",))
        zero = (table.numbers(time) == 0) & (code >= 0)
        has_zero = np.bincount(code[zero], minlength=max(int(code.max(initial=-1)) + 1, 1)) > 0  # 1: no participant
        return (code < 0) | has_zero[np.maximum(code, 0)] | ~first_in_group(code)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        table = t(frame)
        code = table.participant(("instrument",))
        t_ = table.numbers(time)
        wanted = np.isin(code, code[pos])
        earliest = pd.Series(t_[wanted]).groupby(code[wanted]).min()
        return [(inst, f"no baseline ({time} 0) for {inst}; the earliest {time} is "
                       f"{_text(earliest.get(int(code[p])))}. Add the baseline row, or check the {time} numbering "
                       "(baseline is 0).")
                for inst, p in zip(_values(frame, "instrument", pos), pos, strict=True)]

    return Rule("baseline_present", "instrument", "warning", passes, explain, frame_level=True)


def _planned_sessions(ctx: ValidationContext, t: Tables) -> Rule:
    limit = ctx.planned_sessions_max

    def passes(frame: pd.DataFrame) -> np.ndarray:
        return ~(t(frame).numbers("session") > limit)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(v, f"session {_text(v)} is beyond the planned maximum of {limit} sessions; check the value, "
                    "or set sessions.max in the study file.") for v in _values(frame, "session", pos)]

    return Rule("planned_sessions", "session", "warning", passes, explain, frame_level=True)


def _time_order(ctx: ValidationContext, t: Tables) -> Rule:
    time = ctx.time_columns[0]
    nat = np.datetime64("NaT", "ns").astype(np.int64)

    def disorder(frame: pd.DataFrame) -> np.ndarray:
        """Rows whose time is below a time at an earlier (or the same) date of the same participant and
        instrument."""
        table = t(frame)
        code = table.participant(("instrument",))
        dates = _date_numbers(table, "assessment_date")
        x = table.numbers(time)
        ok = (dates != nat) & ~np.isnan(x) & (code >= 0)
        rows = np.flatnonzero(ok)
        k, d, v = code[rows], dates[rows], x[rows]
        same = k[1:] == k[:-1]
        sorted_within = not np.any(same & ((d[1:] < d[:-1]) | ((d[1:] == d[:-1]) & (v[1:] < v[:-1]))))
        starts = _run_starts(k)
        contiguous = int(starts.sum()) == np.count_nonzero(np.bincount(k)) if len(k) else True  # one run a group
        bad = np.zeros(len(frame), dtype=bool)
        if sorted_within and contiguous and not np.any(same & (v[1:] < v[:-1])):
            return bad  # in date order and the times never fall within a group: nothing below a running maximum
        order = np.arange(len(rows)) if sorted_within and contiguous else np.lexsort((v, d, k))
        k, v = k[order], v[order]
        running = _group_cummax(v, _run_starts(k))
        bad[rows[order]] = v < running
        return bad

    def passes(frame: pd.DataFrame) -> np.ndarray:
        return ~disorder(frame)

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(f"{time}={_text(v)}, date={_text(d)}",
                 f"{time} {_text(v)} on {_text(d)} comes after a higher {time} at an earlier date; check the "
                 f"{time} numbers and dates of this participant.")
                for v, d in zip(_values(frame, time, pos), _values(frame, "assessment_date", pos), strict=True)]

    return Rule("time_order", time, "warning", passes, explain, frame_level=True)


def _run_starts(k: np.ndarray) -> np.ndarray:
    """True where a run of equal values starts."""
    return np.r_[True, k[1:] != k[:-1]] if len(k) else np.zeros(0, bool)


def _group_cummax(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting where ``starts`` is True."""
    if not len(values):
        return values
    group = np.cumsum(starts) - 1
    return pd.Series(values).groupby(group, sort=False).cummax().to_numpy()


def _problem_area_arm(ctx: ValidationContext, t: Tables) -> Rule:
    def passes(frame: pd.DataFrame) -> np.ndarray:
        table = t(frame)
        has_area = np.zeros(len(frame), dtype=bool)
        for c in ("problem_area", "problem_area_secondary"):
            if c in frame.columns:
                has_area |= table.present(c)
        ipt = table.per_value("arm", ctx.is_ipt_arm, False, bool)
        flagged = has_area & ~ipt & table.present("arm")
        code = table.participant() if "participant_id" in frame.columns else np.arange(len(frame))
        first = first_in_group(np.where(flagged, code, -1))
        missing_first = flagged & (code < 0)
        missing_first &= np.cumsum(missing_first) == 1  # rows without a participant: the first only
        return ~(flagged & (first | missing_first))

    def explain(frame: pd.DataFrame, pos: np.ndarray) -> list[tuple[object, str]]:
        return [(a, f"a problem area is recorded for arm {_text(a)!r}, which is not an IPT arm; remove it, list "
                    "the arm under ipt_arms, or set problem_areas_assessed: all in the study file if problem areas "
                    "were rated at intake in every arm.") for a in _values(frame, "arm", pos)]

    return Rule("problem_area_arm", "problem_area", "warning", passes, explain, frame_level=True)


# --- assembly --------------------------------------------------------------------------------

def _is_text(values: pd.Series) -> bool:
    if isinstance(values.dtype, pd.CategoricalDtype):
        return not pd.api.types.is_numeric_dtype(values.cat.categories)
    return pd.api.types.is_string_dtype(values) or values.dtype == object

def build_rules(frame: pd.DataFrame, ctx: ValidationContext, coded: CodedTable | None = None) -> Iterator[Rule]:
    """Yield the rules that apply to the columns this table has. The rules share one
    :class:`CodedTable` of ``frame``; given another table (a user's pipeline), they code that one."""
    coded = coded if coded is not None and coded.frame is frame else CodedTable(frame)

    def t(f: pd.DataFrame) -> CodedTable:
        return coded if f is frame else CodedTable(f)

    spec = canonical_spec()["columns"]
    have = set(frame.columns)
    for column, col in spec.items():
        if column not in have:
            continue
        if not col.get("nullable", True):
            yield _not_null(column, t)
        if col.get("values"):
            yield _allowed_values(column, tuple(col["values"]), t)
        if col.get("type") in ("float", "int"):
            yield _numeric(column, t)
        if col.get("type") == "int":
            yield _integer(column, t)
        if "min" in col:
            yield _min_value(column, float(col["min"]), t)
        if "max" in col:
            yield _max_value(column, float(col["max"]), t)
        if col.get("type") == "date":
            yield _date(column, t)
    if "instrument" in have:
        yield _known_instrument(ctx, t)
        if "score" in have:
            yield _score_range(ctx, t)
            yield _score_integer(ctx, t)
    if {"participant_id", "instrument"} <= have and ctx.time_columns:
        yield _unique_key(ctx, t)
        yield _baseline_present(ctx, t)
        if "assessment_date" in have:
            yield _time_order(ctx, t)
    for column in ("arm", "trial_id", "therapist_id", "site"):
        if column in have:
            yield _spelling_variants(column, t)
    for column in frame.columns:  # covariates held as text: the same code in two spellings is a warning
        if column not in spec and _is_text(frame[column]):
            yield _spelling_variants(str(column), t, severity="warning")
    if "participant_id" in have:
        for column, col in spec.items():
            if col.get("participant_level") and column in have:
                yield _participant_constant(column, t)
        if have & {"problem_area", "problem_area_secondary"}:
            yield _at_most_two_problem_areas(t)
    if {"problem_area", "problem_area_secondary"} <= have:
        yield _problem_areas_distinct(t)
        yield _secondary_without_primary(t)
    if "session" in have:
        yield _planned_sessions(ctx, t)
    if "arm" in have and have & {"problem_area", "problem_area_secondary"} and not ctx.problem_areas_all_arms:
        yield _problem_area_arm(ctx, t)
