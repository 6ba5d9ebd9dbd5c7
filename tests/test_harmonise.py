"""ipt.harmonise: POMP and baseline-SD units by hand, including a higher-is-better instrument, the
invariance of baseline-SD units to a linear change of scale, and the refusals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.study import registry_in_force


def _table(instrument: str, baseline: dict[str, list[float]], later: float = 10.0, trial: str = "T1") -> pd.DataFrame:
    rows = []
    for arm, scores in baseline.items():
        for i, s in enumerate(scores):
            pid = f"{trial}-{arm}{i}"
            for session, value in ((0, s), (12, later)):
                rows.append({"trial_id": trial, "participant_id": pid, "arm": arm, "disorder": "depression",
                             "instrument": instrument, "session": session, "score": value})
    return pd.DataFrame(rows)


def test_pomp_by_hand_with_direction_aligned():
    hamd = _table("HAMD17", {"IPT": [26.0, 13.0], "TAU": [52.0, 0.0]})
    out = ipt.harmonise(hamd, "pomp")
    np.testing.assert_allclose(out.loc[out["session"] == 0, "score"], [50.0, 25.0, 100.0, 0.0])  # 0..52
    wais = _table("WAISR", {"IPT": [12.0, 36.0], "TAU": [60.0, 48.0]})  # 12..60, higher is better
    out = ipt.harmonise(wais, "pomp")
    np.testing.assert_allclose(out.loc[out["session"] == 0, "score"], [100.0, 50.0, 0.0, 25.0])
    assert set(out["instrument"]) == {"POMP"} and set(out["source_instrument"]) == {"WAISR"}
    np.testing.assert_allclose(out["source_score"], wais["score"])


def test_baseline_sd_by_hand():
    df = _table("HAMD17", {"IPT": [20.0, 24.0, 22.0], "TAU": [18.0, 26.0]}, later=16.0)
    out = ipt.harmonise(df, "baseline_sd")
    # within-arm variances 4 (df 2) and 32 (df 1): pooled SD sqrt((2*4 + 1*32) / 3); baseline mean 22
    sd = np.sqrt((2 * 4 + 32) / 3)
    np.testing.assert_allclose(out.loc[out["session"] == 0, "score"], (np.array([20, 24, 22, 18, 26]) - 22) / sd)
    np.testing.assert_allclose(out.loc[out["session"] == 12, "score"], (16 - 22) / sd)
    wais = _table("WAISR", {"IPT": [30.0, 34.0, 32.0], "TAU": [28.0, 36.0]}, later=38.0)
    flipped = ipt.harmonise(wais, "baseline_sd")  # higher is better: the sign turns
    np.testing.assert_allclose(flipped.loc[flipped["session"] == 12, "score"], -(38 - 32) / sd)


def test_baseline_sd_units_do_not_depend_on_the_instruments_scale():
    """A trial rescored on another instrument by a linear map (EPDS = 2 + 0.5 HAM-D; and a
    higher-is-better one, WAIS-R = 60 - 0.8 HAM-D) gives the same baseline-SD scores."""
    trial = ipt.simulate_trial(120, seed=3)
    trial = trial[trial["instrument"] == "HAMD17"].reset_index(drop=True)
    as_epds = trial.assign(instrument="EPDS", score=2 + 0.5 * trial["score"])
    as_wais = trial.assign(instrument="WAISR", score=60 - 0.8 * trial["score"])
    base = ipt.harmonise(trial, "baseline_sd")["score"].to_numpy()
    np.testing.assert_allclose(ipt.harmonise(as_epds, "baseline_sd")["score"], base, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ipt.harmonise(as_wais, "baseline_sd")["score"], base, rtol=1e-12, atol=1e-12)


def test_each_trial_its_own_sd_and_instrument_and_the_result_validates():
    a = _table("HAMD17", {"IPT": [20.0, 24.0], "TAU": [18.0, 22.0]}, trial="A")
    b = _table("EPDS", {"IPT": [10.0, 14.0], "TAU": [11.0, 15.0]}, trial="B")
    pooled = pd.concat([a, b], ignore_index=True)
    before = pooled.copy()
    out = ipt.harmonise(pooled, "baseline_sd")
    pd.testing.assert_frame_equal(pooled, before)  # the input is not changed
    for trial, part in out.groupby("trial_id"):
        base = part.loc[part["session"] == 0, "score"]
        assert base.mean() == pytest.approx(0.0, abs=1e-12), trial
    reg = registry_in_force(out)
    assert reg["BASELINE_SD"].min <= out["score"].min() and out["score"].max() <= reg["BASELINE_SD"].max
    assert ipt.validate(out).ok
    assert ipt.validate(ipt.harmonise(pooled, "pomp")).ok


def test_choice_of_instrument_and_refusals():
    two = pd.concat([_table("HAMD17", {"IPT": [20.0, 24.0], "TAU": [18.0, 22.0]}),
                     _table("PHQ9", {"IPT": [10.0, 14.0], "TAU": [11.0, 15.0]})], ignore_index=True)
    with pytest.raises(ipt.ArgumentError, match="has the instruments HAMD17, PHQ9: choose"):
        ipt.harmonise(two)
    assert set(ipt.harmonise(two, instrument="PHQ9")["source_instrument"]) == {"PHQ9"}
    assert set(ipt.harmonise(two, instrument={"T1": "HAMD17"})["source_instrument"]) == {"HAMD17"}
    with pytest.raises(ipt.ArgumentError, match="has no GAD7 scores"):
        ipt.harmonise(two, instrument="GAD7")
    odd = _table("MYSCALE", {"IPT": [1.0, 2.0], "TAU": [1.0, 3.0]})
    with pytest.raises(ipt.AnalysisError, match="MYSCALE are not in the registry"):
        ipt.harmonise(odd)
    flat = _table("HAMD17", {"IPT": [20.0, 20.0], "TAU": [20.0, 20.0]})
    with pytest.raises(ipt.AnalysisError, match="do not vary"):
        ipt.harmonise(flat, "baseline_sd")
    with pytest.raises(ipt.AnalysisError, match="already harmonised"):
        ipt.harmonise(ipt.harmonise(flat, "pomp"))
    with pytest.raises(ipt.ArgumentError, match="'pomp' or 'baseline_sd'"):
        ipt.harmonise(flat, "zscore")


def test_the_metric_is_named_metric_and_method_is_a_deprecated_alias():
    pooled = ipt.load_trials(ipt.pooled_example_path())
    new = ipt.harmonise(pooled, metric="baseline_sd")
    with pytest.warns(DeprecationWarning, match="harmonise\\(metric=...\\)"):
        old = ipt.harmonise(pooled, method="baseline_sd")
    pd.testing.assert_frame_equal(new, old)
    with pytest.raises(ipt.ArgumentError, match="metric must be 'pomp' or 'baseline_sd'"):
        ipt.harmonise(pooled, metric="z")
