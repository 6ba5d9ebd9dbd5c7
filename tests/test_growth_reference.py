"""fit_growth against lme4 + lmerTest (fixtures from tests/reference/make_lmer_fixtures.R).

Each case refits one R model (formula in the fixture) and compares, with tolerances per quantity
set just above what both engines achieve (worst case in brackets, tests/reference/README.md):
fixed effects 1e-6 relative [1.4e-7], standard errors 1e-5 [2.1e-6], Satterthwaite df 2e-4 [9.6e-5,
a slope variance near 0], p-values 1e-4 relative (log p for p < 1e-6) [3.1e-5], variance
components 1e-5 relative or 1e-6 absolute [2.3e-4 relative, 6e-7 absolute, on a covariance near 0],
log-likelihood 1e-6 absolute [5.2e-10]. lme4 was run with a tight optimizer tolerance
(bobyqa rhoend 1e-10) so that the reference optimum is itself precise.
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
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(got["statistic"], ref["statistic"], rtol=1e-5)


def _assert_p(got, ref, rtol=1e-4):
    """p-values relative to 1e-4; below 1e-6, log p to 1e-4 (a tiny p is sensitive to the last digit of t)."""
    got, ref = np.asarray(got, float), np.asarray(ref, float)
    small = ref < 1e-6
    np.testing.assert_allclose(got[~small], ref[~small], rtol=rtol)
    np.testing.assert_allclose(np.log(got[small]), np.log(ref[small]), rtol=rtol)


def test_satterthwaite_df_and_p(case_and_fit):
    """lmerTest's summary(ddf = "Satterthwaite") and contest(confint = TRUE), boundary fits included."""
    case, fit = case_and_fit
    ref = _fixed(case)
    got = fit.fixed_effects.set_index("term").reindex(ref.index)
    assert np.all(np.isfinite(got["df"]))
    np.testing.assert_allclose(got["df"], ref["df"], rtol=2e-4)
    _assert_p(got["p_value"], ref["p_value"])
    # a CI bound's error scales with the SE (a bound near 0 makes a relative test meaningless)
    np.testing.assert_allclose(got["ci_lower"], ref["ci_lower"], rtol=0, atol=1e-5 * ref["std_error"].max())
    np.testing.assert_allclose(got["ci_upper"], ref["ci_upper"], rtol=0, atol=1e-5 * ref["std_error"].max())


def test_variance_components(case_and_fit):
    case, fit = case_and_fit
    ref = pd.DataFrame(case["variance_components"])
    key = lambda d: list(zip(d["group"], d["term1"].fillna(""), d["term2"].fillna(""), strict=True))  # noqa: E731
    got = fit.variance_components
    ref_map = dict(zip(key(ref), ref["estimate"], strict=True))
    got_map = dict(zip(key(got), got["estimate"], strict=True))
    assert set(got_map) == set(ref_map)
    for k, v in ref_map.items():
        assert got_map[k] == pytest.approx(v, rel=1e-5, abs=1e-6), k


def test_fit_statistics(case_and_fit):
    case, fit = case_and_fit
    assert fit.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    assert fit.aic == pytest.approx(case["aic"], abs=2e-6)
    assert fit.bic == pytest.approx(case["bic"], abs=2e-6)
    assert fit.n_obs == case["n_obs"]
    assert fit.n_participants == case["n_participants"]
    assert fit.singular == case["singular"]
    assert fit.converged


MODEL_CASES = sorted(k for k in FIXTURES if "fixed_effects" in FIXTURES[k])


def _at_session_16(fit):
    """Arm differences at session 16, as emmeans computes them; where the data end before 16 the toolkit
    extrapolates as emmeans does, and says so."""
    from ipt_outcomes.models.derived.quantities import end_of_treatment

    if max(fit.design.data["session"].max(), end_of_treatment(fit)) >= 16:
        return fit.arm_differences(at=16).set_index("arm")
    with pytest.warns(ipt.ApproximationWarning, match="extrapolates"):
        return fit.arm_differences(at=16).set_index("arm")


def test_arm_difference_at_end_of_treatment(case_and_fit):
    """emmeans trt.vs.ctrl at session 16 with lmer.df = "satterthwaite"."""
    case, fit = case_and_fit
    got = _at_session_16(fit)
    for ref in case["arm_differences"]:
        row = got.loc[ref["arm"]]
        assert row["difference"] == pytest.approx(ref["difference"], rel=1e-6, abs=1e-9)
        assert row["std_error"] == pytest.approx(ref["std_error"], rel=1e-5)
        assert row["df"] == pytest.approx(ref["df"], rel=2e-4)
        assert row["ci_lower"] == pytest.approx(ref["ci_lower"], rel=0, abs=1e-5 * ref["std_error"])
        assert row["ci_upper"] == pytest.approx(ref["ci_upper"], rel=0, abs=1e-5 * ref["std_error"])
        _assert_p([row["p_value"]], [ref["p_value"]])


def test_random_effects(case_and_fit):
    """lme4 ranef() for the first participants (conditional modes = BLUPs in a linear model)."""
    case, fit = case_and_fit
    got = fit.random_effects().set_index("participant_id")
    for ref in case["random_effects"]:
        for term, value in ref.items():
            if term != "participant_id" and not term.endswith("__se"):
                assert got.loc[ref["participant_id"], term] == pytest.approx(value, rel=1e-4, abs=1e-6), term


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
    """lme4 fitted() and residuals() (conditional on every random effect, therapist effects included),
    first rows of the data."""
    case, fit = case_and_fit
    res = fit.residuals()
    for i, ref in enumerate(case["residuals_head"]):
        assert res["fitted"].iloc[i] == pytest.approx(ref["fitted"], rel=1e-6)
        assert res["residual"].iloc[i] == pytest.approx(ref["residual"], rel=1e-4, abs=1e-5)


def test_feingold_d(case_and_fit):
    """Feingold (2009) d at session 16, computed in R from lme4's coefficient and the raw baseline SD."""
    case, fit = case_and_fit
    if not case.get("feingold_d"):
        pytest.skip("d is computed in R for linear time without covariates")
    got = _at_session_16(fit)
    for ref in case["feingold_d"]:
        assert got.loc[ref["arm"], "effect_size_d"] == pytest.approx(ref["effect_size_d"], rel=1e-6)


def test_icc_by_group(case_and_fit):
    """performance::icc(by_group = TRUE): participant and therapist ICC of random-intercept models."""
    case, fit = case_and_fit
    if not case.get("icc_by_group"):
        pytest.skip("performance gives ICCs by group for random intercepts only (none at a zero variance)")
    got = fit.icc().set_index("group")["icc"]
    for ref in case["icc_by_group"]:
        assert got[ref["group"]] == pytest.approx(ref["icc"], rel=1e-5)


def test_r_squared(case_and_fit):
    """performance::r2_nakagawa (marginal and conditional R^2)."""
    case, fit = case_and_fit
    if case.get("r2") is None or case["singular"]:
        pytest.skip("performance leaves the random-effect variance out of R2 at a singular fit")
    r2 = fit.r_squared()
    assert r2["marginal"] == pytest.approx(case["r2"]["marginal"], rel=1e-5)
    if case["r2"]["conditional"] is not None:  # performance leaves it undefined for singular fits
        assert r2["conditional"] == pytest.approx(case["r2"]["conditional"], rel=1e-5)


def test_likelihood_ratio_test_refits_with_ml():
    """anova(m0, m1) of lme4: random intercept vs intercept and slope, both refitted by ML."""
    ref = FIXTURES["lrt_two_arm_intercept_vs_slope"]
    data = pd.read_csv(REF / "data" / "two_arm.csv", dtype={"participant_id": str}).assign(instrument="X")
    m0 = ipt.fit_growth(data, outcome="X", random="intercept", reference_arm="TAU", check=False)
    m1 = ipt.fit_growth(data, outcome="X", random="slope", reference_arm="TAU", check=False)
    table = ipt.compare_models(m0, m1)
    assert list(table["n_parameters"]) == ref["n_parameters"]
    np.testing.assert_allclose(table["log_likelihood"], ref["log_likelihood"], atol=1e-6)
    np.testing.assert_allclose(table["aic"], ref["aic"], atol=2e-6)
    np.testing.assert_allclose(table["bic"], ref["bic"], atol=2e-6)
    assert table["chi_square"].iloc[1] == pytest.approx(ref["chi_square"], abs=2e-6)
    assert table["df"].iloc[1] == ref["df"]
    assert table["p_value"].iloc[1] == pytest.approx(ref["p_value"], rel=1e-5)
