"""Missing-data patterns, Rubin's rules by hand, and sensitivity analyses on data with known truth."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import ipt_outcomes as ipt


def test_rubins_rules_by_hand():
    q, u, m, v_com = [1.0, 2.0, 3.0], [0.5, 0.5, 0.5], 3, 100.0
    r = ipt.pool_rubin(q, u, df_complete=v_com)
    w, b = 0.5, 1.0
    t = w + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t
    v_old = (m - 1) / lam ** 2
    v_obs = (v_com + 1) / (v_com + 3) * v_com * (1 - lam)
    v = v_old * v_obs / (v_old + v_obs)
    assert r["estimate"] == 2.0 and r["within"] == w and r["between"] == b
    assert r["total"] == pytest.approx(t) and r["std_error"] == pytest.approx(math.sqrt(t))
    assert r["df"] == pytest.approx(v)
    crit = stats.t.ppf(0.975, v)
    assert r["ci_lower"] == pytest.approx(2 - crit * math.sqrt(t))
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(2 / math.sqrt(t), v))
    with pytest.raises(ValueError):
        ipt.pool_rubin([1.0], [0.1])


def test_retention_and_last_observed_by_hand():
    rows = []
    for pid, arm, last in (("A", "IPT", 3), ("B", "IPT", 1), ("C", "TAU", 3), ("D", "TAU", 0)):
        for s in range(4):
            rows.append({"participant_id": pid, "arm": arm, "instrument": "PHQ9", "session": s,
                         "score": 10.0 if s <= last else np.nan})
    df = pd.DataFrame(rows)
    ret = ipt.retention(df, "PHQ9").set_index(["arm", "time"])
    assert ret.loc[("IPT", 2.0), "n_retained"] == 1 and ret.loc[("IPT", 1.0), "percent_retained"] == 100
    assert ret.loc[("TAU", 1.0), "n_retained"] == 1 and ret.loc[("TAU", 0.0), "n_observed"] == 2
    last = ipt.last_observed(df, "PHQ9").set_index(["arm", "last_time"])
    assert last.loc[("TAU", 0.0), "n"] == 1 and last.loc[("IPT", 1.0), "percent"] == 50


@pytest.fixture(scope="module")
def known():
    """1,000 participants, 12 sessions, 40 % dropout missing at random, true end difference -4.5 points."""
    df = ipt.simulate_trial(n_participants=1000, seed=31, sessions=(12, 12), dropout=0.4,
                            effect_sizes={"IPT": 1.0}, therapists_per_arm=0, instruments=["HAMD17"])
    truth = 12 * df.attrs["truth"]["instruments"]["HAMD17"]["fixed_effects"]["session:arm[IPT]"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ipt.SingularFitWarning)
        result = ipt.sensitivity_analyses(df, "HAMD17", n_imputations=20, at=12, complete_from=12, seed=5)
    return truth, result


def test_mi_and_mixed_model_unbiased_under_mar(known):
    truth, result = known
    t = result.table.set_index("analysis")
    for analysis in ("primary mixed model (MAR)", "multiple imputation (MAR)"):
        row = t.loc[analysis]
        assert abs(row["estimate"] - truth) < 3.29 * row["std_error"], (analysis, row["estimate"], truth)


def test_locf_biased_under_declining_trajectories(known):
    """Carrying forward a dropout's last score keeps it too high while others improve, shrinking the
    difference between arms (towards 0) well beyond chance."""
    truth, result = known
    t = result.table.set_index("analysis")
    locf = t.loc["LOCF (biased)"]
    assert locf["estimate"] - truth > 2 * locf["std_error"]
    assert abs(locf["estimate"] - truth) > abs(t.loc["multiple imputation (MAR)", "estimate"] - truth)


def test_tipping_point_is_where_the_interval_first_includes_zero(known):
    _, result = known
    point = result.tipping_points["IPT"]
    assert point is not None and point > 0
    grid = result.tipping
    held = grid[~grid["overturned"]]
    turned = grid[grid["overturned"]]
    assert held["delta"].max() < point <= turned["delta"].min()
    assert (held["ci_upper"] < 0).all()
    # shifting the IPT dropouts towards worse scores moves the estimate towards zero, monotonically
    assert (np.diff(grid["estimate"].to_numpy()) > 0).all()
    assert f"{point:.2f} points worse" in result.table.set_index("analysis").loc["delta-adjusted tipping point", "note"]


def test_sensitivity_on_example_reports_all_analyses(example_df):
    result = ipt.sensitivity_analyses(example_df, "HAMD17", n_imputations=5)
    assert list(result.table["analysis"]) == ["primary mixed model (MAR)", "completers only", "LOCF (biased)",
                                              "multiple imputation (MAR)", "delta-adjusted tipping point"]
    assert result.settings["complete_from"] == 12.0  # the study's planned minimum
    assert result.settings["at"] == 16.0


def test_pooled_ancova_equals_ols_when_every_imputation_is_the_same():
    """With identical imputations Rubin's rules return the single analysis: statsmodels OLS of
    end ~ arm + baseline is the reference for the estimate and its standard error."""
    import statsmodels.formula.api as smf

    from ipt_outcomes.missing.sensitivity import _pooled

    rng = np.random.default_rng(4)
    n = 80
    per = pd.DataFrame({"arm": np.where(np.arange(n) % 2, "IPT", "TAU"), "baseline": rng.normal(20, 4, n)})
    end = pd.Series(10 + 0.5 * per["baseline"] - 2.0 * (per["arm"] == "IPT") + rng.normal(0, 3, n))
    no_dropouts = pd.Series(False, index=per.index)
    got = _pooled([end, end.copy(), end.copy()], per, "TAU", "IPT", 0.0, no_dropouts, 1.0, 0.95)
    ols = smf.ols("end ~ C(arm, Treatment('TAU')) + baseline", data=per.assign(end=end)).fit()
    term = "C(arm, Treatment('TAU'))[T.IPT]"
    assert got["estimate"] == pytest.approx(ols.params[term], abs=1e-10)
    assert got["std_error"] == pytest.approx(ols.bse[term], rel=1e-10)


@pytest.mark.parametrize("delta, sign", [(3.5, 1.0), (2.0, -1.0)])
def test_shifted_pooled_ancova_equals_ols_of_the_shifted_scores(delta, sign):
    """The tipping-point search updates the ANCOVA algebraically for each shift; the reference is
    statsmodels OLS refitted on each imputation with the dropouts of the arm shifted by hand, pooled
    by Rubin's rules written out here (within + (1 + 1/m) between)."""
    import statsmodels.formula.api as smf

    from ipt_outcomes.missing.sensitivity import _pooled

    rng = np.random.default_rng(8)
    n, m = 90, 4
    per = pd.DataFrame({"arm": np.where(np.arange(n) % 3 == 0, "IPT", "TAU"), "baseline": rng.normal(20, 4, n)})
    dropouts = pd.Series(rng.random(n) < 0.3, index=per.index)
    ends = [pd.Series(10 + 0.5 * per["baseline"] - 2.0 * (per["arm"] == "IPT") + rng.normal(0, 3, n)) for _ in range(m)]
    got = _pooled(ends, per, "TAU", "IPT", delta, dropouts, sign, 0.95)
    term = "C(arm, Treatment('TAU'))[T.IPT]"
    shift = np.where(dropouts & (per["arm"] == "IPT"), sign * delta, 0.0)
    fits = [smf.ols("end ~ C(arm, Treatment('TAU')) + baseline", data=per.assign(end=e + shift)).fit() for e in ends]
    q = np.array([f.params[term] for f in fits])
    u = np.array([f.bse[term] ** 2 for f in fits])
    total = u.mean() + (1 + 1 / m) * q.var(ddof=1)
    assert got["estimate"] == pytest.approx(q.mean(), abs=1e-10)
    assert got["std_error"] == pytest.approx(np.sqrt(total), rel=1e-10)


def test_sensitivity_of_a_fit_is_the_sensitivity_analysis_and_refuses_other_models():
    """The report fits its primary model once and hands it on: the result must be the one
    sensitivity_analyses gives from the data, and a model with other settings is refused."""
    from ipt_outcomes.missing.sensitivity import sensitivity_of_fit

    trial = ipt.simulate_trial(n_participants=120, seed=5, instruments=["PHQ9"])
    direct = ipt.sensitivity_analyses(trial, "PHQ9", n_imputations=5, seed=3)
    fit = ipt.fit_growth(trial, outcome="PHQ9")
    handed = sensitivity_of_fit(trial, fit, n_imputations=5, seed=3)
    pd.testing.assert_frame_equal(handed.table, direct.table)
    assert handed.tipping_points == direct.tipping_points
    with pytest.raises(ipt.ArgumentError, match="default growth model"):
        sensitivity_of_fit(trial, ipt.fit_growth(trial, outcome="PHQ9", random="intercept"), n_imputations=5)
    with pytest.raises(ipt.ArgumentError, match="default growth model"):
        sensitivity_of_fit(trial, ipt.fit_growth(trial, outcome="PHQ9", covariates=["age"]), n_imputations=5)


def test_participants_take_the_first_recorded_arm_baseline_end_and_last_score_by_hand():
    """_participants, the table every sensitivity analysis starts from, by hand: the arm first recorded
    in file order (a missing arm skipped), the baseline at time 0, the end score (the last at or after
    complete_from) and the last score before it, whatever the order of the scores' rows."""
    from ipt_outcomes.missing.sensitivity import _participants

    rows = [("P1", None, 0, 20.0), ("P1", "IPT", 4, 15.0), ("P1", "TAU", 8, 12.0), ("P1", "IPT", 12, 9.0),
            ("P1", "TAU", 14, 8.0), ("P2", "TAU", 0, 22.0), ("P2", "TAU", 6, 21.0), ("P3", None, 0, 18.0)]
    df = pd.DataFrame(rows, columns=["participant_id", "arm", "session", "score"])
    df = pd.concat([df.iloc[:1], df.iloc[1:].sample(frac=1, random_state=2)])  # P1's first arm stays first
    first_recorded = df.loc[df["participant_id"] == "P1", "arm"].dropna().iloc[0]
    df["instrument"] = "HAMD17"
    df["arm"] = df["arm"].astype("string")
    per, wide = _participants(df, "HAMD17", "session", 12)
    assert per.loc["P1", "arm"] == first_recorded and per.loc["P2", "arm"] == "TAU"
    assert df.loc[df["participant_id"] == "P1", "arm"].dropna().iloc[-1] != first_recorded  # a break shows
    assert per.loc["P3", "arm"] not in ("IPT", "TAU")  # no arm recorded: not another participant's
    assert per["baseline"].tolist() == [20.0, 22.0, 18.0] and per.loc["P1", "end"] == 8.0
    assert per.loc["P1", "last_score"] == 12.0 and per.loc["P1", "last_time"] == 8
    assert per["completer"].tolist() == [True, False, False] and per.loc["P2", "last_score"] == 21.0
    np.testing.assert_array_equal(wide.to_numpy(), [[20, 15, np.nan, 12], [22, np.nan, 21, np.nan],
                                                    [18, np.nan, np.nan, np.nan]])  # times 0, 4, 6, 8


def test_the_imputation_step_draws_sigma2_and_beta_from_their_posterior():
    """A deterministic moment test of one imputation step (seeded): for a pattern with donors' (X'X)^-1,
    residual sum of squares RSS on nu df and the imputed participant's x, the imputed score has mean
    x'beta and variance E[sigma2] (1 + x'(X'X)^-1 x) with E[sigma2] = RSS / (nu - 2) (sigma2 drawn as
    RSS / chi2_nu, then beta ~ N(beta_hat, sigma2 (X'X)^-1)). Leaving out either draw moves the variance
    by far more than the tolerance (nu = 6: RSS / nu is 2/3 of the mean; x far from the donors: the beta
    term is 4.25 sigma2)."""
    from ipt_outcomes.missing.sensitivity import _impute, _Pattern

    beta = np.array([2.0, 0.5])
    inverse = np.array([[0.5, -0.05], [-0.05, 0.01]])
    x = np.array([1.0, 25.0])
    rss, nu = 60.0, 6
    pattern = _Pattern(rows=np.arange(1), beta=beta, inverse=inverse, rss=rss, dof=nu, design=x[None, :])
    per = pd.DataFrame({"end": [np.nan]})
    rng = np.random.default_rng(20261204)
    draws = np.array([_impute(per, [pattern], rng).iloc[0] for _ in range(40_000)])
    lever = float(x @ inverse @ x)
    mean, variance = float(x @ beta), rss / (nu - 2) * (1 + lever)
    assert lever == pytest.approx(4.25)
    assert draws.mean() == pytest.approx(mean, abs=4 * math.sqrt(variance / len(draws)))
    # the variance of a sample variance needs the fourth moment, which the t-like tails make large: 5 %
    assert draws.var() == pytest.approx(variance, rel=0.05)
    assert draws.var() > 1.2 * rss / nu * (1 + lever)  # sigma2 fixed at RSS / nu would be 2/3 of it
    assert draws.var() > 1.5 * rss / (nu - 2)          # no beta draw would be 1 / (1 + lever) of it


def test_imputation_when_every_completer_of_an_arm_has_the_same_baseline(example_df):
    df = example_df.copy()
    m = (df["arm"] == "IPT") & (df["session"] == 0) & (df["instrument"] == "HAMD17")
    df.loc[m, "score"] = 20.0
    result = ipt.sensitivity_analyses(df, "HAMD17", n_imputations=3, seed=1, check=False)
    imputed = result.table[result.table["analysis"] == "multiple imputation (MAR)"]
    assert len(imputed) == 1 and np.isfinite(imputed["estimate"]).all()
    assert "baseline is the same for every completer" in imputed["note"].iloc[0]
