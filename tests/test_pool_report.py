"""``ipt-outcomes pool``: the real entry point in a subprocess on the bundled four-disorder example;
its numbers are the library's (harmonise, trial_effects and meta_analysis are tested against hand
calculations and metafor), the report is self-contained, and bad calls exit 2 with a message."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import ipt_outcomes as ipt


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "pool", *args], capture_output=True,
                          text=True, timeout=600)


@pytest.fixture(scope="module")
def library():
    common = ipt.harmonise(ipt.load_trials(ipt.pooled_example_path()), "baseline_sd")
    effects = ipt.trial_effects(common, "BASELINE_SD", effect="g")
    return ipt.meta_analysis(effects, hksj=True, by="disorder")


def test_json_is_the_librarys_pipeline(library):
    result = run("--example", "--method", "baseline_sd", "--effect", "g", "--hksj", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["summary"]["estimate"] == pytest.approx(library.estimate, rel=1e-12)
    assert data["summary"]["pi_upper"] == pytest.approx(library.pi_upper, rel=1e-12)
    assert [r["label"] for r in data["trial_effects"]] == list(library.studies["label"])
    assert data["q_between"] == pytest.approx(library.q_between, rel=1e-12)


def test_report_is_written_offline_with_the_forest_plot(tmp_path):
    out = tmp_path / "pooled.html"
    result = run("--example", "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    for needle in ("fig-forest-pooled", "fig-trajectories-pooled", "fig-improvement-pooled", "Leave one trial out",
                   "test for subgroup differences", "favouring IPT"):
        assert needle in html, needle
    assert "<script src=" not in html  # plotly.js inline: works offline
    again = run("--example", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr


def test_bad_calls_exit_2():
    neither = run("--out", "x.html")
    assert neither.returncode == 2 and "a pooling file or --example" in neither.stderr
    assert run("--example").returncode == 2
    missing = run("no_such_pooling.yaml", "--json")
    assert missing.returncode == 2 and "no_such_pooling.yaml" in missing.stderr and "Traceback" not in missing.stderr


def test_a_pool_of_two_trials_is_reported_without_leave_one_out(tmp_path):
    """Leaving one of two trials out leaves one trial: the table is skipped with a note, not an error."""
    import shutil

    folder = tmp_path / "two"
    shutil.copytree(ipt.pooled_example_path().parent, folder)
    pooling = folder / "two.yaml"
    pooling.write_text("name: two trials\ntrials:\n  - {id: DEP, data: dep.csv, study: dep_study.yaml}\n"
                       "  - {id: PERI, data: peri.csv, study: peri_study.yaml}\n", encoding="utf-8")
    out = tmp_path / "two.html"
    result = run(str(pooling), "--out", str(out))
    assert result.returncode == 0, result.stderr
    html = out.read_text(encoding="utf-8")
    assert "Leave one trial out: not shown" in html and "Traceback" not in result.stderr
    fit = ipt.meta_analysis(ipt.trial_effects(ipt.harmonise(ipt.load_trials(pooling), "pomp"), "POMP"))
    with pytest.raises(ipt.AnalysisError, match="needs at least 3 trials"):
        fit.leave_one_out()
