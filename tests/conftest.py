"""Shared fixtures: the bundled example trial and small canonical tables to break."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt

os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


@pytest.fixture(scope="session")
def example_df() -> pd.DataFrame:
    return ipt.load_example()


@pytest.fixture()
def small() -> pd.DataFrame:
    """A valid canonical table: 2 participants x 3 sessions x 1 instrument, all optional columns."""
    rows = []
    for pid, arm, area in (("A01", "IPT", "grief"), ("B02", "TAU", None)):
        for s in (0, 1, 2):
            rows.append({
                "trial_id": "T1", "participant_id": pid, "arm": arm, "disorder": "depression",
                "instrument": "HAMD17", "score": 20.0 - 2 * s, "session": s, "week": float(s),
                "problem_area": area, "problem_area_secondary": None, "therapist_id": "TH1",
                "format": "individual", "population": "adult", "sessions_attended": 2,
                "assessment_date": pd.Timestamp("2025-01-06") + pd.Timedelta(weeks=s),
            })
    return pd.DataFrame(rows)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture()
def sha256():
    """Digest of a file, to show that the user's input is never modified."""
    return _sha256
