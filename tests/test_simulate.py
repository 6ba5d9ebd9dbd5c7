"""The simulator: determinism, design, known truth, and the bundled example it made."""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

ROOT = Path(__file__).resolve().parent.parent


def test_same_seed_same_data_and_other_seed_differs():
    a = ipt.simulate_trial(n_participants=50, seed=7)
    b = ipt.simulate_trial(n_participants=50, seed=7)
    c = ipt.simulate_trial(n_participants=50, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["score"].equals(c["score"])


def test_simulated_trial_is_valid_canonical_data():
    df = ipt.simulate_trial(n_participants=120, seed=1, disorders=["depression", "perinatal_depression",
                                                                    "bulimia", "ptsd"])
    report = ipt.validate(df)
    assert report.ok and report.failures.empty, report.failures.head().to_string()
    expected = {"depression": "HAMD17", "perinatal_depression": "EPDS", "bulimia": "EDEQ_GLOBAL", "ptsd": "PCL5"}
    pairs = df[["disorder", "instrument"]].drop_duplicates()
    assert dict(zip(pairs["disorder"], pairs["instrument"], strict=True)) == expected
    for key, group in df.groupby("instrument"):
        inst = ipt.default_registry()[key]
        scores = group["score"].dropna()
        assert scores.between(inst.min, inst.max).all()
        if inst.integer:
            assert (scores == scores.round()).all()


def test_design_features():
    df = ipt.simulate_trial(n_participants=300, seed=2, arms=("IPT", "CBT", "TAU"),
                            effect_sizes={"IPT": 0.6, "CBT": 0.6})
    per = df.drop_duplicates("participant_id")
    assert per["arm"].value_counts().to_dict() == {"IPT": 100, "CBT": 100, "TAU": 100}
    # planned 12 to 16 sessions; assessments every session from 0
    completers = per[per["sessions_attended"] >= 12]
    assert completers["sessions_attended"].between(12, 16).all()
    assert (df.groupby("participant_id")["session"].min() == 0).all()
    # problem areas recorded in the IPT arm only, with at most one secondary that differs
    assert per.loc[per["arm"] != "IPT", "problem_area"].isna().all()
    ipt_arm = per[per["arm"] == "IPT"]
    assert ipt_arm["problem_area"].notna().all()
    both = ipt_arm.dropna(subset=["problem_area_secondary"])
    assert 0.15 < len(both) / len(ipt_arm) < 0.45
    assert (both["problem_area"] != both["problem_area_secondary"]).all()
    # therapists nested in arms
    assert (df.groupby("therapist_id")["arm"].nunique() == 1).all()
    truth = df.attrs["truth"]
    assert truth["reference_arm"] == "TAU"
    assert set(truth["instruments"]["HAMD17"]["fixed_effects"]) == {
        "Intercept", "session", "arm[IPT]", "session:arm[IPT]", "arm[CBT]", "session:arm[CBT]"}


@pytest.mark.parametrize("target", [0.1, 0.2, 0.35])
def test_dropout_rate_calibrated(target):
    df = ipt.simulate_trial(n_participants=400, seed=3, dropout=target)
    assert abs(df.attrs["truth"]["dropout_rate"] - target) < 0.02
    per = df.groupby("participant_id").agg(last=("session", "max"), dose=("sessions_attended", "first"))
    assert (per["last"] == per["dose"]).all()


def test_mar_dropout_depends_on_observed_scores():
    """Under MAR, those who leave had worse scores before leaving than those who stay (at session 4)."""
    df = ipt.simulate_trial(n_participants=2000, seed=4, dropout=0.3, therapists_per_arm=0)
    dose = df.groupby("participant_id")["sessions_attended"].first()
    s4 = df[(df["session"] == 4)].set_index("participant_id")["score"]
    left_soon = dose[(dose >= 4) & (dose < 8)].index
    stayed = dose[dose >= 12].index
    assert s4.reindex(left_soon).mean() > s4.reindex(stayed).mean() + 1.0
    mcar = ipt.simulate_trial(n_participants=2000, seed=4, dropout=0.3, dropout_mechanism="mcar", therapists_per_arm=0)
    dose = mcar.groupby("participant_id")["sessions_attended"].first()
    s4 = mcar[(mcar["session"] == 4)].set_index("participant_id")["score"]
    assert abs(s4.reindex(dose[(dose >= 4) & (dose < 8)].index).mean() - s4.reindex(dose[dose >= 12].index).mean()) < 1.0


def test_truth_matches_large_sample_moments():
    """With many participants and no rounding, arm means follow the true fixed effects."""
    df = ipt.simulate_trial(n_participants=6000, seed=5, dropout=0, integer_scores=False, sessions=(12, 12),
                            therapists_per_arm=0)  # few therapists would shift the arm means
    truth = df.attrs["truth"]["instruments"]["HAMD17"]["fixed_effects"]
    means = df.groupby(["arm", "session"])["score"].mean()
    assert means[("TAU", 0)] == pytest.approx(truth["Intercept"], abs=0.25)
    assert means[("TAU", 12)] - means[("TAU", 0)] == pytest.approx(12 * truth["session"], abs=0.3)
    ipt_change = means[("IPT", 12)] - means[("IPT", 0)]
    assert ipt_change == pytest.approx(12 * (truth["session"] + truth["session:arm[IPT]"]), abs=0.3)
    # Feingold d: arm x time * duration / baseline SD
    sd0 = df[df["session"] == 0]["score"].std()
    d = -truth["session:arm[IPT]"] * 12 / sd0
    assert d == pytest.approx(0.6, abs=0.05)


def test_log_shape_and_keep_missing():
    df = ipt.simulate_trial(n_participants=80, seed=6, time_shape="log", missing="keep")
    truth = df.attrs["truth"]["instruments"]["HAMD17"]["fixed_effects"]
    assert "log(session + 1)" in truth and "log(session + 1):arm[IPT]" in truth
    dose = df.groupby("participant_id")["sessions_attended"].first()
    after = df[df["session"] > df["participant_id"].map(dose)]
    assert len(after) > 0 and after["score"].isna().all()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"n_participants": 1}, "n_participants"),
    ({"arms": ("IPT", "IPT")}, "distinct"),
    ({"reference_arm": "CBT"}, "reference_arm"),
    ({"effect_sizes": {"CBT": 0.3}}, "effect_sizes"),
    ({"disorders": ["flu"]}, "unknown value"),
    ({"sessions": (16, 12)}, "sessions"),
    ({"dropout": 1.2}, "dropout"),
    ({"instruments": ["NOPE"]}, "not in the registry"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ipt.IPTOutcomesError, match=match):
        ipt.simulate_trial(**kwargs)


def test_bundled_example_is_what_the_script_makes(tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "make_example_trial.py"))
    out = tmp_path / "example.csv"
    script["main"](out)
    assert out.read_bytes() == ipt.example_path().read_bytes()


def test_bundled_example_loads_and_validates(example_df):
    report = ipt.validate(example_df)
    assert report.ok and report.failures.empty
    assert report.n_participants == 160
    assert set(example_df["instrument"]) == {"HAMD17", "PHQ9"}
    assert np.isclose(report.missing_scores["n_missing"].sum(), example_df["score"].isna().sum())
