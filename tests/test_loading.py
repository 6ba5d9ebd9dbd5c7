"""Each loader format round-tripped; CSV dialects; the study mapping on a wide export."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.io import write_table

CANONICAL = ["participant_id", "arm", "disorder", "instrument", "score", "session", "week", "problem_area"]


def _compare(loaded: pd.DataFrame, original: pd.DataFrame) -> None:
    for column in CANONICAL:
        a = loaded[column].astype(object).where(loaded[column].notna(), None).tolist()
        b = original[column].astype(object).where(original[column].notna(), None).tolist()
        if column in ("score", "session", "week"):
            np.testing.assert_allclose(np.array(a, dtype=float), np.array(b, dtype=float), equal_nan=True)
        else:
            assert [None if v is None else str(v) for v in a] == [None if v is None else str(v) for v in b], column


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".xlsx", ".sav", ".dta"])
def test_round_trip(sha256, tmp_path, example_df, suffix):
    original = example_df.head(120).copy()
    path = write_table(original, tmp_path / f"trial{suffix}")
    digest = sha256(path)
    loaded = ipt.load(path)
    _compare(loaded, original)
    report = ipt.validate(loaded)
    assert report.ok, report.failures.head().to_string()
    assert sha256(path) == digest  # the user's file is never modified


def test_excel_semicolon_export_with_decimal_comma_latin1_bom(tmp_path, example_df):
    """What Excel writes in a German or French locale: ';' delimiter, ',' decimals, Latin-1."""
    df = example_df[example_df["instrument"] == "PHQ9"].head(60).copy()
    df["participant_id"] = df["participant_id"].str.replace("P", "Pé", regex=False)
    df["score"] = df["score"] + 0.25
    df["instrument"] = "EDEQ_GLOBAL"
    df["score"] = (df["score"] / 10).round(2)
    path = tmp_path / "export.csv"
    text = df.to_csv(index=False, sep=";", decimal=",")
    path.write_bytes(text.encode("latin-1"))
    loaded = ipt.load(path)
    assert loaded["participant_id"].iloc[0].startswith("Pé")
    np.testing.assert_allclose(loaded["score"].to_numpy(float), df["score"].to_numpy(float), equal_nan=True)
    assert ipt.validate(loaded).ok
    # and UTF-8 with a byte-order mark
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    loaded = ipt.load(path)
    assert list(loaded.columns)[0] == "trial_id"
    assert ipt.validate(loaded).ok


def test_leading_zero_ids_survive(tmp_path, small):
    df = small.assign(participant_id=small["participant_id"].map({"A01": "007", "B02": "010"}))
    path = write_table(df, tmp_path / "ids.csv")
    assert set(ipt.load(path)["participant_id"]) == {"007", "010"}


def test_aliases_mapped_on_import(tmp_path, small):
    df = small.copy()
    df["problem_area"] = df["problem_area"].replace({"grief": "Grief/Loss"})
    df["instrument"] = "HAM-D"
    df["disorder"] = "Major Depressive Disorder"
    df = df.rename(columns={"participant_id": "Participant ID", "problem_area": "Problem Area"})
    path = write_table(df, tmp_path / "aliases.csv")
    loaded = ipt.load(path)
    assert set(loaded["instrument"]) == {"HAMD17"}
    assert set(loaded["disorder"]) == {"depression"}
    assert set(loaded["problem_area"].dropna()) == {"grief"}
    assert ipt.validate(loaded).ok


def test_text_in_numeric_column_is_kept_and_reported(tmp_path, small):
    df = small.astype({"score": object})
    df.loc[2, "score"] = "12a"
    path = write_table(df, tmp_path / "typo.csv")
    loaded = ipt.load(path)
    assert loaded.loc[2, "score"] == "12a"  # nothing the user gave is lost
    hit = ipt.validate(loaded).failures.iloc[0]
    assert hit["check"] == "numeric" and hit["line"] == 4 and hit["participant_id"] == "A01"
    assert str(path) in hit["message"] and "line 4" in hit["message"]


def test_spss_value_labels_become_values(tmp_path, small):
    import pyreadstat

    df = small.drop(columns=["assessment_date"]).copy()
    raw = pd.DataFrame({"ID": df["participant_id"], "group": df["arm"].map({"IPT": 1.0, "TAU": 2.0}),
                        "disorder": "depression", "instrument": "HAMD17", "score": df["score"],
                        "session": df["session"].astype(float)})
    path = tmp_path / "labelled.sav"
    pyreadstat.write_sav(raw, str(path), variable_value_labels={"group": {1.0: "IPT", 2.0: "TAU"}})
    loaded = ipt.load(path, study={"columns": {"ID": "participant_id", "group": "arm"}})
    assert list(loaded["arm"]) == list(df["arm"])
    assert loaded["session"].dtype == "Int64"
    assert ipt.validate(loaded).ok


WIDE_STUDY = """
name: wide export
reference_arm: control
ipt_arms: [IPT]
read: {delimiter: ";", decimal: ","}
columns: {ID: participant_id, Gruppe: arm, PA: problem_area}
values:
  arm: {1: IPT, 2: control}
  problem_area: {RD: role_dispute, RT: role_transition}
constants: {disorder: perinatal_depression, trial_id: W1}
reshape:
  separator: "."
  measures: {bdi: BDI2, epds: EPDS}
  occasions:
    pre: {session: 0, week: 0}
    post: {session: 12, week: 12}
    2m: {session: 12, week: 20.7, month: 2}
instruments:
  MYSCALE: {min: 0, max: 10, higher_is: worse}
"""


def test_study_maps_wide_export(sha256, tmp_path):
    raw = ("ID;Gruppe;PA;bdi.pre;bdi.post;bdi.2m;epds.pre;epds.post;epds.2m;age\n"
           "001;1;RD;30;12;10;18;8;7,5;31\n"
           "002;2;;28;;;17;;;29\n"
           "003;1;RT;35;20;18;20;11;10;35\n")
    data = tmp_path / "wide.csv"
    data.write_text(raw, encoding="utf-8")
    study = tmp_path / "study.yaml"
    study.write_text(WIDE_STUDY, encoding="utf-8")
    digest = sha256(data)
    df = ipt.load(data, study=study)
    assert len(df) == 3 * 2 * 3
    first = df[df["participant_id"] == "001"]
    assert list(first["instrument"]) == ["BDI2"] * 3 + ["EPDS"] * 3
    assert list(first["session"]) == [0, 12, 12] * 2
    assert list(first["week"]) == [0, 12, 20.7] * 2
    assert list(first["month"].fillna(-1)) == [-1, -1, 2] * 2
    assert first["score"].tolist()[-1] == 7.5
    assert set(df["arm"]) == {"IPT", "control"}
    assert set(df["disorder"]) == {"perinatal_depression"}
    assert df.loc[df["participant_id"] == "001", "problem_area"].unique().tolist() == ["role_dispute"]
    report = ipt.validate(df)
    assert report.ok, report.failures.to_string()
    assert int(report.missing_scores["n_missing"].sum()) == 4
    assert sha256(data) == digest


def test_wide_export_errors_point_to_the_wide_line(tmp_path):
    raw = "ID;Gruppe;PA;bdi.pre;bdi.post;bdi.2m;epds.pre;epds.post;epds.2m\n001;1;RD;30;12;10;18;8;7\n002;1;RD;30;99;10;18;8;7\n"
    data = tmp_path / "wide.csv"
    data.write_text(raw, encoding="utf-8")
    study = tmp_path / "study.yaml"
    study.write_text(WIDE_STUDY, encoding="utf-8")
    report = ipt.validate(ipt.load(data, study=study))
    hit = report.errors.iloc[0]
    assert hit["check"] == "score_range" and hit["line"] == 3 and hit["participant_id"] == "002"


@pytest.mark.parametrize(("study", "match"), [
    ("colums: {a: b}", "unknown key colums"),
    ("columns: {NOPE: participant_id}", "has no column 'NOPE'"),
    ("reshape: {measures: {x: BDI2}, occasions: {pre: {session: 0}}}", "reshape found no columns"),
    ("reshape: {measures: {x: BDI2}, occasions: {pre: {month: 1}}}", "gives no session or week"),
    ("instruments: {X: {min: 5, max: 1}}", "must be smaller"),
    ("sessions: {min: 16, max: 12}", "is above"),
    ("columns: [a, b]", "must be a mapping"),
    ("name: [unclosed", "not valid YAML at line"),
])
def test_bad_study_files(tmp_path, small, study, match):
    data = write_table(small, tmp_path / "d.csv")
    path = tmp_path / "study.yaml"
    path.write_text(study, encoding="utf-8")
    with pytest.raises(ipt.StudyDefinitionError, match=match) as info:
        ipt.load(data, study=path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("name", "content", "match"), [
    ("missing.csv", None, "file not found"),
    ("empty.csv", b"", "the file is empty"),
    ("blank.csv", b" \r\n\t" * 30_000, "the file is empty"),
    ("late_nul.csv", b"participant_id,score\n" + b"A,1\n" * 50_000 + b"A,\x002\n", "line 50002 contains a NUL"),
    ("binary.csv", b"\x00\x01\x02\x00garbage", "binary data"),
    ("broken.parquet", b"not parquet at all", "cannot be read as a PARQUET"),
    ("broken.xlsx", b"PK\x03\x04 broken zip", "cannot be read as a XLSX"),
    ("broken.sav", b"$FL2 broken", "cannot be read as a SAV"),
    ("broken.dta", b"<stata_dta> broken", "cannot be read as a DTA"),
    ("data.xls", b"old", "xls files are not supported"),
    ("data.json", b"{}", "unknown file type"),
])
def test_unreadable_files(tmp_path, name, content, match):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ipt.InputFileError, match=match) as info:
        ipt.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(("dates", "study", "expected"), [
    (["2025-01-06", "2025-01-13"], None, ["2025-01-06", "2025-01-13"]),
    (["06.01.2025", "13.01.2025"], None, ["2025-01-06", "2025-01-13"]),
    (["06/01/2025", "13/01/2025"], None, ["2025-01-06", "2025-01-13"]),          # only day first fits
    (["01/06/2025", "01/13/2025"], None, ["2025-01-06", "2025-01-13"]),          # only month first fits
    (["06/01/2025", "07/01/2025"], {"read": {"dayfirst": True}}, ["2025-01-06", "2025-01-07"]),
    (["2025|01|06", "2025|01|13"], {"read": {"date_format": "%Y|%m|%d"}}, ["2025-01-06", "2025-01-13"]),
])
def test_date_formats(tmp_path, dates, study, expected):
    path = tmp_path / "d.csv"
    path.write_text("participant_id,assessment_date\nA," + dates[0] + "\nA," + dates[1] + "\n", encoding="utf-8")
    loaded = ipt.load(path, study=study)
    assert [d.strftime("%Y-%m-%d") for d in loaded["assessment_date"]] == expected


def test_ambiguous_dates_are_announced(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("participant_id,assessment_date\nA,06/01/2025\nA,07/01/2025\n", encoding="utf-8")
    with pytest.warns(ipt.DataWarning, match="ambiguous"):
        ipt.load(path)


def test_text_codes_made_by_load_agree_with_pandas_and_never_go_stale(tmp_path):
    """Load hands each text column's codes to validation (no second hash of every row); the codes
    are those pandas.factorize gives, including a column whose values are not coded in order of
    appearance and one whose study-mapped values merge, and a column changed after loading is coded
    afresh, so validation sees the change."""
    from ipt_outcomes.distinct import factorized

    df = ipt.simulate_trial(1500, seed=3)
    number = df["participant_id"].str[1:].astype(int)
    df["site"] = np.where(number % 3 == 1, "b", "a")  # the first row is "b": not in dictionary order
    df["therapist_id"] = df["therapist_id"].str.lower()
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    loaded = ipt.load(path)
    assert len(loaded) >= 10_000
    for column in ("participant_id", "arm", "site", "therapist_id", "problem_area"):
        positions, values = factorized(loaded[column])
        expected_positions, expected_values = pd.factorize(loaded[column].astype(object))
        np.testing.assert_array_equal(positions, expected_positions)
        assert list(values) == list(expected_values), column
    assert ipt.validate(loaded).ok
    coded = df.assign(site=pd.Categorical(df["site"], categories=["a", "b"]))  # categories not in row order
    coded.to_parquet(tmp_path / "t.parquet")
    site = ipt.load(tmp_path / "t.parquet")["site"]
    positions, values = factorized(site)
    expected_positions, expected_values = pd.factorize(site.astype(object))
    np.testing.assert_array_equal(positions, expected_positions)
    assert list(values) == list(expected_values) == ["b", "a"]
    changed = loaded.copy()
    second = int(np.flatnonzero(changed["participant_id"].to_numpy() == "P0002")[0])  # P0002's baseline
    changed.loc[second, "participant_id"] = "P0001"  # now repeats P0001's baseline key
    report = ipt.validate(changed)
    assert "unique_key" in set(report.errors["check"])
    assert ipt.validate(loaded).ok  # the original is untouched and still coded as loaded


@pytest.mark.parametrize("encoding", [None, "cp1252"])  # the Arrow reader and the careful one
def test_session_counts_become_whole_numbers_with_missing_cells_missing(tmp_path, encoding):
    path = tmp_path / "d.csv"
    path.write_text("participant_id,session,sessions_attended,score\n"
                    "A,0,12,1.5\nA,,NA,2\nA,3.0,,\nA,-,4,7\n", encoding="utf-8")
    loaded = ipt.load(path, study={"read": {"encoding": encoding}} if encoding else None)
    assert loaded["session"].dtype == "Int64" and loaded["sessions_attended"].dtype == "Int64"
    assert loaded["session"].tolist() == [0, pd.NA, 3, pd.NA]
    assert loaded["sessions_attended"].tolist() == [12, pd.NA, pd.NA, 4]
    assert loaded["score"].dtype == "float64" and loaded["score"].isna().tolist() == [False, False, True, False]
    halves = tmp_path / "h.csv"
    halves.write_text("participant_id,session\nA,0\nA,1.5\n", encoding="utf-8")
    assert ipt.load(halves)["session"].tolist() == [0.0, 1.5]  # not whole: kept as numbers


@pytest.mark.parametrize("encoding", [None, "cp1252"])  # the Arrow reader and the careful one
def test_identifiers_lose_surrounding_spaces_and_blank_ones_are_missing(tmp_path, encoding):
    path = tmp_path / "d.csv"
    path.write_text('participant_id,therapist_id,score\nP1 ,T1,1\n"   ",T2 ,2\n" P2",,3\n', encoding="utf-8")
    loaded = ipt.load(path, study={"read": {"encoding": encoding}} if encoding else None)
    assert loaded["participant_id"].tolist() == ["P1", pd.NA, "P2"]
    assert loaded["therapist_id"].tolist() == ["T1", "T2", pd.NA]
    assert loaded["participant_id"].dtype == "string"


def test_a_file_that_shrinks_or_grows_while_it_is_read_is_refused_not_a_crash(tmp_path, example_df, monkeypatch):
    """The reader once mapped the file into memory: a file truncated by another program during the
    read stopped the process with SIGBUS. Now the file is read once and a change is said."""
    import builtins

    from ipt_outcomes.io import readers

    path = tmp_path / "export.csv"
    example_df.to_csv(path, index=False)
    real_open = builtins.open

    def opener(change):
        def fake_open(file, mode="r", *args, **kwargs):
            handle = real_open(file, mode, *args, **kwargs)
            if str(file) == str(path) and "b" in mode:
                read = handle.read

                def read_while_changing(*a):
                    change()
                    return read(*a)

                handle.read = read_while_changing
            return handle
        return fake_open

    def shrink():
        with real_open(path, "r+b") as f:
            f.truncate(1000)

    def grow():
        with real_open(path, "ab") as f:
            f.write(b"P9999,IPT,depression,HAMD17,10,16\n")

    for change, words in ((shrink, "changed while it was read"), (grow, "changed while it was read")):
        example_df.to_csv(path, index=False)
        monkeypatch.setattr(readers, "open", opener(change), raising=False)
        with pytest.raises(ipt.InputFileError, match=words):
            ipt.load(path)
        monkeypatch.undo()
    example_df.to_csv(path, index=False)
    assert len(ipt.load(path)) == len(example_df)
