"""What a formula fit derives, against R: emmeans marginal means and contrasts (equal and proportional
weights, a factor and a two-valued covariate averaged over, a covariate at its mean, transforms of
time), performance's R^2 and ICC, lme4's conditional modes with condVar at every level and lme4's
fitted values. Fixtures: tests/reference/make_formula_derived_fixtures.R (formula_derived_fixtures.json)
and the emmeans values of make_formula_fixtures.R.

Tolerances, per quantity, as achieved: means and contrasts 1e-6 relative (estimates), 1e-5 (SEs),
2e-5 relative (df: the numerical derivatives of the two programs); R^2 and ICC 1e-6 absolute;
conditional modes 5e-6 absolute and their SDs 2e-5 relative (the two optima agree to ~1e-7 in theta);
fitted values 1e-6 absolute.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

REF = Path(__file__).resolve().parent / "reference"
DERIVED = json.loads((REF / "formula_derived_fixtures.json").read_text(encoding="utf-8"))
FORMULA = json.loads((REF / "formula_fixtures.json").read_text(encoding="utf-8"))


def _data(subset: str = "all") -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "formula_trials.csv", dtype={"participant_id": str})
    d["instrument"] = "X"
    d["odd"] = (d["participant_id"].str[1:].astype(int) // 10) % 2  # as the R script: odd tens digit
    if subset == "ipt_only":
        d = d[d["arm"] == "IPT"]
    if subset == "ancova":
        d = d[d["session"].isin([0, 12])]
    return d.reset_index(drop=True)


def _fit(formula: str, subset: str = "all", method: str = "reml") -> ipt.GrowthFit:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ipt.SingularFitWarning)
        return ipt.fit_growth(_data(subset), formula=formula, method=method, check=False,
                              reference_arm=None if subset == "ipt_only" else "TAU")


_FITS: dict[tuple[str, str, str], ipt.GrowthFit] = {}


def _cached(formula: str, subset: str = "all", method: str = "reml") -> ipt.GrowthFit:
    key = (formula, subset, method)
    if key not in _FITS:
        _FITS[key] = _fit(formula, subset, method)
    return _FITS[key]


def _close(got, want, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol)


EMM = [(cid, w) for cid in DERIVED["emmeans"] for w in ("equal", "proportional")]


def _emm_call(cid: str) -> dict:
    return {"factor_and_binary": {}, "three_way_factor": {}, "arm_by_trial": {"by": "trial_id"},
            "quadratic_time": {}}[cid]


@pytest.mark.parametrize(("cid", "weights"), EMM)
def test_marginal_means_match_emmeans(cid, weights):
    case = DERIVED["emmeans"][cid]
    fit = _cached(case["formula"])
    got = fit.marginal_means("arm", at=case["at"], weights=weights, **_emm_call(cid))
    want = pd.DataFrame(case[weights]["means"])
    keys = [c for c in want.columns if c in got.columns and c not in ("estimate", "std_error", "df", "ci_lower",
                                                                       "ci_upper")]
    merged = want.merge(got.astype({k: want[k].dtype for k in keys}), on=keys, suffixes=("_r", ""))
    assert len(merged) == len(want) == len(got)
    _close(merged["estimate"], merged["estimate_r"], 1e-6)
    _close(merged["std_error"], merged["std_error_r"], 1e-5)
    _close(merged["df"], merged["df_r"], 2e-5)
    _close(merged["ci_lower"], merged["ci_lower_r"], 1e-5)
    _close(merged["ci_upper"], merged["ci_upper_r"], 1e-5)


@pytest.mark.parametrize(("cid", "weights"), EMM)
@pytest.mark.parametrize("method", ["trt_vs_ctrl", "pairwise"])
def test_contrasts_match_emmeans(cid, weights, method):
    case = DERIVED["emmeans"][cid]
    fit = _cached(case["formula"])
    got = fit.contrasts("arm", at=case["at"], weights=weights, method=method.replace("_", "."), **_emm_call(cid))
    want = pd.DataFrame(case[weights][method])
    keys = [c for c in want.columns if c in got.columns and c not in ("estimate", "std_error", "df", "statistic",
                                                                       "p_value", "ci_lower", "ci_upper")]
    merged = want.merge(got.astype({k: want[k].dtype for k in keys}), on=keys, suffixes=("_r", ""))
    assert len(merged) == len(want) == len(got)
    _close(merged["estimate"], merged["estimate_r"], 1e-6)
    _close(merged["std_error"], merged["std_error_r"], 1e-5)
    _close(merged["df"], merged["df_r"], 2e-5)
    _close(merged["p_value"], merged["p_value_r"], 1e-4, 1e-12)


def test_weights_matter_where_the_fixture_says_so():
    """The factor_and_binary means differ between equal and proportional weights by ~1e-3: the tolerance
    above tells them apart (a mix-up of the two fails)."""
    case = DERIVED["emmeans"]["factor_and_binary"]
    eq, pr = (pd.DataFrame(case[w]["means"])["estimate"] for w in ("equal", "proportional"))
    assert np.max(np.abs(eq - pr)) > 1e-3


FORMULA_ARM = [k for k, v in FORMULA.items() if k != "versions" and "contrast" in v]


@pytest.mark.parametrize("cid", FORMULA_ARM)
def test_arm_differences_and_trajectories_match_emmeans(cid):
    case = FORMULA[cid]
    fit = _cached(case["formula"], case["subset"], case["method"])
    contrast, means = case["contrast"][0], pd.DataFrame(case["marginal_means"])
    if cid == "piecewise_random":
        got = fit.contrasts("arm", at={"early": 4, "late": 8}).iloc[0]
        traj = fit.marginal_means("arm", at={"early": 4, "late": 8})
    else:
        got = fit.arm_differences(at=12).iloc[0].rename({"difference": "estimate"})
        traj = fit.trajectories(times=[12.0])
    _close(got["estimate"], contrast["estimate"], 1e-6)
    _close(got["std_error"], contrast["std_error"], 1e-5)
    _close(got["df"], contrast["df"], 2e-5)
    _close(got["p_value"], contrast["p_value"], 1e-4)
    traj = traj.set_index("arm").loc[means["arm"]]
    _close(traj["estimate"], means["estimate"], 1e-6)
    _close(traj["std_error"], means["std_error"], 1e-5)
    _close(traj["df"], means["df"], 2e-5)


FITS = sorted(DERIVED["fits"])


@pytest.mark.parametrize("cid", FITS)
def test_random_effects_at_every_level_match_lme4(cid):
    case = DERIVED["fits"][cid]
    fit = _cached(case["formula"], case["subset"])
    want = pd.DataFrame(case["random_effects"])
    for group, ref in want.groupby("group"):
        got = fit.random_effect_intervals(group=group).rename(columns={group: "level"})
        merged = ref.merge(got, on=["level", "term"], suffixes=("_r", ""))
        assert len(merged) == len(ref) == len(got), group
        _close(merged["estimate"], merged["estimate_r"], 0, 5e-6)
        _close(merged["std_error"], merged["std_error_r"], 2e-5)
        wide = fit.random_effects(group)
        assert list(wide.columns) == [group, *dict.fromkeys(ref["term"])]
    res = fit.residuals()
    _close(res["fitted"].iloc[:5], case["first_fitted"], 0, 1e-6)
    _close(np.sum(res["residual"] ** 2), case["residual_sum_of_squares"], 1e-7)
    _close(res["observed"] - res["fitted"], res["residual"], 0, 1e-12)


# performance leaves the slope variance of an uncorrelated (||) model out of its random variance (its
# adjusted ICC there equals the intercept-only ratio tau00 / (tau00 + s2)); ours counts it (Johnson 2014), as
# performance does for the correlated model. performance gives no values for a singular fit.
R2_CASES = [c for c in FITS if DERIVED["fits"][c]["r2_marginal"] is not None and c != "uncorrelated"]


@pytest.mark.parametrize("cid", R2_CASES)
def test_r_squared_and_icc_match_performance(cid):
    case = DERIVED["fits"][cid]
    fit = _cached(case["formula"], case["subset"])
    r2 = fit.r_squared()
    _close(r2["marginal"], case["r2_marginal"], 0, 1e-6)
    _close(r2["conditional"], case["r2_conditional"], 0, 1e-6)
    icc = fit.icc()
    _close(icc.attrs["adjusted"], case["icc_adjusted"], 0, 1e-6)
    _close(icc.attrs["unadjusted"], case["icc_unadjusted"], 0, 1e-6)
    slopes = fit.formula_model.structure is not None and any(len(f.columns) > 1 or f.columns != ("Intercept",)
                                                             for f in fit.formula_model.structure.factors)
    if not slopes:  # with random slopes performance warns its by-group ICC is not accurate; ours is at time 0
        by = pd.DataFrame(case["icc_by_group"]).merge(icc, on="group", suffixes=("_r", ""))
        assert len(by) == len(icc)
        _close(by["icc"], by["icc_r"], 0, 1e-6)


def test_random_slope_icc_is_at_time_zero():
    """By hand: tau00 / (tau00 + s2) from the variance components."""
    fit = _cached("X ~ session * arm + (session | participant_id)")
    vc = fit.variance_components
    tau00 = vc.loc[(vc["group"] == "participant_id") & (vc["term1"] == "Intercept") & vc["term2"].isna(), "estimate"]
    s2 = vc.loc[vc["group"] == "Residual", "estimate"]
    assert fit.icc()["icc"].iloc[0] == pytest.approx(float(tau00.iloc[0]) / (float(tau00.iloc[0]) + float(s2.iloc[0])),
                                                     rel=1e-12)


def test_linear_model_r_squared_matches_statsmodels():
    import statsmodels.formula.api as smf

    fit = _fit(FORMULA["ancova_lm"]["formula"], "ancova")
    data = fit.formula_model.data
    ols = smf.ols("score ~ arm + baseline", data=data).fit()
    r2 = fit.r_squared()
    assert r2["r_squared"] == pytest.approx(ols.rsquared, rel=1e-10)
    assert r2["adjusted_r_squared"] == pytest.approx(ols.rsquared_adj, rel=1e-10)
    diff = fit.arm_differences().iloc[0]
    assert diff["difference"] == pytest.approx(FORMULA["ancova_lm"]["fixed_effects"][1]["estimate"], rel=1e-9)
    assert np.isnan(diff["time"]) and diff["change_difference"] == diff["difference"]
    with pytest.raises(ipt.ArgumentError, match="no random part"):
        fit.icc()


def test_keyword_fit_marginal_means_use_its_formula():
    df = _data()
    fit = ipt.fit_growth(df, outcome="X", reference_arm="TAU", check=False)
    diff = fit.arm_differences(at=12).iloc[0]
    got = fit.contrasts("arm", at={"session": [12]}).iloc[0]
    assert got["estimate"] == pytest.approx(diff["difference"], rel=1e-6)
    assert got["df"] == pytest.approx(diff["df"], rel=1e-4)
    assert fit.marginal_means(at={"session": [0, 12]}).shape[0] == 4


def test_grid_refusals_name_the_problem():
    fit = _cached("X ~ session * arm + (session | participant_id)")
    with pytest.raises(ipt.ArgumentError, match="'age'"):
        fit.marginal_means("arm", at={"age": [40]})
    with pytest.raises(ipt.ArgumentError, match="not a level of arm"):
        fit.marginal_means("arm", at={"arm": ["CBT"]})
    with pytest.raises(ipt.ArgumentError, match="weights"):
        fit.marginal_means("arm", weights="cells")
    with pytest.raises(ipt.ArgumentError, match="method"):
        fit.contrasts("arm", method="dunnett")
    single = _cached("X ~ session + (session | participant_id)", "ipt_only")
    with pytest.raises(ipt.ArgumentError, match="no arm term"):
        single.arm_differences()
    traj = single.trajectories(times=[0, 12])
    assert list(traj["arm"].unique()) == ["IPT"] and len(traj) == 2


def test_bonferroni_adjusts_within_groups():
    fit = _cached(DERIVED["emmeans"]["arm_by_trial"]["formula"])
    raw = fit.contrasts("trial_id", at={"session": 12}, method="pairwise")
    adj = fit.contrasts("trial_id", at={"session": 12}, method="pairwise", adjust="bonferroni")
    _close(adj["p_value"], np.minimum(1.0, raw["p_value"] * 3), 1e-12)
    assert (adj["ci_upper"] - adj["ci_lower"] > raw["ci_upper"] - raw["ci_lower"]).all()
