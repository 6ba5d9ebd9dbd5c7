"""Per-value work once per distinct value: a million rows of a trial hold a few thousand distinct
participant ids, arms, instruments or scores, so a Python function is called that many times and its
results are spread back to the rows by position (``pandas.factorize`` and ``take``)."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["distinct_map", "factorized", "row_texts", "spread", "text_column"]


def factorized(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Positions (-1 for a missing cell) and the distinct present values, as a Python object array."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # already coded: a file read by Arrow, SPSS labels
        return np.asarray(series.cat.codes, dtype=np.int64), np.asarray(series.cat.categories, dtype=object)
    known = _known_codes(series)
    if known is not None:  # a text column this toolkit built: coded when it was made
        return known
    hashable = isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype)) or series.dtype == object or \
        (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))
    try:
        positions, uniques = pd.factorize(series if hashable else series.astype(object), use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists in an object column): every cell is its own value
        values = series.to_numpy(dtype=object)
        missing = np.array([_scalar_missing(v) for v in values], dtype=bool)
        positions = np.where(missing, -1, np.arange(len(values)))
        return positions, values
    return positions, np.asarray(uniques, dtype=object)


def _scalar_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def spread(values: Any, positions: np.ndarray, missing: Any, dtype: Any = object) -> np.ndarray:
    """``values[position]`` for each row; ``missing`` where the position is -1 (a missing cell)."""
    table = np.empty(len(values) + 1, dtype=dtype)
    table[:-1] = values
    table[-1] = missing
    return table[positions]


def distinct_map(series: pd.Series, func: Callable[[Any], Any], missing: Any = None, dtype: Any = object
                 ) -> pd.Series:
    """``series.map(func)`` for the present cells (``missing`` for the others), with ``func`` called
    once per distinct value. ``dtype="string"`` builds an Arrow-backed text column without a Python
    object per row."""
    positions, uniques = factorized(series)
    mapped = [func(v) for v in uniques]
    if dtype == "string":
        values = pd.array([*mapped, missing], dtype="string")
        return pd.Series(values.take(np.where(positions < 0, len(mapped), positions)), index=series.index)
    return pd.Series(spread(mapped, positions, missing, dtype), index=series.index)


def text_column(values: list[Any], positions: np.ndarray, index: pd.Index) -> pd.Series:
    """An Arrow-backed text column (dtype ``string``) holding ``values[position]`` per row, missing
    where the position is -1 or the value is None; built by Arrow's ``take``, no Python object per row."""
    import pyarrow as pa

    dictionary = pa.array(values, type=pa.large_string())  # pandas' own type: no cast of every row
    taken = dictionary.take(pa.array(positions, mask=positions < 0))
    series = pd.Series(pd.arrays.ArrowStringArray(taken), index=index)
    _remember_codes(series, values, positions)
    return series


def row_texts(texts: Any, positions: np.ndarray) -> Any:
    """``texts[positions]`` (every position present) as pandas holds a column of texts: its
    Arrow-backed ``str`` from pandas 3, Python objects before. Built by Arrow's take, with no Python
    object per row: 13 million participant ids take 0.15 s rather than 1 s. Values that are not all
    texts (ids as numbers) are spread as objects."""
    import pyarrow as pa

    inferred = pd.Series(["a"]).dtype
    if pd.api.types.is_object_dtype(inferred) or pd.api.types.infer_dtype(texts, skipna=False) != "string":
        return np.asarray(texts, dtype=object)[positions]
    taken = pa.array(list(texts), type=pa.large_string()).take(pa.array(positions))
    return pd.array(taken, dtype=inferred)


# Codes of the text columns made by text_column, by the identity of their Arrow data. Arrow data are
# immutable: a column that is changed (an assignment, a cell set) gets new Arrow data, so a code found
# here always describes the column it is asked for; an entry goes when its column's data do. Load
# hands them to validation this way, which then need not hash every row's text a second time.
_CODES: dict[int, tuple[weakref.ref, np.ndarray, np.ndarray]] = {}


def _arrow_data(series: pd.Series) -> Any:
    array = series.array
    return getattr(array, "_pa_array", None) if isinstance(array, pd.arrays.ArrowStringArray) else None


def _remember_codes(series: pd.Series, values: list[Any], positions: np.ndarray) -> None:
    data = _arrow_data(series)
    if data is None or len(positions) < 10_000:  # small columns are hashed in no time
        return
    small = np.int8 if len(values) < 127 else np.int16 if len(values) < 32_767 else np.int32
    codes: np.ndarray
    uniques: Any
    if None not in values and len(set(values)) == len(values):  # no value merged or dropped
        codes, uniques = positions.astype(small), values
    else:
        remap, uniques = pd.factorize(np.array(values, dtype=object), use_na_sentinel=True)
        codes = np.append(remap, -1).astype(small)[positions]
    # numbered in order of first appearance, as pandas.factorize numbers them (a file read by Arrow
    # usually is: each new value takes the next number)
    running = np.maximum.accumulate(codes)
    # the running maximum starts at -1 or 0 and climbs one at a time: as many rises as its height
    if int(running[0]) <= 0 and int(running[-1]) == len(uniques) - 1 \
            and np.count_nonzero(running[1:] != running[:-1]) == int(running[-1]) - int(running[0]):
        order = np.arange(len(uniques))
        coded = codes
    else:
        present = np.flatnonzero(codes >= 0)
        first = np.full(len(uniques), len(codes), dtype=np.int64)
        np.minimum.at(first, codes[present], present)
        order = np.argsort(first, kind="stable")[:np.count_nonzero(first < len(codes))]  # values in no row go
        rank = np.full(len(uniques) + 1, -1, dtype=np.int64)
        rank[order] = np.arange(len(order))
        coded = rank[codes].astype(small)
    coded.setflags(write=False)
    key = id(data)

    def forget(_ref: object, key: int = key) -> None:
        _CODES.pop(key, None)

    _CODES[key] = (weakref.ref(data, forget), coded, np.asarray(uniques, dtype=object)[order])


def _known_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    data = _arrow_data(series)
    entry = _CODES.get(id(data)) if data is not None else None
    if entry is None or entry[0]() is not data or len(entry[1]) != len(series):
        return None
    return entry[1].astype(np.int64), entry[2].copy()
