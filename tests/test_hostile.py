"""Hostile and broken input, as a careless or malicious file would arrive (issue 10).

Every named case runs through the command line in-process and checks what a user is promised: the
documented exit code, a message that names the place (file, line, column, participant) and says what
to do, no traceback or internal error, every input file byte-identical afterwards, and no raw control
character from the data on the terminal. A hypothesis fuzzer mutates a valid file at random with the
same checks, and the public API is called with wrong types and impossible values.
"""

from __future__ import annotations

import math
import os
import re
import stat

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipt_outcomes as ipt
from ipt_outcomes.cli.main import main
from ipt_outcomes.cli.terminal import printable

# a control character the terminal would obey: C0 (but tab and newline), DEL, C1, bidi overrides
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return ipt.simulate_trial(24, seed=3, dropout=0.1)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _clean(code: int, out: str, err: str, allowed: set[int]) -> None:
    assert code in allowed, (code, out[-2000:], err[-2000:])
    assert "internal error" not in err and "Traceback" not in err, err
    assert not RAW_CONTROL.search(out + err), repr((out + err)[:500])


def _digests(paths):
    import hashlib

    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths if p.is_file()}


def _set(df: pd.DataFrame, column: str, value, row: int = 5) -> pd.DataFrame:
    df = df.copy()
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    return df


def _lines(df: pd.DataFrame) -> list[str]:
    return df.to_csv(index=False).splitlines()


# --- the named table ----------------------------------------------------------------------------
# name -> (build(tmp, trial) -> (data path, extra args), commands, allowed exit codes, fragment of stderr+stdout)

def _csv(tmp, name, df_or_text):
    path = tmp / f"{name}.csv"
    if isinstance(df_or_text, pd.DataFrame):
        df_or_text.to_csv(path, index=False)
    elif isinstance(df_or_text, bytes):
        path.write_bytes(df_or_text)
    else:
        path.write_text(df_or_text)
    return path


def _study(tmp, text):
    path = tmp / "study.yaml"
    path.write_text(text)
    return path


def _ansi_participant(tmp, df):
    first = df["participant_id"].iloc[0]
    df = df.assign(participant_id=df["participant_id"].replace({first: "\x1b]0;owned\x07\x1b[2J\u202eP1"}))
    return _csv(tmp, "ansi", _set(df, "score", 999, row=0)), ()


def _wide_lines(tmp, df):
    lines = _lines(df)
    for i in (6, 9, 12):
        lines[i] += ",extra"
    return _csv(tmp, "wide", "\n".join(lines) + "\n"), ()


def _quote(tmp, df):
    lines = _lines(df)
    lines[6] = lines[6].replace(",", ',"', 1)
    return _csv(tmp, "quote", "\n".join(lines) + "\n"), ()


def _duplicate_header(tmp, df):
    lines = _lines(df)
    lines[0] = lines[0].replace("week", "score")
    return _csv(tmp, "dup", "\n".join(lines) + "\n"), ()


def _nul_late(tmp, df):
    raw = df.to_csv(index=False).encode()
    cut = raw.index(b"\n", 9000)
    return _csv(tmp, "nul", raw[:cut - 2] + b"\x00" + raw[cut - 2:]), ()


def _fifo(tmp, df):
    path = tmp / "pipe.csv"
    os.mkfifo(path)
    return path, ()


def _dev_zero(tmp, df):
    path = tmp / "zero.csv"
    path.symlink_to("/dev/zero")
    return path, ()


def _sniffer_trap(tmp, df):
    # what makes csv.Sniffer's quote regex backtrack for minutes: long runs of quotes and delimiters
    text = "a,b\n" + ('"' + "," * 3000 + "'" * 3000 + '"\n') * 40
    return _csv(tmp, "sniff", text), ()


def _alias_bomb(tmp, df):
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return _csv(tmp, "data", df), ("--study", _study(tmp, "\n".join(rows) + "\n"))


def _recursive_yaml(tmp, df):
    return _csv(tmp, "data", df), ("--study", _study(tmp, "name: &a [*a]\n"))


def _deep_yaml(tmp, df):
    return _csv(tmp, "data", df), ("--study", _study(tmp, "name: " + "[" * 5000 + "]" * 5000 + "\n"))


def _na_mapping(tmp, df):
    return _csv(tmp, "data", df), ("--study", _study(tmp, "read: {na_values: {a: 1}}\n"))


def _plain(name, mutate, extra=()):
    def build(tmp, df):
        return _csv(tmp, name, mutate(df)), tuple(extra)
    return build


def _same_baselines(df: pd.DataFrame) -> pd.DataFrame:
    first = df["arm"].iloc[0]
    at_zero = (df["arm"] == first) & (pd.to_numeric(df["session"], errors="coerce") == 0)
    return df.assign(score=df["score"].where(~at_zero, 20))


def _two_renamed_to_one(tmp, df):
    data = df.rename(columns={"score": "total"}).assign(total2=lambda d: d["total"])
    return _csv(tmp, "renamed", data), ("--study", _study(tmp, "columns: {total: score, total2: score}\n"))


def _infinite_window(tmp, df):
    return _csv(tmp, "window", df), ("--study", _study(tmp, "visits: {4: [3, .inf]}\n"))


VALIDATE = (("validate",),)
ALL = (("validate",), ("fit",), ("clinical", "--imputations", "2"))

CASES = {
    "date 9999-12-31 (unknown-date code)": (_plain("date", lambda d: _set(d, "assessment_date", "9999-12-31")), ALL, {1},
                                           "line 7, participant P0001, column 'assessment_date'"),
    "session 1e19": (_plain("session", lambda d: _set(d, "session", "1e19")), ALL, {1},
                     "line 7, participant P0001, column 'session'"),
    "score 1e400 (infinite)": (_plain("inf", lambda d: _set(d, "score", "1e400")), VALIDATE, {1}, "column 'score'"),
    "ANSI escapes and bidi override in a participant id": (_ansi_participant, ALL, {1}, "\\x1b]0;owned"),
    "ANSI escape in an arm": (_plain("arm_ansi", lambda d: d.assign(arm=d["arm"].replace({"TAU": "TAU\x1b[8m"}))),
                              (("fit", "--reference-arm", "TAU\x1b[8m"),), {0}, "TAU\\x1b[8m"),
    "constant scores": (_plain("constant", lambda d: d.assign(score=10)), (("fit",),), {1}, "no variation"),
    "constant scores (clinical)": (_plain("constant", lambda d: d.assign(score=10)),
                                   (("clinical", "--imputations", "2"),), {1}, "positive SD"),
    "arm with ':' and ']'": (_plain("colon", lambda d: d.assign(arm=d["arm"].replace({"IPT": "IPT: weekly]"}))),
                             (("fit",), ("clinical", "--imputations", "2")), {0}, "IPT: weekly]"),
    "'ipt' and 'IPT' as two arms": (_plain("case", lambda d: d.assign(arm=d["arm"].where(d.index % 7 != 0,
                                                                                          d["arm"].str.lower()))),
                                    ALL, {1}, "differ only in case or spacing"),
    "duplicated column name": (_duplicate_header, ALL, {2}, "names a column more than once: 'score' in columns 6, 8"),
    "NUL byte inside a cell": (_nul_late, VALIDATE, {2}, "contains a NUL byte"),
    "50,000-character cell": (_plain("huge", lambda d: _set(d, "disorder", "x" * 50_000)), VALIDATE, {1}, "xxx..."),
    "unbalanced quote": (_quote, VALIDATE, {2}, "line 7: a quote"),
    "rows wider than the header": (_wide_lines, VALIDATE, {2}, "line 7 has 17 fields where the header has 16"),
    "FIFO": (_fifo, VALIDATE, {2}, "named pipe"),
    "/dev/zero named .csv": (_dev_zero, VALIDATE, {2}, "is a device"),
    "delimiter-sniffer trap": (_sniffer_trap, VALIDATE, {1, 2}, ""),
    "YAML alias bomb": (_alias_bomb, VALIDATE, {2}, "aliases are not allowed"),
    "recursive YAML anchor": (_recursive_yaml, VALIDATE, {2}, "aliases are not allowed"),
    "deeply nested YAML": (_deep_yaml, VALIDATE, {2}, "study.yaml"),
    "read.na_values a mapping": (_na_mapping, VALIDATE, {2}, "study.yaml: read.na_values"),
    "markup in a covariate name": (_plain("markup", lambda d: d.assign(**{"[bold]age[/x]": 30.0 + d.index % 5}),
                                          ("--covariates", "[bold]age[/x]")), (("fit",),), {0}, "[bold]age[/x]"),
    "one imputation": (_plain("data", lambda d: d, ("--imputations", "1")), (("clinical",),), {2}, "--imputations"),
    "negative seed": (_plain("data", lambda d: d, ("--seed", "-1")), (("clinical", "--imputations", "2"),), {2},
                      "--seed"),
    "huge seed": (_plain("data", lambda d: d, ("--seed", str(10**30))), (("clinical", "--imputations", "2"),), {2},
                  "--seed"),
    "time column that is not there": (_plain("data", lambda d: d, ("--time", "nope")), ALL[1:], {2},
                                      "time column 'nope' is not in the data"),
    "time column of text": (_plain("data", lambda d: d, ("--time", "disorder")), ALL[1:], {2}, "does not hold numbers"),
    "--at beyond the data": (_plain("data", lambda d: d, ("--at", "500")), (("fit",),), {0}, "extrapolates"),
    "--at not a number": (_plain("data", lambda d: d, ("--at", "nan")), (("fit",),), {2}, "not a finite number"),
    "header only": (lambda tmp, d: (_csv(tmp, "header", _lines(d)[0] + "\n"), ()), VALIDATE, {1}, "no rows"),
    "empty file": (lambda tmp, d: (_csv(tmp, "empty", ""), ()), VALIDATE, {2}, "empty"),
    "binary file named .csv": (lambda tmp, d: (_csv(tmp, "bin", bytes(range(256)) * 40), ()), VALIDATE, {2}, "binary"),
    "folder as data": (lambda tmp, d: (tmp, ()), VALIDATE, {2}, "is a folder"),
    "missing file": (lambda tmp, d: (tmp / "nothing.csv", ()), VALIDATE, {2}, "not found"),
    "identical baselines in one arm": (_plain("samebase", _same_baselines), (("clinical", "--imputations", "2"),),
                                       {0}, "multiple imputation (MAR)"),
    "two raw columns renamed to one": (_two_renamed_to_one, ALL, {2}, "'total', 'total2' would all become column "
                                                                      "'score'"),
    "visit window [3, .inf]": (_infinite_window, (("mmrm",),), {2}, "visits.4: a planned visit and its window are "
                                                                   "finite numbers"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_named_hostile_input(name, tmp_path, trial, capsys):
    build, commands, allowed, fragment = CASES[name]
    data, extra = build(tmp_path, trial)
    before = _digests(sorted(tmp_path.iterdir()))
    for command in commands:
        code, out, err = _run(capsys, command[0], data, *command[1:], *extra)
        _clean(code, out, err, allowed)
        if fragment:
            assert fragment in " ".join((out + err).split()), (out + err)[-1500:]
    assert _digests(sorted(p for p in tmp_path.iterdir() if p.is_file() and not stat.S_ISFIFO(p.lstat().st_mode)
                           and not p.is_symlink())) == {p: d for p, d in before.items() if not p.is_symlink()}
    assert sorted(tmp_path.iterdir()) == sorted(before) or name in ("FIFO", "/dev/zero named .csv")


# --- simulate -------------------------------------------------------------------------------------

SIMULATE = {
    "1e9 participants": (("--participants", "1000000000"), 2, "can be simulated on this machine"),
    "negative participants": (("--participants", "-5"), 2, "needs at least 2"),
    "dropout above 1": (("--dropout", "1.5"), 2, "--dropout must be at least 0 and below 1"),
    "effect size nan": (("--effect-size", "nan"), 2, "not a finite number"),
    "formula arm for a spreadsheet": (("--arms", "=cmd|' /C calc'!A0,TAU"), 2, "read as a formula"),
    "arm starting with @": (("--arms", "@SUM(1),TAU"), 2, "read as a formula"),
    "repeated arms": (("--arms", "IPT,IPT"), 2, "distinct"),
    "negative seed": (("--seed", "-3"), 2, "outside 0 to"),
}


@pytest.mark.parametrize("name", sorted(SIMULATE))
def test_simulate_refuses_nonsense(name, tmp_path, capsys):
    args, expected, fragment = SIMULATE[name]
    out = tmp_path / "trial.xlsx"
    code, stdout, err = _run(capsys, "simulate", "--out", out, *args)
    _clean(code, stdout, err, {expected})
    assert fragment in err
    assert not out.exists()


def test_debug_is_accepted_anywhere(tmp_path, capsys):
    for i, argv in enumerate((["--debug", "simulate"], ["simulate", "--debug"], ["simulate"])):
        out = tmp_path / f"t{i}.csv"
        code, _, err = _run(capsys, *argv, "--participants", "6", "--out", out, *(["--debug"] if i == 2 else []))
        assert code == 0, err
        assert out.exists()


def test_debug_shows_the_traceback_of_an_internal_error(monkeypatch, tmp_path, capsys):
    from ipt_outcomes.cli import commands

    def broken(args):
        raise RuntimeError("deliberate")

    monkeypatch.setattr(commands, "cmd_simulate", broken)
    parser_args = ["simulate", "--out", tmp_path / "x.csv"]
    code, _, err = _run(capsys, *parser_args)
    assert code == 1 and "internal error (RuntimeError: deliberate)" in err and "Traceback" not in err
    code, _, err = _run(capsys, *parser_args, "--debug")
    assert code == 1 and "Traceback" in err


# --- terminal -------------------------------------------------------------------------------------

def test_printable_shows_control_characters_as_escapes():
    assert printable("a\x1b[2Jb\x07\rc\u202ed\tx\n") == "a\\x1b[2Jb\\x07\\rc\\u202ed\tx\n"
    assert printable("Ünïcödé – €") == "Ünïcödé – €"


def test_validation_table_on_a_terminal_escapes_data(tmp_path, trial, monkeypatch, capsys):
    """The rich table (what a terminal user sees) also shows escapes, not the raw sequence."""
    data, _ = _ansi_participant(tmp_path, trial)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    code, out, err = _run(capsys, "validate", data)
    assert code == 1
    assert not RAW_CONTROL.search(out + err)
    assert "x1b" in out


# --- spreadsheets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", [".xlsx", ".csv", ".tsv"])
def test_no_live_formula_in_any_table_written(tmp_path, suffix):
    from ipt_outcomes.io import read_raw, write_table

    hostile = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1)", "=1+1", "-5", "1e3", "ok"]
    df = pd.DataFrame({"arm": hostile, "=b": range(len(hostile))})
    path = write_table(df, tmp_path / f"t{suffix}")
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        cells = [c for row in load_workbook(path).active.iter_rows() for c in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
    else:
        sep = "\t" if suffix == ".tsv" else ","
        for line in path.read_text().splitlines()[1:]:
            cell = line.split(sep)[0].strip('"')
            assert cell[:1] not in "=+@" or cell.startswith("'"), cell
            assert not (cell.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", cell)), cell
    back = read_raw(path).frame
    assert list(back.columns) == ["arm", "=b"]
    assert list(back["arm"].astype(str)) == hostile  # the apostrophe is taken off again: nothing lost


def test_excel_formula_without_saved_value_is_refused(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["participant_id", "arm", "instrument", "score", "session"])
    sheet.append(["P1", "IPT", "HAMD17", 20, 0])
    sheet.append(["P1", "IPT", "HAMD17", "=D2-5", 1])  # openpyxl saves no computed value
    path = tmp_path / "formula.xlsx"
    book.save(path)
    with pytest.raises(ipt.InputFileError, match=r"row 3, column score \(=D2-5\).*save it"):
        ipt.load(path)


def test_excel_header_with_a_name_twice_is_refused(tmp_path):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["participant_id", "score", "score"])
    book.active.append(["P1", 1, 2])
    book.save(tmp_path / "dup.xlsx")
    with pytest.raises(ipt.InputFileError, match=r"header \(row 1\).*'score' in columns 2, 3"):
        ipt.load(tmp_path / "dup.xlsx")


def test_excel_date_outside_range_is_a_row_problem(tmp_path, trial):
    import datetime

    df = trial.head(30).copy()
    df["assessment_date"] = df["assessment_date"].dt.to_pydatetime()
    df["assessment_date"] = df["assessment_date"].astype(object)
    df.loc[4, "assessment_date"] = datetime.datetime(9999, 12, 31)
    path = tmp_path / "dates.xlsx"
    df.to_excel(path, index=False)
    report = ipt.validate(ipt.load(path))
    bad = report.errors[report.errors["column"] == "assessment_date"]
    assert len(bad) == 1 and bad["line"].iloc[0] == 6 and "outside the dates" in bad["message"].iloc[0]


# --- read options ---------------------------------------------------------------------------------

def test_na_values_scalar_is_one_code_not_characters(tmp_path, trial):
    df = trial.copy()
    df["score"] = df["score"].astype(object)
    df.loc[3, "score"] = -99
    path = _csv(tmp_path, "na", df)
    study = _study(tmp_path, "read: {na_values: '-99'}\n")
    loaded = ipt.load(path, study)
    assert loaded["score"].isna().sum() == 1 and pd.isna(loaded.loc[3, "score"])
    nines = (trial["score"] == 9).sum()
    assert (loaded["score"] == 9).sum() == nines
    assert ipt.validate(loaded, study).ok


def test_read_options_of_the_wrong_type_name_the_study_file(tmp_path):
    for text, fragment in (("read: {delimiter: ';;'}", "read.delimiter must be one character"),
                           ("read: {decimal: 5}", "read.decimal must be a text"),
                           ("read: {dayfirst: 'yes'}", "read.dayfirst must be true or false")):
        study = _study(tmp_path, text + "\n")
        with pytest.raises(ipt.StudyDefinitionError, match=re.escape(str(study)) + ".*" + re.escape(fragment)):
            ipt.load_study(study)


def test_text_memory_bound_refuses_before_reading(tmp_path):
    from ipt_outcomes.io.files import TEXT_MEMORY_FACTOR, check_text_memory

    path = tmp_path / "big.csv"
    with pytest.raises(ipt.InputFileError, match=r"needs about .* GB of memory"):
        check_text_memory(path, 10**9, available=10**9)
    check_text_memory(path, 10**6, available=TEXT_MEMORY_FACTOR * 10**6 + 1)


# --- the Python API -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted(trial):
    return ipt.fit_growth(trial, "HAMD17")


def _api_calls(df, fit):
    nan = math.nan
    yield from ((f, (bad, "HAMD17"), {}) for f in (ipt.fit_growth, ipt.clinical_change, ipt.dose_response,
                                                   ipt.improvement_by_session, ipt.last_observed, ipt.retention,
                                                   ipt.sudden_gains, ipt.classical_anova)
                for bad in (5, "x", None, [1, 2]))
    yield from ((ipt.fit_growth, (df, outcome), {}) for outcome in (5, None, ["HAMD17"], ""))
    yield from ((ipt.fit_growth, (df, "HAMD17"), {k: v}) for k, vs in {
        "time": [5, ["session"]], "random": ["x", 5], "method": ["x"], "covariates": [5, [1]],
        "moderators": [5], "therapist": [5], "breakpoints": [(1,), "x", (12, 3)], "reference_levels": [5, {"x": "y"}],
        "level": [5, "x", 0, nan], "engine": ["x"], "shape": ["cubic"]}.items() for v in vs)
    yield from ((ipt.clinical_change, (df, "HAMD17"), {k: v}) for k, vs in {
        "reliability": [2, "x", -1, nan], "cutoff": ["d", nan], "at": ["x", nan, 500], "sd_baseline": [0, -1, "x"],
        "response_percent": [200, "x"], "remission": ["x"]}.items() for v in vs)
    yield from ((ipt.sensitivity_analyses, (df, "HAMD17"), {k: v}) for k, vs in {
        "n_imputations": [1, 0, "x", 2.5], "seed": [-1, "x", 1.5, 2**70], "deltas": ["x", [nan]], "level": [2],
        "at": ["x"], "complete_from": ["x"]}.items() for v in vs)
    yield from ((ipt.sudden_gains, (df, "HAMD17"), {k: v}) for k, vs in {
        "threshold": ["x", -1], "percent": ["x", -5, 500], "reliability": [5]}.items() for v in vs)
    yield from ((ipt.parametric_bootstrap, (fit,), {k: v, "progress": False}) for k, vs in {
        "n_boot": [0, "x"], "seed": [-1, "x"], "level": [5], "statistic": [5]}.items() for v in vs)
    yield ipt.parametric_bootstrap, (5,), {}
    yield from ((ipt.power_simulation, (), {k: v, "n_replicates": 2, "progress": False}) for k, vs in {
        "n_participants": [0, "x", 10**12], "effect_size": ["x", nan], "dropout": [2, -1], "seed": [-1],
        "alpha": [2, 0], "outcome": [5], "simulate": [5], "fit": [5], "n_jobs": ["x", 0]}.items() for v in vs)
    yield from ((ipt.pool_rubin, args, {}) for args in (("x", [1, 2]), ([1, 2], [1]), ([1, 2], [1, -1]), ([1], [1]),
                                                         ([1, "a"], [1, 2]), ([1, nan], [1, 1])))
    yield from ((ipt.simulate_trial, (), {k: v}) for k, vs in {
        "n_participants": [0, "x", 1.5, 10**10], "seed": [-1, "x", 1.5], "arms": [[], [5, 6], ["=x", "TAU"]],
        "effect_sizes": [5, {"nope": 1.0}, {"IPT": nan}], "reference_improvement": ["x", math.inf],
        "disorders": [5, ["flu"]], "instruments": [5], "schedule": [5], "sessions": [(5,), (16, 12)],
        "change_sd": [-1, nan], "intercept_slope_correlation": [2], "therapists_per_arm": [-1],
        "dropout": [-1, 1.5], "problem_areas": [5], "problem_area_effects": [5], "start_date": ["x", 5, "9999-12-31"],
        "time_shape": ["x"], "missing": ["x"]}.items() for v in vs)
    yield from ((ipt.validate, (bad,), {}) for bad in (5, None, "x"))
    yield ipt.validate, (df, 5), {}
    yield from ((ipt.load, (bad,), {}) for bad in (5, None, ["a"], ""))
    yield ipt.load, (ipt.example_path(), 5), {}
    yield from ((ipt.load_study, (bad,), {}) for bad in (5, [1]))
    yield ipt.summarise_change, (5,), {}
    yield ipt.summarise_change, (df,), {}
    yield ipt.trial_schema, (5,), {}
    yield from ((ipt.build_report, (df,), {k: v, "progress": False}) for k, vs in {
        "n_imputations": [1, "x"], "seed": [-1], "outcome": [5], "out": [5], "time": ["nope"]}.items() for v in vs)
    yield ipt.build_report, (5,), {"progress": False}
    yield ipt.fit_growth, (df,), {"outcome": "HAMD17", "nonsense": 1}


def test_api_wrong_types_and_values_raise_the_package_errors(trial, fitted):
    """Every call fails with an IPTOutcomesError (ArgumentError / ArgumentTypeError / AnalysisError...)
    naming the argument, never with a raw TypeError, ValueError, KeyError or AttributeError."""
    import warnings

    escaped = []
    for func, args, kwargs in _api_calls(trial, fitted):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                func(*args, **kwargs)
        except ipt.IPTOutcomesError:
            continue
        except Exception as exc:  # the point of the test
            escaped.append(f"{func.__name__}{args[1:2]}{kwargs}: {type(exc).__name__}: {exc}")
            continue
        if not (func is ipt.clinical_change and kwargs.get("at") == 500):
            escaped.append(f"{func.__name__}{args[1:2]}{kwargs}: accepted")
    assert escaped == []


def test_argument_errors_name_function_and_argument(trial):
    with pytest.raises(ipt.ArgumentError, match=r"sensitivity_analyses\(\) argument n_imputations must be from 2"):
        ipt.sensitivity_analyses(trial, "HAMD17", n_imputations=1)
    with pytest.raises(ipt.ArgumentTypeError, match=r"fit_growth\(\) argument df must be a pandas DataFrame"):
        ipt.fit_growth([1, 2], "HAMD17")
    with pytest.raises(ipt.ArgumentError, match=r"no HAMD17 score at session 500"):
        ipt.clinical_change(trial, "HAMD17", at=500)


# --- random mutation --------------------------------------------------------------------------------

_HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "NA", "-99", "9999-12-31", "1e19", "1e400", "nan", "inf", "-0", "=1+1", "\x1b[2J", '"',
                     "'", ",", ";", "\t", "\r", "\n", "\x00", "\u202e", "<script>x</script>", "P0001", "IPT", "ipt",
                     "session", "HAMD17", "2024-02-30", "12a", "1,5", "  ", "\ufeff"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(st.integers(0, 60), st.integers(0, 15), _HOSTILE_TEXT), min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, 4000)))
def test_fuzzed_files_never_crash_or_change(tmp_path_factory, trial, capsys, cells, cut):
    tmp = tmp_path_factory.mktemp("fuzz")
    df = trial.head(61).astype(object).copy()
    for row, col, value in cells:
        df.iat[row, col] = value
    raw = df.to_csv(index=False).encode("utf-8", "surrogatepass")
    path = tmp / "fuzz.csv"
    path.write_bytes(raw if cut is None else raw[:cut])
    before = _digests([path])
    code, out, err = _run(capsys, "validate", path)
    _clean(code, out, err, {0, 1, 2})
    if code == 0:
        code, out, err = _run(capsys, "fit", path, "--random", "intercept")
        _clean(code, out, err, {0, 1, 2})
    assert _digests([path]) == before
    assert sorted(tmp.iterdir()) == [path]


def test_fuzzed_values_of_numeric_columns_through_the_api(trial):
    """Huge, tiny and odd numbers in the time and score columns give a validation report, never a crash."""
    rng = np.random.default_rng(5)
    odd = [1e19, -1e19, 1e308, 5e-324, -0.0, 2**53 + 1, np.nan, np.inf, -np.inf, 1e-300]
    for _ in range(20):
        df = trial.copy()
        for column in ("score", "session", "week", "sessions_attended"):
            df[column] = df[column].astype(float)
            df.loc[rng.integers(0, len(df), 2), column] = rng.choice(odd, 2)
        report = ipt.validate(df)
        assert not report.ok


def test_trailing_delimiters_never_shift_columns(tmp_path):
    """A delimiter at the end of every line (some exports write one) must not turn participant_id into
    pandas' index and shift every column one to the left; a value beyond the header is refused."""
    from ipt_outcomes.io import read_raw

    path = _csv(tmp_path, "trailing", "participant_id,arm,score\nP1,IPT,20,\nP2,TAU,18,\n")
    frame = read_raw(path).frame
    assert list(frame["participant_id"]) == ["P1", "P2"] and list(frame["score"]) == ["20", "18"]
    path = _csv(tmp_path, "extra", "participant_id,arm,score\nP1,IPT,20,\nP2,TAU,18,lost\n")
    with pytest.raises(ipt.InputFileError, match="line 3 has 4 fields where the header has 3, and the extra value 'lost'"):
        read_raw(path)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_found_from_consistent_field_counts(tmp_path, trial, delimiter):
    from ipt_outcomes.io import read_raw

    path = tmp_path / "d.txt"
    trial.head(40).to_csv(path, index=False, sep=delimiter, decimal="," if delimiter == ";" else ".")
    raw = read_raw(path)
    assert raw.dialect["delimiter"] == delimiter and raw.frame.shape == (40, trial.shape[1])


def test_report_on_hostile_labels_writes_once_and_never_replaces(tmp_path, trial, capsys):
    """The report command on data whose arms carry escapes and formula text: a clean terminal, the input
    untouched, and a second run without --force refused with the first report kept."""
    df = trial.assign(arm=trial["arm"].replace({"IPT": "=IPT\x1b[2J", "TAU": "TAU"}))
    data = _csv(tmp_path, "data", df)
    before = _digests([data])
    out = tmp_path / "report.html"
    code, stdout, err = _run(capsys, "report", data, "--out", out, "--imputations", "2", "--reference-arm", "TAU")
    _clean(code, stdout, err, {0})
    first = _digests([out])
    assert "\x1b" not in out.read_text() and "=IPT\\x1b[2J" in out.read_text()
    code, stdout, err = _run(capsys, "report", data, "--out", out, "--imputations", "2", "--reference-arm", "TAU")
    _clean(code, stdout, err, {2})
    assert "already exists" in err and _digests([out]) == first and _digests([data]) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.csv", "report.html"]


def test_study_mappings_that_contain_themselves_or_expand_to_gigabytes_are_refused(trial):
    """Through the Python API a study is any mapping: one that contains itself once recursed without end,
    one of shared lists (ten references to ten references ...) expanded to 3 GB when copied."""
    own: dict = {"name": "loop"}
    own["values"] = {"arm": own}
    with pytest.raises(ipt.StudyDefinitionError, match="contains itself"):
        ipt.load_study(own)
    laugh: list = ["lol"] * 10
    for _ in range(9):
        laugh = [laugh] * 10  # 10^10 leaves behind 10 lists
    with pytest.raises(ipt.StudyDefinitionError, match="holds more than 100,000 values"):
        ipt.load_study({"name": "bomb", "description": laugh})
    deep: dict = {}
    node = deep
    for _ in range(200):
        node["x"] = {}
        node = node["x"]
    with pytest.raises(ipt.StudyDefinitionError, match="nested more than 50 levels"):
        ipt.load_study({"values": deep})
    with pytest.raises(ipt.StudyDefinitionError, match="contains itself"):
        ipt.validate(trial, study=own)


@pytest.mark.parametrize("entry, words", [
    ("{id: A, data: 5}", "trials[1].data must be a file name"),
    ("{id: A, data: a.csv, study: 7}", "trials[1].study must be a file name"),
    ("{id: A, data: a.csv, constants: x}", "trials[1].constants must map columns to values"),
    ("{id: A, data: a.csv, constants: {disorder: [1, 2]}}", "constants.disorder: a column name with one value"),
    ("{id: A, data: null}", "trials[1].data must be a file name"),
])
def test_pooling_files_with_values_of_the_wrong_type_are_refused(tmp_path, entry, words):
    pooling = tmp_path / "pooled.yaml"
    pooling.write_text(f"trials:\n  - {entry}\n  - {{id: B, data: b.csv}}\n", encoding="utf-8")
    with pytest.raises(ipt.StudyDefinitionError, match=re.escape(words)):
        ipt.load_trials(pooling)
    code = main(["pool", str(pooling), "--json"])
    assert code == 2


def test_a_pooling_file_with_aliases_is_refused(tmp_path):
    pooling = tmp_path / "pooled.yaml"
    pooling.write_text("a: &a [x, x, x]\nname: *a\ntrials:\n  - {id: A, data: a.csv}\n", encoding="utf-8")
    with pytest.raises(ipt.StudyDefinitionError, match="aliases are not allowed"):
        ipt.load_trials(pooling)
