"""The rows of one instrument, with only the columns an analysis reads.

Every analysis starts from one outcome's rows. Filtering the whole table copies every column (a
registry table has a dozen text columns); taking the columns first copies only what is used.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["outcome_mask", "outcome_rows"]


def outcome_mask(df: pd.DataFrame, outcome: str) -> np.ndarray:
    """True on the rows of ``outcome`` (compared as text; a missing instrument is no instrument)."""
    column = df["instrument"]
    if not isinstance(column.dtype, pd.StringDtype):
        column = column.astype(str).where(column.notna())
    return (column == outcome).to_numpy(dtype=bool, na_value=False)


def outcome_rows(df: pd.DataFrame, outcome: str, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The rows of ``outcome`` (every row when the table has no ``instrument`` column), keeping the
    named ``columns`` that the table has (all columns when None) in the given order."""
    keep = list(df.columns) if columns is None else [c for c in dict.fromkeys(columns) if c in df.columns]
    if "instrument" not in df.columns:
        return df[keep]
    return df.loc[outcome_mask(df, outcome), keep]
