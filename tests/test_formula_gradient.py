"""The analytic gradient of the profiled criterion (models/general_gradient.py) against central
differences of the criterion itself, for every kind of random part the engine eliminates differently
(primary factor alone per level and by assessment pattern, nested and crossed second factors,
random slopes at a higher level, REML and ML), and the optimum it leads to against lme4's."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.models.engine.general import GeneralData, general_deviance
from ipt_outcomes.models.engine.general_gradient import general_deviance_and_gradient
from ipt_outcomes.models.engine.structure import Block, Factor, RandomStructure

REF = Path(__file__).resolve().parent / "reference"

FORMULAS = [
    "X ~ session * arm + (session | participant_id)",
    "X ~ session * arm + (session || participant_id)",
    "X ~ session * arm + (1 | therapist_id) + (session | participant_id)",
    "X ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id)",
    "X ~ session * arm + (session | therapist_id) + (1 | participant_id)",
    "X ~ session * arm + (1 | participant_id) + (1 | rater_id)",
    "X ~ session * arm + (1 + session + I(session**2) | participant_id) + (1 | trial_id)",
    "X ~ session * arm + (1 | participant_id) + (0 + session | therapist_id) + (1 | trial_id)",
]


def _fixture_data() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "formula_trials.csv", dtype={"participant_id": str})
    d["instrument"] = "X"
    return d


def _general_data(formula: str) -> GeneralData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ipt.fit_growth(_fixture_data(), formula=formula, reference_arm="TAU", check=False)
    design = fit.formula_model
    return GeneralData.build(design.y, design.X, design.structure, design.Zs, design.codes)


def _central(data: GeneralData, theta: np.ndarray, reml: bool) -> np.ndarray:
    out = np.zeros(len(theta))
    for k in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[k]))
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        out[k] = (general_deviance(up, data, reml)[0] - general_deviance(down, data, reml)[0]) / (2 * h)
    return out


def _some_theta(data: GeneralData, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = data.structure
    free = np.array([lo is None for lo, _ in s.bounds()])
    return s.start() * rng.uniform(0.2, 1.2, s.n_theta) + free * rng.normal(0.0, 0.2, s.n_theta)


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_central_differences(formula, reml):
    data = _general_data(formula)
    for seed in range(2):
        theta = _some_theta(data, seed)
        dev, grad = general_deviance_and_gradient(theta, data, reml)
        assert dev == pytest.approx(general_deviance(theta, data, reml)[0], rel=1e-13)
        num = _central(data, theta, reml)
        np.testing.assert_allclose(grad, num, rtol=2e-6, atol=2e-6 * max(1.0, np.max(np.abs(num))))


def _patterned(n: int, seed: int = 3) -> GeneralData:
    """1,200 participants x 7 assessments with missed visits: few patterns of Z'Z, so the criterion
    and its gradient take the per-pattern path."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n), 7)
    t = np.tile(np.arange(7.0), n)
    keep = (t == 0) | (rng.random(len(t)) > 0.15)
    pid, t = pid[keep], t[keep]
    arm = (pid % 2).astype(float)
    X = np.column_stack([np.ones_like(t), t, arm, t * arm])
    b = rng.normal(size=(n, 2)) * [3.0, 0.4]
    y = 15 - 0.5 * t + b[pid, 0] + b[pid, 1] * t + rng.normal(0, 2, len(t))
    structure = RandomStructure((Factor("participant_id", (Block(("Intercept", "session"), 0),), n),))
    return GeneralData.build(y, X, structure, [np.column_stack([np.ones_like(t), t])], [pid])


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_by_assessment_pattern(reml):
    data = _patterned(1200)
    assert "pattern_T" in data.stats  # the per-pattern path is the one under test
    theta = np.array([1.3, 0.05, 0.2])
    _, grad = general_deviance_and_gradient(theta, data, reml)
    num = _central(data, theta, reml)
    np.testing.assert_allclose(grad, num, rtol=2e-6, atol=2e-6 * np.max(np.abs(num)))


def test_undefined_criterion_is_infinite_not_an_error():
    data = _general_data(FORMULAS[2])
    dev, grad = general_deviance_and_gradient(np.full(data.structure.n_theta, 1e12), data, True)
    assert dev == np.inf and np.all(grad == 0)


def _lme4_theta(case: dict, data: GeneralData) -> np.ndarray:
    """lme4's theta in our order of factors (lme4 orders them by its own rule; VarCorr lists them so)."""
    groups = list(dict.fromkeys(r["group"] for r in case["variance_components"] if r["group"] != "Residual"))
    sizes = {f.name: sum(b.n_theta for b in f.blocks) for f in data.structure.factors}

    def canonical(name: str) -> str:
        return ":".join(sorted(name.split(":")))

    theta_r, k, by_group = np.asarray(case["theta"], float), 0, {}
    for g in groups:
        n = sizes[next(f for f in sizes if canonical(f) == canonical(g))]
        by_group[canonical(g)] = theta_r[k:k + n]
        k += n
    return np.concatenate([by_group[canonical(f.name)] for f in data.structure.factors])


@pytest.mark.parametrize("cid", ["random_quadratic", "three_levels"])
def test_optimum_is_stationary_and_no_worse_than_lme4s(cid):
    """The two flattest fixtures (a nearly unidentifiable random quadratic, as lme4 says, and a trial
    variance from three trials): a Newton step from our estimates (Hessian from differences of the
    analytic gradient) moves theta by less than 1e-9 and would lower the criterion by less than 1e-12,
    and lme4's criterion value (at its theta, evaluated by ours, which reproduces lme4's
    log-likelihood) is no lower, beyond the rounding noise of the criterion. lme4 stops farther from
    the optimum than that (about 6e-5 relative in theta for the quadratic, 1e-6 absolute for the
    trial variance), which sets the tolerance of the quadratic's variance components in
    test_formula_reference.py."""
    case = json.loads((REF / "formula_fixtures.json").read_text(encoding="utf-8"))[cid]
    data = _general_data(case["formula"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ipt.fit_growth(_fixture_data(), formula=case["formula"], reference_arm="TAU", check=False)
    theta = np.asarray(fit.variance_parameters[:-1], float)
    ours, grad = general_deviance_and_gradient(theta, data, True)
    lme4 = _lme4_theta(case, data)
    at_lme4 = general_deviance(lme4, data, True)[0]
    assert at_lme4 == pytest.approx(-2 * case["log_likelihood"], abs=1e-8)
    # the criterion (about 4500) carries rounding noise of about 2e-10: it moves by that when theta moves
    # by 1e-13 relative (measured with numpy 2.4 / scipy 1.17); no lower than lme4's beyond that noise
    assert ours <= at_lme4 + 1e-9
    H = np.zeros((len(theta), len(theta)))
    for k in range(len(theta)):
        h = 1e-5 * max(1.0, abs(theta[k]))
        e = np.zeros(len(theta))
        e[k] = h
        H[:, k] = (general_deviance_and_gradient(theta + e, data, True)[1]
                   - general_deviance_and_gradient(theta - e, data, True)[1]) / (2 * h)
    step = np.linalg.solve((H + H.T) / 2, grad)
    assert np.max(np.abs(step)) < 1e-9
    assert grad @ step / 2 < 1e-12
    assert np.max(np.abs(lme4 - theta)) > 1e-7  # lme4's point is farther than a Newton step
