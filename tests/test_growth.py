"""fit_growth behaviour beyond the R fixtures: options, errors, guards, derived quantities by hand."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ipt_outcomes as ipt
from ipt_outcomes.models.engine import estimate as engine


@pytest.fixture(scope="module")
def trial():
    return ipt.simulate_trial(n_participants=120, seed=21, dropout=0.15, therapists_per_arm=0)


@pytest.fixture(scope="module")
def fit(trial):
    return ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU")


def test_result_columns_and_scalars(fit):
    assert list(fit.fixed_effects.columns) == ipt.models.FIXED_EFFECT_COLUMNS
    assert list(fit.variance_components.columns) == ipt.models.VARIANCE_COLUMNS
    assert fit.method == "reml" and fit.converged and not fit.singular
    assert fit.n_participants == 120 and fit.n_obs == int(fit.design.y.size)
    assert fit.aic == pytest.approx(-2 * fit.log_likelihood + 2 * 8)
    assert fit.bic == pytest.approx(-2 * fit.log_likelihood + np.log(fit.n_obs) * 8)
    json.dumps(fit.to_dict())
    assert "session:arm[IPT]" in fit.summary_text()
    assert "<table" in fit._repr_html_()


@pytest.mark.parametrize(("shape", "terms"), [
    ("log", ["Intercept", "log(session + 1)", "arm[IPT]", "log(session + 1):arm[IPT]"]),
    ("quadratic", ["Intercept", "session", "session^2", "arm[IPT]", "session:arm[IPT]", "session^2:arm[IPT]"]),
    ("piecewise", ["Intercept", "session[initial]", "session[middle]", "session[termination]", "arm[IPT]",
                   "session[initial]:arm[IPT]", "session[middle]:arm[IPT]", "session[termination]:arm[IPT]"]),
])
def test_time_shapes_term_names(trial, shape, terms):
    random = "slope" if shape == "log" else "intercept"
    fit = ipt.fit_growth(trial, outcome="HAMD17", shape=shape, random=random, reference_arm="TAU")
    assert list(fit.fixed_effects["term"]) == terms


def test_week_or_any_numeric_time(trial):
    fit = ipt.fit_growth(trial.assign(month=trial["week"] / 4.345), outcome="HAMD17", time="month",
                         reference_arm="TAU")
    assert "month:arm[IPT]" in set(fit.fixed_effects["term"])


def test_categorical_covariate_reference_level(trial):
    df = trial.assign(site=np.where(trial["participant_id"].str[-1].astype(int) % 2 == 0, "north", "south"))
    fit = ipt.fit_growth(df, outcome="HAMD17", covariates=["site", "age"], reference_levels={"site": "south"})
    assert {"site[north]", "age"} <= set(fit.fixed_effects["term"])


def test_baseline_as_covariate_removes_baseline_rows(trial):
    fit = ipt.fit_growth(trial, outcome="HAMD17", baseline="covariate", reference_arm="TAU")
    assert "baseline" in set(fit.fixed_effects["term"])
    assert (fit.design.data["session"] > 0).all()
    assert fit.n_obs == int(((trial["instrument"] == "HAMD17") & (trial["session"] > 0) & trial["score"].notna()).sum())


def test_reference_arm_defaults(trial):
    assert ipt.fit_growth(trial, outcome="HAMD17").spec.reference_arm == "TAU"  # a control name
    renamed = trial.assign(arm=trial["arm"].replace({"TAU": "Zcontrol"}))
    assert ipt.fit_growth(renamed, outcome="HAMD17").spec.reference_arm == "IPT"  # first sorted otherwise
    study = ipt.Study.from_mapping({"reference_arm": "Zcontrol"})
    renamed.attrs["ipt_study"] = dict(study.spec)
    assert ipt.fit_growth(renamed, outcome="HAMD17").spec.reference_arm == "Zcontrol"


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"outcome": "PHQ9"}, ipt.AnalysisError, "no rows for outcome 'PHQ9'"),
    ({"outcome": "HAMD17", "random": "curvy"}, ipt.ArgumentError, "random must be"),
    ({"outcome": "HAMD17", "method": "bayes"}, ipt.ArgumentError, "method must be"),
    ({"outcome": "HAMD17", "reference_arm": "CBT"}, ipt.ArgumentError, "reference arm 'CBT' is not in the data"),
    ({"outcome": "HAMD17", "covariates": ["nope"]}, ipt.ArgumentError, "nope"),
    ({"outcome": "HAMD17", "shape": "quadratic", "random": "slope"}, ipt.ArgumentError, "one time term"),
    ({"outcome": "HAMD17", "moderators": ["problem_area"]}, ipt.AnalysisError, "problem_area"),
])
def test_errors(trial, kwargs, error, match):
    with pytest.raises(error, match=match):
        ipt.fit_growth(trial, **kwargs)


def test_single_arm_cannot_be_compared(trial):
    with pytest.raises(ipt.AnalysisError, match="only one arm"):
        ipt.fit_growth(trial[trial["arm"] == "IPT"], outcome="HAMD17")


def test_guard_against_statsmodels_zeroed_between_effects(trial, monkeypatch):
    """statsmodels issue 10239: fixed effects of between-participant terms returned as 0.0.
    fit_growth reports GLS estimates at the optimum, so a zeroed statsmodels answer is caught."""
    real = engine._statsmodels

    def broken(data, reml):
        varpar, method, notes, beta = real(data, reml)
        beta = beta.copy()
        beta[[0, 2]] = 0.0  # Intercept and arm[IPT], as in the issue
        return varpar, method, notes, beta

    monkeypatch.setattr(engine, "_statsmodels", broken)
    guarded = ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU", engine="statsmodels")
    assert any("10239" in note for note in guarded.notes)
    assert guarded.fixed_effects["estimate"].iloc[0] > 15  # the intercept is about 20, not 0


def test_contrast_matches_coefficient_row(fit):
    row = fit.fixed_effects.iloc[3]
    L = np.zeros(4)
    L[3] = 1
    c = fit.contrast(L)
    assert c["estimate"] == pytest.approx(row["estimate"])
    assert c["df"] == pytest.approx(row["df"])
    with pytest.raises(ipt.ArgumentError):
        fit.contrast([1, 2])


def test_trajectories_are_linear_combinations(fit):
    b = fit.fixed_effects.set_index("term")["estimate"]
    traj = fit.trajectories(times=[0, 10]).set_index(["arm", "time"])
    assert traj.loc[("TAU", 0.0), "estimate"] == pytest.approx(b["Intercept"])
    assert traj.loc[("IPT", 10.0), "estimate"] == pytest.approx(
        b["Intercept"] + b["arm[IPT]"] + 10 * (b["session"] + b["session:arm[IPT]"]))
    assert (traj["ci_lower"] < traj["estimate"]).all() and (traj["estimate"] < traj["ci_upper"]).all()


# Feingold's d, the ICC (with and without a therapist component) and R^2 are checked against R
# (performance::icc, performance::r2_nakagawa, and d from lme4's coefficient) in
# test_growth_reference.py; restating their formulas here would compare the code with itself.


def test_compare_models_needs_same_rows(trial):
    a = ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU")
    b = ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU", baseline="covariate")
    with pytest.raises(ipt.AnalysisError, match="different rows"):
        ipt.compare_models(a, b)


def test_classical_anova_two_occasions_equals_t_test_on_change(trial):
    """With two occasions the arm x time F of a mixed ANOVA is the squared pooled t of change scores."""
    res = ipt.classical_anova(trial, "HAMD17", occasions=[0, 12])
    d = trial[(trial["instrument"] == "HAMD17") & trial["session"].isin([0, 12])].dropna(subset=["score"])
    wide = d.pivot_table(index=["participant_id", "arm"], columns="session", values="score").dropna().reset_index()
    change = wide[12] - wide[0]
    t = stats.ttest_ind(change[wide["arm"] == "IPT"], change[wide["arm"] == "TAU"]).statistic
    inter = res.table.set_index("Source").loc["Interaction"]
    assert inter["F"] == pytest.approx(t ** 2, rel=1e-8)
    assert res.n_participants == len(wide)
    assert res.n_excluded == trial.loc[trial["instrument"] == "HAMD17", "participant_id"].nunique() - len(wide)


def test_classical_anova_default_occasions_are_the_last_time_half_are_seen_at(trial):
    """Default occasions: baseline and the latest time at which at least half of the participants
    with a baseline score have a score (counted here with a pivot table)."""
    d = trial[trial["instrument"] == "HAMD17"].dropna(subset=["score"])
    wide = d.pivot_table(index="participant_id", columns="session", values="score")
    with_base = wide[wide[0].notna()]
    seen = with_base.notna().sum()
    expected = float(seen[(seen.index > 0) & (seen >= len(with_base) / 2)].index.max())
    res = ipt.classical_anova(trial, "HAMD17")
    assert res.occasions == (0.0, expected)
    assert res.n_participants == int(wide[[0, expected]].notna().all(axis=1).sum())


def test_fit_does_not_modify_input(trial):
    before = trial.copy()
    ipt.fit_growth(trial, outcome="HAMD17", baseline="covariate")
    pd.testing.assert_frame_equal(trial, before)


def test_invalid_outcome_rows_are_refused(trial):
    df = trial.copy()
    df.loc[df.index[(df["instrument"] == "HAMD17")][3], "score"] = 80
    with pytest.raises(ipt.DataValidationError, match="outside the HAMD17 range"):
        ipt.fit_growth(df, outcome="HAMD17")
    # problems in columns the model does not use do not stop it
    other = trial.drop(columns=["disorder"])
    assert ipt.fit_growth(other, outcome="HAMD17").converged


def test_trajectories_by_moderator_level():
    df = ipt.simulate_trial(n_participants=160, seed=22, disorders={"depression": 0.5, "perinatal_depression": 0.5},
                            instruments=["PHQ9"], therapists_per_arm=0)
    fit = ipt.fit_growth(df, outcome="PHQ9", moderators=["disorder"], random="intercept", reference_arm="TAU")
    traj = fit.trajectories(times=[0, 12], by="disorder")
    assert set(traj["disorder"]) == {"depression", "perinatal_depression"} and len(traj) == 8
    b = fit.fixed_effects.set_index("term")["estimate"]
    row = traj[(traj["arm"] == "IPT") & (traj["disorder"] == "perinatal_depression") & (traj["time"] == 12)].iloc[0]
    expected = (
        b["Intercept"] + b["arm[IPT]"] + b["disorder[perinatal_depression]"] + b["arm[IPT]:disorder[perinatal_depression]"]
        + 12 * (b["session"] + b["session:arm[IPT]"] + b["session:disorder[perinatal_depression]"]
                + b["session:arm[IPT]:disorder[perinatal_depression]"]))
    assert row["estimate"] == pytest.approx(expected)


def test_engines_agree(trial):
    fast = ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU", engine="ipt")
    slow = ipt.fit_growth(trial, outcome="HAMD17", reference_arm="TAU", engine="statsmodels")
    np.testing.assert_allclose(fast.fixed_effects["estimate"], slow.fixed_effects["estimate"], rtol=1e-4)
    np.testing.assert_allclose(fast.fixed_effects["std_error"], slow.fixed_effects["std_error"], rtol=1e-3)
    np.testing.assert_allclose(fast.fixed_effects["df"], slow.fixed_effects["df"], rtol=1e-2)
    assert fast.log_likelihood >= slow.log_likelihood - 1e-6  # the fast engine reaches at least as high
    assert fast.log_likelihood == pytest.approx(slow.log_likelihood, abs=1e-4)
    assert "sufficient statistics" in fast.engine and "statsmodels" in slow.engine
    with pytest.raises(ipt.ArgumentError, match="engine"):
        ipt.fit_growth(trial, outcome="HAMD17", engine="lme4")


def test_pattern_moments_equal_per_participant_algebra():
    """With many participants sharing Z'Z, the engine sums moments within patterns; the result must
    equal the per-participant computation."""
    from ipt_outcomes.models.engine import statistics
    from ipt_outcomes.models.engine.likelihood import MixedData

    df = ipt.simulate_trial(n_participants=1500, seed=40, therapists_per_arm=0, instruments=["PHQ9"],
                            schedule={"PHQ9": [0, 4, 8, 12]}, sessions=(12, 12))
    spec = ipt.models.design.GrowthSpec(outcome="PHQ9", reference_arm="TAU")
    d = ipt.models.design.build_design(df, spec)
    for Z in (d.Z, d.Z[:, :1]):
        data = MixedData.build(d.y, d.X, Z, d.participant)
        assert "pattern_T" in data.stats
        per = {k: v for k, v in data.stats.items() if not k.startswith("pattern")}
        lam = statistics.lambda_matrix(np.array([1.2, 0.02, 0.07]) if Z.shape[1] == 2 else np.array([0.9]), Z.shape[1])
        for a, b in zip(statistics.quadratic_forms(data.stats, lam), statistics.quadratic_forms(per, lam), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9)


def test_residual_rows_carry_their_participant_arm_time_and_score(trial, fit):
    """Each row of residuals() is a row of the data: the same (participant, arm, session, score)."""
    res = fit.residuals()
    rows = trial[(trial["instrument"] == fit.outcome) & trial["score"].notna()]
    got = sorted(zip(res["participant_id"], res["arm"], res["time"], res["observed"], strict=True))
    expected = sorted(zip(rows["participant_id"], rows["arm"], rows["session"].astype(float), rows["score"],
                          strict=True))
    assert got == expected
    assert str(res["participant_id"].dtype) == str(pd.Series(["a"]).dtype)  # the text type pandas gives
