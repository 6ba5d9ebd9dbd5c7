"""Cook's distance of each participant (variance parameters fixed): checked against a direct
computation (the full V of all rows, GLS refitted without each participant) and on simulated data
with one planted influential participant."""

from __future__ import annotations

import numpy as np
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.errors import AnalysisError
from ipt_outcomes.models.derived.influence import _g_matrix, participant_influence
from ipt_outcomes.simulate import simulate_trial


def _direct(fit) -> np.ndarray:
    """Dense: V = Z G Z' (block diagonal) + s2 I over all rows; delete each participant's rows and refit GLS."""
    d = fit.design
    g, s2 = _g_matrix(fit)
    same = d.participant[:, None] == d.participant[None, :]
    V = (d.Z @ g @ d.Z.T) * same + s2 * np.eye(len(d.y))
    Vi = np.linalg.inv(V)
    A = d.X.T @ Vi @ d.X
    beta = np.linalg.solve(A, d.X.T @ Vi @ d.y)
    out = []
    for code in range(len(d.participant_ids)):
        keep = d.participant != code
        Vk = np.linalg.inv(V[np.ix_(keep, keep)])
        Xk = d.X[keep]
        bk = np.linalg.solve(Xk.T @ Vk @ Xk, Xk.T @ Vk @ d.y[keep])
        out.append((beta - bk) @ A @ (beta - bk) / d.X.shape[1])
    return np.array(out)


def test_cooks_distance_matches_deleting_each_participant():
    df = simulate_trial(40, seed=4)
    fit = ipt.fit_growth(df, outcome="HAMD17")
    got = participant_influence(fit)
    np.testing.assert_allclose(got["cooks_distance"].to_numpy(), _direct(fit), rtol=1e-7, atol=1e-12)
    counts = fit.design.data.groupby("participant_id").size()
    assert (got.set_index("participant_id")["n_obs"] == counts.reindex(got["participant_id"]).to_numpy()).all()


def test_planted_influential_participant_is_found():
    df = simulate_trial(120, seed=9)
    pid = df.loc[df["arm"] == "IPT", "participant_id"].iloc[0]
    rows = (df["participant_id"] == pid) & (df["instrument"] == "HAMD17")
    sessions = df.loc[rows, "session"].astype(float)
    df.loc[rows, "score"] = (5 + 2.5 * sessions).clip(upper=52).round()  # rising steeply while IPT falls
    got = participant_influence(ipt.fit_growth(df, outcome="HAMD17")).sort_values("cooks_distance", ascending=False)
    assert got["participant_id"].iloc[0] == pid
    assert got["cooks_distance"].iloc[0] > 5 * got["cooks_distance"].iloc[1]


def test_other_random_parts_are_refused():
    df = simulate_trial(40, seed=4)
    fit = ipt.fit_growth(df, formula="HAMD17 ~ session * arm + (1 | participant_id)")
    with pytest.raises(AnalysisError, match="participant random effects only"):
        participant_influence(fit)
