"""Sensitivity of the end-of-treatment arm effect to assumptions about missing scores.

Analyses, each giving the difference between an arm and the reference arm in mean score at the
end of treatment:

- ``primary mixed model``: the growth model (valid under missing at random, MAR);
- ``completers only``: ANCOVA (end ~ arm + baseline) on participants observed at the end;
- ``LOCF (biased)``: ANCOVA with each dropout's last observation carried forward: biased when
  scores change over time (Mallinckrodt et al. 2004), shown because reviewers ask for it;
- ``multiple imputation (MAR)``: end scores of dropouts imputed from completers of the same arm
  with the same last observed session (Bayesian linear regression on baseline and the last observed
  score, monotone pattern by pattern), ANCOVA per imputed data set, pooled by Rubin's rules;
- ``delta-adjusted tipping point``: the imputed end scores of the dropouts of the compared arm are
  shifted by delta towards a worse outcome; the tipping point is the smallest shift at which the
  95 % interval reaches no difference (the MAR conclusion is lost). ``tipping["overturned"]``
  marks the shifts at which it is lost.

References: Mallinckrodt CH et al. (2004) Clin Trials 1:477-489 (LOCF versus likelihood-based
analyses); Carpenter JR, Kenward MG (2013)
Multiple Imputation and its Application. Wiley; Ratitch B, O'Kelly M, Tosiello R (2013) Pharm
Stat 12:337-347, doi:10.1002/pst.1549 (delta adjustment and tipping points).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..arguments import checked, each, frame, level, number, optional, seed, text, whole
from ..errors import AnalysisError, ArgumentError, SingularFitWarning
from ..models import GrowthFit, fit_growth
from ..models.derived.quantities import end_of_treatment
from ..models.design import GrowthSpec
from ..selection import outcome_rows
from ..study import Study, registry_in_force, time_column
from .rubin import pool_rubin

__all__ = ["SensitivityResult", "ancova", "sensitivity_analyses"]

RESULT_COLUMNS = ["analysis", "arm", "reference_arm", "estimate", "std_error", "df", "ci_lower", "ci_upper",
                  "p_value", "n", "note"]


@dataclass
class SensitivityResult:
    """``table``: one row per analysis and arm; ``tipping``: the delta grid; ``tipping_points`` per arm."""

    table: pd.DataFrame
    tipping: pd.DataFrame
    tipping_points: dict[str, float | None]
    settings: dict[str, Any] = field(default_factory=dict)


def ancova(end: np.ndarray, arm: np.ndarray, baseline: np.ndarray, reference: str, level: float = 0.95
           ) -> dict[str, dict[str, float]]:
    """OLS end ~ arm + baseline; per non-reference arm: estimate, variance, SE, df, CI, p."""
    levels = [reference] + sorted(set(arm) - {reference})
    X = np.column_stack([np.ones(len(end)), *[(arm == lv).astype(float) for lv in levels[1:]], baseline])
    beta, *_ = np.linalg.lstsq(X, end, rcond=None)
    dof = len(end) - X.shape[1]
    if dof <= 0:
        raise AnalysisError("too few participants for an ANCOVA of end-of-treatment scores.")
    sigma2 = float(np.sum((end - X @ beta) ** 2) / dof)
    cov = sigma2 * np.linalg.inv(X.T @ X)
    out = {}
    crit = stats.t.ppf(0.5 + level / 2, dof)
    for i, lv in enumerate(levels[1:], start=1):
        se = math.sqrt(cov[i, i])
        t = beta[i] / se
        out[lv] = {"estimate": float(beta[i]), "variance": float(cov[i, i]), "std_error": se, "df": float(dof),
                   "ci_lower": float(beta[i] - crit * se), "ci_upper": float(beta[i] + crit * se),
                   "p_value": float(2 * stats.t.sf(abs(t), dof))}
    return out


def _participants(df: pd.DataFrame, outcome: str, time: str, complete_from: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per participant (index: participant_id, sorted): arm, baseline, end score (the last at or after
    ``complete_from``), the last score before it and its time, completer; and the scores before
    ``complete_from`` by time (participants x times, the mean of repeated scores). Grouped by integer
    codes of the participants, not by their texts."""
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    code, ids = pd.factorize(data["participant_id"], sort=True)
    arm_code, arm_names = pd.factorize(data["arm"])  # codes, not a Python text per row (13M in a registry)
    data = pd.DataFrame({"_p": code, "_a": np.where(arm_code >= 0, arm_code, np.nan),
                         "score": pd.to_numeric(data["score"], errors="coerce"),
                         "_t": pd.to_numeric(data[time], errors="coerce")}).loc[code >= 0]
    scored = data.dropna(subset=["score"]).sort_values(["_p", "_t"])
    index = pd.Index(ids, name="participant_id")
    first_arm = data.groupby("_p")["_a"].first().reindex(range(len(ids))).to_numpy()  # the first recorded
    arm_texts = np.append(np.asarray([str(a) for a in arm_names], dtype=object), "nan")  # "nan": none recorded
    per = pd.DataFrame({"arm": arm_texts[np.where(np.isnan(first_arm), len(arm_names), first_arm).astype(np.int64)]},
                       index=index)
    per["arm"] = per["arm"].astype(str)
    per["baseline"] = scored[scored["_t"] == 0].groupby("_p")["score"].first().reindex(range(len(ids))).to_numpy()
    end_rows = scored[scored["_t"] >= complete_from]
    per["end"] = end_rows.groupby("_p")["score"].last().reindex(range(len(ids))).to_numpy()
    before = scored[(scored["_t"] < complete_from)]
    last = before.groupby("_p").tail(1).set_index("_p").reindex(range(len(ids)))
    per["last_time"] = last["_t"].to_numpy()
    per["last_score"] = last["score"].to_numpy()
    per["completer"] = per["end"].notna()
    before = before.dropna(subset=["_t"])
    times = np.unique(before["_t"].to_numpy(float))
    column = np.searchsorted(times, before["_t"].to_numpy(float))
    rows = before["_p"].to_numpy()
    sums = np.zeros((len(ids), len(times)))
    counts = np.zeros((len(ids), len(times)))
    np.add.at(sums, (rows, column), before["score"].to_numpy(float))
    np.add.at(counts, (rows, column), 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wide = pd.DataFrame(np.where(counts > 0, sums / counts, np.nan), index=index, columns=times)
    return per, wide


@dataclass(frozen=True)
class _Pattern:
    """One monotone missingness pattern (arm x last observed time) of the imputation model: the
    regression of completers' end scores, fitted once, and the design of those it imputes."""

    rows: np.ndarray      # positions of the imputed participants
    beta: np.ndarray      # least-squares coefficients on the donors
    inverse: np.ndarray   # (X'X)^-1 of the donors
    rss: float
    dof: int
    design: np.ndarray    # the imputed participants' X


def _imputation_model(per: pd.DataFrame, wide: pd.DataFrame) -> tuple[list[_Pattern], list[str]]:
    """The imputation regressions, pattern by pattern (Bayesian linear regression on baseline and the
    last observed score, from completers of the same arm with a score at that time). Everything that
    does not change between imputations is done here, once."""
    notes: list[str] = []
    arm = per["arm"].to_numpy(dtype=object)
    baseline = per["baseline"].to_numpy(float)
    end = per["end"].to_numpy(float)
    last_score = per["last_score"].to_numpy(float)
    completer = per["completer"].to_numpy(bool)
    has_base = ~np.isnan(baseline)
    at_time = wide.reindex(per.index)  # one alignment of the earlier scores, not one per pattern
    todo = per.assign(_pos=np.arange(len(per)))[~completer & has_base]
    patterns = []
    for (a, s), group in todo.groupby(["arm", "last_time"], dropna=False):
        donors = (arm == a) & completer & has_base
        use_last = pd.notna(s) and s > 0 and s in at_time.columns
        ys = at_time[s].to_numpy(float) if use_last else None
        if use_last:
            with_score = donors & ~np.isnan(ys)
            if with_score.sum() < 4 + 2:
                use_last = False
                notes.append(f"{a}, last seen at {s}: too few completers with a score then; imputed from baseline only.")
            else:
                donors = with_score
        elif donors.sum() < 3 + 2:
            notes.append(f"{a}, last seen at {s}: too few completers with a score then; imputed from baseline only.")
        if donors.sum() < 4:
            raise AnalysisError(f"arm {a} has {int(donors.sum())} completers; too few to impute from.")
        rows = group["_pos"].to_numpy()
        predictors = [("baseline", baseline), *([(f"the score at {s:g}", last_score)] if use_last else [])]
        kept: list[tuple[str, np.ndarray]] = []
        for name, values in predictors:  # a predictor the donors do not vary on (or that repeats another) is left out
            trial = np.column_stack([np.ones(int(donors.sum())), *[v[donors] for _, v in kept], values[donors]])
            if np.linalg.matrix_rank(trial) == trial.shape[1]:
                kept.append((name, values))
            else:
                notes.append(f"{a}, last seen at {s}: {name} is the same for every completer it is imputed from (or "
                             "repeats another predictor); imputed without it.")
        X = np.column_stack([np.ones(int(donors.sum())), *[v[donors] for _, v in kept]])
        y = end[donors]
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        patterns.append(_Pattern(rows=rows, beta=beta, inverse=np.linalg.inv(X.T @ X),
                                 rss=float(np.sum((y - X @ beta) ** 2)), dof=len(y) - X.shape[1],
                                 design=np.column_stack([np.ones(len(rows)), *[v[rows] for _, v in kept]])))
    return patterns, notes


def _impute(per: pd.DataFrame, patterns: list[_Pattern], rng: np.random.Generator) -> pd.Series:
    """One imputation of the end scores of non-completers (with a baseline): per pattern, draw
    sigma2 and beta from their posterior, then the end scores."""
    end = per["end"].to_numpy(float).copy()
    for p in patterns:
        sigma2 = p.rss / rng.chisquare(p.dof)
        beta_draw = rng.multivariate_normal(p.beta, sigma2 * p.inverse)
        end[p.rows] = p.design @ beta_draw + rng.normal(0, math.sqrt(sigma2), len(p.rows))
    return pd.Series(end, index=per.index, name="end")


@checked(df=frame, outcome=text, time=optional(text), at=optional(number()), complete_from=optional(number()),
         reference_arm=optional(text), n_imputations=whole(2, 10_000), seed=seed, deltas=optional(each(number())),
         level=level)
def sensitivity_analyses(df: pd.DataFrame, outcome: str, *, time: str | None = None, at: float | None = None,
                         complete_from: float | None = None, reference_arm: str | None = None,
                         n_imputations: int = 50, seed: int = 1, deltas: Sequence[float] | None = None,
                         level: float = 0.95, check: bool = True) -> SensitivityResult:
    """Primary mixed model, completers, LOCF, multiple imputation and a delta-adjusted tipping point.

    Parameters
    ----------
    at
        End of treatment for the mixed model (default: the study's planned maximum, else the last time).
    complete_from
        A participant completed if observed at or after this time; their end score is the last such
        score. Default (:func:`completer_threshold`): the study's ``sessions.min``, else 75 % of
        its ``sessions.max``, else 75 % of the upper quartile of last assessments; the rule used is stated in
        ``settings["completer_rule"]``.
    n_imputations, seed
        Number of imputed data sets and the seed of the imputation draws.
    deltas
        Shifts (in score points, towards a worse outcome) for the tipping-point analysis; default
        21 values from 0 to twice the absolute MI estimate (at least one baseline SD), widened until
        the conclusion turns.
    check
        Validate the outcome's rows first (pass False when the caller already did).
    """
    time = time_column(df, time).column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularFitWarning)
        fit = fit_growth(df, outcome=outcome, time=time, reference_arm=reference_arm, check=check)
    return sensitivity_of_fit(df, fit, at=at, complete_from=complete_from, n_imputations=n_imputations, seed=seed,
                              deltas=deltas, level=level)


def sensitivity_of_fit(df: pd.DataFrame, fit: GrowthFit, *, at: float | None = None, complete_from: float | None = None,
                       n_imputations: int = 50, seed: int = 1, deltas: Sequence[float] | None = None,
                       level: float = 0.95) -> SensitivityResult:
    """:func:`sensitivity_analyses` around a growth model already fitted to ``df`` with the default
    settings (what :func:`sensitivity_analyses` fits), so that a report fits its primary model once."""
    spec = fit.spec
    default = GrowthSpec(outcome=spec.outcome, time=spec.time, reference_arm=spec.reference_arm)
    # what was asked for, not what was fitted: a default request may fall back to a random intercept
    asked = {f: fit.options.get(f, getattr(spec, f)) for f in ("shape", "random", "method", "covariates",
                                                              "moderators", "baseline", "therapist", "breakpoints")}
    if fit.formula_model is not None or asked.pop("random") not in (None, default.random) or any(
            asked[f] != getattr(default, f) for f in asked):
        raise ArgumentError("sensitivity_of_fit() needs the default growth model of the outcome (linear, random "
                            "slopes, REML, no covariates or moderators); use sensitivity_analyses() otherwise.")
    outcome, time, ref = spec.outcome, spec.time, spec.reference_arm
    at = end_of_treatment(fit) if at is None else float(at)
    study = Study.from_attrs(df.attrs.get("ipt_study"))
    complete_from, completer_rule = completer_threshold(df, outcome, time, study, complete_from)
    per, wide = _participants(df, outcome, time, complete_from)
    reg = registry_in_force(df, study=study)
    inst = reg[outcome] if outcome in reg else None
    worse_sign = 1.0 if inst is None or inst.higher_is == "worse" else -1.0
    rows = []
    for r in fit.arm_differences(at=at, level=level).itertuples():
        rows.append({"analysis": "primary mixed model (MAR)", "arm": r.arm, "reference_arm": ref,
                     "estimate": r.difference, "std_error": r.std_error, "df": r.df, "ci_lower": r.ci_lower,
                     "ci_upper": r.ci_upper, "p_value": r.p_value, "n": fit.n_participants,
                     "note": f"growth model, difference at {time} {at:g}"})
    has_base = per[per["baseline"].notna()]
    comp = has_base[has_base["completer"]]
    for arm, res in ancova(comp["end"].to_numpy(), comp["arm"].to_numpy(), comp["baseline"].to_numpy(), ref, level).items():
        rows.append({"analysis": "completers only", "arm": arm, "reference_arm": ref, **_pick(res), "n": len(comp),
                     "note": f"ANCOVA on those observed at {time} >= {complete_from:g}"})
    locf = has_base["end"].fillna(has_base["last_score"]).fillna(has_base["baseline"])
    for arm, res in ancova(locf.to_numpy(), has_base["arm"].to_numpy(), has_base["baseline"].to_numpy(), ref, level).items():
        rows.append({"analysis": "LOCF (biased)", "arm": arm, "reference_arm": ref, **_pick(res), "n": len(has_base),
                     "note": "last observation carried forward; biased when scores change over time"})
    rng = np.random.default_rng(seed)
    patterns, notes = _imputation_model(has_base, wide)
    imputations = np.column_stack([_impute(has_base, patterns, rng).to_numpy() for _ in range(n_imputations)])
    dropouts = ~has_base["completer"]
    arms_cmp = sorted(set(has_base["arm"]) - {ref})
    mi, models = {}, {}
    for arm in arms_cmp:
        models[arm] = _ShiftedAncova(imputations, has_base, ref, arm, dropouts, worse_sign)
        mi[arm] = models[arm].pooled(0.0, level)
        rows.append({"analysis": "multiple imputation (MAR)", "arm": arm, "reference_arm": ref, **_pick(mi[arm]),
                     "n": len(has_base), "note": f"{n_imputations} imputations, Rubin's rules"
                     + (f"; {'; '.join(sorted(notes))}" if notes else "")})
    tipping_rows, points = [], {}
    sd0 = float(has_base["baseline"].std(ddof=1))
    span = (inst.max - inst.min) if inst is not None else 10 * sd0
    for arm in arms_cmp:
        significant_at_zero = mi[arm]["ci_upper"] < 0 or mi[arm]["ci_lower"] > 0
        favoured_below = mi[arm]["ci_upper"] < 0  # the arm's scores are lower than the reference's

        def lost(res: dict[str, float], below: bool = favoured_below) -> bool:
            """The MAR conclusion no longer holds: the interval reaches (or passes) no difference."""
            return bool(res["ci_upper"] >= 0) if below else bool(res["ci_lower"] <= 0)

        def overturned(delta: float, arm: str = arm) -> bool:
            return lost(models[arm].pooled(delta, level))

        if deltas is not None:
            grid = np.asarray(deltas, float)
        else:  # widen the grid until the conclusion turns (or the shift spans the whole scale)
            hi = max(2 * abs(mi[arm]["estimate"]), sd0)
            while significant_at_zero and not overturned(hi) and hi < span:
                hi = min(2 * hi, span)
            grid = np.linspace(0, hi, 21)
        point = None
        for delta in grid:
            res = models[arm].pooled(float(delta), level)
            turned = lost(res) if significant_at_zero else bool(res["ci_lower"] <= 0 <= res["ci_upper"])
            tipping_rows.append({"arm": arm, "delta": float(delta), **_pick(res), "overturned": turned})
            if point is None and significant_at_zero and turned:
                point = float(delta)
        if point is not None and point > grid[0]:  # refine between the last grid point that held and the first that turned
            lo, hi_ = float(grid[np.searchsorted(grid, point) - 1]), point
            for _ in range(20):
                mid = (lo + hi_) / 2
                lo, hi_ = (lo, mid) if overturned(mid) else (mid, hi_)
            point = hi_
        points[arm] = point
        rows.append({"analysis": "delta-adjusted tipping point", "arm": arm, "reference_arm": ref,
                     "estimate": math.nan, "std_error": math.nan, "df": math.nan, "ci_lower": math.nan,
                     "ci_upper": math.nan, "p_value": math.nan, "n": len(has_base),
                     "note": (f"conclusion overturned when {arm} dropouts score {point:.2f} points worse than MAR predicts"
                              if point is not None else
                              ("conclusion holds over the whole delta grid" if significant_at_zero else
                               "no significant difference under MAR; nothing to overturn"))})
    table = pd.DataFrame(rows).reindex(columns=RESULT_COLUMNS)
    return SensitivityResult(table=table, tipping=pd.DataFrame(tipping_rows), tipping_points=points,
                             settings={"outcome": outcome, "at": at, "complete_from": complete_from,
                                       "n_imputations": n_imputations, "seed": seed, "reference_arm": ref,
                                       "n_dropouts": int(dropouts.sum()), "completer_rule": completer_rule,
                                       "time": time,
                                       "n_without_baseline": int(per["baseline"].isna().sum())})


def completer_threshold(df: pd.DataFrame, outcome: str, time: str, study: Study | None = None,
                        given: float | None = None) -> tuple[float, str]:
    """The time from which a participant counts as a completer, and the sentence that says why.

    Given, else the study's ``sessions.min`` (time in sessions), else 75 % of the planned end
    (``sessions.max``), else 75 % of the upper quartile of the last assessments of participants seen
    after baseline: IPT courses are planned as ranges (12 to 16 sessions; 12 is 75 % of 16), so
    people end at different times; the upper quartile lies among completers while fewer than 75 %
    drop out, and is robust to a few long courses or follow-ups."""
    if given is not None:
        return float(given), f"completers: observed at {time} {given:g} or later (as requested)"
    if study is not None and time == "session" and study.planned_sessions_min:
        m = float(study.planned_sessions_min)
        return m, f"completers: observed at session {m:g} or later (the study's planned minimum, sessions.min)"
    if study is not None and time == "session" and study.planned_sessions_max:
        m = 0.75 * float(study.planned_sessions_max)
        return m, (f"completers: observed at session {m:g} or later (75 % of the planned maximum, sessions.max "
                   f"{study.planned_sessions_max}; set sessions.min in the study file or complete_from to change)")
    data = outcome_rows(df, outcome, ["participant_id", "score", time])
    t = pd.to_numeric(data[time], errors="coerce")
    last = t[pd.to_numeric(data["score"], errors="coerce").notna()].groupby(data["participant_id"]).max()
    last = last[last > 0]
    if last.empty:
        raise AnalysisError(f"no {outcome} scores after baseline: completers cannot be told from dropouts.")
    upper = float(last.quantile(0.75))
    m = 0.75 * upper
    return m, (f"completers: observed at {time} {m:g} or later (75 % of the upper quartile of last assessments, "
               f"{time} {upper:g}; set sessions.min in the study file or complete_from to change)")


def _pick(res: dict[str, float]) -> dict[str, float]:
    return {k: res[k] for k in ("estimate", "std_error", "df", "ci_lower", "ci_upper", "p_value")}


def _pooled(imputations: np.ndarray | list[pd.Series], per: pd.DataFrame, ref: str, arm: str, delta: float,
            dropouts: pd.Series, worse_sign: float, level: float) -> dict[str, float]:
    """Rubin-pooled ANCOVA of the imputed end scores (one column, or one Series, per imputation)
    with the dropouts of ``arm`` shifted by ``delta`` towards a worse outcome."""
    return _ShiftedAncova(imputations, per, ref, arm, dropouts, worse_sign).pooled(delta, level)


class _ShiftedAncova:
    """:func:`ancova`'s estimate and variance of ``arm`` against ``ref`` for every imputation at once,
    and for any shift ``delta`` of ``arm``'s dropouts.

    The imputations share the design ``X``, so ``(X'X)^-1 X'`` is formed once (O(rows x
    imputations)). A shift adds ``delta * s * d`` to every column of the end scores (``d``: the
    shifted participants, ``s``: the sign of a worse outcome), so the estimates move by
    ``delta * s * [(X'X)^-1 X'd]_i`` and each residual sum of squares becomes
    ``RSS + 2 delta s r'Md + delta^2 d'Md`` (``M = I - X(X'X)^-1 X'``, ``r`` the unshifted residuals):
    each delta of the tipping-point search then costs O(imputations), not O(rows x imputations)."""

    def __init__(self, imputations: np.ndarray | list[pd.Series], per: pd.DataFrame, ref: str, arm: str,
                 dropouts: pd.Series, worse_sign: float) -> None:
        ends = imputations if isinstance(imputations, np.ndarray) else \
            np.column_stack([np.asarray(end, dtype=float) for end in imputations])
        arms = per["arm"].to_numpy()
        levels = [ref] + sorted(set(arms.tolist()) - {ref})
        X = np.column_stack([np.ones(len(ends)), *[(arms == lv).astype(float) for lv in levels[1:]],
                             per["baseline"].to_numpy(dtype=float)])
        self.dof = len(ends) - X.shape[1]
        if self.dof <= 0:
            raise AnalysisError("too few participants for an ANCOVA of end-of-treatment scores.")
        i = levels.index(arm)
        inverse = np.linalg.inv(X.T @ X)
        beta = inverse @ (X.T @ ends)
        residuals = ends - X @ beta
        d = (np.asarray(dropouts, dtype=bool) & (arms == arm)).astype(float)
        d_beta = inverse @ (X.T @ d)
        d_resid = d - X @ d_beta  # M d
        self.estimate0 = beta[i]
        self.rss0 = np.sum(residuals ** 2, axis=0)
        self.cross = residuals.T @ d_resid  # r'Md, one per imputation
        self.dmd = float(d @ d_resid)
        self.d_estimate = float(d_beta[i])
        self.unit_variance = float(inverse[i, i])
        self.sign = float(worse_sign)

    def pooled(self, delta: float, level: float) -> dict[str, float]:
        shift = self.sign * float(delta)
        estimates = self.estimate0 + shift * self.d_estimate
        rss = self.rss0 + 2 * shift * self.cross + shift ** 2 * self.dmd
        variances = rss / self.dof * self.unit_variance
        return pool_rubin(list(estimates), list(variances), df_complete=float(self.dof), level=level)
