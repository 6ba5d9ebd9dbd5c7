"""Arm differences of growth models on a real trial, Beat the Blues (HSAUR3::BtheB), against lme4 +
lmerTest + emmeans (tests/reference/make_btheb_fixtures.R): the difference at the month asked for
when the time column is not the study's (``month``), and the same weights over a moderator for a
keyword fit and a formula fit of one model. Tolerances as test_formula_derived.py."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt

REF = Path(__file__).resolve().parent / "reference"
FIX = json.loads((REF / "btheb_fixtures.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def btheb() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "btheb_long.csv", dtype={"participant_id": str})


def _check(row, ref):
    assert row["difference"] == pytest.approx(ref["difference"], rel=1e-6, abs=1e-7 * ref["std_error"])
    assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-5)
    assert row["df"] == pytest.approx(ref["df"], rel=2e-4)
    assert row["p_value"] == pytest.approx(ref["p_value"], rel=1e-4)


@pytest.mark.parametrize("at", [8, 3])
def test_at_is_the_month_asked_for_when_time_is_not_the_studys(btheb, at):
    case = FIX["covariates"]
    post = btheb[btheb["month"] > 0]  # bdi.pre is a column here, as in R: month 0 is not a response
    fit = ipt.fit_growth(post, formula=case["formula"], check=False, reference_arm="TAU")
    assert fit.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    assert any(n.startswith("time: month, the numeric variable that enters the formula with arm") for n in fit.notes)
    row = fit.arm_differences(at=at).iloc[0]
    assert row["time"] == at
    _check(row, case[f"proportional_{at}"])


@pytest.mark.parametrize("weights", ["proportional", "equal"])
def test_keyword_and_formula_fits_of_one_moderated_model_agree_and_match_emmeans(btheb, weights):
    case = FIX["moderated"]
    formula = ipt.fit_growth(btheb, formula=case["formula"], time="month", check=False, reference_arm="TAU")
    keyword = ipt.fit_growth(btheb, "BDI2", time="month", random="intercept", moderators=["drug"],
                             baseline="covariate", reference_arm="TAU", check=False)
    assert formula.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    assert keyword.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    for at in (8, 3):
        ref = case[f"{weights}_{at}"]
        f_row = formula.arm_differences(at=at, weights=weights).iloc[0]
        k_row = keyword.arm_differences(at=at, weights=weights).iloc[0]
        _check(f_row, ref)
        _check(k_row, ref)
    default = formula.arm_differences(at=8)
    assert default["difference"].iloc[0] == pytest.approx(case["proportional_8"]["difference"], rel=1e-6)
    assert keyword.arm_differences(at=8)["difference"].iloc[0] == pytest.approx(default["difference"].iloc[0],
                                                                                 rel=1e-6)
    assert "averaged over drug with proportional weights" in default.attrs["notes"]


def test_at_without_a_time_variable_is_refused(btheb):
    post = btheb[btheb["month"] == 8]
    fit = ipt.fit_growth(post, formula="BDI2 ~ arm + bdi.pre", check=False, reference_arm="TAU")
    with pytest.raises(ipt.ArgumentError, match="has no time variable to set"):
        fit.arm_differences(at=8)
    assert fit.arm_differences()["difference"].iloc[0] == pytest.approx(
        fit.fixed_effects.set_index("term").loc["arm[BtheB]", "estimate"])


def test_a_formula_on_the_analysis_data_sets_own_columns_matches_lme4():
    """No canonical column at all (PATIENT, VISIT, THERAPY, BASVAL, CHANGE): the grouping factor, time and
    arm come from the formula and arm=; lme4 + lmerTest + emmeans on the same table."""
    case = FIX["tidy"]
    ad = pd.read_csv(REF / "data" / "btheb_mmrm.csv")
    fit = ipt.fit_growth(ad, formula=case["formula"], arm="THERAPY", reference_arm="TAU")
    assert fit.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    ref = pd.DataFrame(case["fixed_effects"])
    ref["term"] = ref["term"].str.replace("(Intercept)", "Intercept", regex=False).str.replace(
        "THERAPYBtheB", "THERAPY[BtheB]", regex=False)
    got = fit.fixed_effects.set_index("term").loc[ref["term"]]
    assert got["estimate"].to_numpy() == pytest.approx(ref["estimate"].to_numpy(), rel=1e-6, abs=1e-8)
    assert got["std_error"].to_numpy() == pytest.approx(ref["std_error"].to_numpy(), rel=1e-5)
    assert got["df"].to_numpy() == pytest.approx(ref["df"].to_numpy(), rel=2e-4)
    row = fit.arm_differences(at=8).iloc[0]
    assert row["arm"] == "BtheB" and row["reference_arm"] == "TAU"
    _check(row, case["difference_8"])
    assert fit.n_participants == ad["PATIENT"].nunique()
    assert any("not the canonical table" in n for n in fit.notes)
    assert any(n.startswith("time: VISIT") for n in fit.notes)
    with pytest.raises(ipt.ArgumentError, match="arm='DRUG' is not a variable of the fixed part"):
        ipt.fit_growth(ad.assign(DRUG="x"), formula=case["formula"], arm="DRUG")
    with pytest.raises(ipt.ArgumentError, match="is an MMRM's residual covariance"):
        ipt.fit_growth(ad, formula="CHANGE ~ BASVAL + us(VISIT | PATIENT)")
