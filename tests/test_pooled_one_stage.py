"""ipt.fit_pooled (one-stage model of pooled trials) against lme4/lmerTest on the bundled four-disorder
example (fixtures: tests/reference/make_pooled_fixtures.R, which computes the POMP outcome and the
pooled condition by hand), the refusal of a trial variance that cannot be estimated, and recovery of
a difference between disorders.

Tolerances as achieved against fixtures from lme4 run with bobyqa's rhoend at 1e-12 (two reruns of the
script agree to the last digit; the default rhoend left reruns 1.8e-6 apart, more than the tolerance):
with a disorder moderator (no trial intercept, not identifiable with one trial per disorder) estimates
5.3e-7, SEs 2.1e-8, df 8.1e-7, variance components 1.0e-6 relative (our log-likelihood the higher by
1.8e-10: the criterion is flat there); with the trial intercept, where lme4 stops short of the optimum
(ours higher by 2.6e-9), estimates 1.5e-8, SEs 2.9e-5, df 8.7e-5, the trial variance 5.9e-5. Each
tolerance is about twice what is achieved.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

FIX = json.loads((Path(__file__).resolve().parent / "reference" / "pooled_fixtures.json").read_text(encoding="utf-8"))


def _ours(term: str) -> str:
    term = term.replace("(Intercept)", "Intercept").replace("armIPT", "arm[IPT]")
    return re.sub(r"disorder(\w+)", r"disorder[\1]", term)


@pytest.fixture(scope="module")
def common():
    return ipt.harmonise(ipt.load_trials(ipt.pooled_example_path()), "pomp")


@pytest.mark.parametrize("case, moderators, tol", [
    ("by_disorder", ("disorder",), {"estimate": 1e-6, "std_error": 5e-8, "df": 2e-6, "vc": 2e-6}),
    ("trial_intercept", (), {"estimate": 3e-8, "std_error": 6e-5, "df": 2e-4, "vc": 1.2e-4}),
])
def test_matches_lme4(common, case, moderators, tol):
    ref = FIX[case]
    fit = ipt.fit_pooled(common, moderators=moderators)
    assert fit.n_obs == ref["n_obs"]
    assert fit.log_likelihood >= ref["log_likelihood"] - 1e-8
    fe = fit.fixed_effects.set_index("term").loc[[_ours(t) for t in ref["terms"]]]
    for key in ("estimate", "std_error", "df"):
        np.testing.assert_allclose(fe[key], ref[key], rtol=tol[key], err_msg=key)
    np.testing.assert_allclose(fit.variance_components["estimate"], [v["vcov"] for v in ref["varcorr"]], rtol=tol["vc"])
    assert any("IPT arms as IPT and its reference arm as control" in n for n in fit.notes)


def test_trial_variance_refused_or_left_out_with_a_note(common):
    with pytest.raises(ipt.AnalysisError, match="random intercept of trial_id cannot be estimated"):
        ipt.fit_pooled(common, trial_effect=True)
    fit = ipt.fit_pooled(common)
    assert "(1 | trial_id)" not in fit.formula
    assert any("trial random intercept was left out" in n for n in fit.notes)
    with pytest.raises(ipt.AnalysisError, match="random intercept of trial_id cannot be estimated"):
        ipt.fit_growth(common.assign(arm=np.where(common["arm"].astype(str) == "IPT", "IPT", "control")),
                       formula="POMP ~ session * arm * disorder + (session | trial_id:participant_id) + (1 | trial_id)",
                       reference_arm="control", check=False)


def test_recovers_a_difference_between_disorders():
    """Three depression trials (true d 0.6) and three PTSD trials (d 0.2) in baseline-SD units: the
    one-stage model, with its trial intercept (identifiable: three trials per disorder), recovers
    the arm difference of each disorder at the end of treatment."""
    trials = []
    for i, (disorder, d) in enumerate([("depression", 0.6)] * 3 + [("ptsd", 0.2)] * 3):
        trials.append(ipt.simulate_trial(200, seed=500 + i, trial_id=f"T{i}", disorders=(disorder,),
                                         effect_sizes={"IPT": d}, therapist_icc=0.0))
    common = ipt.harmonise(pd.concat(trials, ignore_index=True), "baseline_sd")
    with warnings.catch_warnings():  # simulated trials share one mean: the trial variance may be estimated at 0
        warnings.simplefilter("ignore", ipt.SingularFitWarning)
        fit = ipt.fit_pooled(common, "BASELINE_SD")
    assert "(1 | trial_id)" in fit.formula
    by = fit.arm_differences(by="disorder").set_index("disorder")
    for disorder, truth in (("depression", -0.6), ("ptsd", -0.2)):
        assert abs(by.loc[disorder, "difference"] - truth) < 3 * by.loc[disorder, "std_error"] + 0.05, disorder


def test_each_disorder_at_its_own_end_of_treatment(common):
    from ipt_outcomes.pooling import arm_differences_at_end

    fit = ipt.fit_pooled(common)
    table = arm_differences_at_end(fit).set_index("disorder")
    assert table["time"].to_dict() == {"bulimia": 20.0, "depression": 16.0, "perinatal_depression": 12.0, "ptsd": 16.0}
    at_12 = fit.arm_differences(by="disorder", at=12).set_index("disorder")
    assert table.loc["perinatal_depression", "difference"] == pytest.approx(at_12.loc["perinatal_depression", "difference"])


def test_dose_and_other_moderators(common):
    """Sessions attended (dose) and the population as moderators of the arm effect over time."""
    fit = ipt.fit_pooled(common, moderators=["sessions_attended"], trial_effect=False)
    assert "session:arm[IPT]:sessions_attended" in set(fit.fixed_effects["term"])
    by_population = ipt.fit_pooled(common, moderators=["population"])
    assert {"adult", "perinatal"} <= set(by_population.arm_differences(by="population")["population"])
