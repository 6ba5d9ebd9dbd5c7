"""Kenward-Roger (and the Satterthwaite df it shares) for ipt.fit_mmrm, against R.

Fixtures: tests/reference/make_mmrm_kr_fixtures.R on the data of make_mmrm_data.py.
1. pbkrtest::vcovAdj and get_Lb_ddf on the random-intercept lmer model (marginally compound symmetry,
   linear parameters, W from the expected information): adjusted SEs and df agree to 1.5e-8 and
   1.7e-8 relative; asserted at 1e-6.
2. Kenward & Roger (1997) by dense matrices in R at the REML optimum, in SAS's parameters with the
   observed information (SAS's DDFM=KR), for the structures nlme fits and, by the same REML
   criterion optimised with nlminb, adh and one covariance per arm (cs, us): where the two optima
   agree (cs, ar1, toeplitz, adh, cs by arm) SEs agree to 4e-7 and df to 1.3e-6 (asserted 1e-6 and
   2e-6); for us, csh, ar1h and us by arm, whose likelihood is flat enough that the optima differ
   in the eighth digit of the log-likelihood (ours the higher), to 8e-6 and 3e-5 (asserted 1e-5
   and 5e-5). The R term (second derivatives of the covariance) is not zero for ar1,
   csh and ar1h: dropping it moves their SEs by more than the tolerance (checked below).
The same dense df are the independent reference of the Satterthwaite df of heterogeneous structures.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.mmrm.covariance import covariance_matrix
from ipt_outcomes.mmrm.inference import covariance_inference, sas_covariance, sas_parameters
from ipt_outcomes.mmrm.options import STRUCTURES

REF = Path(__file__).resolve().parent / "reference"
FIX = json.loads((REF / "mmrm_kr_fixtures.json").read_text(encoding="utf-8"))
AT_OPTIMUM = {"cs", "ar1", "toeplitz", "adh", "cs_by_arm"}
_FITS: dict[tuple[str, str], ipt.MmrmFit] = {}


def _data() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "mmrm_trial.csv", dtype={"participant_id": str})


def _fit(case: str, df_method: str = "kenward-roger") -> ipt.MmrmFit:
    """``case``: a structure, or ``<structure>_by_arm`` for one covariance per arm."""
    key = (case, df_method)
    if key not in _FITS:
        structure, by_arm = case.removesuffix("_by_arm"), case.endswith("_by_arm")
        _FITS[key] = ipt.fit_mmrm(_data(), "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU",
                                  covariance=structure, df_method=df_method, group_covariance="arm" if by_arm else None)
    return _FITS[key]


def test_matches_pbkrtest_on_the_random_intercept_model():
    ref = FIX["pbkrtest_random_intercept"]
    fit = _fit("cs")
    # the same model: lmer's variance components are the cs covariance and the residual variance
    assert fit.covariance.iloc[0, 1] == pytest.approx(ref["tau2"], rel=1e-6)
    assert fit.covariance.iloc[0, 0] - fit.covariance.iloc[0, 1] == pytest.approx(ref["sigma2"], rel=1e-6)
    np.testing.assert_allclose(fit.fixed_effects["estimate"], ref["estimate"], rtol=1e-6, atol=1e-9)
    expected = covariance_inference(fit.engine_data, "cs", np.stack([fit.covariance.to_numpy()]),
                                    information="expected")
    np.testing.assert_allclose(np.sqrt(np.diag(expected.vcov_adjusted)), ref["std_error"], rtol=1e-6)
    np.testing.assert_allclose([expected.df(row) for row in np.eye(len(fit.beta))], ref["df"], rtol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(expected.vcov)), ref["std_error_unadjusted"], rtol=1e-6)


@pytest.mark.parametrize("case", list(FIX["dense"]))
def test_matches_dense_kenward_roger_in_sas_parameters(case):
    ref = FIX["dense"][case]
    fit = _fit(case)
    se_tol, df_tol = (1e-6, 2e-6) if case in AT_OPTIMUM else (1e-5, 5e-5)
    fe = fit.fixed_effects
    assert fit.log_likelihood >= ref["log_restricted"] - 1e-9  # the same optimum, or ours the higher
    np.testing.assert_allclose(fe["estimate"], ref["estimate"], rtol=2 * se_tol, atol=1e-9)
    np.testing.assert_allclose(fe["std_error"], ref["std_error"], rtol=se_tol)
    np.testing.assert_allclose(fe["df"], ref["df"], rtol=df_tol)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov_unadjusted)), ref["std_error_unadjusted"], rtol=se_tol)
    assert any("Kenward-Roger" in n for n in fit.notes)


@pytest.mark.parametrize("case", list(FIX["dense"]))
def test_satterthwaite_df_match_the_dense_reference(case):
    """One contrast's Kenward-Roger df are Satterthwaite's on the unadjusted variance: the dense R df
    are an independent reference for the Satterthwaite df, heterogeneous structures included."""
    ref = FIX["dense"][case]
    fit = _fit(case, "satterthwaite")
    tol = 2e-6 if case in AT_OPTIMUM else 5e-5
    np.testing.assert_allclose(fit.fixed_effects["df"], ref["df"], rtol=tol)
    np.testing.assert_allclose(fit.fixed_effects["std_error"], ref["std_error_unadjusted"], rtol=tol)


@pytest.mark.parametrize("structure", ["ar1", "csh", "ar1h"])
def test_the_second_derivative_term_matters_for_nonlinear_parameters(structure):
    """Kenward-Roger with R = 0 (the 'linear' approximation) is off the reference by more than the
    tolerance where SAS's parameters enter the covariance nonlinearly."""
    fit = _fit(structure)
    inf = fit.inference
    full = np.sqrt(np.diag(inf.vcov_adjusted))
    ref = np.asarray(FIX["dense"][structure]["std_error"])
    np.testing.assert_allclose(full, ref, rtol=1e-5)
    # recompute without R: P, Q from the same module, R dropped
    linear = covariance_inference(fit.engine_data, structure, np.stack([fit.covariance.to_numpy()]), linear=True)
    assert np.max(np.abs(np.sqrt(np.diag(linear.vcov_adjusted)) / ref - 1)) > 1e-4


@pytest.mark.parametrize("structure", STRUCTURES)
def test_sas_parameters_invert_the_covariance(structure):
    from ipt_outcomes.mmrm.covariance import n_parameters

    rng = np.random.default_rng(4)
    times = np.array([0.0, 1.5, 4.0, 9.0])  # irregular: the spatial structures read the distances
    theta = rng.normal(scale=0.4, size=n_parameters(structure, 4))
    S = covariance_matrix(structure, 4, theta, times)
    np.testing.assert_allclose(sas_covariance(structure, 4, sas_parameters(structure, S, times), times), S, rtol=1e-12,
                               atol=1e-12)


def test_analytic_hessian_equals_differences_of_the_criterion():
    from ipt_outcomes.mmrm.engine import evaluate_covariances

    for structure, method in (("toeph", "reml"), ("adh", "ml"), ("us", "reml")):
        fit = ipt.fit_mmrm(_data(), "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU",
                           covariance=structure, method=method)
        S = fit.covariance.to_numpy()
        psi = sas_parameters(structure, S)

        def dev(x, structure=structure, fit=fit, method=method):
            return evaluate_covariances(fit.engine_data, sas_covariance(structure, 4, x)[None], method == "reml")[0]

        def differences(rel):
            h = rel * np.maximum(np.abs(psi), 1.0)
            n = len(psi)
            H = np.zeros((n, n))
            for i in range(n):
                for j in range(n):
                    ei, ej = np.eye(n)[i] * h[i], np.eye(n)[j] * h[j]
                    H[i, j] = (dev(psi + ei + ej) - dev(psi + ei - ej) - dev(psi - ei + ej)
                               + dev(psi - ei - ej)) / (4 * h[i] * h[j])
            return H

        a, b = differences(1e-3), differences(3e-3)
        extrapolated = a + (a - b) / 8.0
        np.testing.assert_allclose(fit.inference.hessian, extrapolated, rtol=0, atol=2e-6 * np.abs(extrapolated).max())


def test_group_covariance_and_refusals():
    fit = ipt.fit_mmrm(_data(), "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU",
                       covariance="cs", group_covariance="arm", df_method="kenward-roger")
    satt = ipt.fit_mmrm(_data(), "HAMD17", visit="week", covariates=["sex"], reference_arm="TAU",
                        covariance="cs", group_covariance="arm")
    # one contrast: the same df; the SEs adjusted upwards (linear parameters: Q - P Phi P is positive)
    np.testing.assert_allclose(fit.fixed_effects["df"], satt.fixed_effects["df"], rtol=1e-10)
    assert (fit.fixed_effects["std_error"] >= satt.fixed_effects["std_error"]).all()
    assert fit.inference.W.shape == (4, 4)  # two parameters per arm
    with pytest.raises(ipt.ArgumentError, match="defined for REML fits"):
        ipt.fit_mmrm(_data(), "HAMD17", visit="week", reference_arm="TAU", method="ml", df_method="kenward-roger")


def test_kenward_roger_covers_in_small_trials():
    """Parameter recovery: 30 participants, an unstructured covariance; across simulated trials the 95 %
    Kenward-Roger interval of the week-16 arm difference covers the truth about 95 % of the time."""
    rng = np.random.default_rng(11)
    weeks = np.array([4, 8, 12, 16])
    S = np.array([[16, 10, 8, 6], [10, 18, 11, 9], [8, 11, 20, 12], [6, 9, 12, 22]], float)
    chol = np.linalg.cholesky(S)
    truth = -3.0
    hits = []
    for _ in range(60):
        n = 30
        arm = np.where(np.arange(n) < n // 2, "IPT", "TAU")
        base = rng.normal(22, 4, n)
        eps = rng.standard_normal((n, 4)) @ chol.T
        y = 20 + 0.5 * (base - 22)[:, None] - 0.4 * weeks[None, :] + eps
        y[arm == "IPT"] += truth * weeks / 16
        rows = [{"participant_id": f"P{i}", "arm": arm[i], "instrument": "HAMD17", "week": 0.0, "score": base[i]}
                for i in range(n)]
        rows += [{"participant_id": f"P{i}", "arm": arm[i], "instrument": "HAMD17", "week": float(w), "score": y[i, j]}
                 for i in range(n) for j, w in enumerate(weeks)]
        fit = ipt.fit_mmrm(pd.DataFrame(rows), "HAMD17", visit="week", reference_arm="TAU", df_method="kenward-roger")
        last = fit.arm_differences().iloc[-1]
        hits.append(last["ci_lower"] <= truth <= last["ci_upper"])
    assert 0.85 <= np.mean(hits) <= 1.0


def test_between_within_df_by_hand():
    """10 participants x 4 visits (40 rows), one of them missing its last visit (39 rows). Between
    columns: intercept, baseline, arm (rank 3), so 10 - 3 = 7 df; within: 3 visit and 3 arm x visit
    columns, so 39 - 10 - 6 = 23 df. An arm difference at a visit involves both kinds: the smaller, 7."""
    rng = np.random.default_rng(2)
    rows = []
    for i in range(10):
        arm = "IPT" if i % 2 else "TAU"
        rows.append({"participant_id": f"P{i}", "arm": arm, "instrument": "HAMD17", "week": 0.0,
                     "score": 20 + rng.normal()})
        for w in (4, 8, 12, 16):
            if i == 0 and w == 16:
                continue
            rows.append({"participant_id": f"P{i}", "arm": arm, "instrument": "HAMD17", "week": float(w),
                         "score": 20 - 0.3 * w + rng.normal(scale=2)})
    fit = ipt.fit_mmrm(pd.DataFrame(rows), "HAMD17", visit="week", reference_arm="TAU", covariance="cs",
                       df_method="between-within")
    df = fit.fixed_effects.set_index("term")["df"]
    assert fit.n_obs == 39
    assert df["Intercept"] == df["baseline"] == df["arm[IPT]"] == 7
    assert df["week[8]"] == df["arm[IPT]:week[16]"] == 23
    assert (fit.arm_differences()["df"] == 7).all()
