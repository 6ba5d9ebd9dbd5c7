"""Clinical significance, arm summaries, sudden gains and dose-response against hand calculations."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.clinical import (
    jacobson_truax_cutoffs,
    number_needed_to_treat,
    odds_ratio,
    risk_difference,
    wilson_interval,
)


def _table(instrument, rows):
    out = []
    for pid, arm, base, final in rows:
        out.append({"participant_id": pid, "arm": arm, "disorder": "depression", "instrument": instrument,
                    "score": base, "session": 0})
        if final is not None:
            out.append({"participant_id": pid, "arm": arm, "disorder": "depression", "instrument": instrument,
                        "score": final, "session": 12})
    return pd.DataFrame(out)


def test_jacobson_truax_by_hand_lower_is_better():
    """r = .90 and SD 5: S_diff = sqrt(2) * 5 * sqrt(.1) = 2.2361; reliable change 4.383 points."""
    df = _table("PHQ9", [("P1", "IPT", 20, 5), ("P2", "IPT", 20, 14), ("P3", "TAU", 15, 13), ("P4", "TAU", 12, 18),
                         ("P5", "TAU", 14, None)])
    with pytest.warns(ipt.DataWarning, match="1 participant"):
        cc = ipt.clinical_change(df, "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5)
    cc = cc.set_index("participant_id")
    s_diff = math.sqrt(2) * 5 * math.sqrt(0.1)
    assert cc.attrs["settings"]["s_diff"] == pytest.approx(s_diff)
    assert cc.loc["P1", "rci"] == pytest.approx(-15 / s_diff)
    assert list(cc["category"].iloc[:4]) == ["recovered", "improved", "unchanged", "deteriorated"]
    assert pd.isna(cc.loc["P5", "category"]) and math.isnan(cc.loc["P5", "final"])
    assert cc.loc["P1", "percent_change"] == pytest.approx(-75)
    assert list(cc["response"].iloc[:4]) == [True, False, False, False]
    assert list(cc["remission"].iloc[:4]) == [False, False, False, False]  # PHQ-9 remission < 5 (registry): 5 is not
    assert list(cc.columns) == ipt.clinical.CHANGE_COLUMNS[1:]


def test_jacobson_truax_by_hand_higher_is_better():
    """WAI-SR, higher is better: r = .80, SD 6: S_diff = sqrt(2) * 6 * sqrt(.2) = 3.7947."""
    df = _table("WAISR", [("Q1", "IPT", 30, 45), ("Q2", "IPT", 30, 38), ("Q3", "TAU", 45, 35), ("Q4", "TAU", 40, 41)])
    cc = ipt.clinical_change(df, "WAISR", reliability=0.8, cutoff=40, sd_baseline=6, remission=44)
    cc = cc.set_index("participant_id")
    assert cc.loc["Q1", "rci"] == pytest.approx(15 / (math.sqrt(2) * 6 * math.sqrt(0.2)))
    assert list(cc["category"]) == ["recovered", "improved", "deteriorated", "unchanged"]
    assert list(cc["response"]) == [True, False, False, False]  # +50 % is a response when higher is better
    assert list(cc["remission"]) == [True, False, False, False]


def test_cutoffs_by_hand():
    cuts = jacobson_truax_cutoffs(20, 5, 3, 3)
    assert cuts == pytest.approx({"a": 10.0, "b": 9.0, "c": (3 * 20 + 5 * 3) / 8})
    better = jacobson_truax_cutoffs(30, 5, 50, 4, higher_is="better")
    assert better == pytest.approx({"a": 40.0, "b": 42.0, "c": (4 * 30 + 5 * 50) / 9})


def test_default_cutoff_c_from_registry_norms():
    df = _table("PHQ9", [("P1", "IPT", 20, 5), ("P2", "IPT", 16, 14), ("P3", "TAU", 12, 13)])
    cc = ipt.clinical_change(df, "PHQ9")
    base = pd.Series([20, 16, 12])
    m, sd = base.mean(), base.std(ddof=1)
    expected_c = (3.52 * m + sd * 2.91) / (3.52 + sd)  # Kocalevent 2013 norms: 2.91 (3.52)
    assert cc.attrs["settings"]["cutoff"] == pytest.approx(expected_c)
    assert cc.attrs["settings"]["cutoff_type"] == "c"
    assert cc.attrs["settings"]["reliability"] == 0.89


def test_missing_reliability_and_unverified_values():
    df = _table("LSAS", [("P1", "IPT", 80, 40), ("P2", "TAU", 70, 60)])
    with pytest.raises(ipt.ArgumentError, match="no reliability"):
        ipt.clinical_change(df, "LSAS")
    edeq = _table("EDEQ_GLOBAL", [("P1", "IPT", 4.0, 1.0), ("P2", "TAU", 3.5, 3.4)])
    with pytest.warns(ipt.ApproximationWarning, match="not verified"):
        ipt.clinical_change(edeq, "EDEQ_GLOBAL")


def test_wilson_and_newcombe_published_values():
    """Newcombe (1998) Stat Med 17:873, table II example (a): 56/70 vs 48/80, method 10."""
    rd, lo, hi = risk_difference(56, 70, 48, 80)
    assert (round(rd, 4), round(lo, 4), round(hi, 4)) == (0.2, 0.0524, 0.3339)
    lo, hi = wilson_interval(81, 263)  # Newcombe (1998b), single proportion example: 0.2553 to 0.3662
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)


def test_odds_ratio_by_hand():
    orr, lo, hi = odds_ratio(20, 50, 10, 50)
    se = math.sqrt(1 / 20 + 1 / 30 + 1 / 10 + 1 / 40)
    assert orr == pytest.approx(20 * 40 / (30 * 10))
    assert lo == pytest.approx(math.exp(math.log(orr) - 1.959963984540054 * se))
    assert hi == pytest.approx(math.exp(math.log(orr) + 1.959963984540054 * se))
    orr0, _, _ = odds_ratio(0, 10, 5, 10)  # Haldane: 0.5 * 5.5 / (10.5 * 5.5)
    assert orr0 == pytest.approx(0.5 * 5.5 / (10.5 * 5.5))


def test_nnt_by_hand():
    nnt, lo, hi, text = number_needed_to_treat(0.2, 0.1, 0.25)
    assert (nnt, lo, hi) == pytest.approx((5.0, 4.0, 10.0)) and text.startswith("NNTB 5.0")
    nnt, benefit, harm, text = number_needed_to_treat(0.1, -0.05, 0.25)  # Altman 1998: spans zero
    assert (nnt, benefit, harm) == pytest.approx((10.0, 4.0, -20.0))
    assert "infinity" in text and "NNTH 20.0" in text


def test_summary_by_arm_by_hand():
    rows = [(f"I{i}", "IPT", 20, 5 if i < 6 else 19) for i in range(10)] + \
           [(f"T{i}", "TAU", 20, 5 if i < 3 else 19) for i in range(10)]
    cc = ipt.clinical_change(_table("PHQ9", rows), "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5)
    s = ipt.summarise_change(cc, reference_arm="TAU")
    rec = s[(s["outcome"] == "recovered") & (s["arm"] == "IPT")].iloc[0]
    assert (rec["n"], rec["count"], rec["percent"]) == (10, 6, 60.0)
    _rd, lo, _hi = risk_difference(6, 10, 3, 10)
    assert rec["risk_difference"] == pytest.approx(0.3) and rec["rd_ci_lower"] == pytest.approx(lo)
    assert rec["nnt"] == pytest.approx(1 / 0.3)
    tau = s[(s["outcome"] == "recovered") & (s["arm"] == "TAU")].iloc[0]
    assert tau["percent"] == 30.0 and math.isnan(tau["risk_difference"])


WORKED_SERIES = [30, 29, 30, 28, 18, 17, 16, 17, 16, 26, 27]  # BDI-II, sessions 0..10


def test_sudden_gain_worked_series():
    """Gain 28 -> 18 between sessions 3 and 4: 10 points >= 7, 36 % >= 25 %, pre mean (29, 30, 28) = 29
    vs post mean (18, 17, 16) = 17: 12 > 2.776 * pooled SD 1.0 = 2.776. Session 9 (26) loses more than
    half of the 10-point gain (28 - 5 = 23), so the gain reversed."""
    df = pd.DataFrame({"participant_id": "S1", "arm": "IPT", "instrument": "BDI2", "score": WORKED_SERIES,
                       "session": range(len(WORKED_SERIES))})
    gains = ipt.sudden_gains(df, "BDI2", threshold=7)
    assert len(gains) == 1
    g = gains.iloc[0]
    assert (g["session"], g["pre_gain_score"], g["post_gain_score"], g["gain"]) == (4, 28, 18, 10)
    assert g["pre_mean"] == pytest.approx(29) and g["post_mean"] == pytest.approx(17)
    assert g["critical_value"] == pytest.approx(2.776, abs=1e-3)
    assert g["reversed"] and g["reversal_session"] == 9


def test_sudden_gain_pooled_sd_with_unequal_windows_by_hand():
    """Gain 30 -> 14 at session 2: only two sessions before it (24, 30: mean 27, variance 18), three
    from it (14, 8, 16: mean 12.667, variance 17.333). Pooled SD sqrt((1 * 18 + 2 * 17.333) / 3) = 4.190,
    t(0.975, 3) = 3.182: 14.333 > 13.334, a gain by a margin of one point (weighting the variances
    by n instead of n - 1 would give 15.4 and no gain)."""
    df = pd.DataFrame({"participant_id": "S1", "arm": "IPT", "instrument": "BDI2", "score": [24, 30, 14, 8, 16],
                       "session": range(5)})
    gains = ipt.sudden_gains(df, "BDI2", threshold=7)
    assert len(gains) == 1
    g = gains.iloc[0]
    assert (g["session"], g["gain"]) == (2, 16)
    assert g["pre_mean"] == pytest.approx(27) and g["post_mean"] == pytest.approx(38 / 3)
    assert g["critical_value"] == pytest.approx(3.182446305284263, rel=1e-12)
    assert g["percent_of_pre"] == pytest.approx(100 * 16 / 30) and not g["reversed"]


def test_sudden_gain_criteria_each_can_fail():
    base = pd.DataFrame({"participant_id": "S1", "arm": "IPT", "instrument": "BDI2", "session": range(8)})
    too_small = base.assign(score=[30, 29, 30, 28, 22, 21, 20, 20])  # 6 < 7 points
    assert ipt.sudden_gains(too_small, "BDI2", threshold=7).empty
    low_level = base.assign(score=[12, 11, 12, 11, 3, 2, 3, 2])  # 8 points, 73 % of 11: a gain
    assert len(ipt.sudden_gains(low_level, "BDI2", threshold=7)) == 1
    percent = base.assign(score=[40, 40, 41, 40, 32, 32, 31, 32])  # 8 points = 20 % of 40 < 25 %
    assert ipt.sudden_gains(percent, "BDI2", threshold=7).empty
    noisy = base.assign(score=[30, 10, 30, 28, 18, 30, 12, 28])  # fails the mean-difference criterion
    assert ipt.sudden_gains(noisy, "BDI2", threshold=7).empty


def test_dose_response_and_improvement_by_session(example_df):
    table = ipt.dose_response(example_df, "PHQ9")
    assert "not randomised" in table.attrs["caveat"]
    assert table.groupby("arm")["n"].sum().sum() == example_df.query("instrument == 'PHQ9'").groupby(
        "participant_id")["score"].apply(lambda s: s.iloc[1:].notna().any()).sum()
    by = ipt.improvement_by_session(example_df, "PHQ9")
    ipt_arm = by[by["arm"] == "IPT"].set_index("session")
    assert (ipt_arm["percent_improved_by"] >= ipt_arm["percent_improved_at"] - 1e-9).all()


def test_sudden_gains_need_consecutive_sessions():
    df = pd.DataFrame({"participant_id": "S1", "arm": "IPT", "instrument": "BDI2", "score": [30, 20, 10, 5],
                       "session": [0, 4, 8, 12]})
    gains = ipt.sudden_gains(df, "BDI2", threshold=7)
    assert gains.empty and gains.attrs["consecutive_pairs"] == 0


def test_reliability_from_study_file(tmp_path):
    df = _table("PHQ9", [("P1", "IPT", 20, 5), ("P2", "IPT", 20, 14), ("P3", "TAU", 15, 13)])
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    study = tmp_path / "study.yaml"
    study.write_text("instruments:\n  PHQ9: {reliability: 0.75}\n", encoding="utf-8")
    cc = ipt.clinical_change(ipt.load(path, study=study), "PHQ9", sd_baseline=5)
    assert cc.attrs["settings"]["reliability"] == 0.75
    assert cc.attrs["settings"]["s_diff"] == pytest.approx(math.sqrt(2) * 5 * math.sqrt(0.25))


def test_improvement_by_session_by_hand():
    """PHQ-9 (registry reliability .89), baseline SD of 20 and 10 = 7.07: reliable change
    1.96 * sqrt(2) * 7.07 * sqrt(.11) = 6.50 points. P1 improves by 8 at session 1, then relapses;
    P2 improves by 7 only at session 2."""
    rows = [("P1", 0, 20), ("P1", 1, 12), ("P1", 2, 19), ("P2", 0, 10), ("P2", 1, 8), ("P2", 2, 3)]
    df = pd.DataFrame([{"participant_id": p, "arm": "IPT", "instrument": "PHQ9", "session": s, "score": y}
                       for p, s, y in rows])
    table = ipt.improvement_by_session(df, "PHQ9").set_index("session")
    assert table.loc[1, "percent_improved_at"] == 50 and table.loc[1, "percent_improved_by"] == 50
    assert table.loc[2, "percent_improved_at"] == 50  # P2 now, P1 no longer
    assert table.loc[2, "percent_improved_by"] == 100
    assert (table["n_observed"] == 2).all()


# Oracles for choices that were once changed on purpose without a test failing (issue 9).

def test_nnt_for_harm_is_negative_and_named_nnth():
    """RD -0.1 [-0.2, -0.05]: 10 patients treated for one more harmed, interval 5 to 20 (Altman 1998)."""
    nnt, lo, hi, text = number_needed_to_treat(-0.1, -0.2, -0.05)
    assert nnt == pytest.approx(-10.0)
    assert (lo, hi) == pytest.approx((-20.0, -5.0))
    assert text == "NNTH 10.0 (5.0 to 20.0)"


def test_deterioration_nnt_is_a_number_needed_to_harm():
    """IPT 4/10 deteriorate, TAU 1/10: RD +0.3 is harm, so NNT = -1/0.3, named NNTH."""
    rows = [(f"I{i}", "IPT", 10, 20 if i < 4 else 10) for i in range(10)] + \
           [(f"T{i}", "TAU", 10, 20 if i < 1 else 10) for i in range(10)]
    cc = ipt.clinical_change(_table("PHQ9", rows), "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5)
    s = ipt.summarise_change(cc, reference_arm="TAU")
    det = s[(s["outcome"] == "deteriorated") & (s["arm"] == "IPT")].iloc[0]
    assert det["count"] == 4 and det["risk_difference"] == pytest.approx(0.3)
    assert det["nnt"] == pytest.approx(-1 / 0.3)
    assert det["nnt_text"].startswith("NNTH 3.3")


def test_recovered_needs_a_dysfunctional_start():
    """Reliable improvement ending below the cut-off is recovery only for those who started at or
    above it (Jacobson and Truax 1991): 9 -> 1 is 'improved', 20 -> 1 'recovered' (cut-off 10)."""
    rows = [("A", "IPT", 9, 1), ("B", "IPT", 20, 1), ("C", "TAU", 15, 15)]
    cc = ipt.clinical_change(_table("PHQ9", rows), "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5)
    assert dict(zip(cc["participant_id"], cc["category"], strict=True)) == {
        "A": "improved", "B": "recovered", "C": "unchanged"}


@pytest.mark.parametrize(("later", "reversed_"), [(23, True), (24, True), (22, False)])
def test_sudden_gain_reversal_at_half_the_gain(later, reversed_):
    """Gain 28 -> 18 (10 points): reversed once a later score is back at 28 - 10/2 = 23 or worse."""
    series = [30, 29, 30, 28, 18, 17, 16, 17, 16, later, 16]
    df = pd.DataFrame({"participant_id": "S1", "arm": "IPT", "instrument": "BDI2", "score": series,
                       "session": range(len(series))})
    g = ipt.sudden_gains(df, "BDI2", threshold=7).iloc[0]
    assert bool(g["reversed"]) is reversed_
    assert (g["reversal_session"] == 9) if reversed_ else pd.isna(g["reversal_session"])


def test_final_score_is_the_latest_assessment_after_baseline_whatever_the_row_order():
    """By hand: the final score is each participant's score at their latest time after baseline
    (rows in any order; of two rows at that time, the later row); the baseline is the score at 0;
    at= takes the score at that time instead; the arm is the first one recorded."""
    rows = [  # participant, arm, session, score
        ("A", "IPT", 0, 20), ("A", "IPT", 4, 15), ("A", "IPT", 8, 11), ("A", "IPT", 12, 9),
        ("B", "TAU", 12, 17), ("B", "TAU", 0, 21), ("B", "TAU", 4, 19),      # latest row first in the file
        ("C", "IPT", 0, 18), ("C", "IPT", 8, 12), ("C", "IPT", 8, 10),       # two rows at the latest time
        ("D", "TAU", 4, 16), ("D", "TAU", 0, 22), ("D", "TAU", 8, None),     # latest time without a score
    ]
    df = pd.DataFrame([{"participant_id": p, "arm": a, "disorder": "depression", "instrument": "PHQ9",
                        "score": s, "session": t} for p, a, t, s in rows])
    cc = ipt.clinical_change(df, "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5).set_index("participant_id")
    assert cc["baseline"].to_dict() == {"A": 20, "B": 21, "C": 18, "D": 22}
    assert cc["final"].to_dict() == {"A": 9, "B": 17, "C": 10, "D": 16}
    assert cc["final_time"].to_dict() == {"A": 12, "B": 12, "C": 8, "D": 4}
    assert cc["change"].to_dict() == {"A": -11, "B": -4, "C": -8, "D": -6}
    assert cc["arm"].to_dict() == {"A": "IPT", "B": "TAU", "C": "IPT", "D": "TAU"}
    with pytest.warns(ipt.DataWarning):  # C has no score at 4
        at4 = ipt.clinical_change(df, "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5, at=4).set_index("participant_id")
    assert at4["final"].dropna().to_dict() == {"A": 15, "B": 19, "D": 16}
    assert math.isnan(at4.loc["C", "final"])


def test_dose_response_by_hand_with_the_dose_on_some_rows_only():
    """Sessions attended are a participant's: taken from whichever row records them (here only the
    final row of B and D). Change (final - baseline) by arm and dose, by hand."""
    rows = [  # participant, arm, session, score, sessions_attended
        ("A", "IPT", 0, 20, 12), ("A", "IPT", 12, 8, 12),
        ("B", "IPT", 0, 22, None), ("B", "IPT", 12, 12, 12),
        ("C", "TAU", 0, 19, 6), ("C", "TAU", 12, 17, 6),
        ("D", "TAU", 0, 21, None), ("D", "TAU", 12, 20, 6),
        ("E", "TAU", 0, 18, None), ("E", "TAU", 12, 16, None),      # no dose recorded: left out
    ]
    df = pd.DataFrame([{"participant_id": p, "arm": a, "disorder": "depression", "instrument": "PHQ9",
                        "score": s, "session": t, "sessions_attended": d} for p, a, t, s, d in rows])
    table = ipt.dose_response(df, "PHQ9", reliability=0.9).set_index(["arm", "sessions_attended"])
    assert table["n"].to_dict() == {("IPT", 12): 2, ("TAU", 6): 2}
    assert table.loc[("IPT", 12), "mean_change"] == pytest.approx((-12 - 10) / 2)
    assert table.loc[("TAU", 6), "mean_change"] == pytest.approx((-2 - 1) / 2)
    assert table.loc[("TAU", 6), "sd_change"] == pytest.approx(math.sqrt(0.5))


def test_scores_exactly_at_the_cut_offs():
    """PHQ-9 remission is < 5 (final 4 remits, final 5 does not); recovered needs a final score on the
    functional side of c (a final exactly at c is not below it) and a baseline at or above c; a response
    is a reduction of at least 50 % (exactly 50 % is one)."""
    df = _table("PHQ9", [("A", "IPT", 20, 4), ("B", "IPT", 20, 5), ("C", "IPT", 20, 10), ("D", "IPT", 10, 0),
                         ("E", "TAU", 20, 9), ("F", "TAU", 9, 0)])
    cc = ipt.clinical_change(df, "PHQ9", reliability=0.9, cutoff=10, sd_baseline=5).set_index("participant_id")
    assert cc["remission"].to_dict() == {"A": True, "B": False, "C": False, "D": True, "E": False, "F": True}
    assert cc.attrs["settings"]["remission"] == 4
    # reliable change 4.38 points: A-E improve reliably; C ends at c = 10 (not below it), D starts at c
    assert cc["category"].to_dict() == {"A": "recovered", "B": "recovered", "C": "improved", "D": "recovered",
                                        "E": "recovered", "F": "improved"}
    assert cc.loc["C", "response"] and cc.loc["D", "response"]  # exactly 50 % and 100 %


def test_the_registry_refuses_an_inter_rater_reliability_for_reliable_change():
    with pytest.raises(ipt.RegistryError, match="test-retest reliability or internal consistency"):
        ipt.Instrument.from_mapping("X", {"min": 0, "max": 10, "reliability": {"value": 0.95, "type": "inter-rater ICC"}})
    ham = ipt.default_registry()["HAMD17"]
    assert ham.reliability == 0.79 and "Trajkovic" in ham.reliability_source and ham.reliability_verified
