"""``ipt.meta_analysis``: random-effects (or fixed-effect) pooling of trial effects, as metafor's ``rma``.

For estimates ``y_i`` with standard errors ``s_i`` (``v_i = s_i^2``) and between-trial variance
``tau2`` (:mod:`.tau2`): weights ``w_i = 1 / (v_i + tau2)``, pooled ``mu = sum w y / sum w`` with
``SE = 1 / sqrt(sum w)``, a z test and interval (or, with ``hksj=True``, Knapp & Hartung's (2003)
``SE_KH = sqrt(sum w (y - mu)^2 / ((k - 1) sum w))`` with t on ``k - 1`` df, metafor's
``test = "knha"``, not truncated at the unadjusted SE). Heterogeneity as metafor: ``Q`` from the
fixed-effect weights on ``k - 1`` df; for random-effects models ``I2 = 100 tau2 / (tau2 + s2)`` and
``H2 = (tau2 + s2) / s2`` with the typical within-trial variance ``s2 = (k - 1) sum w0 / ((sum w0)^2 -
sum w0^2)`` (Higgins & Thompson 2002), ``w0 = 1 / v``; for the fixed-effect model, from Q:
``I2 = max(0, 100 (Q - (k - 1)) / Q)`` and ``H2 = Q / (k - 1)`` (metafor, RevMan). With ``hksj=True``
and identical effects the Knapp-Hartung scale is 0; it is floored at 1 (a note says so). Prediction
interval ``mu +- crit sqrt(SE^2 + tau2)`` with ``crit`` the normal quantile, or t on ``k - 1`` df with
HKSJ (metafor's ``predict``).

Subgroups: each subgroup pooled on its own (its own ``tau2``), and the test for subgroup differences
``Q_between = sum (mu_g - mu_bar)^2 / SE_g^2`` on ``G - 1`` df (the fixed-effect combination of the
subgroup estimates, as the Cochrane Handbook and metafor's subgroup vignette do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..formatting import p_text
from ..inference.distributions import chi2_sf, norm_ppf, norm_sf, t_ppf, t_two_sided
from ..results import Summary, jsonable
from .tau2 import estimate_tau2

__all__ = ["METHODS", "MetaAnalysis", "meta_analysis"]

METHODS = ("reml", "dl", "pm", "fe")


@dataclass(eq=False)
class MetaAnalysis:
    """Result of :func:`meta_analysis`: ``estimate``, ``std_error``, ``ci_lower``, ``ci_upper``,
    ``statistic``, ``p_value``, ``tau2``, ``i2`` (percent), ``h2``, ``q``, ``q_df``, ``q_p_value``,
    ``pi_lower``, ``pi_upper``, ``k``, ``method``, ``hksj``, ``level``, ``studies`` (the input with
    each trial's weight), :meth:`to_frame` (one row), :meth:`summary`, :meth:`to_dict`,
    :meth:`leave_one_out`, ``notes``; with ``by``: ``subgroups`` (one row per level) and
    ``q_between``, ``q_between_df``, ``q_between_p_value``."""

    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    statistic: float
    p_value: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p_value: float
    pi_lower: float
    pi_upper: float
    k: int
    method: str
    hksj: bool
    level: float
    studies: pd.DataFrame
    estimates: np.ndarray = field(repr=False)   # each trial's estimate
    variances: np.ndarray = field(repr=False)   # and its squared standard error
    notes: list[str] = field(default_factory=list)
    by: str | None = None
    subgroups: pd.DataFrame | None = None
    q_between: float | None = None
    q_between_df: int | None = None
    q_between_p_value: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """The pooled result as one row: ``method``, ``k``, ``estimate`` ... ``pi_upper``."""
        keys = ["k", "estimate", "std_error", "ci_lower", "ci_upper", "statistic", "p_value", "tau2", "i2", "h2", "q",
                "q_df", "q_p_value", "pi_lower", "pi_upper"]
        return pd.DataFrame([{"method": self.method + (" + HKSJ" if self.hksj else ""),
                              **{k: getattr(self, k) for k in keys}}])

    def summary(self) -> Summary:
        """The pooled result, heterogeneity, each trial's weight and the subgroups (text; HTML in a notebook)."""
        lines = [f"{self.k} trials; {self.method}{' with the Knapp-Hartung interval' if self.hksj else ''}",
                 f"pooled {self.estimate:.2f} [{self.ci_lower:.2f}, {self.ci_upper:.2f}], {p_text(self.p_value)}; "
                 f"prediction interval [{self.pi_lower:.2f}, {self.pi_upper:.2f}]",
                 f"heterogeneity: Q = {self.q:.2f} on {self.q_df} df, {p_text(self.q_p_value)}; tau2 = {self.tau2:.4f}; "
                 f"I2 = {self.i2:.0f} %; H2 = {self.h2:.2f}"]
        tables = [("trials", self.studies)]
        if self.subgroups is not None:
            lines.append(f"subgroup differences ({self.by}): Q = {self.q_between:.2f} on {self.q_between_df} df, "
                         f"{p_text(self.q_between_p_value)}")
            tables.append((f"by {self.by}", self.subgroups))
        return Summary.of("Meta-analysis of trial effects", lines, tables, self.notes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the pooled result, the trials with their weights, the subgroups, the notes."""
        out = {"summary": self.to_frame().iloc[0].to_dict(), "trials": self.studies, "notes": list(self.notes)}
        if self.subgroups is not None:
            out.update(by=self.by, subgroups=self.subgroups, q_between=self.q_between, q_between_df=self.q_between_df,
                       q_between_p_value=self.q_between_p_value)
        return jsonable(out)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def leave_one_out(self) -> pd.DataFrame:
        """The pooled result with each trial left out in turn (metafor's ``leave1out``); at least 3 trials."""
        if len(self.studies) < 3:
            raise AnalysisError(f"leaving one trial out of {len(self.studies)} leaves one trial: a leave-one-out "
                                "analysis needs at least 3 trials.")
        rows = []
        for i, label in enumerate(self.studies["label"]):
            keep = np.arange(len(self.studies)) != i
            one = _pool(self.estimates[keep], self.variances[keep], self.method, self.hksj, self.level)
            rows.append({"left_out": label, **{k: one[k] for k in ("estimate", "std_error", "ci_lower", "ci_upper",
                                                                   "p_value", "tau2", "i2", "q")}})
        return pd.DataFrame(rows)


def meta_analysis(effects: pd.DataFrame, method: str = "reml", hksj: bool = False, by: str | None = None,
                  level: float = 0.95) -> MetaAnalysis:
    """Pool trial effects (``label``, ``estimate``, ``std_error`` columns; others kept, e.g. moderators).

    Parameters
    ----------
    effects
        One row per trial: ``label``, ``estimate``, ``std_error`` (> 0), as :func:`trial_effects` returns.
    method
        ``reml`` (default, metafor's default), ``dl`` (DerSimonian-Laird), ``pm`` (Paule-Mandel) or
        ``fe`` (fixed effect, ``tau2 = 0``).
    hksj
        Knapp-Hartung (Hartung-Knapp-Sidik-Jonkman) standard error with t on ``k - 1`` df.
    by
        A column of ``effects`` (e.g. ``disorder``): each level pooled on its own and the test for
        subgroup differences (``subgroups``, ``q_between``, ``q_between_df``, ``q_between_p_value``).
    """
    if not isinstance(effects, pd.DataFrame):
        raise ArgumentError(f"meta_analysis() needs a DataFrame of trial effects, not {type(effects).__name__}.")
    if method not in METHODS:
        raise ArgumentError(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
    if not 0 < level < 1:
        raise ArgumentError(f"level must be between 0 and 1, not {level!r}.")
    missing = [c for c in ("label", "estimate", "std_error") if c not in effects.columns]
    if missing:
        raise ArgumentError(f"the effects table has no column {', '.join(map(repr, missing))}; it needs label, estimate "
                            "and std_error (one row per trial), as ipt.trial_effects() returns.")
    y = pd.to_numeric(effects["estimate"], errors="coerce").to_numpy(float)
    se = pd.to_numeric(effects["std_error"], errors="coerce").to_numpy(float)
    bad = ~np.isfinite(y) | ~np.isfinite(se) | (se <= 0)
    if bad.any():
        rows = ", ".join(f"row {i + 1} ({effects['label'].iloc[i]})" for i in np.flatnonzero(bad)[:5])
        raise AnalysisError(f"{int(bad.sum())} trial(s) have a missing estimate or a standard error that is missing or "
                            f"not above 0: {rows}; fix or drop them.")
    if effects["label"].duplicated().any():
        repeated = effects["label"][effects["label"].duplicated()].astype(str).unique()
        raise ArgumentError(f"trial labels must be unique; repeated: {', '.join(repeated)}.")
    if len(y) < 2:
        raise AnalysisError("a meta-analysis needs at least 2 trials.")
    result = _pool(y, se ** 2, method, hksj, level)
    notes = list(result.pop("notes"))
    studies = effects.copy()
    studies["weight_percent"] = 100 * result["weights"] / result["weights"].sum()
    fit = MetaAnalysis(**{k: v for k, v in result.items() if k != "weights"}, method=method, hksj=hksj, level=level,
                       studies=studies, estimates=y, variances=se ** 2, notes=notes, by=by)
    if by is not None:
        _subgroups(fit, effects, by)
    return fit


def _pool(y: np.ndarray, v: np.ndarray, method: str, hksj: bool, level: float) -> dict:
    k = len(y)
    notes: list[str] = []
    if k < 2:
        raise AnalysisError("a meta-analysis needs at least 2 trials.")
    tau2, converged = estimate_tau2(y, v, method)
    if not converged:
        notes.append(f"the {method} estimate of tau2 did not converge; its last value is used.")
    w = 1.0 / (v + tau2)
    sw = float(w.sum())
    mu = float(w @ y) / sw
    se = 1.0 / math.sqrt(sw)
    w0 = 1.0 / v
    mu0 = float(w0 @ y) / float(w0.sum())
    q = float(w0 @ (y - mu0) ** 2)
    s2 = (k - 1) * float(w0.sum()) / (float(w0.sum()) ** 2 - float(w0 @ w0))
    if hksj:
        scale = float(w @ (y - mu) ** 2) / (k - 1)
        if not scale > 0:  # identical effects: the Knapp-Hartung variance would be 0 (an infinite t)
            scale = 1.0
            notes.append("the trial effects are identical, so the Knapp-Hartung scale is 0; the unadjusted standard "
                         "error is used (the ad hoc floor of 1 of Roever et al. 2015), with t on k - 1 df.")
        se = math.sqrt(scale / sw)
        crit = float(t_ppf(0.5 + level / 2, k - 1))
        stat = mu / se
        p = float(t_two_sided(stat, k - 1))
    else:
        crit = float(norm_ppf(0.5 + level / 2))
        stat = mu / se
        p = 2.0 * float(norm_sf(abs(stat)))
    half_pi = crit * math.sqrt(se ** 2 + tau2)
    if method == "fe":  # no tau2: heterogeneity from Q, as metafor and RevMan (Higgins & Thompson 2002)
        i2 = max(0.0, 100.0 * (q - (k - 1)) / q) if q > 0 else 0.0
        h2 = q / (k - 1)
    else:
        i2, h2 = 100 * tau2 / (tau2 + s2), (tau2 + s2) / s2
    return {"estimate": mu, "std_error": se, "ci_lower": mu - crit * se, "ci_upper": mu + crit * se,
            "statistic": stat, "p_value": p, "tau2": tau2, "i2": i2, "h2": h2,
            "q": q, "q_df": k - 1, "q_p_value": float(chi2_sf(q, k - 1)), "pi_lower": mu - half_pi,
            "pi_upper": mu + half_pi, "k": k, "weights": w, "notes": notes}


def _subgroups(fit: MetaAnalysis, effects: pd.DataFrame, by: str) -> None:
    if by not in effects.columns:
        raise ArgumentError(f"by={by!r} is not a column of the effects table; columns: "
                            f"{', '.join(map(str, effects.columns))}.")
    groups = effects[by]
    if groups.isna().any():
        raise AnalysisError(f"{int(groups.isna().sum())} trial(s) have no {by}; give every trial one, or drop them.")
    rows, mus, ses = [], [], []
    for level_value in sorted(groups.astype(str).unique()):
        keep = (groups.astype(str) == level_value).to_numpy()
        if keep.sum() < 2:
            one: dict[str, Any] = {"estimate": float(fit.estimates[keep][0]),
                                   "std_error": math.sqrt(float(fit.variances[keep][0])), "k": 1}
            fit.notes.append(f"{by} {level_value}: one trial, shown as it is (no pooling, no tau2).")
            crit = float(norm_ppf(0.5 + fit.level / 2))
            one.update(ci_lower=one["estimate"] - crit * one["std_error"],
                       ci_upper=one["estimate"] + crit * one["std_error"],
                       p_value=2.0 * float(norm_sf(abs(one["estimate"] / one["std_error"]))), tau2=float("nan"),
                       i2=float("nan"), q=float("nan"), pi_lower=float("nan"), pi_upper=float("nan"))
        else:
            one = _pool(fit.estimates[keep], fit.variances[keep], fit.method, fit.hksj, fit.level)
            fit.notes.extend(str(n) for n in one.pop("notes"))
        rows.append({by: level_value, **{k: one[k] for k in ("k", "estimate", "std_error", "ci_lower", "ci_upper",
                                                             "p_value", "tau2", "i2", "q", "pi_lower", "pi_upper")}})
        mus.append(one["estimate"])
        ses.append(one["std_error"])
    mus_a, w = np.array(mus), 1.0 / np.square(ses)
    bar = float(w @ mus_a) / float(w.sum())
    fit.subgroups = pd.DataFrame(rows)
    fit.q_between = float(w @ (mus_a - bar) ** 2)
    fit.q_between_df = len(mus) - 1
    fit.q_between_p_value = float(chi2_sf(fit.q_between, fit.q_between_df)) if len(mus) > 1 else float("nan")

