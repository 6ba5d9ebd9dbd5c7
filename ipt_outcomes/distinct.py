"""Per-value work once per distinct value: a million rows of a trial hold a few thousand distinct
participant ids, arms, instruments or scores, so a Python function is called that many times and its
results are spread back to the rows by position (``pandas.factorize`` and ``take``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["distinct_map", "factorized", "spread", "text_column"]


def factorized(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Positions (-1 for a missing cell) and the distinct present values, as a Python object array."""
    if isinstance(series.dtype, pd.CategoricalDtype):  # already coded: a file read by Arrow, SPSS labels
        return np.asarray(series.cat.codes, dtype=np.int64), np.asarray(series.cat.categories, dtype=object)
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

    dictionary = pa.array(values, type=pa.string())
    taken = dictionary.take(pa.array(positions, mask=positions < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=index)
