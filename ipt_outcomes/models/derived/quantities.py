"""Quantities derived from a fitted growth model: trajectories, arm differences, effect sizes,
ICC, R^2, participant random effects and likelihood-ratio comparisons.

Model-implied means are linear combinations ``L b`` of the fixed effects; their standard errors
come from ``Var(b)`` and their degrees of freedom from Satterthwaite's method, as for coefficients.
Covariates and moderators that are not held at a given level are set to their mean in the
analysed data (for a categorical one: its observed proportions), giving marginal means.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ...distinct import row_texts
from ...errors import AnalysisError, ArgumentError
from ...inference.distributions import chi2_sf, norm_ppf
from ..design import Design, time_columns
from ..engine.likelihood import unpack
from ..fitted import GrowthModel
from . import levels, means

__all__ = [
    "arm_differences",
    "compare_models",
    "contrast_row",
    "end_of_treatment",
    "icc",
    "r_squared",
    "random_effects",
    "trajectories",
]


def keyword_design(fit: GrowthModel) -> Design:
    """The keyword model's design (rows and matrices), or a clear error where the fit has none."""
    design = fit.design
    if design is None:
        require_rows(fit, "this quantity")  # says why
        raise ArgumentError("this quantity needs the keyword model's design, which this fit does not keep.")
    return design


def variance_parameters(fit: GrowthModel) -> np.ndarray:
    """The covariance parameters of a fit that keeps them."""
    if fit.variance_parameters is None:
        raise ArgumentError("this fit keeps no covariance parameters; fit it again with ipt.fit_growth.")
    return fit.variance_parameters


def require_rows(fit: GrowthModel, what: str) -> None:
    """Raise a clear error where a method needs the analysed rows, which fits from partitioned data
    (sufficient statistics only) do not keep."""
    if fit.formula_model is not None:
        raise ArgumentError(f"{what} is not available yet for a model given by formula ({fit.formula}). Formula fits "
                            "give marginal_means(), contrasts(), arm_differences(), trajectories(), random_effects(), "
                            "residuals(), icc() and r_squared(); fit.contrast(L) tests any combination of the "
                            "coefficients (in fit.fixed_effects' order).")
    if fit.design is None or fit.variance_parameters is None:
        raise ArgumentError(f"{what} needs the analysed rows, which a fit from partitioned data does not keep (it has "
                            "the coefficients, variance components and fit statistics only). Fit a pandas table "
                            "with ipt.fit_growth for it, e.g. the partitions you need read with pandas.")


def contrast_row(fit: GrowthModel, arm: str, time: float, levels: dict[str, str] | None = None) -> np.ndarray:
    """The design row of the model-implied mean for ``arm`` at ``time`` (other columns at their mean)."""
    design = keyword_design(fit)
    require_rows(fit, "a model-implied mean")
    levels = dict(levels or {})
    t_names, t_vals = time_columns(np.array([time]), fit.spec)
    tv = dict(zip(t_names, t_vals[0], strict=True))
    column_means = design.column_means
    means = {parts[0]: column_means[i] for i, parts in enumerate(design.term_parts) if len(parts) == 1}
    if arm not in design.arm_levels:
        raise ArgumentError(f"arm {arm!r} is not in the model; arms: {', '.join(design.arm_levels)}.")

    def component(factor: tuple[str, str | None]) -> float:
        column, level = factor
        if level is None and column in tv:
            return float(tv[column])
        if column == "arm" and level is not None:
            return 1.0 if level == arm else 0.0
        if column in levels and level is not None:
            return 1.0 if level == levels[column] else 0.0
        return float(means[factor])

    row = []
    for parts in design.term_parts:
        value = 1.0
        for factor in parts:
            value *= component(factor)
        row.append(value)
    return np.array(row)


def _moderator_groups(fit: GrowthModel, by: str | None) -> list[dict[str, str]]:
    """[{}] without ``by``; else one {by: level} per level of that moderator in the analysed rows."""
    if by is None:
        return [{}]
    if by not in fit.spec.moderators:
        raise ArgumentError(f"by={by!r} is not a moderator of this model; moderators: {list(fit.spec.moderators)}.")
    require_rows(fit, "a comparison by moderator")
    column = keyword_design(fit).data[by]
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        raise ArgumentError(f"by={by!r} needs a categorical moderator; {by} is modelled as continuous. Compare arms "
                            f"at chosen values of {by} with fit.contrast(), or make {by} categorical (e.g. bands).")
    return [{by: str(v)} for v in sorted(keyword_design(fit).data[by].astype(str).unique())]


def _estimate(fit: GrowthModel, L: np.ndarray, level: float) -> dict[str, float]:
    return fit.contrast(L, level=level)


def end_of_treatment(fit: GrowthModel) -> float:
    """Default time of 'end of treatment': the study's planned maximum, else the largest time observed."""
    from ...study import Study

    study = Study.from_attrs(fit.data_attrs.get("ipt_study")) if fit.data_attrs else None
    if study is not None and study.planned_sessions_max is not None and fit.spec.time == "session":
        return float(study.planned_sessions_max)
    require_rows(fit, "the end-of-treatment time")
    return float(keyword_design(fit).data[fit.spec.time].max())


WEIGHTS = ("proportional", "equal")


def _check_weights(weights: str) -> None:
    if weights not in WEIGHTS:
        raise ArgumentError(f"weights must be one of {', '.join(WEIGHTS)}, not {weights!r}.")


def trajectories(fit: GrowthModel, times: Sequence[float] | None = None, by: str | None = None,
                 level: float = 0.95, weights: str = "proportional") -> pd.DataFrame:
    """Model-implied mean trajectory of each arm (and moderator level) with confidence bands.

    Returns columns ``arm``, [``by``], ``time``, ``estimate``, ``std_error``, ``df``, ``ci_lower``,
    ``ci_upper``. Moderators and covariates: see :func:`arm_differences`.
    """
    _check_weights(weights)
    if fit.formula_model is not None:
        return means.trajectories(fit, times=times, by=by, level=level, weights=weights)
    if weights == "equal":
        return means.trajectories(fit.as_formula_fit(), times=times, by=by, level=level, weights=weights)
    design = keyword_design(fit)
    require_rows(fit, "trajectories()")
    if times is None:
        observed = np.unique(design.data[fit.spec.time].to_numpy(float))
        times = list(observed if len(observed) <= 40 else np.linspace(observed.min(), observed.max(), 40))
    groups = _moderator_groups(fit, by)
    rows = []
    for arm in design.arm_levels:
        for g in groups:
            for t in times:
                est = _estimate(fit, contrast_row(fit, arm, float(t), g), level)
                rows.append({"arm": arm, **g, "time": float(t), "estimate": est["estimate"],
                             "std_error": est["std_error"], "df": est["df"], "ci_lower": est["ci_lower"],
                             "ci_upper": est["ci_upper"]})
    return pd.DataFrame(rows)


def baseline_sd(fit: GrowthModel) -> float:
    """SD of the observed outcome at time 0 (all arms pooled): the denominator of Feingold's d.
    NaN when the analysed data hold no baseline scores."""
    design = keyword_design(fit)
    require_rows(fit, "the baseline SD of Feingold's d")
    if fit.spec.baseline == "covariate":
        values = design.data.groupby("participant_id")["baseline"].first()
    else:
        values = design.data.loc[design.data[fit.spec.time] == 0, "score"]
    if len(values) < 2:
        return math.nan  # no baseline scores: d cannot be scaled (reported as missing)
    return float(values.std(ddof=1))


def arm_differences(fit: GrowthModel, at: float | None = None, level: float = 0.95, by: str | None = None,
                    weights: str = "proportional") -> pd.DataFrame:
    """Difference of each arm from the reference arm at time ``at`` (default: end of treatment).

    With ``by`` (a moderator of the model), one row per arm and moderator level. Moderators and
    categorical covariates not in ``by`` are averaged with ``weights``: ``"proportional"`` (the
    default, for keyword and formula fits alike: their observed frequencies, the trial population's
    average) or ``"equal"`` (emmeans' default); numeric covariates are held at their mean. The
    result's ``attrs["notes"]`` says which.

    Returns columns ``arm``, [``by``], ``reference_arm``, ``time``, ``difference``, ``std_error``, ``df``,
    ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper``, ``change_difference`` (difference in
    model-implied change from time 0), ``effect_size_d``, ``d_ci_lower``, ``d_ci_upper``.

    Notes
    -----
    ``effect_size_d`` is the growth-model d of Feingold (2009): the difference between arms in
    model-implied change from baseline to ``at``, divided by the SD of the raw baseline scores
    (for linear time this is ``b_time x arm * duration / SD``). Its interval is the interval of the
    change difference divided by the same SD. Negative d = the arm's scores fell more.

    References
    ----------
    Feingold A (2009). Effect sizes for growth-modeling analysis for controlled clinical trials in
    the same metric as for classical analysis. Psychol Methods 14:43-53. doi:10.1037/a0014699
    """
    _check_weights(weights)
    if fit.formula_model is not None:
        return means.arm_differences(fit, at=at, level=level, by=by, weights=weights)
    if weights == "equal":
        return means.arm_differences(fit.as_formula_fit(), at=at, level=level, by=by, weights=weights)
    design = keyword_design(fit)
    require_rows(fit, "arm_differences()")
    at = end_of_treatment(fit) if at is None else observed_time(fit, at, "at")
    sd = baseline_sd(fit)
    sd = sd if sd > 0 else math.nan  # no baseline rows (baseline as covariate) or no spread: d undefined
    ref = design.arm_levels[0]
    groups = _moderator_groups(fit, by)
    rows = []
    for arm, g in ((a, g) for a in design.arm_levels[1:] for g in groups):
        L = contrast_row(fit, arm, at, g) - contrast_row(fit, ref, at, g)
        diff = _estimate(fit, L, level)
        L_change = L - (contrast_row(fit, arm, 0.0, g) - contrast_row(fit, ref, 0.0, g))
        change = _estimate(fit, L_change, level)
        rows.append({"arm": arm, **g, "reference_arm": ref, "time": at, "difference": diff["estimate"],
                     "std_error": diff["std_error"], "df": diff["df"], "statistic": diff["statistic"],
                     "p_value": diff["p_value"], "ci_lower": diff["ci_lower"], "ci_upper": diff["ci_upper"],
                     "change_difference": change["estimate"], "effect_size_d": change["estimate"] / sd,
                     "d_ci_lower": change["ci_lower"] / sd, "d_ci_upper": change["ci_upper"] / sd})
    out = pd.DataFrame(rows)
    held = [m for m in (*fit.spec.moderators, *fit.spec.covariates) if m != by]
    out.attrs["notes"] = [f"{', '.join(held)} held at the observed proportions (categorical) or mean (numeric): "
                          "proportional weights"] if held else []
    return out


def observed_time(fit: GrowthModel, value: Any, name: str) -> float:
    """``value`` as a comparison time. Inside the analysed rows' range (or up to the study's planned end
    of treatment) it is used as is; outside it the model extrapolates (as emmeans would), and an
    :class:`ApproximationWarning` says so."""
    from ...arguments import number
    from ...errors import ApproximationWarning

    t = number()(value, name)
    times = keyword_design(fit).data[fit.spec.time]
    low, high = float(times.min()), float(times.max())
    if not low <= t <= max(high, end_of_treatment(fit)):
        warnings.warn(f"{name}={t:g} is outside the analysed {fit.spec.time} range {low:g} to {high:g}: the model "
                      "extrapolates a continuation of the fitted trajectories there.",
                      ApproximationWarning, stacklevel=4)
    return t


def icc(fit: GrowthModel) -> pd.DataFrame:
    """Intraclass correlations at time 0: share of variance between participants (and therapists).

    ``icc = var(participant intercept) / (var(participant intercept) + [var(therapist)] + var(residual))``;
    with random slopes this is the ICC at time 0 (time term = 0).
    """
    if fit.formula_model is not None:
        return levels.formula_icc(fit)
    require_rows(fit, "icc()")
    G, g_t, s2 = unpack(variance_parameters(fit), keyword_design(fit).Z.shape[1], keyword_design(fit).therapist is not None)
    total = G[0, 0] + g_t + s2
    rows = [{"group": "participant_id", "icc": G[0, 0] / total}]
    if keyword_design(fit).therapist is not None:
        rows.append({"group": fit.spec.therapist, "icc": g_t / total})
    return pd.DataFrame(rows)


def r_squared(fit: GrowthModel) -> dict[str, float]:
    """Marginal and conditional R^2 (Nakagawa and Schielzeth 2013; random slopes as in Johnson 2014).

    ``var_f = var(X b)`` (sample variance), ``var_r = mean_i z_i' G z_i (+ var(therapist))``,
    ``R2_marginal = var_f / (var_f + var_r + s2)``, ``R2_conditional = (var_f + var_r) / (var_f + var_r + s2)``.

    References
    ----------
    Nakagawa S, Schielzeth H (2013). Methods Ecol Evol 4:133-142. doi:10.1111/j.2041-210x.2012.00261.x
    Johnson PCD (2014). Methods Ecol Evol 5:944-946. doi:10.1111/2041-210X.12225
    """
    if fit.formula_model is not None:
        return levels.formula_r_squared(fit)
    design = keyword_design(fit)
    require_rows(fit, "r_squared()")
    G, g_t, s2 = unpack(variance_parameters(fit), design.Z.shape[1], design.therapist is not None)
    beta = fit.fixed_effects["estimate"].to_numpy()
    var_f = float(np.var(design.X @ beta, ddof=1))  # sample variance, as R's MuMIn and performance
    var_r = float(np.mean(np.einsum("ij,jk,ik->i", design.Z, G, design.Z))) + g_t
    total = var_f + var_r + s2
    return {"marginal": var_f / total, "conditional": (var_f + var_r) / total}


def _blups(fit: GrowthModel) -> tuple[np.ndarray, np.ndarray | None]:
    """Participant BLUPs (N x q) and therapist BLUPs (or None), from per-participant sums in O(rows).

    With ``P_i = G (s2 I + Z_i'Z_i G)^-1`` and residuals ``r = y - X b``: participant-only,
    ``u_i = P_i Z_i'r_i``. With a therapist intercept (variance ``g_t``), by Sherman-Morrison within
    therapist ``k``: ``d_i(x) = (1'x_i - Z1_i' P_i Z_i'x_i) / s2`` (``1'D_i^-1 x``), ``s_k = sum d_i(1)``,
    ``b_k = sum d_i(r)``, ``c_k = g_t / (1 + g_t s_k)``; then ``v_k = g_t b_k (1 - c_k s_k)`` and
    ``u_i = P_i (Z_i'r_i - c_k b_k Z_i'1)``.
    """
    design = keyword_design(fit)
    require_rows(fit, "random effects")
    has_t = design.therapist is not None
    q = design.Z.shape[1]
    G, g_t, s2 = unpack(variance_parameters(fit), q, has_t)
    beta = fit.fixed_effects["estimate"].to_numpy()
    r = design.y - design.X @ beta
    pid, N = design.participant, len(design.participant_ids)
    Z = design.Z
    M = np.stack([np.stack([np.bincount(pid, Z[:, a] * Z[:, b], N) for b in range(q)], -1) for a in range(q)], 1)
    Zr = np.column_stack([np.bincount(pid, Z[:, a] * r, N) for a in range(q)])
    P = G[None] @ np.linalg.inv(s2 * np.eye(q)[None] + M @ G[None])
    if not has_t:
        return np.einsum("iab,ib->ia", P, Zr), None
    Z1 = np.column_stack([np.bincount(pid, Z[:, a], N) for a in range(q)])
    n_i = np.bincount(pid, minlength=N).astype(float)
    r_i = np.bincount(pid, r, N)
    PZr, PZ1 = np.einsum("iab,ib->ia", P, Zr), np.einsum("iab,ib->ia", P, Z1)
    d1 = (n_i - np.einsum("ia,ia->i", Z1, PZ1)) / s2
    dr = (r_i - np.einsum("ia,ia->i", Z1, PZr)) / s2
    k = np.zeros(N, int)
    k[pid] = design.therapist
    n_t = int(design.therapist.max()) + 1
    s_k, b_k = np.bincount(k, d1, n_t), np.bincount(k, dr, n_t)
    c_k = g_t / (1.0 + g_t * s_k)
    v = g_t * b_k * (1.0 - c_k * s_k)
    u = PZr - (c_k * b_k)[k][:, None] * PZ1
    return u, v


def random_effects(fit: GrowthModel, group: str | None = None) -> pd.DataFrame:
    """Predicted random effects (BLUPs, lme4's conditional modes): one row per participant, or with
    ``group`` the therapist (site) column of the model, one row per therapist.

    ``u_i = G Z_i' V^-1 (y - X b)``. Columns: the group's id column and one per random term.
    """
    if fit.formula_model is not None:
        return levels.formula_random_effects(fit, group)
    design = keyword_design(fit)
    require_rows(fit, "random effects")
    u, v = _blups(fit)
    if group is None or group == "participant_id":
        frame = pd.DataFrame(u, columns=design.random_terms)
        frame.insert(0, "participant_id", design.participant_ids)
        return frame
    if group != fit.spec.therapist or v is None:
        raise ArgumentError(f"group must be 'participant_id' or the model's therapist column, not {group!r}.")
    codes = pd.factorize(design.data[group])[1]
    return pd.DataFrame({group: [str(c) for c in codes], "Intercept": v})


def compare_models(*fits: GrowthModel) -> pd.DataFrame:
    """Likelihood-ratio comparison of nested models, refitting REML fits by ML (as lme4's anova).

    Returns one row per model (fewest parameters first): ``model``, ``n_parameters``, ``aic``,
    ``bic``, ``log_likelihood``, ``deviance``, ``chi_square``, ``df``, ``p_value`` (each against
    the row above).
    """
    if len(fits) < 2:
        raise ArgumentError("compare_models needs at least two fitted models.")
    refits = [f if f.method == "ml" else f.refit(method="ml") for f in fits]
    n_obs = {f.n_obs for f in refits}
    if len(n_obs) > 1:
        raise AnalysisError(f"the models were fitted to different rows ({sorted(n_obs)} observations); "
                            "a likelihood-ratio test needs the same data.")
    order = sorted(range(len(refits)), key=lambda i: refits[i].n_parameters)
    rows: list[dict[str, Any]] = []
    previous = None
    for i in order:
        f = refits[i]
        row = {"model": i + 1, "n_parameters": f.n_parameters, "aic": f.aic, "bic": f.bic,
               "log_likelihood": f.log_likelihood, "deviance": -2 * f.log_likelihood,
               "chi_square": math.nan, "df": math.nan, "p_value": math.nan}
        if previous is not None:
            chi = max(2 * (f.log_likelihood - previous.log_likelihood), 0.0)
            ddf = f.n_parameters - previous.n_parameters
            row.update(chi_square=chi, df=ddf, p_value=float(chi2_sf(chi, ddf)) if ddf > 0 else math.nan)
        rows.append(row)
        previous = f
    return pd.DataFrame(rows)


def residuals(fit: GrowthModel) -> pd.DataFrame:
    """Observed, fitted (fixed plus every random effect, as lme4's ``fitted``) and residual values per row.

    Columns: ``participant_id``, ``arm``, ``time``, ``observed``, ``fitted_marginal`` (X b),
    ``fitted``, ``residual``.
    """
    if fit.formula_model is not None:
        return levels.formula_residuals(fit)
    design = keyword_design(fit)
    require_rows(fit, "residuals()")
    beta = fit.fixed_effects["estimate"].to_numpy()
    u, v = _blups(fit)
    marginal = design.X @ beta
    fitted = marginal + np.sum(design.Z * u[design.participant], axis=1)
    if v is not None:
        fitted = fitted + v[design.therapist]
    return pd.DataFrame({"participant_id": row_texts(design.participant_ids, design.participant),
                         "arm": _as_text(design.data["arm"]), "time": design.data[fit.spec.time].to_numpy(float),
                         "observed": design.y, "fitted_marginal": marginal, "fitted": fitted,
                         "residual": design.y - fitted})


def _as_text(values: pd.Series) -> Any:
    """``values.astype(str)`` through the distinct values (one hash pass, not one str() per row)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    return row_texts([str(u) for u in uniques], codes)


def random_effect_intervals(fit: GrowthModel, level: float = 0.95, group: str | None = None) -> pd.DataFrame:
    """BLUPs with conditional SDs, ``Var(u_i | y) = G - G Z_i' V_i^-1 Z_i G`` (as lme4's condVar).

    Columns: ``participant_id``, ``term``, ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``.
    Participant-only models.
    """
    if fit.formula_model is not None:
        return levels.formula_random_effects(fit, group, intervals=True, level=level)
    design = keyword_design(fit)
    require_rows(fit, "random_effect_intervals()")
    if group not in (None, "participant_id"):
        raise ArgumentError("random-effect intervals of a model from keyword arguments are by participant.")
    if design.therapist is not None:
        raise ArgumentError("random-effect intervals are available for participant-only models.")
    q = design.Z.shape[1]
    G, _, s2 = unpack(variance_parameters(fit), q, False)
    u, _ = _blups(fit)
    pid, N, Z = design.participant, len(design.participant_ids), design.Z
    # Var(u_i | y) = G - G Z_i' V_i^-1 Z_i G = s2 G (s2 I + Z_i'Z_i G)^-1 (push-through identity): from
    # per-participant sums of Z'Z, so O(rows) however many participants
    M = np.stack([np.stack([np.bincount(pid, Z[:, a] * Z[:, b], N) for b in range(q)], -1) for a in range(q)], 1)
    cond = s2 * (G[None] @ np.linalg.inv(s2 * np.eye(q)[None] + M @ G[None]))
    se = np.sqrt(np.maximum(np.diagonal(cond, axis1=1, axis2=2), 0.0))  # N x q
    z = norm_ppf(0.5 + level / 2)
    return pd.DataFrame({
        "participant_id": np.repeat(np.asarray(design.participant_ids, dtype=object), q),
        "term": np.tile(np.asarray(design.random_terms, dtype=object), N),
        "estimate": u.ravel(), "std_error": se.ravel(),
        "ci_lower": (u - z * se).ravel(), "ci_upper": (u + z * se).ravel(),
    })
