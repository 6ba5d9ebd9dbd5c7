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
    named ``columns`` that the table has (all columns when None) in the given order.

    Participants are identified within their trial, as validation keys them: in a table of several
    trials where the same ``participant_id`` occurs in two of them, ``participant_id`` is returned as
    ``trial_id:participant_id``, so that every analysis tells P001 of one trial from P001 of another
    (ids that are unique across trials are kept as they are)."""
    keep = list(df.columns) if columns is None else [c for c in dict.fromkeys(columns) if c in df.columns]
    rows = df[keep] if "instrument" not in df.columns else df.loc[outcome_mask(df, outcome), keep]
    if "participant_id" not in keep or "trial_id" not in df.columns:
        return rows
    trials = df["trial_id"]
    if trials.nunique(dropna=True) < 2:
        return rows
    trial = trials.loc[rows.index]
    person, _ = pd.factorize(rows["participant_id"])
    study, _ = pd.factorize(trial)
    pairs = np.unique(person.astype(np.int64) * (int(study.max(initial=0)) + 2) + study)
    if len(pairs) == len(np.unique(person)):  # no id is used by two trials: the ids are already unique
        return rows
    return rows.assign(participant_id=trial.astype("string").fillna("") + ":" + rows["participant_id"].astype("string"))
