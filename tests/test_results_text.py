"""The generated methods and results text, read as a reader would, on eight kinds of trial:
significant, non-significant, IPT worse, sensitivity analyses disagreeing, no dropouts, three arms,
a week schedule and an MMRM primary analysis. Each check ties a sentence to the table it reports (the
same rounded numbers), to the registry (which arm a difference favours), or to plain English (capital
letters, no 'nan', the instrument named one way)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.report.text import engine_sentence, results_paragraph
from ipt_outcomes.report.wording import Wording, num
from ipt_outcomes.simulate import simulate_trial

FULL = "Hamilton Rating Scale for Depression, 17 items (HAM-D 17)"


def _report(df: pd.DataFrame, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ipt.build_report(df, progress=False, n_imputations=2, **kw)


def _prose(built) -> str:
    """The text with the model formulas (which spell the data's column names) taken out."""
    text = " ".join(built.results["apa_text"])
    for formula in {built.results["fit"].formula, getattr(built.results.get("mmrm"), "formula", None)} - {None}:
        text = text.replace(formula, "FORMULA")
    return text


def _reads_as_english(text: str) -> None:
    assert not re.search(r"\b(nan|NaN|None|inf)\b", text), text
    assert "HAMD17" not in text  # the instrument by its name, not its data key
    assert text.count(FULL) == 1  # named in full once, then by its short name
    for sentence in re.split(r"(?<=[.!?])\s+(?=\S)", text):
        assert sentence[0].isupper(), sentence
    assert ".." not in text and ") (" not in text and "  " not in text
    assert not re.search(r"\b(\w+) \1\b", text), re.search(r"\b(\w+) \1\b", text)
    assert "\u2212" in text or "-" not in re.sub(r"[A-Za-z]-[A-Za-z]|\w-\w", "", text)


def _difference_numbers(row) -> list[str]:
    return [num(row.difference), f"[{num(row.ci_lower)}, {num(row.ci_upper)}]", f"d = {num(row.effect_size_d)}"]


@pytest.fixture(scope="module")
def significant():
    return _report(simulate_trial(120, seed=3, effect_sizes={"IPT": 0.8}))


@pytest.fixture(scope="module")
def null_effect():
    return _report(simulate_trial(50, seed=11, effect_sizes={"IPT": 0.0}))


@pytest.fixture(scope="module")
def ipt_worse():
    return _report(simulate_trial(120, seed=5, effect_sizes={"IPT": -0.9}))


def test_significant_result_favours_ipt_and_matches_the_tables(significant):
    text = _prose(significant)
    _reads_as_english(text)
    row = significant.results["differences"].iloc[0]
    assert row.ci_upper < 0  # the scenario: IPT lower (better) on the HAM-D
    for number in _difference_numbers(row):
        assert number in text
    assert "favouring IPT" in text and "favouring TAU" not in text
    assert f"{num(abs(row.difference))} points lower in IPT than in TAU" in text
    fe = significant.results["fit"].fixed_effects.set_index("term")
    assert f"b = {num(fe.loc['session:arm[IPT]', 'estimate'], 3)} points per session" in text
    assert f"fell by {abs(fe.loc['session', 'estimate']):.2f} points per session in TAU" in text


def test_clinical_change_reported_with_the_reliable_change(significant):
    text = _prose(significant)
    st = significant.results["clinical_settings"]
    summary = significant.results["summary"].set_index(["outcome", "arm"])
    assert f"Reliable improvement (a fall of more than {num(st['reliable_change'])} points)" in text
    assert f"Recovery (reliable improvement to an end score below {num(st['cutoff'])})" in text
    assert f"Response (a fall of at least {st['response_percent']:g}%)" in text
    for outcome in ("reliable_improvement", "recovered", "response"):
        ipt_row, tau = summary.loc[(outcome, "IPT")], summary.loc[(outcome, "TAU")]
        assert (f"{ipt_row['percent']:.0f}% ({ipt_row['count']}/{ipt_row['n']}) of participants in IPT and "
                f"{tau['percent']:.0f}% ({tau['count']}/{tau['n']}) in TAU") in text
    assert f"reliable change index ({num(st['reliable_change'])} points)" in text


def test_engine_and_versions_named(significant):
    text = _prose(significant)
    versions = ipt.report.provenance.package_versions()
    assert f"The growth model was fitted with the ipt_outcomes {versions['ipt-outcomes']} mixed-model engine " \
           "(profiled REML from sufficient statistics)" in text
    assert f"pingouin {versions['pingouin']}" in text and "statsmodels" not in text  # statsmodels did not fit it
    df = simulate_trial(40, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ipt.fit_growth(df, outcome="HAMD17", engine="statsmodels", random="intercept")
    assert engine_sentence(fit, {"statsmodels": "9.9", "ipt-outcomes": "1.0"}).startswith(
        "The growth model was fitted with statsmodels 9.9 (statsmodels MixedLM")


def test_non_significant_result_is_not_called_a_benefit(null_effect):
    text = _prose(null_effect)
    _reads_as_english(text)
    row = null_effect.results["differences"].iloc[0]
    assert row.ci_lower < 0 < row.ci_upper
    assert "the confidence interval of the difference includes zero, so these data do not show either arm to be better" \
        in text
    assert "favouring" not in text
    assert "the tipping-point analysis had no conclusion to overturn" in text
    for number in _difference_numbers(row):
        assert number in text


def test_ipt_worse_favours_the_reference(ipt_worse):
    text = _prose(ipt_worse)
    _reads_as_english(text)
    row = ipt_worse.results["differences"].iloc[0]
    assert row.ci_lower > 0
    assert "favouring TAU" in text and "favouring IPT" not in text
    assert f"{num(row.difference)} points higher in IPT than in TAU" in text
    assert "difference favouring TAU" in text  # the sensitivity verdict too


def test_disagreeing_sensitivity_analyses_are_described_plainly(significant):
    res = significant.results
    table = res["sensitivity"].copy()
    completers = table["analysis"] == "completers only"
    table.loc[completers, ["estimate", "ci_lower", "ci_upper"]] = [-0.5, -1.9, 0.9]  # the interval now spans zero
    text = results_paragraph(res["fit"], res["differences"], res["summary"], table, res["n_randomised"],
                             clinical_settings=res["clinical_settings"], sensitivity_settings=res["sensitivity_settings"],
                             tipping=res["tipping"], tipping_points=res["tipping_points"])
    assert ("The analyses of IPT against TAU disagreed: they showed a difference favouring IPT in the growth "
            "model, with the last observation carried forward, and after multiple imputation, but no clear difference "
            "among completers, so this conclusion depends on how missing data are handled.") in text
    assert "\u22120.50 (95% CI [\u22121.90, 0.90]) among completers" in text
    agreeing = " ".join(res["apa_text"])
    assert "Every analysis of IPT against TAU showed a difference favouring IPT" in agreeing


def test_tipping_point_in_points_and_baseline_sds(significant):
    text = _prose(significant)
    point = significant.results["tipping_points"]["IPT"]
    sd = significant.results["clinical_settings"]["sd_baseline"]
    assert point is not None
    assert f"assumed to score {point:.2f} points ({point / sd:.2f} baseline SDs) higher than predicted" in text


def test_no_dropouts():
    built = _report(simulate_trial(60, seed=4, dropout=0.0, effect_sizes={"IPT": 0.8}))
    text = _prose(built)
    _reads_as_english(text)
    assert built.results["sensitivity_settings"]["n_dropouts"] == 0
    assert "Every participant with a baseline score was observed at session" in text
    assert "tipping-point analysis does not apply" in text and "once IPT participants who dropped out" not in text


def test_three_arms_each_compared_with_the_reference():
    built = _report(simulate_trial(150, seed=8, arms=("IPT", "CBT", "TAU"), reference_arm="TAU",
                                   effect_sizes={"IPT": 0.8, "CBT": 0.4}), reference_arm="TAU")
    text = _prose(built)
    _reads_as_english(text)
    diffs = built.results["differences"]
    assert sorted(diffs["arm"]) == ["CBT", "IPT"]
    for row in diffs.itertuples():
        for number in _difference_numbers(row):
            assert number in text
        assert f"The analyses of {row.arm} against TAU" in text or f"Every analysis of {row.arm} against TAU" in text
    assert text.count("of participants in CBT") == text.count("of participants in IPT") >= 3


def test_week_schedule_speaks_in_weeks():
    built = _report(simulate_trial(80, seed=6, effect_sizes={"IPT": 0.8}), time="week")
    text = _prose(built)
    _reads_as_english(text)
    row = built.results["differences"].iloc[0]
    assert f"At week {row.time:g}," in text and "points per week" in text and "across weeks" in text
    assert "per session" not in text and "At session" not in text


MMRM_DATA = Path(__file__).resolve().parent / "reference" / "data" / "mmrm_trial.csv"
MMRM_STUDY = """reference_arm: TAU
primary_instrument: HAMD17
time: week
primary_analysis: mmrm
mmrm:
  covariance: cs
  df: kenward-roger
"""


def test_mmrm_primary_analysis(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(MMRM_STUDY, encoding="utf-8")
    built = _report(pd.read_csv(MMRM_DATA, dtype={"participant_id": str}), study=study)
    text = _prose(built)
    _reads_as_english(text)
    fit = built.results["mmrm"]
    last = fit.arm_differences()
    last = last[last[fit.visit].astype(str) == fit.visits[-1]].iloc[0]
    assert text.startswith(f"The primary analysis was a mixed model for repeated measures (MMRM) of {FULL}")
    assert (f"At week {fit.visits[-1]}, the MMRM least-squares mean HAM-D 17 score was "
            f"{abs(last.difference):.2f} points {'lower' if last.difference < 0 else 'higher'} in IPT than in TAU "
            f"(difference {num(last.difference)}, 95% CI [{num(last.ci_lower)}, {num(last.ci_upper)}], "
            f"t({num(last.df, 1)}) = {num(last.statistic)}") in text
    assert "Kenward-Roger" in text and "secondary growth model" in text


def test_direction_follows_the_registry():
    lower = Wording("X", "X", True, "session")
    higher = Wording("X", "X", False, "session")
    unknown = Wording("X", "X", None, "session")
    assert lower.favoured(-1.0, "IPT", "TAU") == "IPT" and lower.favoured(1.0, "IPT", "TAU") == "TAU"
    assert higher.favoured(-1.0, "IPT", "TAU") == "TAU" and higher.favoured(1.0, "IPT", "TAU") == "IPT"
    assert unknown.favoured(-1.0, "IPT", "TAU") is None
    assert higher.improvement() == ("rise", "above") and lower.improvement() == ("fall", "below")
    assert lower.compare(0.001, "IPT", "TAU") == "the same in IPT and TAU (to 2 decimals)"
    assert num(-0.001) == "0.00" and num(-1.5) == "\u22121.50"
    assert Wording("X", "X", True, "months_since_baseline").at(3) == "months since baseline 3"
