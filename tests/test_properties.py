"""Property-based: arbitrary frames and arbitrary bytes never crash validation or loading."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipt_outcomes as ipt
from ipt_outcomes.vocabulary import canonical_spec

CANONICAL = list(canonical_spec()["columns"])

cell = st.one_of(
    st.none(),
    st.just(np.nan),
    st.booleans(),
    st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["IPT", "TAU", "HAMD17", "PHQ9", "depression", "grief", "0", "12", "2025-01-01", "", " "]),
    st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2100, 1, 1)),
    st.lists(st.integers(), max_size=2),
)


@st.composite
def frames(draw):
    n_rows = draw(st.integers(min_value=0, max_value=12))
    names = draw(st.lists(st.one_of(st.sampled_from(CANONICAL), st.text(max_size=6), st.integers(0, 3)),
                          min_size=0, max_size=10))
    data = {}
    columns = []
    for name in names:
        columns.append(name)
        data[len(columns) - 1] = [draw(cell) for _ in range(n_rows)]
    frame = pd.DataFrame(data, index=range(n_rows)) if columns else pd.DataFrame(index=range(n_rows))
    frame.columns = columns  # may repeat names or mix types
    return frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_validate_never_raises_on_arbitrary_frames(frame):
    before = frame.copy()
    report = ipt.validate(frame)
    assert isinstance(report.ok, bool)
    assert set(report.failures["severity"]) <= {"error", "warning"}
    report.to_json()
    pd.testing.assert_frame_equal(frame, before)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.sampled_from([".csv", ".tsv", ".txt", ".parquet", ".xlsx", ".sav", ".dta"]))
def test_arbitrary_bytes_never_crash(content, suffix):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"data{suffix}"
        path.write_bytes(content)
        try:
            df = ipt.load(path)
        except ipt.IPTOutcomesError as exc:
            assert str(path) in str(exc)
            return
        ipt.validate(df)
        assert path.read_bytes() == content


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=8), min_size=1, max_size=6),
       st.sampled_from([",", ";", "\t"]))
def test_arbitrary_text_tables_never_crash(cells, sep):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        header = sep.join(["participant_id", "arm", "score"])
        path.write_text(header + "\n" + sep.join(cells) + "\n", encoding="utf-8")
        try:
            df = ipt.load(path)
        except ipt.IPTOutcomesError:
            return
        ipt.validate(df)
