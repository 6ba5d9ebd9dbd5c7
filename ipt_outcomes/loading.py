"""``ipt.load``: read a raw export and map it onto the canonical long table.

Steps, in order: read the file (:mod:`ipt_outcomes.io`); reshape wide columns to rows when the
study asks for it; rename columns (study renames, then canonical names matched with case and
spacing folded); add constant columns; apply the study's value maps and the built-in aliases;
convert numbers and dates where every value converts. A value that does not convert is kept as
text so that :func:`ipt_outcomes.validate` can report it with its row and participant.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .arguments import path as check_path
from .distinct import distinct_map, factorized, spread
from .errors import DataWarning, StudyDefinitionError
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
    frame = _blank_to_missing(raw.frame.copy())
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
        for column, mapping in study.values.items():
            if column not in frame.columns:
                raise StudyDefinitionError(f"{study.source}: values.{column}: there is no column {column!r} "
                                           f"after renaming; columns are: {', '.join(map(str, frame.columns))}.")
            frame[column] = _map_values(frame[column], mapping)
    registry = study.registry() if study is not None else None
    frame = _normalise_categories(frame, registry)
    decimal = raw.dialect.get("decimal", ".")
    frame = _convert_types(frame, decimal, study)
    frame.attrs.clear()  # Parquet files restore attrs of an earlier session: start afresh
    frame.attrs["ipt_source"] = dict(
        path=str(raw.path), first_row_number=raw.first_row_number, row_word=raw.row_word,
        rows=None if rows is None else rows.tolist(), n_rows=len(frame),
        columns={new: old for old, new in renames.items()},
    )
    if study is not None:
        frame.attrs["ipt_study"] = dict(study.spec)
    return frame


def _blank_to_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Blank text cells are missing values (SPSS and Stata store missing strings as "")."""
    for column in frame.columns:
        col = frame[column]
        if col.dtype == object or isinstance(col.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            codes, uniques = factorized(col)
            blank = np.array([isinstance(v, str) and not v.strip() for v in uniques], dtype=bool)
            if blank.any():
                rows = spread(blank, codes, False, bool)
                frame[column] = col.mask(rows) if isinstance(col.dtype, pd.StringDtype) else col.astype(object).mask(rows, None)
    return frame


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


def _map_values(series: pd.Series, mapping: Mapping[Any, Any]) -> pd.Series:
    lookup: dict[Any, Any] = {}
    for key, value in mapping.items():
        lookup[key] = value
        lookup[str(key)] = value
        if isinstance(key, float) and key.is_integer():
            lookup[str(int(key))] = value
    return distinct_map(series, lambda v: lookup.get(v, lookup.get(str(v), v)))


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _normalise_categories(frame: pd.DataFrame, registry: Any) -> pd.DataFrame:
    spec = canonical_spec()["columns"]
    for column, col_spec in spec.items():
        if column not in frame.columns:
            continue
        if col_spec.get("type") == "category" and column != "instrument":
            aliases = alias_map(column)
            frame[column] = distinct_map(frame[column], lambda v: aliases.get(fold(v), v) if isinstance(v, str) else v)
    if "instrument" in frame.columns:
        from .registry import default_registry

        reg = registry if registry is not None else default_registry()
        frame["instrument"] = distinct_map(frame["instrument"], lambda v: (reg.resolve(v) or v) if isinstance(v, str) else v)
    return frame


def _convert_types(frame: pd.DataFrame, decimal: str, study: Study | None) -> pd.DataFrame:
    for column in frame.columns:
        series = frame[column]
        if column in TEXT_COLUMNS:
            frame[column] = _as_text(series)
        elif column == "assessment_date":
            frame[column] = _as_dates(series, study)
        elif column in NUMERIC_COLUMNS or column not in canonical_spec()["columns"]:
            converted = _as_numbers(series, decimal)
            if converted is not None:
                if column in INTEGER_COLUMNS and _all_integral(converted):
                    converted = converted.astype("Int64")
                frame[column] = converted
        else:
            frame[column] = _as_text(series)
    return frame


def _as_text(series: pd.Series) -> pd.Series:
    def text(v: Any) -> Any:
        if _missing(v):
            return pd.NA
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v).strip()

    return distinct_map(series, text, pd.NA, dtype="string")


def _as_numbers(series: pd.Series, decimal: str) -> pd.Series | None:
    """Convert to float if every present value is a number; None if any is not (kept as text)."""
    if pd.api.types.is_bool_dtype(series):
        return None
    if pd.api.types.is_numeric_dtype(series) and not isinstance(series.dtype, pd.CategoricalDtype):
        return series.astype("float64")
    codes, uniques = factorized(series)
    text = pd.Series([str(v).strip() for v in uniques], dtype=object)
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    if numbers.isna().any():
        return None
    return pd.Series(spread(numbers.to_numpy("float64"), codes, np.nan, "float64"), index=series.index)


def _all_integral(series: pd.Series) -> bool:
    present = series.dropna()
    # whole numbers that a 64-bit float holds exactly (a session of 1e19 stays float; validation reports it)
    return bool(np.all(np.isfinite(present)) and np.all(np.abs(present) <= 2**53)
                and np.all(present == np.round(present)))


def _as_dates(series: pd.Series, study: Study | None) -> pd.Series:
    """Parse dates: the study's read.date_format, else ISO 8601, else a day-first or month-first
    format under which every value parses. Ambiguous slashed dates follow read.dayfirst (default:
    month first, announced with a DataWarning). Unparseable columns stay text for validation."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series
    read = study.read if study is not None else {}
    codes, uniques = factorized(series)
    text = pd.Series([str(v).strip() for v in uniques], dtype=object)
    candidates = [read["date_format"]] if read.get("date_format") else ["ISO8601", "%d.%m.%Y", "%d.%m.%y"]
    parsed = None
    for fmt in candidates:
        attempt = pd.to_datetime(text, format=fmt, errors="coerce")
        if attempt.notna().all():
            parsed = attempt
            break
    if parsed is None and not read.get("date_format"):
        day_first = pd.to_datetime(text, format="%d/%m/%Y", errors="coerce")
        month_first = pd.to_datetime(text, format="%m/%d/%Y", errors="coerce")
        if day_first.notna().all() and month_first.notna().all():
            dayfirst = read.get("dayfirst")
            if dayfirst is None:
                warnings.warn("dates such as 05/07/2024 are ambiguous and were read month first; set "
                              "read.dayfirst: true (or read.date_format) in the study file if they are day first.",
                              DataWarning, stacklevel=4)
            parsed = day_first if dayfirst else month_first
        elif day_first.notna().all():
            parsed = day_first
        elif month_first.notna().all():
            parsed = month_first
    if parsed is None or not _within_nanoseconds(parsed):
        return series  # kept as text; validation reports the values that are not dates (or out of range)
    stamps = parsed.astype("datetime64[ns]").to_numpy()
    return pd.Series(spread(stamps, codes, np.datetime64("NaT", "ns"), "datetime64[ns]"), index=series.index)


def _within_nanoseconds(parsed: pd.Series) -> bool:
    """Every date within 1677-2262, the range pandas holds at nanosecond resolution (``9999-12-31``,
    a common code for an unknown date, is not)."""
    present = parsed.dropna()
    return present.empty or bool((present >= pd.Timestamp.min).all() and (present <= pd.Timestamp.max).all())
