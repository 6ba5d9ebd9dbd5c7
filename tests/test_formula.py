"""Formula parsing, the design of a formula model and its refusals (numbers against R are in
test_formula_reference.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.models.formula import RandomBar, parse_formula
from ipt_outcomes.models.formula_design import term_name


def test_parse_splits_fixed_and_random_parts():
    p = parse_formula("HAMD17 ~ session * arm + baseline + age + (session | participant_id)")
    assert p.response == "HAMD17"
    assert p.fixed == "session * arm + baseline + age"
    assert p.bars == (RandomBar("session", ("participant_id",)),)


def test_double_bar_is_one_bar_per_term_as_lme4():
    p = parse_formula("X ~ session + (1 + session + I(session ** 2) || id)")
    assert [b.terms for b in p.bars] == ["1", "0 + session", "0 + I(session ** 2)"]
    assert parse_formula("X ~ 1 + (0 + session || id)").bars == (RandomBar("0 + session", ("id",)),)


def test_nested_and_crossed_groups():
    p = parse_formula("X ~ session + (1 | trial_id/therapist_id/participant_id) + (1 | rater:site)")
    assert [b.group for b in p.bars] == [("trial_id",), ("therapist_id", "trial_id"),
                                         ("participant_id", "therapist_id", "trial_id"), ("rater", "site")]
    assert p.bars[1].group_name == "therapist_id:trial_id"  # lme4's name for the nested factor


def test_parentheses_of_the_fixed_part_stay_fixed():
    p = parse_formula("X ~ (early + late) * arm + log(session + 1) + C(arm, Treatment('TAU')) + (early | id)")
    assert p.fixed == "(early + late) * arm + log(session + 1) + C(arm, Treatment('TAU'))"
    assert len(p.bars) == 1


@pytest.mark.parametrize("text, words", [
    ("session * arm", "a response and a '~'"),
    (" ~ session", "left side"),
    ("X ~ session + (1 | id", "unbalanced"),
    ("X ~ session + 1 | id", "must be in parentheses"),
    ("X ~ session + ( | id)", "nothing before its bar"),
    ("X ~ session + + arm", "empty term"),
    ("X ~ session + (1 | id + site)", "grouping factor"),
])
def test_malformed_formulas_are_refused_with_the_reason(text, words):
    with pytest.raises(ipt.ArgumentError, match=words):
        parse_formula(text)


def test_term_names_follow_the_data_model():
    assert term_name("arm[T.IPT]") == "arm[IPT]"
    assert term_name("session:arm[T.IPT]") == "session:arm[IPT]"
    assert term_name("log(session + 1)") == "log(session + 1)"


@pytest.fixture(scope="module")
def example():
    return ipt.load_example()


def test_keyword_fit_states_its_formula_and_the_formula_refits_it(example):
    keyword = ipt.fit_growth(example, "HAMD17", reference_arm="TAU")
    assert keyword.formula == "HAMD17 ~ session * arm + (session | participant_id)"
    again = ipt.fit_growth(example, formula=keyword.formula, reference_arm="TAU")
    pd.testing.assert_frame_equal(again.fixed_effects.drop(columns=["df", "p_value"]),
                                  keyword.fixed_effects.drop(columns=["df", "p_value"]), rtol=1e-6)
    np.testing.assert_allclose(again.fixed_effects["df"], keyword.fixed_effects["df"], rtol=1e-5)
    assert again.log_likelihood == pytest.approx(keyword.log_likelihood, abs=1e-6)
    assert "formula: HAMD17 ~ session * arm" in again.summary_text()
    assert again.to_dict()["formula"] == keyword.formula


@pytest.mark.filterwarnings("ignore::ipt_outcomes.errors.SingularFitWarning")  # no therapist variance in the example
def test_therapist_keyword_and_formula_agree(example):
    keyword = ipt.fit_growth(example, "HAMD17", reference_arm="TAU", random="intercept", therapist="therapist_id")
    assert keyword.formula.endswith("(1 | participant_id) + (1 | therapist_id)")
    formula = ipt.fit_growth(example, formula=keyword.formula, reference_arm="TAU")
    np.testing.assert_allclose(formula.fixed_effects["estimate"], keyword.fixed_effects["estimate"], rtol=1e-6)
    assert formula.log_likelihood == pytest.approx(keyword.log_likelihood, abs=1e-6)


def test_formula_and_keywords_are_not_mixed(example):
    with pytest.raises(ipt.ArgumentError, match="covariates"):
        ipt.fit_growth(example, formula="HAMD17 ~ session * arm + (1 | participant_id)", covariates=["age"])
    with pytest.raises(ipt.ArgumentError, match="left side is 'HAMD17'"):
        ipt.fit_growth(example, "PHQ9", formula="HAMD17 ~ session * arm + (1 | participant_id)")
    with pytest.raises(ipt.ArgumentError, match=r"outcome= .* or formula="):
        ipt.fit_growth(example)


def test_unknown_columns_and_instruments_are_named(example):
    with pytest.raises(ipt.ArgumentError, match="'agee'"):
        ipt.fit_growth(example, formula="HAMD17 ~ session * arm + agee + (1 | participant_id)")
    with pytest.raises(ipt.AnalysisError, match="no rows for outcome 'HAM'"):
        ipt.fit_growth(example, formula="HAM ~ session + (1 | participant_id)", check=False)


def test_a_confounded_fixed_part_is_refused_not_fitted(example):
    df = example.assign(arm_copy=example["arm"])
    with pytest.raises(ipt.AnalysisError, match=r"not estimable .*arm_copy\[TAU\] depend"):
        ipt.fit_growth(df, formula="HAMD17 ~ session + arm + arm_copy + (1 | participant_id)", reference_arm="TAU",
                       check=False)


def test_more_random_effects_than_observations_is_refused(example):
    two = example[example["session"].isin([0, 16])]
    with pytest.raises(ipt.AnalysisError, match=r"check\.nobs\.vs\.nRE"):
        ipt.fit_growth(two, formula="HAMD17 ~ session * arm + (session | participant_id)", reference_arm="TAU",
                       check=False)


def test_a_grouping_factor_needs_two_levels(example):
    with pytest.raises(ipt.AnalysisError, match="at least two"):
        ipt.fit_growth(example.assign(site="A"), formula="HAMD17 ~ session + (1 | participant_id) + (1 | site)",
                       check=False)


def test_derived_results_of_a_formula_fit_agree_with_the_keyword_fit(example):
    """The same model written both ways gives the same arm difference, trajectories, ICC and R^2 (each
    checked against R in test_formula_derived.py / test_lmer_reference.py)."""
    formula = ipt.fit_growth(example, formula="HAMD17 ~ session * arm + (session | participant_id)", reference_arm="TAU")
    keyword = ipt.fit_growth(example, "HAMD17", reference_arm="TAU")
    a, b = formula.arm_differences(at=12).iloc[0], keyword.arm_differences(at=12).iloc[0]
    for column in ("difference", "std_error", "change_difference", "effect_size_d"):
        assert a[column] == pytest.approx(b[column], rel=1e-5), column
    assert a["df"] == pytest.approx(b["df"], rel=1e-3)
    assert formula.r_squared()["marginal"] == pytest.approx(keyword.r_squared()["marginal"], rel=1e-5)
    assert formula.icc()["icc"].iloc[0] == pytest.approx(keyword.icc()["icc"].iloc[0], rel=1e-5)
    t1, t2 = formula.trajectories(times=[0, 8]), keyword.trajectories(times=[0, 8])
    np.testing.assert_allclose(t1["estimate"], t2.sort_values(["arm", "time"], key=lambda c: c.map(
        {"TAU": 0, "IPT": 1}) if c.name == "arm" else c)["estimate"], rtol=1e-6)
    L = np.zeros(len(formula.fixed_effects))
    L[-1] = 1.0
    assert formula.contrast(L)["estimate"] == pytest.approx(formula.fixed_effects["estimate"].iloc[-1])


def test_reference_arm_from_the_formula_wins(example):
    fit = ipt.fit_growth(example, formula="HAMD17 ~ session * C(arm, Treatment('IPT')) + (1 | participant_id)",
                         reference_arm="TAU")
    assert "session:arm[TAU]" in list(fit.fixed_effects["term"])


def test_cli_fit_with_a_formula(tmp_path):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "ipt_outcomes.cli.main", "fit", str(ipt.example_path()), "--formula",
           "HAMD17 ~ session * arm + baseline + (session || participant_id)", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    import json

    result = json.loads(out.stdout)
    assert result["formula"].startswith("HAMD17 ~ session * arm + baseline")
    assert "baseline" in [r["term"] for r in result["fixed_effects"]]
    bad = subprocess.run(cmd[:-1] + ["--covariates", "age"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "--formula states the whole model" in bad.stderr
