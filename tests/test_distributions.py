"""The distribution functions of the models against scipy.stats (the reference they replace)."""

import numpy as np
import pytest
from scipy import stats

from ipt_outcomes.inference import distributions as d

X = np.array([-40.0, -3.1, -1.0, 0.0, 0.4, 1.96, 7.5, 60.0])
DF = np.array([0.6, 1.0, 2.5, 7.0, 31.2, 400.0, 1e7, np.inf])
Q = np.array([1e-9, 0.025, 0.3, 0.5, 0.8, 0.975, 0.995, 1 - 1e-9])


@pytest.mark.parametrize("df", DF)
def test_student_t(df):
    np.testing.assert_allclose(d.t_sf(X, df), stats.t.sf(X, df), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d.t_two_sided(X, df), 2 * stats.t.sf(np.abs(X), df), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(d.t_ppf(Q, df), stats.t.ppf(Q, df), rtol=1e-10)


def test_normal_and_chi_square():
    np.testing.assert_allclose(d.norm_ppf(Q), stats.norm.ppf(Q), rtol=1e-12)
    np.testing.assert_allclose(d.norm_sf(X), stats.norm.sf(X), rtol=1e-12, atol=1e-300)
    for df in (1, 2, 3.5, 40):
        x = np.abs(X) * 3
        np.testing.assert_allclose(d.chi2_sf(x, df), stats.chi2.sf(x, df), rtol=1e-12, atol=1e-300)


def test_undefined_degrees_of_freedom_give_nan():
    assert np.isnan(d.t_two_sided(2.0, np.nan)) and np.isnan(d.t_ppf(0.975, np.nan))
