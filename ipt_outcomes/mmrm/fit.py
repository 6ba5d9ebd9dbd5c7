"""``fit_mmrm``: the mixed model for repeated measures of a trial's primary analysis.

Model: ``outcome ~ baseline + covariates + arm * visit`` with the visit categorical and an
unstructured (or structured, :mod:`.covariance`) residual covariance over the planned visits, fitted
by REML (default) or ML from sufficient statistics by visit pattern (:mod:`.engine`). Inference:
Satterthwaite df for every coefficient, mean and contrast (as lmerTest and emmeans do: numerical
derivatives of ``Var(beta)`` along the covariance parameters and the inverse Hessian of the
criterion), or the residual df. Marginal means by visit x arm with proportional weights over the
other factors (as emmeans with ``weights = "proportional"`` and tern do) and arm differences at every
visit reuse the formula engine's emmeans code (:mod:`..models.formula_means`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..models import formula_means
from ..models.distributions import t_ppf, t_two_sided
from ..models.fast import minimise
from ..models.formula import parse_formula
from ..models.formula_design import build_formula_design
from ..selection import outcome_rows
from .covariance import STRUCTURES, covariance_matrix, start
from .engine import MmrmData, evaluate, gradient
from .inference import covariance_inference
from .options import DF_METHODS
from .visits import apply_windows, baseline_label, off_plan, order_visits, staggered_note

__all__ = ["DF_METHODS", "MmrmFit", "fit_mmrm"]



class MmrmFit:
    """Result of :func:`fit_mmrm`: ``fixed_effects`` (term, estimate, std_error, df, statistic, p_value,
    ci_lower, ci_upper), ``covariance`` and ``correlation`` (visits x visits; a dict by arm with
    ``group_covariance="arm"``), ``log_likelihood``, ``aic``, ``bic``, ``converged``,
    :meth:`marginal_means`, :meth:`arm_differences`, :meth:`summary`, ``notes``."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    # the names formula_means reads
    @property
    def formula_model(self):
        return self.design

    def contrast(self, L: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, float]:
        """Estimate, SE, df (the fit's df method), t, p and CI of a linear combination of the fixed effects."""
        L = np.asarray(L, float)
        if L.shape != self.beta.shape:
            raise ArgumentError(f"a contrast needs {len(self.beta)} weights, one per fixed effect.")
        est = float(L @ self.beta)
        se = math.sqrt(float(L @ self.vcov @ L))  # Kenward-Roger: the adjusted Var(beta)
        df = self._df(L)
        t = est / se
        crit = float(t_ppf(0.5 + level / 2, df))
        return {"estimate": est, "std_error": se, "df": df, "statistic": t, "p_value": float(t_two_sided(t, df)),
                "ci_lower": est - crit * se, "ci_upper": est + crit * se}

    def _df(self, L: np.ndarray) -> float:
        if self.df_method == "residual":
            return float(self.n_obs - len(self.beta))
        if self.df_method == "between-within":  # the smallest df of the coefficients the contrast involves
            return float(np.min(self.between_within[np.asarray(L, float) != 0]))
        d = self.inference.df(L)
        if not (math.isfinite(d) and d > 0):
            d = float(self.n_obs - len(self.beta))
            name = "Kenward-Roger" if self.df_method == "kenward-roger" else "Satterthwaite"
            note = (f"a {name} df was not defined (a covariance at its boundary); the residual df {d:.0f} "
                    "were used.")
            if note not in self.notes:
                self.notes.append(note)
        return d

    def marginal_means(self, level: float = 0.95, weights: str = "proportional") -> pd.DataFrame:
        """Least-squares means by visit x arm: baseline and numeric covariates at their means, other
        factors averaged with proportional weights (emmeans' ``weights = "proportional"``, as tern)."""
        out = formula_means.marginal_means(self, "arm", by=self.visit, weights=weights, level=level)
        return out[[self.visit, "arm", "estimate", "std_error", "df", "ci_lower", "ci_upper"]]

    def arm_differences(self, level: float = 0.95, weights: str = "proportional") -> pd.DataFrame:
        """Each arm minus the reference arm at every visit: difference, std_error, df, statistic,
        p_value, ci_lower, ci_upper."""
        out = formula_means.contrasts(self, "arm", by=self.visit, method="trt.vs.ctrl", weights=weights, level=level)
        return out.rename(columns={"estimate": "difference"})[
            [self.visit, "contrast", "difference", "std_error", "df", "statistic", "p_value", "ci_lower", "ci_upper"]]

    def summary(self) -> str:
        lines = [f"MMRM of {self.outcome} ({self.method.upper()}), covariance {self.covariance_structure}"
                 f"{' by arm' if self.group_covariance else ''}, df {self.df_method}",
                 f"formula: {self.formula}",
                 f"{self.n_obs} observations, {self.n_participants} participants, visits "
                 f"{', '.join(self.visits)}; log-likelihood {self.log_likelihood:.3f}, AIC {self.aic:.2f}, "
                 f"BIC {self.bic:.2f}{'' if self.converged else '; NOT CONVERGED'}", "",
                 self.fixed_effects.to_string(index=False, float_format=lambda v: f"{v:.4g}"), ""]
        lines += [f"note: {n}" for n in dict.fromkeys(self.notes)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def fit_mmrm(df: pd.DataFrame, outcome: str, visit: str = "week", reference_arm: str | None = None,
             covariates: Sequence[str] = (), baseline: str = "covariate", covariance: str = "us",
             method: str = "reml", df_method: str = "satterthwaite", group_covariance: str | None = None,
             level: float = 0.95, visit_windows: Mapping[float, tuple[float, float]] | None = None,
             baseline_visit: str | None = None) -> MmrmFit:
    """Fit the MMRM ``outcome ~ baseline + covariates + arm * visit`` (see the module docstring).

    ``visit_windows`` maps each planned visit to the window ``(first, last)`` of assessment times
    that count as that visit (default: the ``visits:`` of the study the table was loaded with, if
    any); an assessment in no window (other than the baseline, 0) is an error naming it.
    ``baseline_visit``: the visit holding the baseline score (default: the visit numbered 0); the
    visits' order and which visits are planned follow :mod:`.visits`."""
    from ..models.growth import _reference

    if covariance not in STRUCTURES:
        raise ArgumentError(f"covariance must be one of {', '.join(STRUCTURES)}, not {covariance!r}.")
    if method not in ("reml", "ml"):
        raise ArgumentError(f"method must be 'reml' or 'ml', not {method!r}.")
    if df_method not in DF_METHODS:
        raise ArgumentError(f"df_method must be one of {', '.join(DF_METHODS)}, not {df_method!r}.")
    if df_method == "kenward-roger" and method != "reml":
        raise ArgumentError("df_method='kenward-roger' is defined for REML fits (Kenward & Roger 1997); fit with "
                            "method='reml', or use df_method='satterthwaite' with method='ml'.")
    if baseline not in ("covariate", "none"):
        raise ArgumentError(f"baseline must be 'covariate' or 'none', not {baseline!r}.")
    if group_covariance not in (None, "arm"):
        raise ArgumentError(f"group_covariance must be None or 'arm', not {group_covariance!r}.")
    for column in ("participant_id", "arm", visit, *covariates):
        if column not in df.columns:
            raise ArgumentError(f"column {column!r} is not in the data; columns: {', '.join(map(str, df.columns))}.")
    notes: list[str] = []
    reference = _reference(df, outcome, reference_arm)
    if reference.assumed:
        notes.append(reference.statement + ".")
    rows = outcome_rows(df, outcome, ["participant_id", "arm", visit, "score", *covariates]).copy()
    if len(rows) == 0:
        raise AnalysisError(f"no rows for outcome {outcome!r}.")
    rows["score"] = pd.to_numeric(rows["score"], errors="coerce")
    windows, origin = visit_windows, "visit_windows"
    if windows is None:
        from ..study import Study

        study = Study.from_attrs(df.attrs.get("ipt_study"))
        if study is not None and study.visits:
            windows, origin = study.visits, f"the visits: of {study.source}"
    if windows:
        rows[visit], moved = apply_windows(rows, visit, windows, origin)
        spans = ", ".join(f"{v:g} [{lo:g}, {hi:g}]" for v, (lo, hi) in sorted(windows.items()))
        notes.append(f"visits: {moved} assessment(s) mapped to their planned {visit} by the windows of {origin} "
                     f"({spans}).")
    order = order_visits(rows[visit], visit)
    labels = order.labels
    if not pd.api.types.is_numeric_dtype(rows[visit]):
        notes.append(f"visits: {order.how} ({', '.join(order.order)}).")
    visits_order = list(order.order)
    if baseline == "covariate":
        base_label = baseline_label(order, visit, baseline_visit)
        is_base = (labels == base_label).to_numpy()
        if not is_base.any():
            raise AnalysisError(f"no {outcome} score at {visit} {base_label}: baseline='covariate' needs each "
                                "participant's baseline; give baseline='none' to analyse the visits as they are.")
        base = rows.loc[is_base].dropna(subset=["score"]).groupby("participant_id", observed=True)["score"].first()
        rows, labels = rows.loc[~is_base].copy(), labels.loc[~is_base]
        rows["baseline"] = rows["participant_id"].map(base).astype(float)
        visits_order.remove(base_label)
        notes.append(f"baseline: the {outcome} score at {visit} {base_label} of each participant, as a covariate; "
                     "participants without it are left out.")
    rows[visit] = pd.Categorical(labels, categories=visits_order)
    rows["instrument"] = outcome
    scored = rows.dropna(subset=["score"])
    per_visit = scored.groupby(visit, observed=False)["participant_id"].nunique()
    per_visit = per_visit[per_visit > 0]
    off_plan(per_visit, visit, scored)
    staggered = staggered_note(scored, visit, [v for v in visits_order if v in per_visit.index], order.numbers)
    if staggered:
        notes.append(staggered)
    fixed = " + ".join([*(["baseline"] if baseline == "covariate" else []), *covariates, f"arm * {visit}"])
    formula = f"{outcome} ~ {fixed}"
    design = build_formula_design(rows, parse_formula(formula), visit, reference.arm, {})
    data = design.data
    if design.n_dropped:
        notes.append(f"{design.n_dropped} row(s) without a score or a model variable were left out.")
    duplicated = data.duplicated(["participant_id", visit])
    if duplicated.any():
        first = data.loc[duplicated].iloc[0]
        mine = int((data.loc[duplicated, "participant_id"] == first["participant_id"]).sum())
        people = data.loc[duplicated, "participant_id"].nunique()
        raise AnalysisError(f"participant {first['participant_id']} has {mine} repeated {visit} value(s) (first: "
                            f"{first[visit]}; {people} participant(s) in all); an MMRM needs one score per participant "
                            "and visit. Keep one assessment per participant and visit, or map them to planned visits "
                            "with windows (the study file's visits:) that hold one assessment each.")
    visits = list(data[visit].cat.categories)
    m = len(visits)
    pid = pd.factorize(data["participant_id"])[0]
    vpos = data[visit].cat.codes.to_numpy(np.int64)
    groups = list(data["arm"].cat.categories) if group_covariance else []
    gcode = data["arm"].cat.codes.to_numpy(np.int64) if group_covariance else np.zeros(len(data), np.int64)
    mm = MmrmData.build(design.y, design.X, pid, vpos, gcode, m, max(len(groups), 1))
    sds = data.groupby(visit, observed=False)["score"].std().fillna(1.0).to_numpy()
    reml = method == "reml"
    theta, converged, tried = _optimise(mm, covariance, m, sds, reml)
    dev, beta, vcov = evaluate(mm, covariance, theta, reml)
    if not math.isfinite(dev):
        raise AnalysisError(f"the {covariance} covariance could not be fitted (no positive definite optimum from "
                            f"{tried} starting points); try a simpler structure (ar1, cs or toeplitz).")
    if not converged:
        notes.append(f"the {covariance} covariance did not converge from {tried} starting points (the gradient is not "
                     "zero at the best point found): treat the estimates with caution, or try a simpler structure.")
    covs = [covariance_matrix(covariance, m, t) for t in np.split(theta, mm.n_groups)]
    for g, S in enumerate(covs):
        _refuse_singular(S, visits, visit, covariance, groups[g] if groups else None)
    inference = (covariance_inference(mm, covariance, np.stack(covs), reml)
                 if df_method in ("satterthwaite", "kenward-roger") else None)
    between_within = _between_within_df(design.X, pid) if df_method == "between-within" else None
    vcov_unadjusted = vcov
    if df_method == "kenward-roger":
        vcov = inference.vcov_adjusted
        notes.append("Kenward-Roger: standard errors from the adjusted Var(beta) (Kenward & Roger 1997, in SAS's "
                     f"parameters of the {covariance} covariance), df from the observed REML information.")
    k = len(theta) + len(beta)
    loglik = -dev / 2.0
    n_eff = mm.n_obs - (len(beta) if reml else 0)

    def frame(M: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(M, index=pd.Index(visits, name=visit), columns=visits)

    def corr(M: np.ndarray) -> np.ndarray:
        d = np.sqrt(np.diag(M))
        return M / np.outer(d, d)

    fit = MmrmFit(outcome=outcome, visit=visit, visits=visits, design=design, formula=formula, beta=beta, vcov=vcov,
                  vcov_unadjusted=vcov_unadjusted, inference=inference, between_within=between_within, engine_data=mm,
                  df_method=df_method,
                  method=method, covariance_structure=covariance,
                  group_covariance=group_covariance, theta=theta, n_obs=mm.n_obs,
                  n_participants=int(pid.max()) + 1, log_likelihood=loglik, aic=-2 * loglik + 2 * k,
                  bic=-2 * loglik + math.log(n_eff) * k, converged=converged, notes=notes, reference_arm=reference.arm,
                  covariance=(frame(covs[0]) if not groups else {g: frame(c) for g, c in zip(groups, covs, strict=True)}),
                  correlation=(frame(corr(covs[0])) if not groups
                               else {g: frame(corr(c)) for g, c in zip(groups, covs, strict=True)}))
    rows_out = []
    for i, term in enumerate(design.terms):
        L = np.zeros(len(beta))
        L[i] = 1.0
        rows_out.append({"term": term, **fit.contrast(L, level)})
    fit.fixed_effects = pd.DataFrame(rows_out, columns=["term", "estimate", "std_error", "df", "statistic", "p_value",
                                                        "ci_lower", "ci_upper"])
    return fit


def _between_within_df(X: np.ndarray, participant: np.ndarray) -> np.ndarray:
    """SAS's DDFM=BETWITHIN df of each coefficient: a column constant within every participant (the
    intercept, the baseline, the arm) gets ``N_participants - rank(those columns)``, a column that
    changes within a participant (visit, arm x visit) ``N_obs - N_participants - rank(those columns)``."""
    n_part = int(participant.max()) + 1
    counts = np.bincount(participant, minlength=n_part).astype(float)
    means = np.stack([np.bincount(participant, X[:, j], n_part) for j in range(X.shape[1])], axis=1) / counts[:, None]
    spread = np.abs(X - means[participant]).max(axis=0)
    between = spread <= 1e-10 * np.maximum(np.abs(X).max(axis=0), 1.0)
    rank = lambda cols: int(np.linalg.matrix_rank(X[:, cols])) if cols.any() else 0  # noqa: E731
    ddf_between = n_part - rank(between)
    ddf_within = len(X) - n_part - rank(~between)
    return np.where(between, float(ddf_between), float(ddf_within))


def _optimise(mm: MmrmData, structure: str, m: int, sds: np.ndarray, reml: bool) -> tuple[np.ndarray, bool, int]:
    """The optimum of the criterion with its analytic gradient (L-BFGS-B, restarts and a Nelder-Mead
    polish in :func:`..models.fast.minimise`), from the observed visit SDs with independent visits;
    when that does not converge, from further starting points (one pooled SD; moderate positive
    correlations), as the mmrm package tries further optimizers. Returns the best point, whether it
    is stationary, and how many starting points were tried."""
    def criterion(t: np.ndarray) -> float:
        return evaluate(mm, structure, t, reml)[0]

    def both(t: np.ndarray) -> tuple[float, np.ndarray]:
        return gradient(mm, structure, t, reml)

    pooled = np.full(m, float(np.sqrt(np.mean(np.square(sds)))))
    starts = [start(structure, m, sds), start(structure, m, pooled), _correlated_start(structure, m, sds)]
    best: tuple[float, np.ndarray, bool] | None = None
    for tried, x0 in enumerate(starts, 1):
        x0 = np.concatenate([x0] * mm.n_groups)
        if not math.isfinite(criterion(x0)):
            continue
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # steps towards a singular edge
            theta, converged, _, _ = minimise(criterion, x0, [(None, None)] * len(x0), both)
        value = criterion(theta)
        if best is None or value < best[0] - 1e-9 or (converged and value <= best[0] + 1e-9):
            best = (value, theta, converged)
        if best[2]:
            return best[1], True, tried
        if _near_singular(structure, m, theta, mm.n_groups):  # further starts run to the same edge
            return best[1], best[2], tried
    if best is None:
        return starts[0], False, len(starts)
    return best[1], best[2], len(starts)


def _correlated_start(structure: str, m: int, sds: np.ndarray) -> np.ndarray:
    """A start with the correlation parameters moved from 0 towards a moderate positive correlation."""
    x = start(structure, m, sds).astype(float)
    if structure == "us":
        rows = np.tril_indices(m)
        off = rows[0] != rows[1]
        x[off] = 0.5 * np.exp(x[np.array([i * (i + 1) // 2 + i for i in rows[0][off]])])
        return x
    n_corr = {"cs": 1, "ar1": 1, "csh": 1, "ar1h": 1, "toeplitz": m - 1, "toeph": m - 1, "adh": m - 1}[structure]
    x[len(x) - n_corr:] = 0.5
    return x


SINGULAR = 1e-8  # smallest / largest eigenvalue of the correlation matrix below which the fit is refused


def _singular_positions(S: np.ndarray) -> np.ndarray | None:
    """Positions of the visits that make ``S`` singular (a visit without variance, or those that load
    on the correlation's smallest eigenvector when it is below ``SINGULAR`` of the largest); None
    when ``S`` is well inside the positive definite matrices."""
    sd = np.sqrt(np.clip(np.diag(S), 0.0, None))
    if np.any(sd <= 0):
        return np.flatnonzero(sd <= 0)
    values, vectors = np.linalg.eigh(S / np.outer(sd, sd))
    if values[0] > SINGULAR * values[-1]:
        return None
    load = np.abs(vectors[:, 0])
    return np.flatnonzero(load > 0.2 * load.max())


def _near_singular(structure: str, m: int, theta: np.ndarray, n_groups: int) -> bool:
    return any(_singular_positions(covariance_matrix(structure, m, t)) is not None for t in np.split(theta, n_groups))


def _refuse_singular(S: np.ndarray, visits: list[str], visit: str, structure: str, group: str | None) -> None:
    """A covariance at the edge of the positive definite matrices (some combination of the visits
    without residual variance: a score copied or derived from another, a constant visit) is not an
    estimate: the likelihood grows without bound towards it and every SE and df is meaningless."""
    positions = _singular_positions(S)
    if positions is None:
        return
    dead = [visits[i] for i in positions]
    where = f" in arm {group}" if group else ""
    raise AnalysisError(f"the estimated {structure} covariance{where} is singular: the scores at {visit} "
                        f"{', '.join(dead)} are (almost) an exact linear function of each other (a score copied or "
                        "derived from another visit, or a visit without variation), so the model has no proper "
                        "maximum and its standard errors would be meaningless. Check those visits' scores, or drop "
                        "one of the visits.")
