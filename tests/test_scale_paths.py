"""The fast paths of the user's pipeline give the answers of the careful ones (issue 11).

The Arrow reader is checked against the careful pandas reader on the same files; the coded
validation against brute-force pandas computations; a file with many problems against the
counts and first rows a report shows.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ipt_outcomes as ipt
from ipt_outcomes.validation.coded import CodedTable, first_in_group
from ipt_outcomes.validation.rules import _modal_codes

from .test_cli import run

CAREFUL = {"read": {"encoding": "cp1252"}}  # any study encoding but UTF-8 takes the careful reader

HEADER = "trial_id,participant_id,arm,disorder,instrument,score,session,assessment_date,note\n"
FILES = {
    "plain": HEADER + "T1,001,IPT,depression,HAMD17,20,0,2024-01-02,a\nT1,001,IPT,depression,HAMD17,15,4,2024-02-01,b\n",
    "missing codes": HEADER + "T1,002,TAU,MDD,HAM-D,NA,0,,n/a\nT1,002,TAU,MDD,HAM-D,-,3,.,\n",
    "space after delimiter": HEADER.replace(",", ", ") + "T1, 003, IPT, depression, HAMD17,  NA, 0, 2024-01-02, x y\n",
    "quoted": HEADER + 'T1,"004",IPT,depression,HAMD17,"12",0,2024-01-02,"a, ""b""\nc"\n',
    "quoted after a space": HEADER + 'T1, "014",IPT,depression,HAMD17, "12",0,2024-01-02, "a, b"\n',
    "not numbers": HEADER + "T1,005,IPT,depression,HAMD17,12a,0,2024-13-40,z\nT1,005,IPT,depression,HAMD17, 7 ,1,2024-01-09,\n",
    "blank lines": HEADER + "\nT1,006,IPT,depression,HAMD17,3,0,2024-01-02,\n\n",
    "formula": HEADER + "T1,007,IPT,depression,HAMD17,3,0,2024-01-02,'=1+2\n",
    "day first": HEADER + "T1,008,IPT,depression,HAMD17,3,0,13/01/2024,\nT1,008,IPT,depression,HAMD17,3,1,20/01/2024,\n",
    "header only": HEADER,
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_arrow_reader_and_careful_reader_give_the_same_table(tmp_path, name):
    path = tmp_path / "t.csv"
    path.write_bytes(FILES[name].encode())
    fast = ipt.load(path)
    careful = ipt.load(path, study=CAREFUL)
    fast.attrs.pop("ipt_study", None), careful.attrs.pop("ipt_study", None)
    pd.testing.assert_frame_equal(fast, careful, check_dtype=True)


@pytest.mark.parametrize(("raw", "expected"), [(b'', False), (b'"a"', False), (b'a, b', False), (b' "a"', True),
                                             (b'x,"a",b\n1, "2"\n', True), (b'x," a"', False), (b'"', False)])
def test_space_before_a_quote_is_found_anywhere(raw, expected):
    from ipt_outcomes.io.readers import _space_before_quote

    assert _space_before_quote(raw) is expected


@pytest.mark.parametrize("at", [(1 << 24) - 1, 1 << 24, (1 << 24) + 5])
def test_space_before_a_quote_is_found_across_the_scan_blocks(at):
    from ipt_outcomes.io.readers import _space_before_quote

    raw = bytearray(b"a" * ((1 << 24) + 64))
    raw[at:at + 2] = b' "'
    assert _space_before_quote(bytes(raw))
    raw[at] = ord("b")
    assert not _space_before_quote(bytes(raw))


def test_semicolon_and_decimal_comma_read_alike(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("participant_id;arm;disorder;instrument;score;session\n01;IPT;depression;PHQ9;7,5;0\n")
    fast, careful = ipt.load(path), ipt.load(path, study=CAREFUL)
    careful.attrs.pop("ipt_study")
    pd.testing.assert_frame_equal(fast, careful)
    assert fast["score"].iloc[0] == 7.5 and fast["participant_id"].iloc[0] == "01"


def test_wrong_width_falls_back_to_the_careful_reader_and_its_message(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("participant_id,arm,score\n1,IPT,3\n2,TAU,4,9\n")
    with pytest.raises(ipt.InputFileError, match="line 3 has 4 fields"):
        ipt.load(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(["a", "b", "c", None])), min_size=1, max_size=60))
def test_modal_value_is_the_most_common_then_the_first_seen(rows):
    frame = pd.DataFrame({"participant_id": [f"P{p}" for p, _ in rows],
                          "arm": pd.array([v for _, v in rows], dtype="string")})
    table = CodedTable(frame)
    got = _modal_codes(table, "arm")
    texts = table.key_texts("arm")
    for i, (p, _) in enumerate(rows):
        values = [v for q, v in rows if q == p and v is not None]
        if not values:
            assert got[i] == -1
            continue
        counts = pd.Series(values).value_counts(sort=False)  # in order of first appearance
        expected = counts.index[int(np.argmax(counts.to_numpy()))]
        assert texts[got[i]] == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["T1", "T2", None]), st.sampled_from(["1", "2", "3", None]),
                          st.sampled_from([0, 1, 2])), max_size=60))
def test_groups_match_pandas(rows):
    frame = pd.DataFrame(rows, columns=["trial_id", "participant_id", "session"]).astype(object)
    table = CodedTable(frame)
    ids = table.group(("trial_id", "participant_id", "session"))
    reference = frame.fillna("<missing>").astype(str).groupby(list(frame.columns), sort=False).ngroup().to_numpy()
    # the same partition of the rows, numbered 0, 1, ... without gaps (in any order)
    assert np.array_equal(ids[:, None] == ids[None, :], reference[:, None] == reference[None, :])
    assert sorted(set(ids.tolist())) == list(range(len(set(reference.tolist()))))
    person = table.participant()
    assert np.array_equal(person < 0, frame["participant_id"].isna().to_numpy())
    first = first_in_group(person)
    expected = ~pd.Series(np.where(person < 0, np.nan, person)).duplicated().to_numpy() & (person >= 0)
    assert np.array_equal(first, expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-1, 4), max_size=40))
def test_first_in_group_is_the_first_row_of_each_group_in_any_numbering(ids):
    ids = np.asarray(ids, dtype=np.int64)
    expected = np.array([i >= 0 and i not in ids[:k] for k, i in enumerate(ids)], dtype=bool)
    assert np.array_equal(first_in_group(ids), expected)


def test_time_order_does_not_depend_on_the_order_of_rows(small):
    df = small.copy()
    df["assessment_date"] = df["assessment_date"].astype(object)
    first = df.index[df["session"] == 2][0]
    df.loc[first, "assessment_date"] = pd.Timestamp("2020-01-01")  # session 2 dated before the baseline
    in_file_order = ipt.validate(df).failures
    shuffled = df.sample(frac=1, random_state=3)
    out_of_order = ipt.validate(shuffled).failures

    def found(failures):
        return sorted(failures.loc[failures["check"] == "time_order", "row"].tolist())

    assert found(in_file_order) == found(out_of_order) != []


def test_many_problems_are_counted_and_the_first_of_each_kind_shown():
    df = ipt.simulate_trial(300, seed=2)
    bad = df.index[::3]
    df.loc[bad, "score"] = 99.0
    df.loc[df.index[1], "session"] = pd.NA
    report = ipt.validate(df)
    counts = report.counts.set_index("check")["n"]
    assert counts["score_range"] == len(bad) and counts["not_null"] == 1
    assert report.n_errors == len(bad) + 1 and not report.ok
    first = report.first_failures(4)
    assert (first["check"] == "score_range").sum() == 4 and (first["check"] == "not_null").sum() == 1
    assert first.loc[first["check"] == "score_range", "row"].tolist() == list(bad[:4])
    every = report.failures
    assert len(every) == len(bad) + 1
    assert sorted(every.loc[every["check"] == "score_range", "row"]) == list(bad)
    assert every["message"].str.contains("outside the HAMD17 range").sum() == len(bad)
    data = report.to_dict(per_check=2)
    assert len(data["failures"]) == 3 and {c["check"]: c["n"] for c in data["counts"]}["score_range"] == len(bad)


def test_validate_command_prints_counts_and_first_rows(tmp_path):
    df = ipt.simulate_trial(60, seed=3)
    df.loc[df.index[::2], "score"] = 99.0
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    shown = run("validate", str(path), "--max-rows", "3")
    assert shown.returncode == 1
    lines = shown.stdout.splitlines()
    n = len(df.index[::2])
    assert f"  error   score_range (score): {n}" in lines
    assert sum(line.startswith("[error] score_range") for line in lines) == 3
    assert f"... {n - 3} more problem(s)" in shown.stdout
    every = run("validate", str(path), "--max-rows", "0")
    assert sum(line.startswith("[error] score_range") for line in every.stdout.splitlines()) == n


def test_importing_the_package_leaves_the_analysis_libraries_unloaded():
    code = ("import sys, ipt_outcomes as ipt; heavy = [m for m in ('scipy.stats', 'statsmodels', 'plotly', 'pingouin') "
            "if m in sys.modules]; assert not heavy, heavy; assert callable(ipt.fit_growth) and 'validate' in dir(ipt); "
            "assert ipt.models.GrowthFit is ipt.GrowthFit")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_rules_evaluated_by_two_threads_find_what_one_thread_finds(monkeypatch):
    """Large tables have their rules run by pandera's thread and a helper together: the report must
    be the one a single thread gives, row for row, with problems of many kinds."""
    import importlib

    validation = importlib.import_module("ipt_outcomes.validation.validate")  # the module, not the function
    df = ipt.simulate_trial(4500, seed=4)
    assert validation._PARALLEL_ROWS[0] <= len(df) <= validation._PARALLEL_ROWS[1]
    df.loc[df.index[::97], "score"] = 99.0                                   # out of range
    df.loc[df.index[5], "arm"] = "ipt"                                       # spelling variant
    df.loc[df.index[301], "assessment_date"] = pd.Timestamp("2001-01-01")    # out of time order
    df.loc[df.index[402], "participant_id"] = pd.NA                          # empty identifier
    df.loc[df.index[503], "disorder"] = "ptsd"                               # not constant in a participant
    df = pd.concat([df, df.iloc[[200]]], ignore_index=True)                  # a duplicated key
    parallel = ipt.validate(df)
    monkeypatch.setattr(validation, "_PARALLEL_ROWS", (len(df) + 1, len(df) + 1))
    serial = ipt.validate(df)
    assert set(parallel.failures["check"]) >= {"score_range", "spelling_variants", "unique_key", "not_null",
                                                "participant_constant"}
    pd.testing.assert_frame_equal(parallel.failures, serial.failures)
    pd.testing.assert_frame_equal(parallel.counts, serial.counts)


def test_helper_thread_leaves_unstarted_rules_and_failures_to_the_caller():
    """A rule the helper has not begun is run by the caller; a rule that raised in the helper is
    run again by the caller, so that the error surfaces where pandera catches it."""
    import threading

    from ipt_outcomes.validation.rules import Rule
    from ipt_outcomes.validation.schema import RulesAhead

    gate = threading.Event()
    callers: dict[str, str] = {}

    def ok(name, wait=False):
        def passes(frame):
            if wait:
                gate.wait(5)
            callers.setdefault(name, threading.current_thread().name)
            return np.ones(len(frame), dtype=bool)
        return passes

    def broken(frame):
        callers.setdefault("broken", threading.current_thread().name)
        raise ValueError("rule bug")

    frame = pd.DataFrame({"x": [1, 2]})
    first = Rule("first", "x", "error", ok("first"), lambda f, p: [])
    bad = Rule("bad", "x", "error", broken, lambda f, p: [])
    last = Rule("last", "x", "error", ok("last", wait=True), lambda f, p: [])
    ahead = RulesAhead([first, bad, last], frame)  # the helper starts with the last rule and waits there
    assert ahead.passes(first).all() and callers["first"] == threading.current_thread().name
    gate.set()
    assert ahead.passes(last).all() and callers["last"].startswith("ipt-rules")
    with pytest.raises(ValueError, match="rule bug"):
        ahead.passes(bad)
    ahead.close()


def _unique_key_rule(frame):
    from ipt_outcomes.validation.context import ValidationContext
    from ipt_outcomes.validation.rules import build_rules

    ctx = ValidationContext.build(frame, None, None, True)
    table = CodedTable(frame)
    return next(r for r in build_rules(frame, ctx, table) if r.check == "unique_key"), table


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["T1", "T2"]), st.sampled_from(["1", "2", "01", None]),
                          st.sampled_from(["HAMD17", "PHQ9"]), st.sampled_from([0, 1, 2.0, None])),
                min_size=1, max_size=30), st.booleans())
def test_unique_key_in_any_row_order_is_what_pandas_finds(rows, sort):
    """The sorted-export shortcut of the unique-key rule and its grouping agree with pandas'
    duplicated() over the key, sorted or not."""
    from ipt_outcomes.validation.rules import _in_strict_key_order

    frame = pd.DataFrame(rows, columns=["trial_id", "participant_id", "instrument", "session"])
    if sort:
        frame = frame.sort_values(["trial_id", "participant_id", "instrument", "session"], na_position="first",
                                  ignore_index=True)
    frame["participant_id"] = frame["participant_id"].astype(object)
    rule, table = _unique_key_rule(frame)
    keyed = frame.astype(object).where(frame.notna(), "<missing>").astype(str)
    duplicated = keyed.duplicated(keep=False).to_numpy() & frame["participant_id"].notna().to_numpy()
    assert np.array_equal(~rule.passes(frame), duplicated)
    if _in_strict_key_order(table, ("session",)):
        assert not duplicated.any()


def test_sorted_export_takes_the_shortcut_and_an_adjacent_copy_does_not():
    from ipt_outcomes.validation.rules import _in_strict_key_order

    df = ipt.simulate_trial(40, seed=6).sort_values(["participant_id", "instrument", "session"], ignore_index=True)
    assert _in_strict_key_order(CodedTable(df), ("session",))
    assert "unique_key" not in set(ipt.validate(df).failures["check"])
    copied = pd.concat([df.iloc[:8], df.iloc[[7]], df.iloc[8:]], ignore_index=True)  # row 7 twice, adjacent
    assert not _in_strict_key_order(CodedTable(copied), ("session",))
    found = ipt.validate(copied).failures
    assert sorted(found.loc[found["check"] == "unique_key", "row"]) == [7, 8]


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 300), st.floats(0, 0.5), st.booleans(), st.booleans(),
       st.booleans())
def test_codes_a_text_column_remembers_are_those_of_pandas_factorize(seed, n, missing, in_order, merged, dropped):
    """The codes load hands to validation (text_column) number the values in order of first
    appearance, as pandas.factorize does, whether the positions arrive in that order or not, and
    when two values merged into one (an alias) or a value became missing."""
    from ipt_outcomes.distinct import factorized, text_column

    rng = np.random.default_rng(seed)
    values = [f"v{i}" for i in range(n)]
    if merged and n > 1:
        values[1] = values[0]
    if dropped and n > 2:
        values[2] = None
    positions = rng.integers(0, n, size=12_000)
    if in_order:  # relabel so that each value first appears after the ones before it
        _, first = np.unique(positions, return_index=True)
        order = np.unique(positions)[np.argsort(first)]
        relabel = np.empty(n, dtype=np.int64)
        relabel[order] = np.arange(len(order))
        positions = relabel[positions]
    positions[rng.random(len(positions)) < missing] = -1
    series = text_column(values, positions, pd.RangeIndex(len(positions)))
    codes, uniques = factorized(series)
    cells = np.array([None if p < 0 else values[p] for p in positions], dtype=object)
    expected_codes, expected_uniques = pd.factorize(cells, use_na_sentinel=True)
    assert np.array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)


def test_codes_of_a_text_column_whose_first_row_holds_a_later_value():
    from ipt_outcomes.distinct import factorized, text_column

    series = text_column(["a", "b", "c"], np.array([1, 2, 0] * 5_000), pd.RangeIndex(15_000))
    codes, uniques = factorized(series)
    assert list(uniques) == ["b", "c", "a"] and codes[:3].tolist() == [0, 1, 2]
