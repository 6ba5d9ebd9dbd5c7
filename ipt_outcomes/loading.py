"""``ipt.load``: read a raw export and map it onto the canonical long table.

Steps, in order: read the file (:mod:`ipt_outcomes.io`); reshape wide columns to rows when the
study asks for it; rename columns (study renames, then canonical names matched with case and
spacing folded); add constant columns; apply the study's value maps and the built-in aliases;
convert numbers and dates where every value converts. A value that does not convert is kept as
text so that :func:`ipt_outcomes.validate` can report it with its row and participant.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .arguments import path as check_path
from .distinct import factorized, spread, text_column
from .errors import DataWarning, StudyDefinitionError, caller_stacklevel
from .io import RawTable, read_raw
from .study import Study, load_study
from .vocabulary import alias_map, canonical_spec, fold

__all__ = ["load"]

NUMERIC_COLUMNS = ("score", "session", "week", "sessions_attended")
INTEGER_COLUMNS = ("session", "sessions_attended")
TEXT_COLUMNS = ("participant_id", "arm", "trial_id", "site", "therapist_id")


def load(path: str | Path, study: str | Path | Study | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read a trial export and return the canonical long table.

    Parameters
    ----------
    path
        CSV, TSV (delimiter and encoding detected), Parquet, Excel ``.xlsx``, SPSS ``.sav`` (value
        labels become categories) or Stata ``.dta``. The file is only read, never modified.
    study
        A study YAML file (or :class:`~ipt_outcomes.study.Study`) describing renames, value maps,
        wide-to-long reshaping and custom instruments. ``None``: columns already canonical.

    Returns
    -------
    pandas.DataFrame
        The canonical table (see the data model). ``df.attrs["ipt_source"]`` records the file and
        row numbering so that validation messages can point at the line of the original file;
        ``df.attrs["ipt_study"]`` keeps the study (JSON-ready, so the table can be saved as Parquet).

    Raises
    ------
    InputFileError
        The file is missing, empty or not readable in its format.
    StudyDefinitionError
        The study file is malformed or names columns the file does not have.

    Examples
    --------
    >>> import ipt_outcomes as ipt
    >>> df = ipt.load(ipt.example_path())
    >>> sorted(df["arm"].unique())
    ['IPT', 'TAU']
    """
    study_obj = load_study(study)
    raw = read_raw(check_path(path, "load() argument path"), study_obj.read if study_obj else None)
    return _canonical_from_raw(raw, study_obj)


def _canonical_from_raw(raw: RawTable, study: Study | None) -> pd.DataFrame:
    frame = raw.frame
    rows: np.ndarray | None = None
    if study is not None and study.reshape is not None:
        frame, rows = _wide_to_long(frame, study, raw.path)
    renames = _renames(frame, study, raw.path)
    frame = frame.rename(columns=renames)
    if study is not None:
        for column, value in study.constants.items():
            if column in frame.columns:
                raise StudyDefinitionError(f"{study.source}: constants.{column}: the data already has a "
                                           f"column {column!r}; remove the constant or the column rename.")
            frame[column] = value
        for column in study.values:
            if column not in frame.columns:
                raise StudyDefinitionError(f"{study.source}: values.{column}: there is no column {column!r} "
                                           f"after renaming; columns are: {', '.join(map(str, frame.columns))}.")
    registry = study.registry() if study is not None else None
    decimal = raw.dialect.get("decimal", ".")
    columns = list(frame.columns)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:  # Arrow releases the GIL
        converted = list(pool.map(lambda c: _canonical_column(str(c), frame[c], study, registry, decimal), columns))
    frame = pd.DataFrame(dict(zip(columns, converted, strict=True)), index=frame.index)
    frame.attrs.clear()  # Parquet files restore attrs of an earlier session: start afresh
    frame.attrs["ipt_source"] = dict(
        path=str(raw.path), first_row_number=raw.first_row_number, row_word=raw.row_word,
        rows=None if rows is None else rows.tolist(), n_rows=len(frame),
        columns={new: old for old, new in renames.items()},
    )
    if study is not None:
        frame.attrs["ipt_study"] = dict(study.spec)
    return frame


def _canonical_column(column: str, series: pd.Series, study: Study | None, registry: Any, decimal: str) -> pd.Series:
    """One column in canonical form, worked on once per distinct value (blanks to missing, the
    study's value map, aliases, then text, number or date) and spread back to the rows. Numbers and
    dates of binary formats that need no value map are taken as they are (a continuous column has
    as many distinct values as rows)."""
    numeric = column not in TEXT_COLUMNS and (column in NUMERIC_COLUMNS or column not in canonical_spec()["columns"])
    if study is None or column not in study.values:
        if column == "assessment_date" and pd.api.types.is_datetime64_any_dtype(series):
            return series
        if numeric and pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series) \
                and not isinstance(series.dtype, pd.CategoricalDtype):
            return _integers_where_whole(column, series.astype("float64"))
    positions, uniques = factorized(series)
    if not numeric and column != "assessment_date" and (study is None or column not in study.values) \
            and _normaliser(column, registry) is None and pd.api.types.infer_dtype(uniques, skipna=False) == "string":
        return text_column([v.strip() or None for v in uniques], positions, series.index)  # ids: one pass
    values: list[Any] = [None if isinstance(v, str) and not v.strip() else v for v in uniques]
    if study is not None and column in study.values:
        lookup = _value_lookup(study.values[column])
        values = [v if v is None else lookup.get(v, lookup.get(str(v), v)) for v in values]
    normalise = _normaliser(column, registry)
    if normalise is not None:
        values = [normalise(v) if isinstance(v, str) else v for v in values]
    values = [None if _missing(v) else v for v in values]
    if column == "assessment_date":
        return _dates_from_values(values, positions, series, study)
    if numeric:
        numbers = _numbers_of(values, decimal)
        if numbers is not None:
            if column in INTEGER_COLUMNS and _all_integral(pd.Series(numbers)):  # judged once per distinct value
                whole = pd.arrays.IntegerArray(np.append(np.nan_to_num(numbers), 0).astype(np.int64)[positions],
                                               np.append(np.isnan(numbers), True)[positions])
                return pd.Series(whole, index=series.index)
            return pd.Series(spread(numbers, positions, np.nan, "float64"), index=series.index)
        if column in NUMERIC_COLUMNS or any(not isinstance(v, str) for v in values if v is not None):
            return pd.Series(spread(values, positions, None, object), index=series.index)  # validation reports it
        return text_column(values, positions, series.index)
    return text_column([_text(v) for v in values], positions, series.index)


def _integers_where_whole(column: str, converted: pd.Series) -> pd.Series:
    """Session counts as nullable integers when every value is whole."""
    return converted.astype("Int64") if column in INTEGER_COLUMNS and _all_integral(converted) else converted


def _normaliser(column: str, registry: Any) -> Any:
    """Per-value alias mapping of a category column (the instrument registry for instruments)."""
    if column == "instrument":
        from .registry import default_registry

        reg = registry if registry is not None else default_registry()
        return lambda v: reg.resolve(v) or v
    spec = canonical_spec()["columns"].get(column, {})
    if spec.get("type") == "category":
        aliases = alias_map(column)
        return lambda v: aliases.get(fold(v), v)
    return None


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _numbers_of(values: list[Any], decimal: str) -> np.ndarray | None:
    """Every present value as a float, or None when any is not a number."""
    text = pd.Series([None if v is None else str(v).strip() for v in values], dtype=object)
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    present = text.notna().to_numpy()
    if numbers[present].isna().any():
        return None
    return numbers.to_numpy("float64")


def _dates_from_values(values: list[Any], positions: np.ndarray, series: pd.Series, study: Study | None) -> pd.Series:
    parsed = _parse_dates(pd.Series([None if v is None else str(v).strip() for v in values], dtype=object), study)
    if parsed is None:  # kept as text; validation reports the values that are not dates (or out of range)
        return pd.Series(spread(values, positions, None, object), index=series.index)
    stamps = parsed.astype("datetime64[ns]").to_numpy()
    return pd.Series(spread(stamps, positions, np.datetime64("NaT", "ns"), "datetime64[ns]"), index=series.index)


def _wide_to_long(frame: pd.DataFrame, study: Study, path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    spec = study.reshape or {}
    pattern = spec["pattern"]
    matched = {c: pattern.match(str(c)) for c in frame.columns}
    value_columns = [c for c, m in matched.items() if m]
    if not value_columns:
        sep = spec["separator"]
        examples = ", ".join(f"{m}{sep}{o}" for m in list(spec["measures"])[:2] for o in list(spec["occasions"])[:2])
        raise StudyDefinitionError(
            f"{study.source}: reshape found no columns in {path} named like {examples}; "
            f"the file's columns are: {', '.join(map(str, frame.columns))}. Fix reshape.measures, "
            "reshape.occasions or reshape.separator."
        )
    id_columns = spec["id_columns"] or [c for c in frame.columns if c not in value_columns]
    missing = [c for c in id_columns if c not in frame.columns]
    if missing:
        raise StudyDefinitionError(f"{study.source}: reshape.id_columns names {', '.join(missing)}, "
                                   f"which {path} does not have.")
    n = len(frame)
    pieces = []
    for column in value_columns:
        m = matched[column]
        measure, occasion = m.group("measure"), m.group("occasion")
        piece = frame[id_columns].copy()
        piece["instrument"] = spec["measures"][measure]
        for time_col, value in spec["occasions"][occasion].items():
            piece[time_col] = value
        piece["score"] = frame[column].to_numpy()
        piece["_wide_row"] = np.arange(n)
        piece["_order"] = list(spec["occasions"]).index(occasion)
        piece["_measure"] = list(spec["measures"]).index(measure)
        pieces.append(piece)
    long = pd.concat(pieces, ignore_index=True)
    long = long.sort_values(["_wide_row", "_measure", "_order"], kind="stable").reset_index(drop=True)
    rows = long["_wide_row"].to_numpy()
    return long.drop(columns=["_wide_row", "_order", "_measure"]), rows


def _renames(frame: pd.DataFrame, study: Study | None, path: Path) -> dict[str, str]:
    renames: dict[str, str] = {}
    if study is not None:
        for old, new in study.columns.items():
            if old not in frame.columns:
                raise StudyDefinitionError(
                    f"{study.source}: columns.{old}: {path} has no column {old!r}; its columns are: "
                    f"{', '.join(map(str, frame.columns))}."
                )
            renames[old] = new
        targets: dict[str, list[str]] = {}
        for old, new in renames.items():
            targets.setdefault(new, []).append(str(old))
        for new, olds in targets.items():
            kept = [c for c in frame.columns if c == new and c not in renames]  # a column of that name stays
            if len(olds) + len(kept) > 1:
                named = ", ".join(repr(c) for c in [*olds, *kept])
                raise StudyDefinitionError(
                    f"{study.source}: columns: {named} would all become column {new!r} of {path}; a table holds one "
                    f"column of a name. Rename only one of them to {new!r} (or drop the others first).")
    canonical = {fold(name): name for name in canonical_spec()["columns"]}
    taken = set(renames.values()) | {c for c in frame.columns if c in canonical.values()}
    for column in frame.columns:
        if column in renames or column in canonical.values():
            continue
        target = canonical.get(fold(str(column)))
        if target is not None and target not in taken:
            renames[column] = target
            taken.add(target)
    return renames


def _value_lookup(mapping: Mapping[Any, Any]) -> dict[Any, Any]:
    """The study's value map, keyed by each value and its text (``1``, ``"1"``, ``1.0``)."""
    lookup: dict[Any, Any] = {}
    for key, value in mapping.items():
        lookup[key] = value
        lookup[str(key)] = value
        if isinstance(key, float) and key.is_integer():
            lookup[str(int(key))] = value
    return lookup


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _all_integral(series: pd.Series) -> bool:
    present = series.dropna()
    # whole numbers that a 64-bit float holds exactly (a session of 1e19 stays float; validation reports it)
    return bool(np.all(np.isfinite(present)) and np.all(np.abs(present) <= 2**53)
                and np.all(present == np.round(present)))


def _parse_dates(text: pd.Series, study: Study | None) -> pd.Series | None:
    """The distinct date texts parsed (missing ones stay NaT), or None if some are not dates: the
    study's read.date_format, else ISO 8601, else a day-first or month-first format under which every
    value parses. Ambiguous slashed dates follow read.dayfirst (default: month first, announced with a
    DataWarning)."""
    read = study.read if study is not None else {}
    present = text.notna().to_numpy()
    candidates = [read["date_format"]] if read.get("date_format") else ["ISO8601", "%d.%m.%Y", "%d.%m.%y"]
    parsed = None
    for fmt in candidates:
        attempt = pd.to_datetime(text, format=fmt, errors="coerce")
        if attempt[present].notna().all():
            parsed = attempt
            break
    if parsed is None and not read.get("date_format"):
        day_first = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
        month_first = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
        day_ok, month_ok = day_first[present].notna().all(), month_first[present].notna().all()
        if day_ok and month_ok:
            dayfirst = read.get("dayfirst")
            if dayfirst is None:
                warnings.warn("dates such as 05/07/2024 are ambiguous and were read month first; set "
                              "read.dayfirst: true (or read.date_format) in the study file if they are day first.",
                              DataWarning, stacklevel=caller_stacklevel())
            parsed = day_first if dayfirst else month_first
        elif day_ok:
            parsed = day_first
        elif month_ok:
            parsed = month_first
    if parsed is None or not _within_nanoseconds(parsed):
        return None
    return parsed


def _within_nanoseconds(parsed: pd.Series) -> bool:
    """Every date within 1677-2262, the range pandas holds at nanosecond resolution (``9999-12-31``,
    a common code for an unknown date, is not)."""
    present = parsed.dropna()
    return present.empty or bool((present >= pd.Timestamp.min).all() and (present <= pd.Timestamp.max).all())
