"""Power by simulation and the parametric bootstrap: reproducible, and right where theory says."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.models.planning.recovery import binomial_band

SMALL = {"sessions": (8, 8), "schedule": {"HAMD17": [0, 2, 4, 6, 8]}}


def test_power_is_reproducible_whatever_the_number_of_processes():
    one = ipt.power_simulation(60, n_replicates=24, seed=3, simulate=SMALL, n_jobs=1, progress=False)
    two = ipt.power_simulation(60, n_replicates=24, seed=3, simulate=SMALL, n_jobs=2, progress=False)
    assert one.equals(two)
    row = one.iloc[0]
    assert row["replicates"] + row["failed"] == 24
    assert row["mc_se"] == pytest.approx(math.sqrt(row["power"] * (1 - row["power"]) / row["replicates"]))
    assert row["ci_lower"] <= row["power"] <= row["ci_upper"]


def test_type_one_error_under_the_null():
    """With no true effect, the Satterthwaite test rejects about alpha of the time."""
    res = ipt.power_simulation(60, effect_size=0.0, n_replicates=300, seed=11, simulate=SMALL, progress=False).iloc[0]
    lo, hi = binomial_band(int(res["replicates"]), p=0.05)
    assert lo <= res["power"] <= hi, res
    assert res["truth"] == 0


def test_power_rises_with_sample_size_and_estimates_are_unbiased():
    res = ipt.power_simulation([40, 160], effect_size=0.6, n_replicates=60, seed=5, simulate=SMALL, progress=False)
    assert res["power"].iloc[1] > res["power"].iloc[0]
    assert (res["mean_estimate"] - res["truth"]).abs().max() < 0.25 * abs(res["truth"].iloc[0])


def test_power_arguments():
    with pytest.raises(ipt.ArgumentError):
        ipt.power_simulation(2, n_replicates=10, progress=False)


@pytest.fixture(scope="module")
def fit():
    df = ipt.simulate_trial(n_participants=120, seed=8, therapists_per_arm=0)
    return ipt.fit_growth(df, "HAMD17", reference_arm="TAU")


def test_bootstrap_se_matches_model_se(fit):
    """The bootstrap SD of each coefficient estimates its SE; with B replicates its relative Monte
    Carlo error is about 1/sqrt(2(B - 1))."""
    b = 200
    boot = ipt.parametric_bootstrap(fit, n_boot=b, seed=2, progress=False).set_index("name")
    model = fit.fixed_effects.set_index("term")
    ratio = boot["boot_se"] / model["std_error"]
    assert (ratio - 1).abs().max() < 3.29 / math.sqrt(2 * (b - 1)), ratio
    assert (boot["ci_lower"] < boot["estimate"]).all() and (boot["estimate"] < boot["ci_upper"]).all()
    assert (boot["n_failed"] == 0).all() and (boot["n_boot"] == b).all()


def test_bootstrap_of_a_derived_quantity_is_reproducible(fit):
    def stat(f):
        d = f.arm_differences(at=12).iloc[0]
        return {"difference": d["difference"], "d": d["effect_size_d"]}

    a = ipt.parametric_bootstrap(fit, statistic=stat, n_boot=30, seed=4, progress=False)
    b = ipt.parametric_bootstrap(fit, statistic=stat, n_boot=30, seed=4, progress=False)
    assert a.equals(b)
    assert list(a["name"]) == ["difference", "d"]
    assert a.loc[0, "estimate"] == pytest.approx(fit.arm_differences(at=12)["difference"].iloc[0])
    assert np.isfinite(a["boot_se"]).all()
