"""Edge cases that must never give a silently wrong answer (issue 9)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.models.engine.satterthwaite import SatterthwaiteState, theta_sigma, varpar_from_theta


def test_infinite_satterthwaite_df_is_never_returned_silently(example_df):
    """Where lmerTest's formula gives infinite df (the covariance parameters do not inform a
    contrast's variance), the residual df are used with an ApproximationWarning and a note."""
    fit = ipt.fit_growth(example_df, outcome="HAMD17", reference_arm="TAU")
    p = len(fit.fixed_effects)
    state = fit.satterthwaite_state
    fit.satterthwaite_state = SatterthwaiteState(state.vcov, np.zeros((p, p, state.A.shape[0])), state.A)
    with pytest.warns(ipt.ApproximationWarning, match="residual df"):
        result = fit.contrast(np.eye(p)[1])
    assert result["df"] == fit.n_obs - p
    assert math.isfinite(result["p_value"])
    assert any("residual df" in note for note in fit.notes)


def test_undefined_df_is_never_returned_silently(example_df):
    fit = ipt.fit_growth(example_df, outcome="HAMD17", reference_arm="TAU")
    p = len(fit.fixed_effects)
    state = fit.satterthwaite_state
    fit.satterthwaite_state = SatterthwaiteState(state.vcov, state.jac, np.full_like(state.A, np.nan))
    with pytest.warns(ipt.ApproximationWarning, match="undefined"):
        assert fit.contrast(np.eye(p)[0])["df"] == fit.n_obs - p


@pytest.mark.parametrize("varpar", [[4.0, -0.3, 0.09, 6.0], [4.0, 0.6, 0.09, 6.0], [4.0, 0.0, 0.0, 6.0]])
def test_theta_sigma_round_trip(varpar):
    """lme4's parameters (relative Cholesky factor, sigma) and back, including a correlation of +1."""
    varpar = np.array(varpar)
    np.testing.assert_allclose(varpar_from_theta(theta_sigma(varpar, 2, False), 2, False), varpar, atol=1e-12)


def _pre_post(n: int = 60, seed: int = 5, arms: tuple[str, str] = ("IPT", "TAU")) -> pd.DataFrame:
    """A pre/post trial: every participant assessed at sessions 0 and 16 (HAM-D 17)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        arm = arms[i % 2]
        base = rng.normal(20, 4)
        post = base - (8 if arm == arms[0] else 4) + rng.normal(0, 3)
        for session, score in ((0, base), (16, post)):
            rows.append({"participant_id": f"P{i:03d}", "arm": arm, "disorder": "depression", "instrument": "HAMD17",
                         "score": float(np.clip(round(score), 0, 52)), "session": session})
    return pd.DataFrame(rows)


def test_random_slope_with_two_occasions_falls_back_to_intercept_and_says_so():
    """lme4 refuses (session | participant_id) when observations <= random effects (check.nobs.vs.nRE);
    by default the toolkit fits a random intercept instead and says so."""
    with pytest.warns(ipt.ModelFallbackWarning, match="120 observations for 120 participant random effects"):
        fit = ipt.fit_growth(_pre_post(), outcome="HAMD17")
    assert fit.spec.random == "intercept"
    assert list(fit.variance_components["term1"].dropna()) == ["Intercept"]
    assert any("random intercept model was fitted instead" in note for note in fit.notes)
    assert "random intercept model was fitted instead" in fit.summary_text()


def test_explicit_random_slope_on_two_occasions_is_refused():
    with pytest.raises(ipt.AnalysisError, match=r'not identifiable.*random="intercept"'):
        ipt.fit_growth(_pre_post(), outcome="HAMD17", random="slope")


def test_two_occasions_with_some_dropouts_is_still_refused():
    """Fewer observations than random effects once a few post scores are missing."""
    df = _pre_post()
    df = df[~((df["session"] == 16) & df["participant_id"].isin(["P001", "P002"]))]
    with pytest.raises(ipt.AnalysisError, match="118 observations for 120"):
        ipt.fit_growth(df, outcome="HAMD17", random="slope")


def test_random_intercept_with_one_row_per_participant_is_refused():
    df = _pre_post()
    index = df["participant_id"].str[1:].astype(int)
    one_each = df[df["session"] == np.where((index // 2) % 2 == 0, 0, 16)]
    assert one_each["participant_id"].is_unique
    with pytest.raises(ipt.AnalysisError, match="60 observations for 60 participant random effects"):
        ipt.fit_growth(one_each, outcome="HAMD17", random="intercept")


def test_cli_fit_states_the_fallback_and_refuses_an_explicit_slope(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "prepost.csv"
    _pre_post().to_csv(path, index=False)
    ok = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "fit", str(path), "--outcome", "HAMD17"],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "random intercept model was fitted instead" in ok.stdout
    assert "--random intercept" in ok.stdout and 'random="intercept"' not in ok.stdout
    refused = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "fit", str(path), "--outcome", "HAMD17",
                              "--random", "slope"], capture_output=True, text=True)
    assert refused.returncode == 1
    assert "not identifiable" in refused.stderr and "--random intercept" in refused.stderr
    assert "Traceback" not in refused.stderr


# --- one reference-arm rule -------------------------------------------------------------------

@pytest.mark.parametrize(("arms", "expected", "how"), [
    (["IPT", "Placebo"], "Placebo", "control_name"),
    (["IPT", "TAU"], "TAU", "control_name"),
    (["IPT + TAU", "TAU"], "TAU", "control_name"),
    (["IPT", "wait-list"], "wait-list", "control_name"),
    (["IPT", "Enhanced usual care"], "Enhanced usual care", "control_name"),
    (["IPT", "CBT"], "CBT", "sorted"),
])
def test_reference_arm_rule(arms, expected, how):
    from ipt_outcomes.arms import choose_reference_arm

    ref = choose_reference_arm(arms)
    assert (ref.arm, ref.how) == (expected, how)
    assert expected in ref.statement


@pytest.mark.filterwarnings("ignore::ipt_outcomes.ApproximationWarning")
def test_every_function_uses_the_same_reference_arm():
    """IPT vs Placebo: the growth model, clinical summary and sensitivity analyses all compare with
    Placebo (a clinical summary used to compare Placebo with IPT)."""
    df = _pre_post(arms=("IPT", "Placebo"))
    with pytest.warns(ipt.ModelFallbackWarning):
        fit = ipt.fit_growth(df, outcome="HAMD17")
    assert fit.spec.reference_arm == "Placebo"
    assert any("reference arm Placebo" in n for n in fit.notes)
    cc = ipt.clinical_change(df, "HAMD17", reliability=0.9)
    summary = ipt.summarise_change(cc)
    assert summary.attrs["reference_arm"] == "Placebo"
    compared = summary.dropna(subset=["risk_difference"])
    assert set(compared["arm"]) == {"IPT"}
    with pytest.warns(ipt.ModelFallbackWarning):
        sens = ipt.sensitivity_analyses(df, "HAMD17", n_imputations=5)
    assert set(sens.table["reference_arm"]) == {"Placebo"}


@pytest.mark.filterwarnings("ignore::ipt_outcomes.DataWarning")
def test_study_reference_arm_reaches_the_clinical_summary(example_df):
    cc = ipt.clinical_change(example_df, "HAMD17", reliability=0.9)
    assert ipt.summarise_change(cc).attrs["reference_statement"].endswith("(from the study file)")


# --- singular fits name the component ----------------------------------------------------------

def test_singular_fit_names_the_correlation_and_the_remedy():
    from pathlib import Path

    data = pd.read_csv(Path(__file__).parent / "reference" / "data" / "corr_one.csv", dtype={"participant_id": str})
    data["instrument"] = "X"
    with pytest.warns(ipt.SingularFitWarning, match=r'correlation of the participant intercept and session slope is \+1.*'
                                                     r'random="intercept"'):
        ipt.fit_growth(data, outcome="X", reference_arm="TAU", check=False)


def test_singular_fit_names_the_therapist_variance():
    sim = ipt.simulate_trial(n_participants=80, seed=1, therapists_per_arm=4, therapist_icc=0.0, dropout=0.1)
    with pytest.warns(ipt.SingularFitWarning, match=r"therapist_id intercept variance is 0.*therapist=None"):
        fit = ipt.fit_growth(sim, outcome="HAMD17", therapist="therapist_id", random="intercept", reference_arm="TAU")
    assert fit.singular


# --- a header without rows ---------------------------------------------------------------------

def test_header_without_rows_fails_validation(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "empty.csv"
    path.write_text("participant_id,arm,disorder,instrument,score,session\n", encoding="utf-8")
    report = ipt.validate(ipt.load(path))
    assert not report.ok
    assert report.errors["check"].tolist() == ["no_rows"]
    assert str(path) in report.errors["message"].iloc[0]
    done = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "validate", str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 1
    assert "a header and no rows" in done.stdout + done.stderr


# --- moderators ----------------------------------------------------------------------------------

def test_moderator_with_one_level_is_an_error_that_names_it():
    sim = ipt.simulate_trial(n_participants=60, seed=3)
    assert sim["disorder"].nunique() == 1
    with pytest.raises(ipt.AnalysisError, match="moderator 'disorder' has one level"):
        ipt.fit_growth(sim, outcome="HAMD17", moderators=["disorder"], reference_arm="TAU")


def test_numeric_moderator_is_continuous_not_one_dummy_per_value():
    sim = ipt.simulate_trial(n_participants=80, seed=4)
    per = sim.groupby("participant_id")["arm"].first()
    ages = pd.Series(np.random.default_rng(1).integers(18, 65, len(per)), index=per.index)
    sim["age"] = sim["participant_id"].map(ages)
    fit = ipt.fit_growth(sim, outcome="HAMD17", moderators=["age"], reference_arm="TAU")
    assert [t for t in fit.fixed_effects["term"] if "age" in t] == ["age", "arm[IPT]:age", "session:age",
                                                                    "session:arm[IPT]:age"]
    with pytest.raises(ipt.ArgumentError, match="continuous"):
        fit.arm_differences(by="age")
    sim["age"] = 40
    with pytest.raises(ipt.AnalysisError, match="moderator 'age' takes one value"):
        ipt.fit_growth(sim, outcome="HAMD17", moderators=["age"], reference_arm="TAU")


# --- study-declared instruments ------------------------------------------------------------------

def _wellbeing_trial(tmp_path):
    """Session-by-session scores of a study-declared wellbeing scale (higher is better): participant
    W01 jumps up by 12 points between sessions 3 and 4 (a sudden gain), W02 drops by 12 (a loss)."""
    rows = []
    courses = {"W01": [20, 21, 20, 21, 33, 34, 33, 34], "W02": [34, 33, 34, 33, 21, 20, 21, 20]}
    rng = np.random.default_rng(2)
    for i in range(3, 13):
        courses[f"W{i:02d}"] = list(np.clip(np.round(25 + np.arange(8) * 0.5 + rng.normal(0, 1, 8)), 0, 50))
    for pid, scores in courses.items():
        for s, y in enumerate(scores):
            rows.append({"participant_id": pid, "arm": "IPT" if int(pid[1:]) % 2 else "TAU", "disorder": "depression",
                         "instrument": "WELLB", "score": float(y), "session": s})
    data = tmp_path / "wellbeing.csv"
    pd.DataFrame(rows).to_csv(data, index=False)
    study = tmp_path / "study.yaml"
    study.write_text("instruments:\n  WELLB: {min: 0, max: 50, higher_is: better, reliability: 0.9, reliable_change: 6}\n",
                     encoding="utf-8")
    return ipt.load(data, study=study)


def test_sudden_gains_read_a_declared_higher_is_better_scale(tmp_path):
    df = _wellbeing_trial(tmp_path)
    gains = ipt.sudden_gains(df, "WELLB")
    assert gains.attrs["threshold"] == 6
    assert list(gains["participant_id"]) == ["W01"]      # the rise, not W02's drop
    assert gains["pre_gain_score"].iloc[0] == 21 and gains["post_gain_score"].iloc[0] == 33
    assert gains["gain"].iloc[0] == 12


def test_declared_reliability_is_used_not_refused(tmp_path):
    df = _wellbeing_trial(tmp_path)
    gains = ipt.sudden_gains(df.assign(), "WELLB", reliability=None)
    assert len(gains) == 1
    cc = ipt.clinical_change(df, "WELLB")
    assert cc.attrs["settings"]["reliability"] == 0.9
    assert cc.attrs["settings"]["higher_is"] == "better"


def test_declared_instrument_is_not_renamed_to_a_registry_alias(tmp_path):
    path = tmp_path / "bdi.csv"
    pd.DataFrame({"participant_id": ["A", "A"], "arm": ["IPT", "IPT"], "disorder": ["depression"] * 2,
                  "instrument": ["BDI", "BDI"], "score": [30.0, 12.0], "session": [0, 8]}).to_csv(path, index=False)
    study = tmp_path / "study.yaml"
    study.write_text("instruments:\n  BDI: {min: 0, max: 63, higher_is: worse}\n", encoding="utf-8")
    assert set(ipt.load(path, study=study)["instrument"]) == {"BDI"}
    assert set(ipt.load(path)["instrument"]) == {"BDI2"}       # without the study, BDI is the registry's alias


def test_sensitivity_shifts_a_higher_is_better_scale_downwards(tmp_path):
    """The tipping-point shift makes dropouts' scores worse: lower on a higher-is-better scale."""
    from ipt_outcomes.missing.sensitivity import _pooled

    per = pd.DataFrame({"arm": ["IPT"] * 4 + ["TAU"] * 4, "baseline": [20.0, 22, 25, 21, 20, 23, 24, 22]})
    imputed = [pd.Series([30.0, 31, 35, 29, 25, 26, 27, 24], index=per.index)]
    dropouts = pd.Series([True, False, False, False, False, False, False, False], index=per.index)
    base = _pooled(imputed * 2, per, "TAU", "IPT", 0.0, dropouts, -1.0, 0.95)["estimate"]
    shifted = _pooled(imputed * 2, per, "TAU", "IPT", 4.0, dropouts, -1.0, 0.95)["estimate"]
    assert shifted < base


# --- completers and weeks ------------------------------------------------------------------------

@pytest.mark.parametrize(("seed", "dropout"), [(2, 0.3), (7, 0.15)])
def test_completers_are_close_to_the_true_non_dropouts(seed, dropout):
    sim = ipt.simulate_trial(n_participants=200, seed=seed, dropout=dropout)
    sens = ipt.sensitivity_analyses(sim, "HAMD17", n_imputations=3)
    true_dropouts = sim.attrs["truth"]["dropout_rate"] * 200
    assert abs(sens.settings["n_dropouts"] - true_dropouts) <= 10
    assert "75 % of the upper quartile of last assessments" in sens.settings["completer_rule"]


def test_example_without_its_study_file_keeps_its_conclusion():
    """Without sessions.min, completers used to be only those seen at the last session, and MI turned
    p < .001 into p = .41."""
    df = ipt.load(ipt.example_path())
    sens = ipt.sensitivity_analyses(df, "HAMD17", n_imputations=20)
    mi = sens.table[sens.table["analysis"] == "multiple imputation (MAR)"]
    assert mi["p_value"].iloc[0] < 0.001
    assert sens.settings["n_dropouts"] < 0.3 * df["participant_id"].nunique()


@pytest.mark.filterwarnings("ignore::ipt_outcomes.IPTOutcomesWarning")
def test_week_schedule_end_to_end(tmp_path):
    import subprocess
    import sys

    sim = ipt.simulate_trial(n_participants=60, seed=5).drop(columns=["session"])
    path = tmp_path / "weeks.csv"
    sim.to_csv(path, index=False)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", *args], capture_output=True, text=True)

    assert run("validate", str(path)).returncode == 0
    fit = run("fit", str(path), "--outcome", "HAMD17")
    assert fit.returncode == 0, fit.stderr
    assert "time: week (linear)" in fit.stdout
    assert "reference arm TAU (its name marks a control condition; pass --reference-arm to change)" in fit.stdout
    clinical = run("clinical", str(path), "--outcome", "HAMD17", "--imputations", "3")
    assert clinical.returncode == 0, clinical.stderr
    assert "time column week (the only time column in the data)" in clinical.stdout
    assert "completers: observed at week" in clinical.stdout
    report = run("report", str(path), "--outcome", "HAMD17", "--out", str(tmp_path / "r.html"), "--imputations", "3")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Analysis choices: reference arm TAU" in page and "time column week" in page
    ipt_fit = ipt.fit_growth(sim, "HAMD17")
    assert ipt_fit.spec.time == "week"


def test_example_command_copies_the_bundled_files_and_never_replaces_them(tmp_path):
    import subprocess
    import sys

    def run(*args):
        return subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "example", *args], capture_output=True,
                              text=True)

    assert run("--out-dir", str(tmp_path)).returncode == 0
    assert (tmp_path / "example_trial.csv").read_bytes() == ipt.example_path().read_bytes()
    assert (tmp_path / "example_trial_study.yaml").read_bytes() == ipt.example_study_path().read_bytes()
    (tmp_path / "example_trial.csv").write_text("mine", encoding="utf-8")
    again = run("--out-dir", str(tmp_path))
    assert again.returncode == 2 and "--force" in again.stderr
    assert (tmp_path / "example_trial.csv").read_text(encoding="utf-8") == "mine"


def test_windows_1252_text_keeps_en_dashes_and_euro_signs(tmp_path):
    path = tmp_path / "cp1252.csv"
    text = ("participant_id,arm,disorder,instrument,score,session,note\n"
            "A1,IPT,depression,HAMD17,20,0,cost \u20ac5 \u2013 paid\nA1,IPT,depression,HAMD17,12,8,ok\n")
    path.write_bytes(text.encode("cp1252"))
    assert ipt.load(path)["note"].iloc[0] == "cost \u20ac5 \u2013 paid"
