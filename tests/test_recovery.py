"""Parameter recovery (a smaller version of scripts/recovery.py, whose 200-replicate table is in
docs/recovery.md): the arm x time effect is estimated without bias and its 95 % interval covers the
truth as often as Monte Carlo error allows. Bands are 99.9 % Monte Carlo bands, not tuned values."""

from __future__ import annotations

import math

import pytest

from ipt_outcomes.models.planning.recovery import binomial_band, recovery_study, summarise_recovery

REPLICATES = 30


@pytest.fixture(scope="module")
def results():
    return recovery_study(REPLICATES, seed=3,
                          simulate={"n_participants": 80, "dropout": 0.2, "therapists_per_arm": 0,
                                    "integer_scores": False},
                          fit={"random": "slope", "reference_arm": "TAU", "check": False})  # unrounded scores


def test_unbiased(results):
    s = summarise_recovery(results)
    assert abs(s["bias"]) < 3.29 * s["bias_mc_se"], s


def test_coverage_within_monte_carlo_band(results):
    s = summarise_recovery(results)
    lo, hi = binomial_band(REPLICATES)
    assert lo <= s["coverage"] <= hi, s


def test_model_se_matches_spread_of_estimates(results):
    """The mean model SE estimates the SD of the estimates: their ratio's Monte Carlo SD is about
    1/sqrt(2(R-1)), so 3.29 of those bound it."""
    s = summarise_recovery(results)
    tolerance = 3.29 / math.sqrt(2 * (REPLICATES - 1))
    assert abs(s["mean_model_se"] / s["empirical_se"] - 1) < tolerance, s
    assert (results["converged"]).all()
