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
    assert "MMRM of HAMD17" in out and "covariance ar1, REML, df satterthwaite" in out
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


def test_the_analysis_plans_formula_on_a_tidy_data_set(tmp_path):
    """--formula on a table with none of the canonical columns: the library's numbers, the checks that
    ran stated, keyword flags refused beside it, and a study file's mmrm: {formula:} used by default."""
    data = Path(__file__).resolve().parent / "reference" / "data" / "btheb_mmrm.csv"
    formula = "CHANGE ~ BASVAL*VISIT + THERAPY*VISIT + cs(VISIT | PATIENT)"
    lib = ipt.fit_mmrm(pd.read_csv(data), formula=formula, arm="THERAPY", reference_arm="TAU")
    result = run("mmrm", str(data), "--formula", formula, "--arm", "THERAPY", "--reference-arm", "TAU", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["formula"] == formula and out["visit"] == "VISIT" and out["reference_arm"] == "TAU"
    assert [r["estimate"] for r in out["fixed_effects"]] == pytest.approx(lib.fixed_effects["estimate"].tolist(),
                                                                          rel=1e-9)
    assert [r["difference"] for r in out["arm_differences"]] == pytest.approx(
        lib.arm_differences()["difference"].tolist(), rel=1e-9)
    assert any("not the canonical table" in c for c in out["choices"])
    clash = run("mmrm", str(data), "--formula", formula, "--covariance", "us")
    assert clash.returncode == 2 and "--covariance cannot be given" in clash.stderr
    study = tmp_path / "plan.yaml"
    study.write_text(f"mmrm:\n  formula: \"{formula}\"\n  arm: THERAPY\n  df: kenward-roger\n", encoding="utf-8")
    planned = run("mmrm", str(data), "--study", str(study), "--reference-arm", "TAU", "--json")
    assert planned.returncode == 0, planned.stderr
    kr = ipt.fit_mmrm(pd.read_csv(data), formula=formula, arm="THERAPY", reference_arm="TAU", df_method="kenward-roger")
    got = json.loads(planned.stdout)
    assert got["df_method"] == "kenward-roger"
    assert [r["std_error"] for r in got["fixed_effects"]] == pytest.approx(kr.fixed_effects["std_error"].tolist(),
                                                                           rel=1e-9)
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"mmrm:\n  formula: \"{formula}\"\n  covariance: us\n", encoding="utf-8")
    refused = run("mmrm", str(data), "--study", str(bad))
    assert refused.returncode == 2 and "mmrm.formula states the whole model; remove mmrm.covariance" in refused.stderr
