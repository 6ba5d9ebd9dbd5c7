"""The command line through its real entry point, in a subprocess: exit codes, messages, files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pandas as pd
import pytest

import ipt_outcomes as ipt


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    exe = shutil.which("ipt-outcomes")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "ipt_outcomes.cli.main", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_validate_bundled_example():
    result = run("validate", str(ipt.example_path()), "--study", str(ipt.example_study_path()))
    assert result.returncode == 0, result.stderr
    assert "validation passed" in result.stdout


def test_validate_semicolon_excel_export_of_example(tmp_path, example_df):
    path = tmp_path / "excel_export.csv"
    text = example_df.assign(assessment_date=example_df["assessment_date"].dt.strftime("%d.%m.%Y")).to_csv(
        index=False, sep=";", decimal=",")
    path.write_bytes(text.encode("cp1252"))
    result = run("validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    loaded = ipt.load(path)
    assert (loaded["assessment_date"] == example_df["assessment_date"]).all()


def test_validate_broken_file_names_line_participant_and_fix(sha256, tmp_path, example_df):
    df = example_df.head(30).copy()
    df["score"] = df["score"].astype(object)
    df.loc[5, "score"] = 99
    df.loc[7, "disorder"] = "flu"
    path = tmp_path / "broken.csv"
    df.to_csv(path, index=False)
    digest = sha256(path)
    result = run("validate", str(path))
    assert result.returncode == 1
    out = " ".join(result.stdout.split())
    pid = df.loc[5, "participant_id"]
    assert f"line 7, participant {pid}, column 'score': score 99 is outside the" in out
    assert "'flu' is not an allowed value" in out
    assert "failed validation with" in result.stderr and "error(s)" in result.stderr
    assert sha256(path) == digest
    js = run("validate", str(path), "--json")
    data = json.loads(js.stdout)
    assert js.returncode == 1 and data["ok"] is False
    assert {(f["check"], f["line"]) for f in data["failures"]} >= {("score_range", 7), ("allowed_values", 9)}


@pytest.mark.parametrize(("args", "code", "text"), [
    (["validate", "does-not-exist.csv"], 2, "file not found"),
    (["validate"], 2, "usage error"),
    (["frobnicate"], 2, "usage error"),
    (["simulate", "--participants", "x", "--out", "a.csv"], 2, "not a whole number"),
    (["simulate", "--participants", "10", "--out", "a.json"], 2, "cannot write .json"),
    (["simulate", "--participants", "10", "--out", "a.csv", "--arms", "IPT,IPT"], 2, "distinct"),
])
def test_usage_and_input_errors(tmp_path, args, code, text):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == code
    assert text in result.stderr


def test_unreadable_and_bad_study_exit_2(tmp_path):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"nonsense")
    result = run("validate", str(bad))
    assert result.returncode == 2 and str(bad) in result.stderr
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    study = tmp_path / "s.yaml"
    study.write_text("colums: {}\n", encoding="utf-8")
    result = run("validate", str(data), "--study", str(study))
    assert result.returncode == 2 and "unknown key colums" in result.stderr


def test_missing_columns_fail_validation(tmp_path):
    data = tmp_path / "d.csv"
    data.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run("validate", str(data))
    assert result.returncode == 1
    assert "required column 'participant_id' is missing" in " ".join(result.stdout.split())


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_simulate_writes_valid_data(tmp_path, suffix):
    out = tmp_path / f"sim{suffix}"
    result = run("simulate", "--participants", "30", "--seed", "4", "--out", str(out))
    assert result.returncode == 0, result.stderr
    df = ipt.load(out)
    assert df["participant_id"].nunique() == 30
    assert run("validate", str(out)).returncode == 0
    # the same seed gives the same data as the library
    expected = ipt.simulate_trial(n_participants=30, seed=4)
    assert df["score"].fillna(-1).tolist() == pd.Series(expected["score"]).fillna(-1).tolist()


def test_simulate_does_not_overwrite_without_force(tmp_path):
    out = tmp_path / "sim.csv"
    out.write_text("precious", encoding="utf-8")
    result = run("simulate", "--participants", "10", "--out", str(out))
    assert result.returncode == 2 and "already exists" in result.stderr
    assert out.read_text(encoding="utf-8") == "precious"
    assert run("simulate", "--participants", "10", "--out", str(out), "--force").returncode == 0


def test_version_and_help():
    assert run("--version").returncode == 0
    result = run("--help")
    assert result.returncode == 0 and "validate" in result.stdout and "simulate" in result.stdout


def test_data_warnings_are_plain_messages(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("participant_id,arm,disorder,instrument,score,session,assessment_date\n"
                    "A,IPT,depression,PHQ9,10,0,06/01/2025\nA,IPT,depression,PHQ9,8,1,07/01/2025\n", encoding="utf-8")
    result = run("validate", str(path))
    assert result.returncode == 0
    assert "ipt-outcomes: warning: dates such as" in result.stderr


def test_fit_bundled_example_prints_paper_table():
    result = run("fit", str(ipt.example_path()), "--study", str(ipt.example_study_path()), "--anova")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("Linear mixed growth model of HAMD17", "session:arm[IPT]", "ci_lower", "Arm differences at session 16",
                 "IPT - TAU", "d = ", "ICC at baseline", "Mixed ANOVA cross-check (pingouin"):
        assert text in out, text


def test_fit_says_the_anova_cross_check_is_opt_in():
    result = run("fit", str(ipt.example_path()), "--study", str(ipt.example_study_path()))
    assert result.returncode == 0, result.stderr
    assert "Mixed ANOVA cross-check not requested (add --anova" in result.stdout
    assert "Mixed ANOVA cross-check (pingouin" not in result.stdout


def test_fit_json_matches_library():
    result = run("fit", str(ipt.example_path()), "--outcome", "PHQ9", "--random", "intercept", "--json", "--anova")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    fit = ipt.fit_growth(ipt.load_example(), outcome="PHQ9", random="intercept")
    got = {r["term"]: r["estimate"] for r in data["fixed_effects"]}
    for row in fit.fixed_effects.itertuples():
        assert got[row.term] == pytest.approx(row.estimate, rel=1e-9)
    assert data["arm_differences"][0]["arm"] == "IPT"
    assert set(data) >= {"variance_components", "log_likelihood", "icc", "r_squared", "classical_anova"}


def test_fit_refuses_invalid_data_and_bad_options(tmp_path, example_df):
    df = example_df.head(30).copy()
    df["score"] = df["score"].astype(object)
    df.loc[5, "score"] = 99
    path = tmp_path / "broken.csv"
    df.to_csv(path, index=False)
    result = run("fit", str(path), "--outcome", "HAMD17")
    assert result.returncode == 1 and "score 99 is outside" in result.stderr
    result = run("fit", str(ipt.example_path()), "--outcome", "BDI2")
    assert result.returncode == 1 and "no rows for outcome 'BDI2'" in result.stderr
    result = run("fit", str(ipt.example_path()))
    assert result.returncode == 2 and "name the outcome (--outcome)" in result.stderr
    result = run("fit", str(ipt.example_path()), "--outcome", "HAMD17", "--random", "wiggly")
    assert result.returncode == 2 and "usage error" in result.stderr


def test_demo_runs_pipeline_on_bundled_example(tmp_path):
    result = run("demo", "--out", "report.html", "--imputations", "5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "validation passed" in result.stdout
    assert "Linear mixed growth model of HAMD17" in result.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # writes the report and nothing else
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "Primary growth model: HAMD17" in html and "wrote report.html" in result.stderr


def test_report_command(tmp_path):
    out = tmp_path / "r.html"
    result = run("report", str(ipt.example_path()), "--study", str(ipt.example_study_path()), "--out", str(out),
                 "--imputations", "3")
    assert result.returncode == 0, result.stderr
    assert "Clinical significance" in out.read_text(encoding="utf-8")
    assert run("report", str(ipt.example_path()), "--out", str(tmp_path / "r.pdf")).returncode == 2
    broken = tmp_path / "broken.csv"
    df = ipt.load_example()
    df.loc[2, "score"] = 999
    df.to_csv(broken, index=False)
    bad = run("report", str(broken), "--outcome", "HAMD17", "--out", str(tmp_path / "b.html"))
    assert bad.returncode == 1 and "failed validation" in bad.stderr and not (tmp_path / "b.html").exists()


def test_clinical_command(tmp_path):
    args = [str(ipt.example_path()), "--study", str(ipt.example_study_path()), "--imputations", "5"]
    result = run("clinical", *args, "--outcome", "PHQ9")
    assert result.returncode == 0, result.stderr
    for text in ("Clinical change in PHQ9 (Jacobson-Truax)", "reliable_improvement", "NNTB", "Sudden gains (Tang",
                 "multiple imputation (MAR)", "LOCF (biased)", "tipping point"):
        assert text in result.stdout, text
    hamd = run("clinical", *args)  # HAM-D is given at sessions 0, 4, 8, 12 and the last: few consecutive pairs
    assert "Clinical change in HAMD17" in hamd.stdout and "pairs of consecutive sessions examined" in hamd.stdout
    js = run("clinical", *args, "--outcome", "PHQ9", "--json")
    data = json.loads(js.stdout)
    with pytest.warns(ipt.DataWarning, match="no PHQ9 score after baseline"):
        cc = ipt.clinical_change(ipt.load_example(), "PHQ9")
    assert len(data["participants"]) == len(cc)
    assert any("no PHQ9 score after baseline" in note for note in data["notes"])
    assert data["settings"]["reliability"] == 0.89
    assert {r["analysis"] for r in data["sensitivity"]} >= {"completers only", "multiple imputation (MAR)"}
    bad = run("clinical", *args, "--cutoff", "high")
    assert bad.returncode == 2 and "--cutoff must be" in bad.stderr


def test_report_writes_static_figures(tmp_path):
    from ipt_outcomes.figures.export import static_export_available

    folder = tmp_path / "figs"
    folder.mkdir()
    result = run("report", str(ipt.example_path()), "--study", str(ipt.example_study_path()), "--out",
                 str(tmp_path / "r.html"), "--imputations", "3", "--figures", str(folder), "--format", "svg")
    if not static_export_available():
        assert result.returncode == 1 and "need Chrome or Chromium" in result.stderr
        return
    assert result.returncode == 0, result.stderr
    svgs = sorted(p.name for p in folder.iterdir())
    assert "jacobson.svg" in svgs and "trajectories.svg" in svgs and len(svgs) >= 11


def test_advice_names_only_flags_the_command_has(tmp_path, example_df):
    """A note that says what to pass names a flag of the command that printed it (report once
    recommended a --reliability it did not accept)."""
    import re

    from ipt_outcomes.cli.main import build_parser

    data = example_df.copy()
    data["instrument"] = data["instrument"].astype(str).replace({"HAMD17": "MYSCALE"})
    path = tmp_path / "trial.csv"
    data.to_csv(path, index=False)
    study = tmp_path / "study.yaml"
    study.write_text("reference_arm: TAU\nprimary_instrument: MYSCALE\nsessions: {min: 12, max: 16}\ntime: session\n"
                     "instruments:\n  MYSCALE: {min: 0, max: 52, higher_is: worse, integer: true,\n"
                     "    reliability: {value: 0.8, type: test-retest, verified: false, source: unchecked}}\n",
                     encoding="utf-8")
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    for command, extra in (("report", ["--out", str(tmp_path / "r.html"), "--imputations", "2"]), ("clinical", [])):
        result = run(command, str(path), "--study", str(study), *extra)
        assert result.returncode == 0, result.stderr
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", result.stderr + result.stdout))
        assert "--reliability" in named, result.stderr + result.stdout
        accepted = set(commands[command]._option_string_actions)
        assert named <= accepted, (command, named - accepted)
    result = run("report", str(path), "--study", str(study), "--out", str(tmp_path / "r2.html"), "--imputations", "2",
                 "--reliability", "0.85")
    assert result.returncode == 0 and "not verified" not in result.stderr
    assert "reliability 0.85" in (tmp_path / "r2.html").read_text(encoding="utf-8")
