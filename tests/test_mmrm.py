"""MMRM (ipt.fit_mmrm) against nlme::gls + emmeans (fixtures: tests/reference/make_mmrm_fixtures.R on
the data of make_mmrm_data.py), the likelihood against a dense hand computation, and parameter
recovery on simulated data with a known covariance.

Tolerances, per quantity, as achieved: log-likelihood, AIC and BIC 1e-7 absolute; fixed effects 1e-6
relative for structures where nlme reaches the optimum (cs, ar1, toeplitz) and 2e-5 where it stops
short of it (us, csh, ar1h, toeph: our log-likelihood is the higher, asserted); SEs 1e-5; covariance
matrices 5e-5. Satterthwaite df against emmeans' Satterthwaite mode for the homogeneous-variance
structures 2e-4 (emmeans differentiates numerically on nlme's numerical apVar). Least-squares means:
equal weights for every structure; proportional weights for the homogeneous ones (with varIdent
weights emmeans multiplies the counts of the averaged factor by gls's variance weights; ours are the
observation counts, as tern and the mmrm package use).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.mmrm.covariance import STRUCTURES, covariance_matrix, n_parameters
from ipt_outcomes.mmrm.engine import MmrmData, evaluate

REF = Path(__file__).resolve().parent / "reference"
FIX = json.loads((REF / "mmrm_fixtures.json").read_text(encoding="utf-8"))
EXACT = {"cs", "ar1", "toeplitz"}          # nlme reaches the optimum; homogeneous variance
CASES = [k for k in FIX if k != "versions"]
_FITS: dict[str, ipt.MmrmFit] = {}


def _data() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "mmrm_trial.csv", dtype={"participant_id": str})


def _fit(case: str) -> ipt.MmrmFit:
    if case not in _FITS:
        _FITS[case] = ipt.fit_mmrm(_data(), "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU",
                                   covariance=case.replace("_ml", ""), method="ml" if case.endswith("_ml") else "reml")
    return _FITS[case]


@pytest.mark.parametrize("case", CASES)
def test_likelihood_estimates_and_covariance_match_nlme(case):
    ref, fit = FIX[case], _fit(case)
    assert fit.converged
    assert fit.log_likelihood >= ref["log_likelihood"] - 1e-7
    assert fit.log_likelihood == pytest.approx(ref["log_likelihood"], abs=1e-7)
    assert fit.aic == pytest.approx(ref["aic"], abs=1e-6)
    assert fit.bic == pytest.approx(ref["bic"], abs=1e-6)
    assert fit.n_obs == ref["n_obs"]
    fe = pd.DataFrame(ref["fixed_effects"])
    got = fit.fixed_effects
    assert list(got["term"]) == ["Intercept", "baseline", "sex[male]", "arm[IPT]", "week[8]", "week[12]", "week[16]",
                                 "arm[IPT]:week[8]", "arm[IPT]:week[12]", "arm[IPT]:week[16]"]
    rtol = 1e-6 if case in EXACT else 2e-5
    np.testing.assert_allclose(got["estimate"], fe["estimate"], rtol=rtol)
    # nlme's summary of an ML fit scales the SEs by sqrt(N / (N - p)); ours are (X'V^-1X)^-1 as SAS and mmrm
    scale = np.sqrt(fit.n_obs / (fit.n_obs - len(got))) if case.endswith("_ml") else 1.0
    np.testing.assert_allclose(got["std_error"] * scale, fe["std_error"], rtol=1e-5)
    np.testing.assert_allclose(fit.covariance.to_numpy(), np.array(ref["covariance"]), rtol=5e-5)
    corr = fit.correlation.to_numpy()
    np.testing.assert_allclose(np.diag(corr), 1.0, rtol=1e-12)


@pytest.mark.parametrize("case", [c for c in CASES if "marginal_means" in FIX[c]])
def test_least_squares_means_and_arm_differences_match_emmeans(case):
    ref, fit = FIX[case], _fit(case)
    eq = fit.marginal_means(weights="equal")
    want = pd.DataFrame(ref["marginal_means_equal"])
    assert list(eq["week"]) == list(want["visit"]) and list(eq["arm"]) == list(want["arm"])
    np.testing.assert_allclose(eq["estimate"], want["estimate"], rtol=1e-6 if case in EXACT else 2e-6)
    diffs = fit.arm_differences()
    r = pd.DataFrame(ref["arm_differences"])
    assert list(diffs["week"]) == list(r["visit"]) and set(diffs["arm"]) == {"IPT"}
    assert set(diffs["reference_arm"]) == {"TAU"}
    np.testing.assert_allclose(diffs["difference"], r["estimate"], rtol=1e-6 if case in EXACT else 1e-5)
    np.testing.assert_allclose(diffs["std_error"], r["std_error"], rtol=1e-5)
    if case in EXACT:
        np.testing.assert_allclose(diffs["df"], r["df"], rtol=2e-4)
        np.testing.assert_allclose(diffs["p_value"], r["p_value"], rtol=1e-3)
        means = fit.marginal_means()
        m = pd.DataFrame(ref["marginal_means"])
        np.testing.assert_allclose(means["estimate"], m["estimate"], rtol=1e-6)
        np.testing.assert_allclose(means["std_error"], m["std_error"], rtol=1e-5)
        np.testing.assert_allclose(means["df"], m["df"], rtol=2e-4)
        np.testing.assert_allclose(means["ci_lower"], m["ci_lower"], rtol=1e-5)


def test_proportional_and_equal_weights_differ_on_these_data():
    fit = _fit("cs")
    gap = np.abs(fit.marginal_means()["estimate"] - fit.marginal_means(weights="equal")["estimate"])
    assert gap.max() > 0.1


def _dense_deviance(y, X, pid, vpos, Sigma, reml):
    """-2 log L from the full block-diagonal V (no patterns, no sufficient statistics)."""
    n = len(y)
    V = np.zeros((n, n))
    for p in np.unique(pid):
        rows = np.flatnonzero(pid == p)
        V[np.ix_(rows, rows)] = Sigma[np.ix_(vpos[rows], vpos[rows])]
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ y)
    e = y - X @ beta
    dev = np.linalg.slogdet(V)[1] + e @ Vi @ e
    if reml:
        return dev + np.linalg.slogdet(A)[1] + (n - X.shape[1]) * np.log(2 * np.pi), beta
    return dev + n * np.log(2 * np.pi), beta


@pytest.mark.parametrize("structure", STRUCTURES)
@pytest.mark.parametrize("reml", [True, False])
def test_pattern_likelihood_equals_the_dense_computation(structure, reml):
    rng = np.random.default_rng(5)
    n_part, m = 40, 4
    pid = np.repeat(np.arange(n_part), m)
    vpos = np.tile(np.arange(m), n_part)
    keep = rng.random(len(pid)) > 0.25
    pid, vpos = pid[keep], vpos[keep]
    X = np.column_stack([np.ones(len(pid)), rng.normal(size=len(pid)), (vpos == 1) * 1.0, (vpos == 2) * 1.0])
    y = rng.normal(size=len(pid)) * 3
    theta = rng.normal(0, 0.4, n_parameters(structure, m))
    data = MmrmData.build(y, X, pid, vpos, np.zeros(len(pid), np.int64), m, 1)
    dev, beta, _ = evaluate(data, structure, theta, reml)
    want, beta_want = _dense_deviance(y, X, pid, vpos, covariance_matrix(structure, m, theta), reml)
    assert dev == pytest.approx(want, rel=1e-12)
    np.testing.assert_allclose(beta, beta_want, rtol=1e-10)


def test_structures_by_hand():
    m = 4
    ar1 = covariance_matrix("ar1", m, np.array([np.log(2.0), 0.5 / np.sqrt(1 - 0.25)]))  # rho = 0.5
    assert ar1[0, 3] == pytest.approx(4 * 0.5 ** 3) and ar1[1, 1] == pytest.approx(4.0)
    cs = covariance_matrix("cs", m, np.array([0.0, 0.0]))
    assert cs[0, 1] == pytest.approx(0.0) and cs[2, 2] == pytest.approx(1.0)  # t = 0: rho = 0
    t = np.log((1 + (m - 1) * 0.4) / 0.6)  # rho = (e^t - 1) / (e^t + m - 1) = 0.4
    assert covariance_matrix("cs", m, np.array([0.0, t]))[0, 3] == pytest.approx(0.4)
    rho = np.array([0.5, -0.2, 0.8])
    adh = covariance_matrix("adh", m, np.r_[np.zeros(m), rho / np.sqrt(1 - rho ** 2)])
    assert adh[0, 2] == pytest.approx(0.5 * -0.2) and adh[1, 3] == pytest.approx(-0.2 * 0.8)
    toep = covariance_matrix("toeplitz", 3, np.array([0.0, 0.6 / np.sqrt(1 - 0.36), 0.0]))  # partials 0.6, 0
    assert toep[0, 1] == pytest.approx(0.6) and toep[0, 2] == pytest.approx(0.36)  # AR(1) when the 2nd partial is 0


def test_recovers_a_known_unstructured_covariance():
    rng = np.random.default_rng(11)
    sd = np.array([4.0, 5.0, 6.0])
    corr = np.array([[1, 0.6, 0.4], [0.6, 1, 0.7], [0.4, 0.7, 1]])
    cov = corr * np.outer(sd, sd)
    rows, errors = [], []
    for k in range(1500):
        arm = "IPT" if k % 2 else "TAU"
        base = rng.normal(20, 4)
        mean = 5 + 0.5 * base - np.array([1.0, 2.0, 3.0]) * (1.5 if arm == "IPT" else 0.5)
        y = rng.multivariate_normal(mean, cov)
        errors.append(y - mean)
        rows.append((f"S{k}", arm, 0.0, base))
        rows += [(f"S{k}", arm, w, v) for w, v in zip((4.0, 8.0, 12.0), y, strict=True) if rng.random() > 0.1]
    df = pd.DataFrame(rows, columns=["participant_id", "arm", "week", "score"])
    df["instrument"] = "HAMD17"
    fit = ipt.fit_mmrm(df, "HAMD17", reference_arm="TAU")
    diff = fit.arm_differences()
    truth = np.array([-1.0, -2.0, -3.0])
    z = (diff["difference"].to_numpy() - truth) / diff["std_error"].to_numpy()
    assert np.all(np.abs(z) < 3.5)
    # the sample's own error covariance (this seed's draws are 0.5 to 2.5 SEs below the truth), and the
    # truth within 3.5 SEs of a sample covariance, sqrt((s_ii s_jj + s_ij^2) / n)
    np.testing.assert_allclose(fit.covariance.to_numpy(), np.cov(np.array(errors).T), rtol=0.04)
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov ** 2) / 1500)
    assert np.all(np.abs(fit.covariance.to_numpy() - cov) < 3.5 * se)
    assert fit.fixed_effects.set_index("term").loc["baseline", "estimate"] == pytest.approx(0.5, abs=0.06)


def test_clear_refusals():
    df = _data()
    with pytest.raises(ipt.ArgumentError, match="covariance must be one of"):
        ipt.fit_mmrm(df, "HAMD17", covariance="banded")
    with pytest.raises(ipt.ArgumentError, match="df_method must be one of"):
        ipt.fit_mmrm(df, "HAMD17", df_method="containment")
    with pytest.raises(ipt.ArgumentError, match="defined for REML fits"):
        ipt.fit_mmrm(df, "HAMD17", df_method="kenward-roger", method="ml")
    odd = pd.concat([df, df.iloc[[1]].assign(week=5.0)], ignore_index=True)  # one assessment off the plan
    with pytest.raises(ipt.AnalysisError, match="under 10 % of the busiest week"):
        ipt.fit_mmrm(odd, "HAMD17", reference_arm="TAU")
    twice = pd.concat([df, df.iloc[[1]]], ignore_index=True)
    with pytest.raises(ipt.AnalysisError, match="repeated week"):
        ipt.fit_mmrm(twice, "HAMD17", reference_arm="TAU")


def test_reference_arm_is_stated_when_assumed():
    fit = ipt.fit_mmrm(_data(), "HAMD17", covariance="cs")
    assert any("reference arm" in n.lower() for n in fit.notes)
    assert "arm" in str(fit.summary())


def test_covariance_by_arm_nests_the_pooled_one():
    pooled = _fit("cs")
    by_arm = ipt.fit_mmrm(_data(), "HAMD17", covariates=["sex"], reference_arm="TAU", covariance="cs",
                          group_covariance="arm")
    assert set(by_arm.covariance) == {"TAU", "IPT"}
    assert by_arm.log_likelihood >= pooled.log_likelihood - 1e-8  # the pooled fit is a special case
    assert len(by_arm.theta) == 2 * len(pooled.theta)
    assert by_arm.aic == pytest.approx(-2 * by_arm.log_likelihood + 2 * (len(by_arm.theta) + 10))


@pytest.mark.parametrize("structure", ["us", "cs", "adh", "toeph", "ar1h"])
@pytest.mark.parametrize("reml", [True, False])
def test_analytic_gradient_equals_differences(structure, reml):
    from ipt_outcomes.inference.optimise import central_gradient
    from ipt_outcomes.mmrm.engine import gradient

    fit = ipt.fit_mmrm(_data(), "HAMD17", visit="week", reference_arm="TAU", covariance=structure,
                       method="reml" if reml else "ml", group_covariance="arm", df_method="residual")
    theta = fit.theta + 0.1 * np.random.default_rng(1).normal(size=len(fit.theta))  # away from the optimum
    _, g = gradient(fit.engine_data, structure, theta, reml)
    c = central_gradient(lambda t: evaluate(fit.engine_data, structure, t, reml)[0], theta)
    np.testing.assert_allclose(g, c, rtol=0, atol=1e-6 * np.abs(c).max())


def test_further_starting_points_when_the_first_does_not_converge(monkeypatch):
    from ipt_outcomes.mmrm import fit as fit_module
    from ipt_outcomes.models.engine import profiled as fast

    calls = []
    real = fast.minimise

    def flaky(criterion, x0, bounds, with_gradient=None):
        theta, converged, n, msg = real(criterion, x0, bounds, with_gradient)
        calls.append(x0)
        return theta, converged and len(calls) > 1, n, msg  # the first start "fails"

    monkeypatch.setattr(fit_module, "minimise", flaky)
    fit = ipt.fit_mmrm(_data(), "HAMD17", visit="week", reference_arm="TAU", covariance="cs")
    assert len(calls) == 2 and fit.converged
    monkeypatch.setattr(fit_module, "minimise", lambda c, x0, b, g=None: (*real(c, x0, b, g)[:1], False, 0, ""))
    stuck = ipt.fit_mmrm(_data(), "HAMD17", visit="week", reference_arm="TAU", covariance="cs")
    assert not stuck.converged and any("did not converge from 3 starting points" in n for n in stuck.notes)


def test_a_singular_covariance_is_refused_with_the_visits_named(tmp_path):
    """Week 16 copied from week 12 (plus a constant): the unstructured covariance runs to a singular
    edge where the likelihood has no maximum; the fit must refuse, not report estimates."""
    df = _data()
    week12 = df[df["week"] == 12].set_index("participant_id")["score"]
    last = df["week"] == 16
    df.loc[last, "score"] = df.loc[last, "participant_id"].map(week12).to_numpy() + 1.0
    df = df[~(last & df["score"].isna())]
    with pytest.raises(ipt.AnalysisError, match=r"us covariance is singular: the scores at week 12, 16"):
        ipt.fit_mmrm(df, "HAMD17", visit="week", reference_arm="TAU")
    from ipt_outcomes.mmrm.fit import _refuse_singular

    x = np.array([1.0, 2.0, 0.5])
    S = np.outer(x, x) + np.diag([0.0, 0.0, 1.0]) + 1e-12 * np.eye(3)  # visits 4 and 8 proportional
    with pytest.raises(ipt.AnalysisError, match=r"covariance in arm IPT is singular: the scores at week 4, 8 "):
        _refuse_singular(S, ["4", "8", "12"], "week", "us", "IPT")
    _refuse_singular(np.eye(3) + 0.5, ["4", "8", "12"], "week", "us", None)  # positive definite: no error
    assert ipt.fit_mmrm(df, "HAMD17", visit="week", reference_arm="TAU", covariance="cs").converged  # cs is not singular
