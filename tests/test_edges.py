"""Edge cases that must never give a silently wrong answer (issue 9)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.models.satterthwaite import SatterthwaiteState, theta_sigma, varpar_from_theta


def test_infinite_satterthwaite_df_is_never_returned_silently(example_df):
    """Where lmerTest's formula gives infinite df (the covariance parameters do not inform a
    contrast's variance), the residual df are used with an ApproximationWarning and a note."""
    fit = ipt.fit_growth(example_df, outcome="HAMD17", reference_arm="TAU")
    p = len(fit.fixed_effects)
    fit._satt = SatterthwaiteState(fit._satt.vcov, np.zeros((p, p, fit._satt.A.shape[0])), fit._satt.A)
    with pytest.warns(ipt.ApproximationWarning, match="residual df"):
        result = fit.contrast(np.eye(p)[1])
    assert result["df"] == fit.n_obs - p
    assert math.isfinite(result["p_value"])
    assert any("residual df" in note for note in fit.notes)


def test_undefined_df_is_never_returned_silently(example_df):
    fit = ipt.fit_growth(example_df, outcome="HAMD17", reference_arm="TAU")
    p = len(fit.fixed_effects)
    fit._satt = SatterthwaiteState(fit._satt.vcov, fit._satt.jac, np.full_like(fit._satt.A, np.nan))
    with pytest.warns(ipt.ApproximationWarning, match="undefined"):
        assert fit.contrast(np.eye(p)[0])["df"] == fit.n_obs - p


@pytest.mark.parametrize("varpar", [[4.0, -0.3, 0.09, 6.0], [4.0, 0.6, 0.09, 6.0], [4.0, 0.0, 0.0, 6.0]])
def test_theta_sigma_round_trip(varpar):
    """lme4's parameters (relative Cholesky factor, sigma) and back, including a correlation of +1."""
    varpar = np.array(varpar)
    np.testing.assert_allclose(varpar_from_theta(theta_sigma(varpar, 2, False), 2, False), varpar, atol=1e-12)
