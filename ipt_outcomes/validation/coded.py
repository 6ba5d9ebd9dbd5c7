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
        self._present: dict[str, np.ndarray] = {}
        self._participants: dict[tuple[str, ...], np.ndarray] = {}

    def prefetch(self, columns: list[str]) -> None:
        """Code ``columns`` now, two at a time: Arrow hashes text without the interpreter lock, so
        on two cores the text columns of a large table are coded in about half the time."""
        from concurrent.futures import ThreadPoolExecutor

        todo = [c for c in dict.fromkeys(columns) if c not in self._codes and c in self.frame.columns]
        if len(todo) < 2 or len(self.frame) < 100_000:
            return
        with ThreadPoolExecutor(max_workers=2) as pool:
            self._codes.update(zip(todo, pool.map(lambda c: _compact_codes(self.frame[c]), todo), strict=True))

    def release(self) -> None:
        """Forget every code computed so far (they are recomputed on use): a report of problems
        outlives its validation, and a million-row table's codes take gigabytes."""
        self._codes.clear()
        self._keys.clear()
        self._numbers.clear()
        self._groups.clear()
        self._present.clear()
        self._participants.clear()

    def codes(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """Per row the position of its value among the distinct values (-1 when missing), and the values."""
        if column not in self._codes:
            self._codes[column] = _compact_codes(self.frame[column])
        return self._codes[column]

    def present(self, column: str) -> np.ndarray:
        if column not in self._present:
            present = self.codes(column)[0] >= 0
            present.setflags(write=False)  # shared by every rule: never changed in place
            self._present[column] = present
        return self._present[column]

    def per_value(self, column: str, func: Callable[[Any], Any], missing: Any = None, dtype: Any = object) -> np.ndarray:
        """``func`` of each row's value, called once per distinct value; ``missing`` for missing cells."""
        positions, values = self.codes(column)
        return spread([func(v) for v in values], positions, missing, dtype)

    def keys(self, column: str) -> np.ndarray:
        """Codes under which values equal as text are one value (``1`` and ``"1"``); -1 when missing."""
        if column not in self._keys:
            positions, values = self.codes(column)
            if pd.api.types.infer_dtype(values, skipna=False) in ("string", "empty"):  # every value a str
                self._keys[column] = positions, list(values)
            else:
                remap, texts = pd.factorize(np.array([str(v) for v in values], dtype=object))
                self._keys[column] = np.append(remap, -1).astype(positions.dtype)[positions], list(texts)
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
        """Dense group ids (0, 1, ...) of the rows' values of ``columns``; a missing value is a value of
        its own. The columns' codes are combined as digits of one integer, and made dense by a lookup
        table where the integers are few enough, else by one hash factorisation."""
        columns = tuple(columns)
        if columns not in self._groups:
            done = max((k for k in range(len(columns)) if columns[:k] in self._groups), default=0)
            ids = self._groups[columns[:done]] if done else np.zeros(len(self.frame), dtype=np.int64)
            size = int(ids.max(initial=-1)) + 1
            for column in columns[done:]:
                key = self.keys(column) + 1
                radix = int(key.max(initial=0)) + 1
                if size * radix > _lookup_limit(len(ids)):  # keep the integers small: make the ids dense first
                    ids, size = _dense(ids, size)
                ids = ids * radix + key
                size *= radix
            self._groups[columns] = _dense(ids, size)[0]
        return self._groups[columns]

    def participant(self, extra: tuple[str, ...] = ()) -> np.ndarray:
        """Participant group per row (within trial, and ``extra`` columns); -1 without participant_id."""
        keys = tuple(c for c in ("trial_id", "participant_id") if c in self.frame.columns) + tuple(extra)
        if keys not in self._participants:
            person = np.where(self.present("participant_id"), self.group(keys), -1)
            person.setflags(write=False)
            self._participants[keys] = person
        return self._participants[keys]


def _compact_codes(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    positions, values = factorized(series)
    if len(values) < np.iinfo(np.int32).max:  # half the memory of int64
        positions = positions.astype(np.int32, copy=False)
    return positions, values


def _lookup_limit(n_rows: int) -> int:
    """The largest integer range made dense by a lookup table (a few bytes per row of memory)."""
    return 4 * n_rows + 1024


def _dense(ids: np.ndarray, size: int) -> tuple[np.ndarray, int]:
    """``ids`` (non-negative, below ``size``) renumbered 0, 1, ... with no gaps, keeping their order:
    by a lookup table over the range when it is small, else by sorting (``np.unique``, which beats a
    hash table on a million distinct keys, mostly in order as a trial's rows are)."""
    if size <= _lookup_limit(len(ids)):
        seen = np.zeros(size, dtype=bool)
        seen[ids] = True
        rank = np.cumsum(seen, dtype=np.int32 if size < 2**31 else np.int64)  # 1 + the rank of each seen id
        dense = rank[ids].astype(np.int64)
        dense -= 1
        return dense, int(rank[-1]) if size else 0
    uniques, codes = np.unique(ids, return_inverse=True)
    return codes.astype(np.int64, copy=False).reshape(-1), len(uniques)


def first_in_group(ids: np.ndarray) -> np.ndarray:
    """True on the first row of each group; ``ids`` are non-negative group ids, -1 for rows of no group."""
    out = np.zeros(len(ids), dtype=bool)
    rows = np.flatnonzero(ids >= 0)
    if len(rows):
        first = np.full(int(ids[rows].max()) + 1, len(ids), dtype=np.int64)
        np.minimum.at(first, ids[rows], rows)
        out[first[first < len(ids)]] = True
    return out


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
