"""Partitioned Parquet with Dask on a LocalCluster: validation and fitting equal the in-memory results."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.dataframe")

from ipt_outcomes.scale import fit_growth_partitioned, validate_partitioned  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def trial():
    return ipt.simulate_trial(n_participants=300, seed=12, therapists_per_arm=0, instruments=["PHQ9", "HAMD17"])


def _write_by_participant(df: pd.DataFrame, folder, parts: int = 4) -> None:
    folder.mkdir()
    ids = df["participant_id"].unique()
    for i, chunk in enumerate(np.array_split(ids, parts)):
        df[df["participant_id"].isin(chunk)].to_parquet(folder / f"part-{i}.parquet", index=False)


def test_fit_on_partitions_equals_in_memory_fit(cluster, trial, tmp_path):
    folder = tmp_path / "trial"
    _write_by_participant(trial, folder)
    fit = fit_growth_partitioned(folder, "PHQ9", reference_arm="TAU")
    ref = ipt.fit_growth(trial, "PHQ9", reference_arm="TAU")
    pd.testing.assert_series_equal(fit.fixed_effects["estimate"], ref.fixed_effects["estimate"], rtol=1e-6)
    pd.testing.assert_series_equal(fit.fixed_effects["std_error"], ref.fixed_effects["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fit.fixed_effects["df"], ref.fixed_effects["df"], rtol=1e-3)
    assert fit.log_likelihood == pytest.approx(ref.log_likelihood, abs=1e-6)
    assert (fit.n_obs, fit.n_participants) == (ref.n_obs, ref.n_participants)
    assert list(fit.fixed_effects["term"]) == list(ref.fixed_effects["term"])
    assert fit.contrast(np.array([0, 0, 1.0, 16.0]))["estimate"] == pytest.approx(
        ref.arm_differences(at=16)["difference"].iloc[0], rel=1e-6)
    # methods that need the rows say so plainly (they used to fail with a bare AssertionError)
    for method in (fit.trajectories, fit.arm_differences, fit.residuals, fit.random_effects, fit.icc, fit.r_squared,
                   fit.random_effect_intervals):
        with pytest.raises(ipt.ArgumentError, match="partitioned data does not keep"):
            method()


def test_participants_split_over_partitions_still_fit_correctly(cluster, trial, tmp_path):
    folder = tmp_path / "split"
    folder.mkdir()
    half = len(trial) // 2  # cuts through one participant's rows
    trial.iloc[:half].to_parquet(folder / "a.parquet", index=False)
    trial.iloc[half:].to_parquet(folder / "b.parquet", index=False)
    fit = fit_growth_partitioned(folder, "PHQ9", reference_arm="TAU")
    ref = ipt.fit_growth(trial, "PHQ9", reference_arm="TAU")
    assert fit.log_likelihood == pytest.approx(ref.log_likelihood, abs=1e-6)
    report = validate_partitioned(folder)
    assert set(report.errors["check"]) == {"split_participant"}


def test_validation_on_partitions(cluster, trial, tmp_path):
    bad = trial.copy()
    bad.loc[bad.index[10], "score"] = 999
    folder = tmp_path / "bad"
    _write_by_participant(bad, folder)
    report = validate_partitioned(folder)
    assert not report.ok
    hit = report.errors.iloc[0]
    assert hit["check"] == "score_range" and hit["partition"] == 0
    assert report.n_participants == 300 and report.n_rows == len(trial)
    good = tmp_path / "good"
    _write_by_participant(trial, good)
    assert validate_partitioned(good).ok


def test_trials_with_the_same_participant_ids_are_kept_apart(cluster, tmp_path):
    """Two trials both numbering their participants P0001...: one trial per partition; validation
    reports no participant split over partitions, and the fit counts 2 x 120 participants, equal to
    the in-memory fit (which keys participants within trials too)."""
    a = ipt.simulate_trial(120, seed=31, trial_id="A", therapists_per_arm=0)
    b = ipt.simulate_trial(120, seed=32, trial_id="B", therapists_per_arm=0)
    folder = tmp_path / "pooled"
    folder.mkdir()
    a.to_parquet(folder / "part-0.parquet", index=False)
    b.to_parquet(folder / "part-1.parquet", index=False)
    assert validate_partitioned(folder).ok
    fit = fit_growth_partitioned(folder, "HAMD17", reference_arm="TAU")
    ref = ipt.fit_growth(pd.concat([a, b], ignore_index=True), "HAMD17", reference_arm="TAU", check=False)
    assert fit.n_participants == ref.n_participants == 240
    assert fit.log_likelihood == pytest.approx(ref.log_likelihood, abs=1e-6)
