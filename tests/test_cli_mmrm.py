"""``ipt-outcomes mmrm``: the real entry point in a subprocess, its numbers against the library (which
tests/test_mmrm.py checks against nlme::gls + emmeans), its stated defaults and its refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt

DATA = Path(__file__).resolve().parent / "reference" / "data" / "mmrm_trial.csv"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def fitted():
    df = pd.read_csv(DATA, dtype={"participant_id": str})
    return ipt.fit_mmrm(df, "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU", covariance="cs")


def test_json_matches_the_library(fitted):
    result = run("mmrm", str(DATA), "--outcome", "HAMD17", "--visit", "week", "--covariates", "sex",
                 "--reference-arm", "TAU", "--covariance", "cs", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["covariance_structure"] == "cs"
    assert data["formula"] == "HAMD17 ~ baseline + sex + arm * week + cs(week | participant_id)"
    assert data["log_likelihood"] == pytest.approx(fitted.log_likelihood, abs=1e-9)
    got = {r["term"]: r for r in data["fixed_effects"]}
    for row in fitted.fixed_effects.itertuples():
        assert got[row.term]["estimate"] == pytest.approx(row.estimate, rel=1e-9)
        assert got[row.term]["df"] == pytest.approx(row.df, rel=1e-9)
    diffs = fitted.arm_differences()
    assert [r["difference"] for r in data["arm_differences"]] == pytest.approx(list(diffs["difference"]), rel=1e-9)
    assert len(data["marginal_means"]) == 8  # 4 visits x 2 arms
    assert data["covariance"]["4"]["8"] == pytest.approx(fitted.covariance.loc["4", "8"], rel=1e-9)
    # the visit and the covariance were given; the df method was not, and the output says so
    assert data["choices"] == ["df satterthwaite (the default); choose with --df or the study file's mmrm: block"]
    assert data["reference_arm"] == "TAU"


def test_text_output_states_assumed_visit_and_reference_arm():
    result = run("mmrm", str(DATA), "--outcome", "HAMD17", "--covariance", "ar1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "MMRM of HAMD17 (REML), covariance ar1, df satterthwaite" in out
    assert "visit: time column week (the only time column in the data)" in out
    assert "reference arm" in out.lower() and "TAU" in out
    assert "Least-squares means by week" in out and "Arm differences at every week (against TAU)" in out
    assert out.count("IPT - TAU:") == 4


def test_refusals_are_clear_and_exit_codes_right(tmp_path):
    result = run("mmrm", str(DATA), "--outcome", "HAMD17", "--df", "between-within")
    assert result.returncode == 0 and "df between-within" in result.stdout
    result = run("mmrm", str(DATA), "--outcome", "HAMD17", "--df", "kenward-roger", "--method", "ml")
    assert result.returncode == 2 and "defined for REML fits" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("mmrm", str(DATA), "--outcome", "HAMD17", "--covariance", "wiggly")
    assert result.returncode == 2 and "usage error" in result.stderr
    df = pd.read_csv(DATA, dtype={"participant_id": str})
    df.loc[df.index[3], "week"] = 5.0  # an assessment off the planned visits
    off = tmp_path / "off.csv"
    df.to_csv(off, index=False)
    result = run("mmrm", str(off), "--outcome", "HAMD17")
    assert result.returncode == 1 and "week 5 is held by fewer than 12 participants" in result.stderr
    assert "Traceback" not in result.stderr
