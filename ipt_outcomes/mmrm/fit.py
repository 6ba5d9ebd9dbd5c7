"""``fit_mmrm``: the mixed model for repeated measures of a trial's primary analysis.

Model: ``outcome ~ baseline + covariates + arm * visit`` with the visit categorical and an
unstructured (or structured, :mod:`.covariance`) residual covariance over the planned visits, fitted
by REML (default) or ML from sufficient statistics by visit pattern (:mod:`.engine`). Inference:
Satterthwaite df for every coefficient, mean and contrast (as lmerTest and emmeans do: numerical
derivatives of ``Var(beta)`` along the covariance parameters and the inverse Hessian of the
criterion), or the residual df. Marginal means by visit x arm with proportional weights over the
other factors (as emmeans with ``weights = "proportional"`` and tern do) and arm differences at every
visit reuse the formula engine's emmeans code (:mod:`..models.derived.means`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..inference.distributions import t_ppf, t_two_sided
from ..inference.optimise import minimise
from ..models.derived import means as formula_means
from ..models.formula import parse_formula
from ..models.formula_design import build_formula_design
from ..results import Summary, jsonable
from ..selection import outcome_rows
from .covariance import SPATIAL, STRUCTURES, covariance_matrix, start
from .engine import MmrmData, evaluate, gradient
from .inference import CovarianceInference, covariance_inference
from .options import ALIASES, DF_METHODS
from .visits import apply_windows, baseline_label, off_plan, order_visits, staggered_note

__all__ = ["DF_METHODS", "MmrmFit", "fit_mmrm"]



@dataclass(eq=False)
class MmrmFit:
    """Result of :func:`fit_mmrm`. Tables: ``fixed_effects`` (term, estimate, std_error, df, statistic,
    p_value, ci_lower, ci_upper), ``covariance`` and ``correlation`` (visits x visits; a dict by group
    with a per-group covariance), :meth:`marginal_means`, :meth:`arm_differences`; fit:
    ``log_likelihood``, ``aic``, ``bic``, ``converged``; :meth:`summary`, :meth:`to_frame`,
    :meth:`to_dict`; ``notes`` (every default assumed). ``design`` is the formula design (rows and
    matrices), ``engine_data`` the sufficient statistics by visit pattern, ``inference`` what the
    Satterthwaite and Kenward-Roger df need."""

    outcome: str
    formula: str
    visit: str
    visits: list[str]
    subject: str
    arm: str | None
    reference_arm: str | None
    covariance_structure: str
    group_covariance: str | None
    spatial: bool
    method: str
    df_method: str
    n_obs: int
    n_participants: int
    log_likelihood: float
    aic: float
    bic: float
    converged: bool
    covariance: pd.DataFrame | dict[str, pd.DataFrame]
    correlation: pd.DataFrame | dict[str, pd.DataFrame]
    beta: np.ndarray = field(repr=False)
    vcov: np.ndarray = field(repr=False)
    vcov_unadjusted: np.ndarray = field(repr=False)
    theta: np.ndarray = field(repr=False)
    design: Any = field(repr=False)
    engine_data: MmrmData = field(repr=False)
    inference: CovarianceInference | None = field(default=None, repr=False)
    between_within: np.ndarray | None = field(default=None, repr=False)
    fixed_effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)

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

    def _arm_column(self) -> str:
        if self.arm is None:
            raise ArgumentError(f"the model {self.formula} names no arm: give arm= (the treatment column) to fit_mmrm "
                                "for least-squares means and arm differences by arm.")
        return self.arm

    def _by_visit(self, at: Mapping[str, object] | None) -> list[str]:
        """Means by visit where the visit is a factor of the fixed part, or at the ``at`` times given."""
        fixed = formula_means.fixed_variables(self)
        if self.visit not in fixed:
            return []
        categorical = isinstance(self.design.data[self.visit].dtype, pd.CategoricalDtype)
        return [self.visit] if categorical or (at and self.visit in at) else []

    def marginal_means(self, level: float = 0.95, weights: str = "proportional",
                       at: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Least-squares means by visit x arm: columns the visit (its own name), ``arm``, ``estimate``,
        ``std_error``, ``df``, ``ci_lower``, ``ci_upper``. Numeric covariates (the baseline) at their
        means, other factors averaged with proportional weights (emmeans' ``weights = "proportional"``,
        as tern) or ``weights="equal"``; ``at`` sets variables (a continuous time: ``{"TIME": [4, 8]}``)."""
        arm = self._arm_column()
        by = self._by_visit(at)
        out = formula_means.marginal_means(self, arm, at=at, by=by, weights=weights, level=level)
        out = out.rename(columns={arm: "arm"})
        return out[[*by, "arm", "estimate", "std_error", "df", "ci_lower", "ci_upper"]]

    def arm_differences(self, level: float = 0.95, weights: str = "proportional",
                        at: Mapping[str, object] | None = None) -> pd.DataFrame:
        """Each arm minus the reference arm at every visit: columns the visit, ``arm``, ``reference_arm``,
        ``difference``, ``std_error``, ``df``, ``statistic``, ``p_value``, ``ci_lower``, ``ci_upper``."""
        arm = self._arm_column()
        by = self._by_visit(at)
        out = formula_means.contrasts(self, arm, at=at, by=by, method="trt.vs.ctrl", weights=weights, level=level)
        out = out.rename(columns={"estimate": "difference"})
        out.insert(len(by), "arm", out["contrast"].str.removesuffix(f" - {self.reference_arm}"))
        out.insert(len(by) + 1, "reference_arm", self.reference_arm)
        return out[[*by, "arm", "reference_arm", "difference", "std_error", "df", "statistic", "p_value", "ci_lower",
                    "ci_upper"]]

    def summary(self) -> Summary:
        """The model, the fit, the fixed effects and the notes (prints as text; HTML in a notebook)."""
        by = f" by {self.group_covariance}" if self.group_covariance else ""
        lines = [f"formula: {self.formula}",
                 f"covariance {self.covariance_structure}{by}, {self.method.upper()}, df {self.df_method}",
                 f"{self.n_obs} observations, {self.n_participants} subjects ({self.subject}), {self.visit} "
                 f"{', '.join(self.visits)}",
                 f"log-likelihood {self.log_likelihood:.2f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}"
                 + ("" if self.converged else "; NOT CONVERGED")]
        return Summary.of(f"MMRM of {self.outcome}", lines, [("fixed effects", self.fixed_effects)], self.notes)

    def to_frame(self) -> pd.DataFrame:
        """The fixed effects table."""
        return self.fixed_effects.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the model, the fit, every table (the covariance by visit)."""
        def matrices(value: pd.DataFrame | dict[str, pd.DataFrame]) -> dict:
            if isinstance(value, dict):
                return {str(g): matrices(m) for g, m in value.items()}
            return {str(i): {str(c): float(v) for c, v in row.items()} for i, row in value.iterrows()}

        out = {"outcome": self.outcome, "formula": self.formula, "visit": self.visit, "visits": list(self.visits),
               "subject": self.subject, "arm": self.arm, "reference_arm": self.reference_arm,
               "covariance_structure": self.covariance_structure, "group_covariance": self.group_covariance,
               "method": self.method, "df_method": self.df_method, "n_obs": self.n_obs,
               "n_participants": self.n_participants, "log_likelihood": self.log_likelihood, "aic": self.aic,
               "bic": self.bic, "converged": self.converged, "fixed_effects": self.fixed_effects,
               "covariance": matrices(self.covariance), "correlation": matrices(self.correlation),
               "notes": list(dict.fromkeys(self.notes))}
        if self.arm is not None:
            out["marginal_means"] = self.marginal_means()
            out["arm_differences"] = self.arm_differences()
        return jsonable(out)

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def fit_mmrm(df: pd.DataFrame, outcome: str | None = None, visit: str | None = None, reference_arm: str | None = None,
             covariates: Sequence[str] = (), baseline: str | None = None, covariance: str | None = None,
             method: str = "reml", df_method: str = "satterthwaite", group_covariance: str | None = None,
             level: float = 0.95, visit_windows: Mapping[float, tuple[float, float]] | None = None,
             baseline_visit: str | None = None, *, formula: str | None = None, arm: str | None = None) -> MmrmFit:
    """Fit an MMRM: from the analysis plan's ``formula`` in the mmrm package's syntax, on any tidy long
    table, or from keyword arguments on the canonical table (the template ``outcome ~ baseline +
    covariates + arm * visit``, whose formula the fit states: ``mm.formula``).

    ``formula``: ``"CHANGE ~ BASVAL*VISIT + THERAPY*VISIT + us(VISIT | PATIENT)"``: the fixed part in
    the formula language, one covariance term ``structure(VISIT | SUBJECT)`` (``us cs csh ar1 ar1h
    toep toeph ad adh``; per group ``us(VISIT | THERAPY / PATIENT)``; spatial ``sp_exp sp_gau
    sp_pow(TIME | PATIENT)`` for irregular times). ``arm`` names the treatment column (default
    ``arm`` when the formula uses it); ``reference_arm`` its reference level.

    Keyword form: ``visit`` (default ``week``), ``covariance`` (default ``us``), ``baseline`` (default
    ``"covariate"``: the score at the baseline visit as a covariate), ``covariates``,
    ``group_covariance="arm"``. ``visit_windows`` maps each planned visit to the window ``(first,
    last)`` of assessment times that count as that visit (default: the ``visits:`` of the study the
    table was loaded with, if any); an assessment in no window (other than the baseline, 0) is an
    error naming it. ``baseline_visit``: the visit holding the baseline score (default: the visit
    numbered 0); the visits' order and which visits are planned follow :mod:`.visits`."""
    if method not in ("reml", "ml"):
        raise ArgumentError(f"method must be 'reml' or 'ml', not {method!r}.")
    if df_method not in DF_METHODS:
        raise ArgumentError(f"df_method must be one of {', '.join(DF_METHODS)}, not {df_method!r}.")
    if df_method == "kenward-roger" and method != "reml":
        raise ArgumentError("df_method='kenward-roger' is defined for REML fits (Kenward & Roger 1997); fit with "
                            "method='reml', or use df_method='satterthwaite' with method='ml'.")
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"fit_mmrm() needs a DataFrame, not {type(df).__name__}.")
    if formula is not None:
        given = {"outcome": outcome, "visit": visit, "covariates": list(covariates) or None, "baseline": baseline,
                 "covariance": covariance, "group_covariance": group_covariance, "baseline_visit": baseline_visit}
        named = [k for k, v in given.items() if v is not None]
        if named:
            raise ArgumentError(f"with formula=, write the model in the formula; {', '.join(named)} cannot be given as "
                                "well (a covariate as '+ sex', the covariance as '+ us(VISIT | PATIENT)', one per "
                                "arm as 'us(VISIT | THERAPY / PATIENT)', a baseline as its own column).")
        prepared = _formula_rows(df, formula, arm, reference_arm, visit_windows)
    else:
        if outcome is None:
            raise ArgumentError("fit_mmrm() needs outcome= (an instrument key such as 'HAMD17') or formula=.")
        if arm is not None and arm != "arm":
            raise ArgumentError("arm= names the treatment column of a formula's data; the keyword form reads the "
                                "canonical column arm.")
        prepared = _keyword_rows(df, outcome, visit or "week", reference_arm, covariates, baseline or "covariate",
                                 ALIASES.get(covariance or "us", covariance or "us"), group_covariance, visit_windows,
                                 baseline_visit)
    return _fit(prepared, method, df_method, level)


class _Prepared:
    """The analysed rows and everything the core fit needs to know about them."""

    def __init__(self, rows: pd.DataFrame, parsed, formula: str, outcome: str, structure: str, visit: str,
                 subject: str, group: str | None, arm: str | None, reference: str | None, notes: list[str],
                 numbers: dict[str, float]) -> None:
        self.rows, self.parsed, self.formula, self.outcome = rows, parsed, formula, outcome
        self.structure, self.visit, self.subject, self.group = structure, visit, subject, group
        self.arm, self.reference, self.notes, self.numbers = arm, reference, notes, numbers


def _keyword_rows(df: pd.DataFrame, outcome: str, visit: str, reference_arm: str | None, covariates: Sequence[str],
                  baseline: str, covariance: str, group_covariance: str | None,
                  visit_windows: Mapping[float, tuple[float, float]] | None, baseline_visit: str | None) -> _Prepared:
    """The canonical table's rows of ``outcome`` made into the template's formula and data."""
    from ..formula import quote_name
    from ..models.checks import reference_arm_of

    if covariance not in STRUCTURES or covariance in SPATIAL:
        allowed = [s for s in STRUCTURES if s not in SPATIAL]
        raise ArgumentError(f"covariance must be one of {', '.join(allowed)}, not {covariance!r} (the spatial "
                            "structures need a formula: sp_exp(TIME | PATIENT)).")
    if baseline not in ("covariate", "none"):
        raise ArgumentError(f"baseline must be 'covariate' or 'none', not {baseline!r}.")
    if group_covariance not in (None, "arm"):
        raise ArgumentError(f"group_covariance must be None or 'arm', not {group_covariance!r}.")
    for column in ("participant_id", "arm", visit, *covariates):
        if column not in df.columns:
            raise ArgumentError(f"column {column!r} is not in the data; columns: {', '.join(map(str, df.columns))}.")
    notes: list[str] = []
    reference = reference_arm_of(df, outcome, reference_arm)
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
    v = quote_name(visit)
    fixed = " + ".join([*(["baseline"] if baseline == "covariate" else []), *map(quote_name, covariates), f"arm * {v}"])
    name = {"toeplitz": "toep"}.get(covariance, covariance)
    term = f"{name}({v} | arm / participant_id)" if group_covariance else f"{name}({v} | participant_id)"
    formula = f"{outcome} ~ {fixed} + {term}"
    return _Prepared(rows, parse_formula(formula), formula, outcome, covariance, visit, "participant_id",
                     "arm" if group_covariance else None, "arm", reference.arm, notes, order.numbers)


def _formula_rows(df: pd.DataFrame, formula: str, arm: str | None, reference_arm: str | None,
                  visit_windows: Mapping[float, tuple[float, float]] | None) -> _Prepared:
    """The analysis data set of a formula: any tidy long table (the response a column), or the
    canonical table (the response an instrument key). Checks only what the model needs: the named
    columns exist, the response and a spatial time are numbers; missing values are counted later."""
    from ..arms import choose_reference_arm

    parsed = parse_formula(formula)
    cov = parsed.covariance
    if cov is None:
        raise ArgumentError(f"formula {formula!r} has no covariance term; an MMRM names its residual covariance, e.g. "
                            "'+ us(VISIT | PATIENT)' (us, cs, csh, ar1, ar1h, toep, toeph, ad, adh; sp_exp, sp_gau, "
                            "sp_pow for irregular times).")
    structure = ALIASES.get(cov.structure, cov.structure)
    notes: list[str] = []
    tidy = parsed.response in df.columns
    if not tidy and not {"instrument", "score"} <= set(df.columns):
        raise ArgumentError(f"formula {formula!r}: its left side {parsed.response!r} is not a column of the data; "
                            f"columns: {', '.join(map(str, df.columns))}.")
    needed = list(dict.fromkeys([*parsed.variables, *([parsed.response] if tidy else [])]))
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ArgumentError(f"formula {formula!r} names column(s) {', '.join(map(repr, missing))}, which the data do "
                            f"not have; columns: {', '.join(map(str, df.columns))}.")
    if tidy:
        rows = df[needed].copy()
        score = pd.to_numeric(rows[parsed.response], errors="coerce")
        bad = score.isna() & rows[parsed.response].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise ArgumentError(f"the response {parsed.response!r} holds {int(bad.sum())} value(s) that are not numbers "
                                f"(first: row {rows.index[i]}, {cov.subject} {rows[cov.subject].iloc[i]}, value "
                                f"{str(rows[parsed.response].iloc[i])[:40]!r}); give the outcome as numbers.")
        rows[parsed.response] = score
    else:
        rows = outcome_rows(df, parsed.response, [*needed, "score"]).copy()
        if len(rows) == 0:
            raise AnalysisError(f"no rows for outcome {parsed.response!r}.")
        rows["score"] = pd.to_numeric(rows["score"], errors="coerce")
    if arm is None and "arm" in parsed.fixed_variables:
        arm = "arm"
    if arm is not None:
        if arm not in parsed.fixed_variables:
            raise ArgumentError(f"arm={arm!r} is not a variable of the fixed part of {formula!r}; name the treatment "
                                "column the formula uses.")
        levels = sorted(rows[arm].dropna().astype(str).unique())
        if len(levels) < 2:
            raise AnalysisError(f"the arm column {arm!r} has {len(levels)} level(s) in the analysed rows; arm "
                                "differences need two.")
        from ..study import Study

        chosen = choose_reference_arm(levels, reference_arm, Study.from_attrs(df.attrs.get("ipt_study")))
        if chosen.assumed:
            notes.append(chosen.statement.replace("reference arm", f"reference level of {arm}") + ".")
        reference = chosen.arm
    else:
        reference = None
        if reference_arm is not None:
            raise ArgumentError("reference_arm= needs arm= (the treatment column of the formula).")
    visit = cov.time
    if visit_windows:
        rows[visit], moved = apply_windows(rows.assign(score=rows[parsed.response] if tidy else rows["score"]), visit,
                                           visit_windows, "visit_windows")
        notes.append(f"visits: {moved} assessment(s) mapped to their planned {visit} by visit_windows.")
    numbers: dict[str, float] = {}
    if cov.spatial:
        times = pd.to_numeric(rows[visit], errors="coerce")
        if (times.isna() & rows[visit].notna()).any():
            raise ArgumentError(f"{cov.structure}({visit} | ...) models the distance between assessment times: "
                                f"{visit!r} must hold numbers (weeks or days since baseline).")
        rows[visit] = times
    else:
        order = order_visits(rows[visit], visit)
        if not pd.api.types.is_numeric_dtype(rows[visit]):
            notes.append(f"visits: {order.how} ({', '.join(order.order)}).")
        rows[visit] = pd.Categorical(order.labels, categories=order.order)
        numbers = order.numbers
    if cov.group is not None:
        per = rows.groupby(cov.subject, observed=True)[cov.group].nunique()
        if (per > 1).any():
            raise AnalysisError(f"{cov.group!r} (the covariance groups of {cov.text}) changes within {cov.subject} "
                                f"{per[per > 1].index[0]}; a covariance group must be constant within a subject.")
    return _Prepared(rows, parsed, parsed.text, parsed.response, structure, visit, cov.subject, cov.group, arm,
                     reference, notes, numbers)


def _fit(prep: _Prepared, method: str, df_method: str, level: float) -> MmrmFit:
    """The core shared by the keyword and formula forms: design, patterns, optimum, inference."""
    rows, visit, structure, notes = prep.rows, prep.visit, prep.structure, prep.notes
    spatial = structure in SPATIAL
    response = "score" if "score" in rows.columns and prep.parsed.response not in rows.columns else prep.parsed.response
    scored = rows.loc[rows[response].notna()]
    if not spatial:
        per_visit = scored.groupby(visit, observed=False)[prep.subject].nunique()
        per_visit = per_visit[per_visit > 0]
        off_plan(per_visit, visit, scored.rename(columns={prep.subject: "participant_id"})
                 if prep.subject != "participant_id" else scored)
        staggered = staggered_note(scored.rename(columns={prep.subject: "participant_id"})
                                   if prep.subject != "participant_id" else scored, visit,
                                   [v for v in rows[visit].cat.categories if v in per_visit.index], prep.numbers)
        if staggered:
            notes.append(staggered)
    references = {prep.arm: prep.reference} if prep.arm is not None and prep.reference is not None else {}
    design = build_formula_design(rows, prep.parsed, visit, None, references, subject=prep.subject)
    data = design.data
    if design.n_dropped:
        notes.append(f"{design.n_dropped} row(s) without a {prep.outcome} value or a value of a model variable were "
                     "left out.")
    duplicated = data.duplicated([prep.subject, visit])
    if duplicated.any():
        first = data.loc[duplicated].iloc[0]
        mine = int((data.loc[duplicated, prep.subject] == first[prep.subject]).sum())
        people = data.loc[duplicated, prep.subject].nunique()
        raise AnalysisError(f"{prep.subject} {first[prep.subject]} has {mine} repeated {visit} value(s) (first: "
                            f"{first[visit]}; {people} subject(s) in all); an MMRM needs one value per subject and "
                            "visit. Keep one assessment per subject and visit, or map them to planned visits with "
                            "windows (the study file's visits:) that hold one assessment each.")
    if spatial:
        times = np.unique(data[visit].to_numpy(float))
        visits = [f"{t:g}" for t in times]
        vpos = np.searchsorted(times, data[visit].to_numpy(float)).astype(np.int64)
    else:
        times = None
        visits = [str(v) for v in data[visit].cat.categories]
        vpos = data[visit].cat.codes.to_numpy(np.int64)
    m = len(visits)
    pid = pd.factorize(data[prep.subject])[0]
    if prep.group is not None:
        gcat = data[prep.group].astype("category") if not isinstance(data[prep.group].dtype, pd.CategoricalDtype) \
            else data[prep.group]
        gcat = gcat.cat.remove_unused_categories()
        groups = [str(g) for g in gcat.cat.categories]
        gcode = gcat.cat.codes.to_numpy(np.int64)
    else:
        groups, gcode = [], np.zeros(len(data), np.int64)
    mm = MmrmData.build(design.y, design.X, pid, vpos, gcode, m, max(len(groups), 1), times=times)
    sds = pd.Series(design.y).groupby(vpos).std().reindex(range(m)).fillna(float(np.std(design.y)) or 1.0).to_numpy()
    reml = method == "reml"
    theta, converged, tried = _optimise(mm, structure, m, sds, reml)
    dev, beta, vcov = evaluate(mm, structure, theta, reml)
    if not math.isfinite(dev):
        raise AnalysisError(f"the {structure} covariance could not be fitted (no positive definite optimum from "
                            f"{tried} starting points); try a simpler structure (ar1, cs or toeplitz).")
    if not converged:
        notes.append(f"the {structure} covariance did not converge from {tried} starting points (the gradient is not "
                     "zero at the best point found): treat the estimates with caution, or try a simpler structure.")
    covs = [covariance_matrix(structure, m, t, times) for t in np.split(theta, mm.n_groups)]
    for g, S in enumerate(covs):
        _refuse_singular(S, visits, visit, structure, groups[g] if groups else None)
    inference = (covariance_inference(mm, structure, np.stack(covs), reml)
                 if df_method in ("satterthwaite", "kenward-roger") else None)
    between_within = _between_within_df(design.X, pid) if df_method == "between-within" else None
    vcov_unadjusted = vcov
    if df_method == "kenward-roger":
        vcov = inference.vcov_adjusted
        notes.append("Kenward-Roger: standard errors from the adjusted Var(beta) (Kenward & Roger 1997, in SAS's "
                     f"parameters of the {structure} covariance), df from the observed REML information.")
    k = len(theta) + len(beta)
    loglik = -dev / 2.0
    n_eff = mm.n_obs - (len(beta) if reml else 0)

    def frame(M: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(M, index=pd.Index(visits, name=visit), columns=visits)

    def corr(M: np.ndarray) -> np.ndarray:
        d = np.sqrt(np.diag(M))
        return M / np.outer(d, d)

    fit = MmrmFit(outcome=prep.outcome, visit=visit, visits=visits, design=design, formula=prep.formula, beta=beta,
                  vcov=vcov, vcov_unadjusted=vcov_unadjusted, inference=inference, between_within=between_within,
                  engine_data=mm, df_method=df_method, method=method, covariance_structure=structure,
                  group_covariance=prep.group, theta=theta, n_obs=mm.n_obs,
                  n_participants=int(pid.max()) + 1, log_likelihood=loglik, aic=-2 * loglik + 2 * k,
                  bic=-2 * loglik + math.log(n_eff) * k, converged=converged, notes=notes, reference_arm=prep.reference,
                  arm=prep.arm, subject=prep.subject, spatial=spatial,
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
    polish in :func:`..inference.optimise.minimise`), from the observed visit SDs with independent visits;
    when that does not converge, from further starting points (one pooled SD; moderate positive
    correlations), as the mmrm package tries further optimizers. Returns the best point, whether it
    is stationary, and how many starting points were tried."""
    def criterion(t: np.ndarray) -> float:
        return evaluate(mm, structure, t, reml)[0]

    def both(t: np.ndarray) -> tuple[float, np.ndarray]:
        return gradient(mm, structure, t, reml)

    pooled = np.full(m, float(np.sqrt(np.mean(np.square(sds)))))
    times = mm.times
    starts = [start(structure, m, sds, times), start(structure, m, pooled, times),
              _correlated_start(structure, m, sds, times)]
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
        if _near_singular(structure, m, theta, mm.n_groups, times):  # further starts run to the same edge
            return best[1], best[2], tried
    if best is None:
        return starts[0], False, len(starts)
    return best[1], best[2], len(starts)


def _correlated_start(structure: str, m: int, sds: np.ndarray, times: np.ndarray | None = None) -> np.ndarray:
    """A start with the correlation parameters moved from 0 towards a moderate positive correlation."""
    x = start(structure, m, sds, times).astype(float)
    if structure in SPATIAL:  # a correlation of about 0.8 at the typical distance
        x[1] += 1.4 if structure == "sp_pow" else 1.5
        return x
    if structure == "us":
        rows = np.tril_indices(m)
        off = rows[0] != rows[1]
        x[off] = 0.5 * np.exp(x[np.array([i * (i + 1) // 2 + i for i in rows[0][off]])])
        return x
    n_corr = {"cs": 1, "ar1": 1, "csh": 1, "ar1h": 1, "toeplitz": m - 1, "toeph": m - 1, "ad": m - 1,
              "adh": m - 1}[structure]
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


def _near_singular(structure: str, m: int, theta: np.ndarray, n_groups: int, times: np.ndarray | None = None) -> bool:
    return any(_singular_positions(covariance_matrix(structure, m, t, times)) is not None
               for t in np.split(theta, n_groups))


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
