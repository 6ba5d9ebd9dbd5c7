"""fit_growth against lme4 + lmerTest (fixtures from tests/reference/make_lmer_fixtures.R).

Each case refits one R model (formula in the fixture) and compares, with tolerances per quantity:
fixed effects 1e-4 relative, standard errors 1e-3 relative, Satterthwaite df 1e-2 relative,
variance components 1e-3 relative, log-likelihood 1e-2 absolute.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

REF = Path(__file__).resolve().parent / "reference"
FIXTURES = json.loads((REF / "lmer_fixtures.json").read_text(encoding="utf-8"))


def _fit(case: dict, engine: str = "ipt") -> ipt.GrowthFit:
    s = case["settings"]
    data = pd.read_csv(REF / "data" / f"{case['data']}.csv", dtype={"participant_id": str})
    data["instrument"] = "X"  # not a registry instrument: the R data sets are checked by R, not validated here
    if s["baseline"] == "covariate":
        # the fixture data hold post-baseline rows with the baseline score; fit_growth takes it as a covariate
        data = data.rename(columns={"baseline": "baseline_score"})
        covariates = ["baseline_score"]
    else:
        covariates = list(s["covariates"])
    expected = (pytest.warns(ipt.SingularFitWarning, match="singular fit") if case["singular"]
                else contextlib.nullcontext())
    with expected:
        fit = ipt.fit_growth(data, outcome="X", time=s["time"], random=s["random"], method=case["method"],
                             reference_arm=s["reference_arm"], covariates=covariates, shape=s["shape"],
                             moderators=list(s.get("moderators", [])),
                             therapist="therapist_id" if s["therapist"] else None, check=False, engine=engine)
    return fit


MODELS = sorted(k for k in FIXTURES if "fixed_effects" in FIXTURES[k])


@pytest.fixture(scope="module", params=[(m, e) for m in MODELS for e in ("ipt", "statsmodels")],
                ids=[f"{m}-{e}" for m in MODELS for e in ("ipt", "statsmodels")])
def case_and_fit(request):
    """Each R fixture, fitted by both engines: the fast engine and statsmodels must both match lme4."""
    name, engine = request.param
    case = FIXTURES[name]
    return case, _fit(case, engine)


def _fixed(case):
    fe = pd.DataFrame(case["fixed_effects"]).set_index("term")
    return fe.rename(index={"baseline": "baseline_score"})


def test_fixed_effects(case_and_fit):
    case, fit = case_and_fit
    ref = _fixed(case)
    got = fit.fixed_effects.set_index("term")
    assert sorted(got.index) == sorted(ref.index)
    got = got.reindex(ref.index)  # R lists interactions last; compare term by term
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], rtol=1e-3)
    np.testing.assert_allclose(got["statistic"], ref["statistic"], rtol=1e-3)


def test_satterthwaite_df_and_p(case_and_fit):
    case, fit = case_and_fit
    ref = _fixed(case)
    got = fit.fixed_effects.set_index("term").reindex(ref.index)
    np.testing.assert_allclose(got["df"], ref["df"], rtol=1e-2)
    np.testing.assert_allclose(got["p_value"], ref["p_value"], rtol=2e-2, atol=1e-12)
    np.testing.assert_allclose(got["ci_lower"], ref["ci_lower"], rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(got["ci_upper"], ref["ci_upper"], rtol=1e-3, atol=1e-5)


def test_variance_components(case_and_fit):
    case, fit = case_and_fit
    ref = pd.DataFrame(case["variance_components"])
    key = lambda d: list(zip(d["group"], d["term1"].fillna(""), d["term2"].fillna(""), strict=True))  # noqa: E731
    got = fit.variance_components
    ref_map = dict(zip(key(ref), ref["estimate"], strict=True))
    got_map = dict(zip(key(got), got["estimate"], strict=True))
    assert set(got_map) == set(ref_map)
    for k, v in ref_map.items():
        assert got_map[k] == pytest.approx(v, rel=1e-3, abs=1e-6), k


def test_fit_statistics(case_and_fit):
    case, fit = case_and_fit
    assert fit.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-2)
    assert fit.aic == pytest.approx(case["aic"], abs=2e-2)
    assert fit.bic == pytest.approx(case["bic"], abs=2e-2)
    assert fit.n_obs == case["n_obs"]
    assert fit.n_participants == case["n_participants"]
    assert fit.singular == case["singular"]
    assert fit.converged


MODEL_CASES = sorted(k for k in FIXTURES if "fixed_effects" in FIXTURES[k])


def test_arm_difference_at_end_of_treatment(case_and_fit):
    """emmeans trt.vs.ctrl at session 16 with lmer.df = "satterthwaite"."""
    case, fit = case_and_fit
    got = fit.arm_differences(at=16).set_index("arm")
    for ref in case["arm_differences"]:
        row = got.loc[ref["arm"]]
        assert row["difference"] == pytest.approx(ref["difference"], rel=1e-4, abs=1e-6)
        assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-3)
        assert row["df"] == pytest.approx(ref["df"], rel=1e-2)
        assert row["ci_lower"] == pytest.approx(ref["ci_lower"], rel=1e-3)
        assert row["ci_upper"] == pytest.approx(ref["ci_upper"], rel=1e-3)
        assert row["p_value"] == pytest.approx(ref["p_value"], rel=2e-2)


def test_random_effects(case_and_fit):
    """lme4 ranef() for the first participants (conditional modes = BLUPs in a linear model)."""
    case, fit = case_and_fit
    got = fit.random_effects().set_index("participant_id")
    for ref in case["random_effects"]:
        for term, value in ref.items():
            if term != "participant_id" and not term.endswith("__se"):
                assert got.loc[ref["participant_id"], term] == pytest.approx(value, rel=2e-3, abs=1e-4), term


def test_random_effect_conditional_se(case_and_fit):
    """lme4 ranef(condVar = TRUE) postVar for the first participants."""
    case, fit = case_and_fit
    if case["settings"]["therapist"]:
        pytest.skip("conditional variances are given for participant-only models")
    got = fit.random_effect_intervals().set_index(["participant_id", "term"])
    for ref in case["random_effects"]:
        for key, value in ref.items():
            if key.endswith("__se"):
                term = key[:-4]
                assert got.loc[(ref["participant_id"], term), "std_error"] == pytest.approx(value, rel=2e-3, abs=1e-5)


def test_fitted_and_residuals(case_and_fit):
    """lme4 fitted() and residuals() (conditional on the random effects), first rows of the data."""
    case, fit = case_and_fit
    if case["settings"]["therapist"]:
        pytest.skip("fitted() of the therapist model includes therapist effects, which residuals() leaves out")
    res = fit.residuals()
    for i, ref in enumerate(case["residuals_head"]):
        assert res["fitted"].iloc[i] == pytest.approx(ref["fitted"], rel=1e-4)
        assert res["residual"].iloc[i] == pytest.approx(ref["residual"], rel=2e-3, abs=1e-4)


def test_r_squared(case_and_fit):
    """performance::r2_nakagawa (marginal and conditional R^2)."""
    case, fit = case_and_fit
    if case.get("r2") is None:
        pytest.skip("performance could not compute R2 for this model")
    r2 = fit.r_squared()
    assert r2["marginal"] == pytest.approx(case["r2"]["marginal"], rel=1e-4)
    if case["r2"]["conditional"] is not None:  # performance leaves it undefined for singular fits
        assert r2["conditional"] == pytest.approx(case["r2"]["conditional"], rel=1e-3)


def test_likelihood_ratio_test_refits_with_ml():
    """anova(m0, m1) of lme4: random intercept vs intercept and slope, both refitted by ML."""
    ref = FIXTURES["lrt_two_arm_intercept_vs_slope"]
    data = pd.read_csv(REF / "data" / "two_arm.csv", dtype={"participant_id": str}).assign(instrument="X")
    m0 = ipt.fit_growth(data, outcome="X", random="intercept", reference_arm="TAU", check=False)
    m1 = ipt.fit_growth(data, outcome="X", random="slope", reference_arm="TAU", check=False)
    table = ipt.compare_models(m0, m1)
    assert list(table["n_parameters"]) == ref["n_parameters"]
    np.testing.assert_allclose(table["log_likelihood"], ref["log_likelihood"], atol=1e-2)
    np.testing.assert_allclose(table["aic"], ref["aic"], atol=2e-2)
    np.testing.assert_allclose(table["bic"], ref["bic"], atol=2e-2)
    assert table["chi_square"].iloc[1] == pytest.approx(ref["chi_square"], abs=2e-2)
    assert table["df"].iloc[1] == ref["df"]
    assert table["p_value"].iloc[1] == pytest.approx(ref["p_value"], rel=1e-2)
