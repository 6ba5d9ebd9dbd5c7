"""ipt.load_trials: the bundled four-disorder example (and the script that writes it), per-trial and
across-trial checks, and the refusals of a pooling file."""

from __future__ import annotations

import runpy
from pathlib import Path

import pandas as pd
import pytest

import ipt_outcomes as ipt

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def pooled():
    return ipt.load_trials(ipt.pooled_example_path())


def test_bundled_example_is_what_the_script_makes(tmp_path):
    script = runpy.run_path(str(ROOT / "scripts" / "make_pooled_example.py"))
    script["main"](tmp_path)
    bundled = ipt.pooled_example_path().parent
    for made in sorted(tmp_path.iterdir()):
        assert made.read_bytes() == (bundled / made.name).read_bytes(), made.name


def test_four_trials_four_disorders_four_instruments(pooled):
    per = pooled.groupby("trial_id").agg(instrument=("instrument", "first"), disorder=("disorder", "first"),
                                         n=("participant_id", "nunique"))
    assert per.to_dict("index") == {
        "BN": {"instrument": "EDEQ_GLOBAL", "disorder": "bulimia", "n": 110},
        "DEP": {"instrument": "HAMD17", "disorder": "depression", "n": 160},
        "PERI": {"instrument": "EPDS", "disorder": "perinatal_depression", "n": 120},
        "PTSD": {"instrument": "PCL5", "disorder": "ptsd", "n": 110}}
    info = pooled.attrs["ipt_trials"]
    assert info["BN"]["reference_arm"] == "waitlist" and info["DEP"]["reference_arm"] == "TAU"
    report = ipt.validate(pooled)
    assert report.ok and report.n_participants == 500  # participants keyed within their trial


def test_trial_effects_use_each_trials_reference_arm(pooled):
    effects = ipt.trial_effects(ipt.harmonise(pooled, "pomp"), "POMP")
    assert dict(zip(effects["trial_id"], effects["reference_arm"], strict=True)) == {
        "DEP": "TAU", "PERI": "TAU", "BN": "waitlist", "PTSD": "TAU"}


def _write_trial(folder: Path, name: str, df: pd.DataFrame) -> None:
    df.to_csv(folder / f"{name}.csv", index=False)


def _pooling(folder: Path, text: str) -> Path:
    path = folder / "pooled.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_refusals_name_the_trial(tmp_path):
    base = ipt.simulate_trial(40, seed=1, trial_id="A")
    _write_trial(tmp_path, "a", base)
    _write_trial(tmp_path, "b", ipt.simulate_trial(40, seed=2, trial_id="B"))
    with pytest.raises(ipt.StudyDefinitionError, match="trial id A appears twice"):
        ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: a.csv}\n  - {id: A, data: b.csv}\n"))
    with pytest.raises(ipt.StudyDefinitionError, match="have trial_id B; make the pooling file's id the same"):
        ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: a.csv}\n  - {id: C, data: b.csv}\n"))
    with pytest.raises(ipt.StudyDefinitionError, match="unknown key"):
        ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: a.csv, colour: red}\n"))
    with pytest.raises(ipt.StudyDefinitionError, match="needs trials"):
        ipt.load_trials(_pooling(tmp_path, "name: nothing\n"))
    bad = base.copy()
    bad.loc[3, "score"] = 99.0  # beyond HAM-D 17's 52
    _write_trial(tmp_path, "bad", bad)
    with pytest.raises(ipt.DataValidationError, match=r"trial A \(.*bad.csv\): 1 error\(s\)"):
        ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: bad.csv}\n  - {id: B, data: b.csv}\n"))
    one_arm = base[base["arm"] == "IPT"]
    _write_trial(tmp_path, "one", one_arm)
    with pytest.raises(ipt.DataValidationError, match="one arm only"):
        ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: one.csv}\n  - {id: B, data: b.csv}\n"))
    pooled = ipt.load_trials(_pooling(tmp_path, "trials:\n  - {id: A, data: a.csv}\n  - id: B\n    data: b.csv\n"
                                                "    constants: {site: north}\n"))
    assert set(pooled.loc[pooled["trial_id"] == "B", "site"]) == {"north"}
    assert pooled.loc[pooled["trial_id"] == "A", "site"].isna().all()


def test_participants_are_kept_apart_across_trials():
    """P0001 of trial A is not P0001 of trial B in any analysis: growth models (keyword and formula),
    clinical change and the MMRM count each trial's participants."""
    a = ipt.simulate_trial(60, seed=1, trial_id="A", therapists_per_arm=0)
    b = ipt.simulate_trial(60, seed=2, trial_id="B", therapists_per_arm=0)
    both = pd.concat([a, b], ignore_index=True)
    keyed = both.assign(participant_id=both["trial_id"] + "-" + both["participant_id"], trial_id="AB")
    fit = ipt.fit_growth(both, "HAMD17", check=False)
    ref = ipt.fit_growth(keyed, "HAMD17", check=False)
    assert fit.n_participants == 120 and fit.log_likelihood == pytest.approx(ref.log_likelihood, rel=1e-10)
    formula = ipt.fit_growth(both, formula="HAMD17 ~ session * arm + (session | participant_id)", check=False)
    assert formula.n_participants == 120
    with pytest.warns(ipt.IPTOutcomesWarning):
        change = ipt.clinical_change(both, "HAMD17")
    assert len(change) == 120 and change["participant_id"].iloc[0] == "A:P0001"
