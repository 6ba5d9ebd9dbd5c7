"""fit_growth against lme4 + lmerTest (fixtures from tests/reference/make_lmer_fixtures.R).

Each case refits one R model (formula in the fixture) and compares, with tolerances per quantity:
fixed effects 1e-4 relative, standard errors 1e-3 relative, Satterthwaite df 1e-2 relative,
variance components 1e-3 relative, log-likelihood 1e-2 absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

REF = Path(__file__).resolve().parent / "reference"
FIXTURES = json.loads((REF / "lmer_fixtures.json").read_text(encoding="utf-8"))


def _fit(case: dict) -> ipt.GrowthFit:
    s = case["settings"]
    data = pd.read_csv(REF / "data" / f"{case['data']}.csv", dtype={"participant_id": str})
    data["instrument"] = "X"
    if s["baseline"] == "covariate":
        # the fixture data hold post-baseline rows with the baseline score; fit_growth takes it as a covariate
        data = data.rename(columns={"baseline": "baseline_score"})
        covariates = ["baseline_score"]
    else:
        covariates = list(s["covariates"])
    fit = ipt.fit_growth(data, outcome="X", time=s["time"], random=s["random"], method=case["method"],
                         reference_arm=s["reference_arm"], covariates=covariates, shape=s["shape"],
                         therapist="therapist_id" if s["therapist"] else None)
    return fit


@pytest.fixture(scope="module", params=sorted(FIXTURES))
def case_and_fit(request):
    case = FIXTURES[request.param]
    return case, _fit(case)


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
