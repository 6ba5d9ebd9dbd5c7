"""The HTML report: sections, numbers from the library, offline, escaped, provenance."""

from __future__ import annotations

import hashlib
import re

import pytest

import ipt_outcomes as ipt


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    return ipt.build_report(ipt.example_path(), study=ipt.example_study_path(), out=out, n_imputations=5,
                            progress=False)


def test_sections_and_figures(report):
    html = report.html
    for title in ("Data and validation", "Baseline characteristics by arm", "Methods and results (APA)",
                  "Primary growth model: HAMD17", "Moderators: problem area and disorder", "Clinical significance",
                  "Missing data and sensitivity analyses", "Model diagnostics", "Provenance"):
        assert title in html, title
    assert set(report.figures) >= {"trajectories", "observed_means", "forest", "jacobson", "waterfall",
                                   "dose_response", "retention", "flow", "diagnostics", "tipping", "caterpillar"}
    assert html.count('class="plotly-graph-div"') == len(report.figures)


def test_forest_rows_carry_their_n(report):
    df = ipt.load(ipt.example_path(), study=ipt.example_study_path())
    scored = df[(df["instrument"] == "HAMD17") & df["score"].notna()].drop_duplicates("participant_id")
    labels = list(report.figures["forest"].data[0].y)
    assert f"All participants (n = {len(scored)})" in labels
    for level, n in scored["disorder"].value_counts().items():
        assert f"disorder: {level} (n = {n})" in labels


def test_numbers_come_from_the_library(report):
    fit = report.results["fit"]
    d = fit.arm_differences().iloc[0]
    assert f"{d['difference']:.2f}".replace("-", "\u2212") in report.html
    assert "Satterthwaite" in report.html and "Jacobson and Truax" in report.html
    assert f"({fit.formula} in lme4 notation)" in report.html  # the keyword model's formula in the methods text
    assert re.search(r"t\(\d+\.\d\) = ", report.html)


def test_offline_single_plotlyjs_and_no_external_resources(report):
    html = report.html
    assert html.count("<script type=\"text/javascript\">") == 1  # plotly.js embedded once
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", html)


def test_provenance(report):
    digest = hashlib.sha256(ipt.example_path().read_bytes()).hexdigest()
    assert digest in report.html
    assert "statsmodels" in report.html and "seed" in report.html


def test_text_from_data_is_escaped(tmp_path):
    df = ipt.simulate_trial(n_participants=60, seed=3, therapists_per_arm=0, arms=("IPT", "<script>alert(1)</script>"),
                            instruments=["PHQ9"])
    path = tmp_path / "evil.csv"
    df.to_csv(path, index=False)
    rep = ipt.build_report(path, outcome="PHQ9", n_imputations=3, progress=False)
    assert "<script>alert(1)</script>" not in rep.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rep.html


def test_invalid_data_is_refused(tmp_path, example_df):
    df = example_df.copy()
    df.loc[3, "score"] = 99
    with pytest.raises(ipt.DataValidationError, match="outside the"):
        ipt.build_report(df, outcome="HAMD17", progress=False)


def test_report_never_overwrites_its_input(tmp_path, example_df):
    path = tmp_path / "data.csv"
    example_df.to_csv(path, index=False)
    with pytest.raises(ipt.ArgumentError, match="is an input of this analysis"):
        ipt.build_report(path, outcome="HAMD17", out=path, progress=False)


def test_study_model_formula_drives_the_report(tmp_path, example_df):
    """A study file's model: {formula:} is the report's primary model: the formula fit's numbers, the
    formula in the methods text, and the instrument taken from its left side."""
    formula = "HAMD17 ~ session * arm + (session || participant_id)"
    study = tmp_path / "study.yaml"
    study.write_text(f"reference_arm: TAU\nsessions: {{min: 12, max: 16}}\ntime: session\nmodel:\n"
                     f"  formula: \"{formula}\"\n  method: ml\n", encoding="utf-8")
    rep = ipt.build_report(ipt.example_path(), study=study, n_imputations=2, progress=False)
    fit = rep.results["fit"]
    assert fit.formula == formula and fit.method == "ml"
    direct = ipt.fit_growth(example_df, formula=formula, method="ml", reference_arm="TAU")
    assert fit.fixed_effects["estimate"].tolist() == pytest.approx(direct.fixed_effects["estimate"].tolist(), rel=1e-9)
    assert "Primary model: HAMD17 (the analysis plan&#x27;s formula)" in rep.html or \
        "Primary model: HAMD17 (the analysis plan's formula)" in rep.html
    assert f"the analysis plan, {formula}" in rep.html.replace("&#x27;", "'")
    d = direct.arm_differences().iloc[0]
    assert f"{d['difference']:.2f}".replace("-", "\u2212") in rep.html


def test_study_model_formula_is_checked_when_read(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {formula: \"HAMD17 ~ session + (session | \"}\n", encoding="utf-8")
    with pytest.raises(ipt.StudyDefinitionError, match=r"model\.formula"):
        ipt.load_study(bad)
    clash = tmp_path / "clash.yaml"
    clash.write_text("primary_instrument: BDI2\nmodel: {formula: \"HAMD17 ~ session * arm + (1 | participant_id)\"}\n",
                     encoding="utf-8")
    with pytest.raises(ipt.StudyDefinitionError, match="primary_instrument"):
        ipt.load_study(clash)
    no_arm = tmp_path / "no_arm.yaml"
    no_arm.write_text("model: {formula: \"HAMD17 ~ session + (1 | participant_id)\"}\n", encoding="utf-8")
    with pytest.raises(ipt.ArgumentError, match="no arm term"):
        ipt.build_report(ipt.example_path(), study=no_arm, n_imputations=2, progress=False)
