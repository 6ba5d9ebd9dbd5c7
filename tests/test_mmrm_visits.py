"""Visits of an MMRM: their order (AR(1), Toeplitz and ante-dependence lags depend on it), the
baseline visit, planned visits and windows, and any number of visits in the pattern engine.

The reference is the numeric-visit fit, itself checked against nlme::gls in test_mmrm.py: the same
visits written as text must give the same likelihood and estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.mmrm.engine import MmrmData
from ipt_outcomes.mmrm.visits import order_visits

DATA = Path(__file__).resolve().parent / "reference" / "data" / "mmrm_trial.csv"


@pytest.fixture(scope="module")
def trial() -> pd.DataFrame:
    return pd.read_csv(DATA, dtype={"participant_id": str})


@pytest.fixture(scope="module")
def numeric_ar1(trial):
    return ipt.fit_mmrm(trial, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1")


def _same_fit(fit, reference):
    assert fit.log_likelihood == pytest.approx(reference.log_likelihood, abs=1e-7)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], reference.fixed_effects["estimate"], rtol=1e-7)
    np.testing.assert_allclose(fit.fixed_effects["std_error"], reference.fixed_effects["std_error"], rtol=1e-6)


def test_numbered_text_visits_are_in_numeric_order_not_text_order(trial, numeric_ar1):
    text = trial.assign(week=trial["week"].map(lambda w: f"week{w:g}"))  # week12 < week4 as text
    numbered = trial.assign(week=trial["week"].map(lambda w: f"V{w / 4 + 1:g}"))  # V1 ... V5, none numbered 0
    with pytest.raises(ipt.ArgumentError, match=r"has none .* baseline_visit='V1'"):
        ipt.fit_mmrm(numbered, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1")
    _same_fit(ipt.fit_mmrm(numbered, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1",
                           baseline_visit="V1"), numeric_ar1)
    fit = ipt.fit_mmrm(text, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1")
    assert fit.visits == ["week4", "week8", "week12", "week16"]
    _same_fit(fit, numeric_ar1)
    assert any("in the order of the number in each label" in n for n in fit.notes)
    spaced = trial.assign(week=trial["week"].map(lambda w: f"Week {w:g}"))
    _same_fit(ipt.fit_mmrm(spaced, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1"), numeric_ar1)
    as_text_numbers = trial.assign(week=trial["week"].map(lambda w: f"{w:g}"))  # "16" < "4" as text
    _same_fit(ipt.fit_mmrm(as_text_numbers, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1"),
              numeric_ar1)


def test_an_ordered_categorical_keeps_its_order_and_names_its_baseline(trial, numeric_ar1):
    names = {0.0: "screening", 4.0: "early", 8.0: "middle", 12.0: "late", 16.0: "end"}
    order = ["screening", "early", "middle", "late", "end"]
    ordered = trial.assign(week=pd.Categorical(trial["week"].map(names), categories=order, ordered=True))
    with pytest.raises(ipt.ArgumentError, match=r"Say which visit is the baseline with baseline_visit="):
        ipt.fit_mmrm(ordered, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1")
    fit = ipt.fit_mmrm(ordered, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1",
                       baseline_visit="screening")
    assert fit.visits == ["early", "middle", "late", "end"]
    _same_fit(fit, numeric_ar1)
    unordered = ordered.assign(week=ordered["week"].astype(str))
    with pytest.raises(ipt.ArgumentError, match=r"texts whose order cannot be told .* ordered categorical"):
        ipt.fit_mmrm(unordered, "HAMD17", visit="week", reference_arm="TAU", covariance="ar1",
                     baseline_visit="screening")
    with pytest.raises(ipt.ArgumentError, match="baseline_visit='week 0' is not a visit"):
        ipt.fit_mmrm(ordered, "HAMD17", visit="week", baseline_visit="week 0")


def test_visit_order_rules_by_hand():
    assert order_visits(pd.Series(["V10", "V2", "V1"]), "v").order == ["V1", "V2", "V10"]
    assert order_visits(pd.Series([10.0, 2.0, 2.0]), "v").order == ["2", "10"]
    assert order_visits(pd.Series(["2.5", "10", "0"]), "v").order == ["0", "2.5", "10"]
    with pytest.raises(ipt.ArgumentError):
        order_visits(pd.Series(["week2", "month3"]), "v")  # two different words: the order is not known
    with pytest.raises(ipt.ArgumentError):
        order_visits(pd.Series(["V1", "V01"]), "v")  # the same number twice


def test_patterns_of_any_number_of_visits():
    """The pattern key once packed the visits into a 64-bit integer (OverflowError from 63 visits)."""
    rng = np.random.default_rng(3)
    m, n_part = 70, 60
    masks = [np.flatnonzero(rng.random(m) < 0.4) for _ in range(4)] + [np.array([0, 63, 64, 69])]
    chosen = rng.integers(0, len(masks), n_part)
    rows = [(i, int(v)) for i in range(n_part) for v in masks[chosen[i]]]
    participant, visit = (np.array(c, np.int64) for c in zip(*rows, strict=True))
    X = np.column_stack([np.ones(len(rows)), rng.normal(size=len(rows))])
    y = rng.normal(size=len(rows))
    group = (participant % 2).astype(np.int64)
    data = MmrmData.build(y, X, participant, visit, group, m, 2)
    expected: dict[tuple, int] = {}
    for i in range(n_part):
        key = (i % 2, tuple(int(v) for v in masks[chosen[i]]))
        expected[key] = expected.get(key, 0) + 1
    got = {(int(g), tuple(int(v) for v in vis)): int(c) for s in data.stacks
           for vis, g, c in zip(s.visits, s.group, s.count, strict=True)}
    assert got == expected
    assert data.n_obs == len(rows)


def test_the_example_says_its_end_of_treatment_visits_are_separate_and_the_suggested_windows_work():
    df = ipt.load_example()
    fit = ipt.fit_mmrm(df, "HAMD17", visit="session", reference_arm="TAU", covariance="cs")
    note = next(n for n in fit.notes if "were fitted as separate planned visits" in n)
    assert "session 13, 14, 15, 16" in note and "no participant has two of them" in note
    assert "visits: {4: [4, 4], 8: [8, 8], 12: [12, 12], 16: [13, 16]}" in note
    windows = {4.0: (4.0, 4.0), 8.0: (8.0, 8.0), 12.0: (12.0, 12.0), 16.0: (13.0, 16.0)}
    mapped = ipt.fit_mmrm(df, "HAMD17", visit="session", reference_arm="TAU", covariance="cs", visit_windows=windows)
    assert mapped.visits == ["4", "8", "12", "16"]
    assert not any("separate planned visits" in n for n in mapped.notes)


def test_windows_that_put_two_assessments_in_one_visit_name_one_participant_and_count_right():
    df = ipt.load_example()
    windows = {4.0: (3.0, 5.0), 8.0: (7.0, 9.0), 12.0: (11.0, 13.0), 16.0: (14.0, 17.0)}  # 12 and 13 collide
    hamd = df[(df["instrument"] == "HAMD17") & df["score"].notna()]
    both = hamd.groupby("participant_id", observed=True)["session"].apply(lambda s: {12, 13} <= set(s))
    first = both[both].index[0]
    with pytest.raises(ipt.AnalysisError) as info:
        ipt.fit_mmrm(df, "HAMD17", visit="session", reference_arm="TAU", covariance="cs", visit_windows=windows)
    message = str(info.value)
    assert f"participant {first} has session 12, 13 all mapped to visit 12 ({int(both.sum())} participant(s) in all)" \
        in message
    assert "narrow the windows" in message


def test_sufficient_statistics_that_would_not_fit_in_memory_are_refused_first(trial, monkeypatch):
    monkeypatch.setattr("ipt_outcomes.io.files.available_memory", lambda: 10_000)
    monkeypatch.setattr("ipt_outcomes.models.formula_design._memory_guard", lambda *a: None)  # the design's own
    with pytest.raises(ipt.AnalysisError, match=r"this MMRM \(4 visits, 9 fixed effects, \d+ visit patterns\) needs "
                                                r"about [\d.]+ GiB"):
        ipt.fit_mmrm(trial, "HAMD17", visit="week", reference_arm="TAU", covariance="cs")
