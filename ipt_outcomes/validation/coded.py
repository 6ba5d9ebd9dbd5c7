"""Integer codes of a table's columns, computed once per validation run and shared by every rule.

A rule asks for a column's codes, numbers or a grouping (participant, participant x instrument, the
unique key) and gets NumPy arrays: the per-value work is done once per distinct value, the per-row
work is integer arithmetic, so a million rows with a hundred thousand errors cost about what a
clean file does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from ..distinct import factorized, spread

__all__ = ["CodedTable", "first_in_group"]


class CodedTable:
    """Codes of ``frame``'s columns, each computed on first use and kept."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self._codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._keys: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._numbers: dict[str, np.ndarray] = {}
        self._groups: dict[tuple[str, ...], np.ndarray] = {}

    def codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Per row the position of its value among the distinct values (-1 when missing), and the values."""
        if column not in self._codes:
            self._codes[column] = factorized(self.frame[column])
        return self._codes[column]

    def present(self, column: str) -> np.ndarray:
        return self.codes(column)[0] >= 0

    def per_value(self, column: str, func: Callable[[Any], Any], missing: Any = None, dtype: Any = object) -> np.ndarray:
        """``func`` of each row's value, called once per distinct value; ``missing`` for missing cells."""
        positions, values = self.codes(column)
        return spread([func(v) for v in values], positions, missing, dtype)

    def keys(self, column: str) -> np.ndarray:
        """Codes under which values equal as text are one value (``1`` and ``"1"``); -1 when missing."""
        if column not in self._keys:
            positions, values = self.codes(column)
            if all(isinstance(v, str) for v in values):
                self._keys[column] = positions, list(values)
            else:
                remap, texts = pd.factorize(np.array([str(v) for v in values], dtype=object))
                self._keys[column] = np.append(remap, -1)[positions], list(texts)
        return self._keys[column][0]

    def key_texts(self, column: str) -> list[str]:
        """The text of each code of :meth:`keys`."""
        self.keys(column)
        return self._keys[column][1]

    def numbers(self, column: str) -> np.ndarray:
        """Float view: NaN where a value is missing, not a number, or not finite."""
        if column not in self._numbers:
            s = self.frame[column]
            if pd.api.types.is_bool_dtype(s):
                x = np.full(len(s), np.nan)
            elif pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
                x = s.to_numpy(dtype="float64", na_value=np.nan)
            else:
                x = self.per_value(column, _to_float, np.nan, "float64")
            self._numbers[column] = np.where(np.isfinite(x), x, np.nan)
        return self._numbers[column]

    def group(self, columns: tuple[str, ...]) -> np.ndarray:
        """Dense group ids (0, 1, ... in order of first appearance) of the rows' values of ``columns``;
        a missing value is a value of its own."""
        columns = tuple(columns)
        if columns not in self._groups:
            ids = np.zeros(len(self.frame), dtype=np.int64)
            for column in columns:
                key = self.keys(column) + 1
                ids, _ = pd.factorize(ids * (int(key.max(initial=0)) + 1) + key)
                ids = ids.astype(np.int64, copy=False)
            self._groups[columns] = ids
        return self._groups[columns]

    def participant(self, extra: tuple[str, ...] = ()) -> np.ndarray:
        """Participant group per row (within trial, and ``extra`` columns); -1 without participant_id."""
        keys = tuple(c for c in ("trial_id", "participant_id") if c in self.frame.columns) + tuple(extra)
        ids = self.group(keys)
        return np.where(self.present("participant_id"), ids, -1)


def first_in_group(ids: np.ndarray) -> np.ndarray:
    """True on the first row of each group. ``ids`` are dense and numbered in order of first appearance
    (as :meth:`CodedTable.group` makes them) with -1 for rows of no group, so a row is its group's
    first exactly when its id exceeds every id before it."""
    if not len(ids):
        return np.zeros(0, dtype=bool)
    before = np.maximum.accumulate(np.concatenate([[-1], ids[:-1]]))
    return ids > before


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
