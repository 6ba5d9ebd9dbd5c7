"""The MMRM from the study file: ``primary_analysis: mmrm`` with an ``mmrm:`` block leads the report
with the MMRM, ``visits:`` windows map assessments to planned visits, and the ``mmrm`` command takes
the block's choices. Numbers are the library's (tests/test_mmrm.py and test_mmrm_kr.py check it
against R)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

DATA = Path(__file__).resolve().parent / "reference" / "data" / "mmrm_trial.csv"
STUDY = """name: MMRM trial
reference_arm: TAU
primary_instrument: HAMD17
time: week
primary_analysis: mmrm
mmrm:
  covariance: cs
  df: kenward-roger
  covariates: [sex]
visits:
  4: [3, 5]
  8: [7, 9]
  12: [11, 13]
  16: [15, 17]
"""


def _data() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"participant_id": str})


@pytest.fixture(scope="module")
def study_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mmrm") / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    return path


@pytest.mark.parametrize("text, match", [
    ("primary_analysis: anova\n", "primary_analysis must be"),
    ("mmrm: {covariance: banded}\n", "mmrm.covariance must be one of"),
    ("mmrm: {colour: red}\n", "colour"),
    ("mmrm: {df: kenward-roger, method: ml}\n", "defined for REML"),
    ("visits: {4: [5, 6]}\n", "does not contain the visit"),
    ("visits: {4: [3, 6], 8: [6, 9]}\n", "overlapping windows"),
    ("visits: {4: soon}\n", "planned visit"),
])
def test_study_keys_are_checked(text, match):
    with pytest.raises(ipt.StudyDefinitionError, match=match):
        ipt.Study.from_mapping(__import__("yaml").safe_load(text), source="s.yaml")


def test_visit_windows_map_assessments_and_refuse_the_rest():
    df = _data()
    late = df.index[(df["week"] == 8)][:5]
    moved = df.copy()
    moved.loc[late, "week"] = 9.0  # five assessments a week late
    windows = {4: (3, 5), 8: (7, 9), 12: (11, 13), 16: (15, 17)}
    fit = ipt.fit_mmrm(moved, "HAMD17", visit="week", reference_arm="TAU", covariance="cs", visit_windows=windows)
    plain = ipt.fit_mmrm(df, "HAMD17", visit="week", reference_arm="TAU", covariance="cs")
    np.testing.assert_allclose(fit.beta, plain.beta, rtol=1e-12)
    assert any("5 assessment(s) mapped" in n for n in fit.notes)
    assert moved.loc[late, "week"].eq(9.0).all()  # the user's table is not changed
    with pytest.raises(ipt.AnalysisError, match="under 10 % of the busiest week"):
        ipt.fit_mmrm(moved, "HAMD17", visit="week", reference_arm="TAU", covariance="cs")
    stray = moved.copy()
    stray.loc[late[0], "week"] = 10.0
    with pytest.raises(ipt.AnalysisError, match=r"fall in no visit window of visit_windows \(participant .*, week 10\)"):
        ipt.fit_mmrm(stray, "HAMD17", visit="week", reference_arm="TAU", covariance="cs", visit_windows=windows)


def test_the_loaded_studys_windows_are_used(study_file, tmp_path):
    df = _data()
    df.loc[df.index[df["week"] == 12][:3], "week"] = 13.0
    path = tmp_path / "late.csv"
    df.to_csv(path, index=False)
    loaded = ipt.load(path, study=study_file)
    fit = ipt.fit_mmrm(loaded, "HAMD17", visit="week", covariance="cs")
    assert any("3 assessment(s) mapped" in n and str(study_file) in n for n in fit.notes)


def test_report_leads_with_the_mmrm(study_file, tmp_path):
    rep = ipt.build_report(DATA, study=study_file, n_imputations=3, progress=False)
    html = rep.html
    mmrm_at, growth_at = html.index("Primary analysis: MMRM of HAMD17"), html.index("Secondary growth model")
    assert mmrm_at < growth_at
    assert "fig-ls-means" in html
    fit = rep.results["mmrm"]
    assert fit.covariance_structure == "cs" and fit.df_method == "kenward-roger"
    assert "compound-symmetry residual covariance" in html and "Kenward-Roger method" in html
    last = fit.arm_differences().iloc[-1]
    assert f"{last['difference']:.2f}".replace("-", "\u2212") in html
    # the figure shows the library's least-squares means and intervals
    means = fit.marginal_means()
    fig = rep.figures["ls_means"]
    for trace in fig.data:
        part = means[means["arm"].astype(str) == trace.name]
        np.testing.assert_allclose(trace.y, part["estimate"])
        np.testing.assert_allclose(np.asarray(trace.y) + np.asarray(trace.error_y.array), part["ci_upper"])


def test_mmrm_command_takes_the_study_block(study_file):
    result = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "mmrm", str(DATA), "--study",
                             str(study_file)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "covariance cs, REML, df kenward-roger" in result.stdout
    assert "(the default)" not in result.stdout
    flag = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "mmrm", str(DATA), "--study",
                           str(study_file), "--covariance", "ar1"], capture_output=True, text=True, timeout=300)
    assert flag.returncode == 0 and "covariance ar1, REML, df kenward-roger" in flag.stdout
