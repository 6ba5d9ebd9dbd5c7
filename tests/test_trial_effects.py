"""ipt.trial_effects (each trial's arm effect) by hand against the growth model it summarises, and the
two-stage pipeline (harmonise -> trial_effects -> meta_analysis) recovering a known pooled effect
and a known difference between disorders in simulated trials measured on different instruments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt


def _trials(spec, n=200, seed=0):
    out = []
    for i, (disorder, d) in enumerate(spec):
        t = ipt.simulate_trial(n, seed=seed + i, trial_id=f"T{i:02d}", disorders=(disorder,),
                               effect_sizes={"IPT": d}, therapist_icc=0.0)
        out.append(t)
    return pd.concat(out, ignore_index=True)


@pytest.fixture(scope="module")
def two():
    return _trials([("depression", 0.6), ("depression", 0.3)], n=120, seed=40)


def test_mean_difference_is_each_trials_growth_model_difference(two):
    effects = ipt.trial_effects(two, "HAMD17")
    assert list(effects["label"]) == ["T00 IPT vs TAU", "T01 IPT vs TAU"]
    for row in effects.itertuples():
        part = two[two["trial_id"] == row.trial_id]
        diff = ipt.fit_growth(part, "HAMD17", check=False).arm_differences().iloc[0]
        assert row.estimate == pytest.approx(diff["difference"], rel=1e-12)
        assert row.std_error == pytest.approx(diff["std_error"], rel=1e-12)
        assert row.time == diff["time"] and row.disorder == "depression"


def test_d_and_g_by_hand(two):
    md = ipt.trial_effects(two, "HAMD17")
    d = ipt.trial_effects(two, "HAMD17", effect="d")
    g = ipt.trial_effects(two, "HAMD17", effect="g")
    for i, trial in enumerate(["T00", "T01"]):
        part = two[(two["trial_id"] == trial) & (two["instrument"] == "HAMD17") & (two["session"] == 0)]
        groups = [part.loc[part["arm"] == a, "score"].dropna().to_numpy() for a in ("IPT", "TAU")]
        sd = np.sqrt(sum((len(x) - 1) * x.var(ddof=1) for x in groups) / sum(len(x) - 1 for x in groups))
        assert d["estimate"][i] == pytest.approx(md["estimate"][i] / sd, rel=1e-12)
        assert d["std_error"][i] == pytest.approx(md["std_error"][i] / sd, rel=1e-12)
        n = d["n_arm"][i] + d["n_reference"][i]
        j = 1 - 3 / (4 * n - 9)
        assert g["estimate"][i] == pytest.approx(j * d["estimate"][i], rel=1e-12)
        assert g["std_error"][i] == pytest.approx(j * d["std_error"][i], rel=1e-12)


def test_three_arms_give_a_row_per_arm():
    t = ipt.simulate_trial(150, seed=3, arms=("IPT", "CBT", "TAU"), effect_sizes={"IPT": 0.6, "CBT": 0.5})
    effects = ipt.trial_effects(t, "HAMD17")
    assert sorted(effects["arm"]) == ["CBT", "IPT"] and set(effects["reference_arm"]) == {"TAU"}


def test_recovers_a_pooled_effect_and_a_difference_between_disorders():
    """Eight depression trials (HAM-D 17, true d 0.6) and eight PTSD trials (PCL-5, true d 0.2),
    harmonised to baseline-SD units: the pooled d of each disorder and their difference (0.4) are
    recovered within three standard errors, and the test for subgroup differences detects it."""
    spec = [("depression", 0.6)] * 8 + [("ptsd", 0.2)] * 8
    pooled = ipt.harmonise(_trials(spec, n=200, seed=100), "baseline_sd")
    effects = ipt.trial_effects(pooled, "BASELINE_SD", effect="d")
    assert set(effects["disorder"]) == {"depression", "ptsd"}
    fit = ipt.meta_analysis(effects, by="disorder")
    groups = fit.subgroups.set_index("disorder")
    for disorder, truth in (("depression", -0.6), ("ptsd", -0.2)):
        assert abs(groups.loc[disorder, "estimate"] - truth) < 3 * groups.loc[disorder, "std_error"] + 0.05, disorder
    difference = groups.loc["ptsd", "estimate"] - groups.loc["depression", "estimate"]
    se = np.hypot(groups.loc["ptsd", "std_error"], groups.loc["depression", "std_error"])
    assert abs(difference - 0.4) < 3 * se + 0.05
    assert fit.q_between_p_value < 0.01


def test_refusals(two):
    with pytest.raises(ipt.ArgumentError, match="effect must be one of"):
        ipt.trial_effects(two, "HAMD17", effect="smd")
