"""The model table (``report.model_table``): human labels, the random part as SDs and correlations,
ICC, R^2, N and the formula, against lme4 and performance (tests/reference/make_lmer_fixtures.R) at
the precision the table shows; the labels by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.report.model_table import model_table, model_table_html, term_label

REF = Path(__file__).resolve().parent / "reference"
FIXTURES = json.loads((REF / "lmer_fixtures.json").read_text(encoding="utf-8"))


def _fit(name: str) -> ipt.GrowthFit:
    case = FIXTURES[name]
    s = case["settings"]
    data = pd.read_csv(REF / "data" / f"{case['data']}.csv", dtype={"participant_id": str})
    data["instrument"] = "X"
    return ipt.fit_growth(data, outcome="X", time=s["time"], random=s["random"], method=case["method"],
                          reference_arm=s["reference_arm"], therapist="therapist_id" if s["therapist"] else None,
                          check=False)


def _value(table: pd.DataFrame, predictor: str, column: str = "Estimate") -> float:
    cell = table.loc[table["Predictor"] == predictor, column]
    assert len(cell) == 1, f"{predictor!r} not once in {list(table['Predictor'])}"
    return float(cell.iloc[0].replace("\u2212", "-").replace(",", ""))


def _shown(got: float, ref: float, digits: int = 2) -> None:
    """``got`` is ``ref`` rounded to the digits shown (half a unit of the last digit, plus the engines' 1e-5)."""
    assert abs(got - ref) <= 0.5 * 10 ** -digits + 1e-5, (got, ref)


def test_random_part_as_sds_and_correlations_against_lme4():
    case = FIXTURES["therapist_slope_reml"]
    table = model_table(_fit("therapist_slope_reml"))
    vc = {(v["group"], v["term1"], v["term2"]): v["estimate"] for v in case["variance_components"]}
    _shown(_value(table, "Residual SD (\u03c3)"), case["sigma"])  # R's sigma(fit)
    _shown(_value(table, "Participant: SD of intercept (\u03c4\u2080\u2080)"),
           math.sqrt(vc[("participant_id", "Intercept", None)]))
    _shown(_value(table, "Participant: SD of session (\u03c4\u2081\u2081)"),
           math.sqrt(vc[("participant_id", "session", None)]))
    corr = vc[("participant_id", "Intercept", "session")] / math.sqrt(
        vc[("participant_id", "Intercept", None)] * vc[("participant_id", "session", None)])
    _shown(_value(table, "Participant: correlation of intercept and session (\u03c1)"), corr)
    _shown(_value(table, "Therapist: SD of intercept (\u03c4\u2080\u2080)"), math.sqrt(vc[("therapist_id", "Intercept", None)]))
    r2 = table.loc[table["Predictor"] == "Marginal R\u00b2 / conditional R\u00b2", "Estimate"].iloc[0]
    marginal, conditional = r2.split(" / ")
    _shown(float(marginal), case["r2"]["marginal"], 3)
    _shown(float(conditional), case["r2"]["conditional"], 3)
    assert _value(table, "N participants") == case["n_participants"]
    assert _value(table, "Observations") == case["n_obs"]
    data = pd.read_csv(REF / "data" / "therapist.csv", dtype={"participant_id": str})
    assert _value(table, "N therapists") == data["therapist_id"].nunique()
    assert table["part"].drop_duplicates().tolist() == ["Fixed effects", "Random effects", "Model"]


def test_icc_by_group_against_performance():
    case = FIXTURES["therapist_intercept_reml"]
    table = model_table(_fit("therapist_intercept_reml"))
    for row in case["icc_by_group"]:
        name = "participant" if row["group"] == "participant_id" else "therapist"
        _shown(_value(table, f"ICC ({name})"), row["icc"])


def test_fixed_effects_rows_carry_the_fit_with_labels():
    fit = _fit("three_arm_slope_reml")
    table = model_table(fit)
    fe = fit.fixed_effects
    fixed = table[table["part"] == "Fixed effects"]
    assert len(fixed) == len(fe)
    ref = fit.spec.reference_arm
    others = [t[len("arm["):-1] for t in fe["term"] if t.startswith("arm[")]
    assert [f"{a} vs {ref}" for a in others] == [p for p in fixed["Predictor"] if p.endswith(f"vs {ref}") and "\u00d7" not in p]
    for row, r in zip(fixed.itertuples(), fe.itertuples(), strict=True):
        _shown(float(row.Estimate.replace("\u2212", "-")), r.estimate)
        lo, hi = (float(x.replace("\u2212", "-")) for x in row._5.split(", "))
        _shown(lo, r.ci_lower)
        _shown(hi, r.ci_upper)
        p = row.p
        assert p == "< .001" if r.p_value < 0.001 else abs(float("0" + p) - r.p_value) <= 0.0005 + 1e-9
        assert p == ("< .001" if r.p_value < 0.001 else f"{r.p_value:.3f}"[1:])  # APA: no leading zero


def test_term_labels_by_hand():
    def label(term, **kw):
        return term_label(term, time="session", reference_arm="TAU", baseline="Baseline HAM-D 17", **kw)

    assert label("Intercept") == "Intercept"
    assert label("session:arm[IPT]") == "Session \u00d7 IPT vs TAU"
    assert label("log(session + 1)") == "log(Session + 1)"
    assert label("session^2:arm[IPT]") == "Session\u00b2 \u00d7 IPT vs TAU"
    assert label("session[middle]") == "Session (middle phase)"
    assert label("baseline") == "Baseline HAM-D 17"
    assert label("problem_area[role_disputes]:arm[IPT]") == "Problem area: role disputes \u00d7 IPT vs TAU"
    assert label("sex[M]", labels={"sex": "Sex at birth"}) == "Sex at birth: M"
    assert label("age", labels={"age": "Age, years"}) == "Age, years"
    assert label("arm[a:b]") == "a:b vs TAU"  # a ':' inside a level is not an interaction
    assert label("I(age ** 2)") == "I(age ** 2)"  # an expression stays as written
    assert term_label("week", time="week", reference_arm="TAU") == "Week"


def test_small_estimates_keep_significant_digits_and_ols_has_no_random_block():
    df = ipt.load_example()
    fit = ipt.fit_growth(df, formula="HAMD17 ~ session * arm + I(age ** 2)")
    table = model_table(fit)
    row = table[table["Predictor"] == "I(age ** 2)"].iloc[0]
    se = fit.fixed_effects.set_index("term").loc["I(age ** 2)", "std_error"]
    assert se < 0.01 and float(row.SE) != 0 and abs(float(row.SE) - se) / se < 0.05
    assert "Random effects" not in set(table["part"])
    assert {"Residual SD (\u03c3)", "R\u00b2 / adjusted R\u00b2", "Formula"} <= set(table["Predictor"])
    assert "least squares" in table.attrs["note"]


@pytest.fixture(scope="module")
def report():
    return ipt.build_report(ipt.example_path(), study=ipt.example_study_path(), n_imputations=3, progress=False)


def test_report_has_one_model_table_and_no_text_dump(report):
    html = report.html
    assert html.count('class="model-table"') == 1
    assert "<pre>" not in html  # the CLI's text summary is not repeated
    assert "IPT vs TAU" in html and "Participant: SD of intercept" in html
    assert report.results["fit"].formula.replace(" ", "") in html.replace(" ", "")


def test_html_escapes_data_text():
    df = ipt.load_example()
    df["arm"] = df["arm"].astype(str).replace({"IPT": "<b>IPT</b>"})
    fit = ipt.fit_growth(df, "HAMD17", reference_arm="TAU", check=False)
    html = model_table_html(model_table(fit))
    assert "<b>IPT" not in html and "&lt;b&gt;IPT&lt;/b&gt; vs TAU" in html
