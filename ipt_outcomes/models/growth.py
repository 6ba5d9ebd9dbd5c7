"""``ipt.fit_growth``: mixed-effects growth models of symptom change across sessions."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..arguments import checked, choice, each, frame, level, mapping, names, number, optional, text
from ..errors import (
    AnalysisError,
    ApproximationWarning,
    ArgumentError,
    ConvergenceWarning,
    ModelFallbackWarning,
    SingularFitWarning,
)
from ..inference.distributions import t_ppf, t_two_sided
from ..registry import Registry
from ..results import Summary, jsonable
from ..study import Study, registry_in_force, time_column
from .checks import check_growth_input, reference_arm_of
from .derived import quantities as derived
from .design import Design, GrowthSpec, build_design
from .engine.estimate import fit_covariance
from .engine.likelihood import MixedData, evaluate, unpack
from .engine.satterthwaite import SatterthwaiteState, satterthwaite_state

__all__ = ["FIXED_EFFECT_COLUMNS", "VARIANCE_COLUMNS", "GrowthFit", "fit_growth", "identifiability_problem"]

FIXED_EFFECT_COLUMNS = ["term", "estimate", "std_error", "df", "statistic", "p_value", "ci_lower", "ci_upper"]
VARIANCE_COLUMNS = ["group", "term1", "term2", "estimate"]


@dataclass
class GrowthFit:
    """A fitted growth model. Tables are DataFrames; numbers are unrounded."""

    spec: GrowthSpec
    fixed_effects: pd.DataFrame
    variance_components: pd.DataFrame
    log_likelihood: float
    aic: float
    bic: float
    converged: bool
    singular: bool
    n_obs: int
    n_participants: int
    method: str
    engine: str
    notes: list[str] = field(default_factory=list)
    #: the keyword model's design (rows, matrices, participants); None for formula fits and partitioned data
    design: Design | None = field(default=None, repr=False)
    #: the covariance parameters (lme4's variances and covariances, then sigma^2)
    variance_parameters: np.ndarray | None = field(default=None, repr=False)
    #: what Satterthwaite's df of any contrast need (lmerTest's derivatives at the optimum)
    satterthwaite_state: SatterthwaiteState | None = field(default=None, repr=False)
    #: the engine's sufficient statistics (partitioned fits keep only these)
    mixed_data: MixedData | None = field(default=None, repr=False)
    #: the table the model was fitted to, and its attributes (the study it was loaded with)
    data: pd.DataFrame | None = field(default=None, repr=False)
    data_attrs: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the arguments of the call, to fit the same model again (:meth:`refit`)
    options: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the lme4-style formula of the model (built from the keyword arguments when none was given)
    formula: str = ""
    #: what a formula fit keeps (design and estimates), None for fits from keyword arguments
    formula_model: Any = field(default=None, repr=False)
    _twin: Any = field(default=None, repr=False)  # a keyword fit's model fitted from its formula (marginal means)

    @property
    def n_parameters(self) -> int:
        """Fixed effects plus covariance parameters (what AIC and BIC count)."""
        return len(self.fixed_effects) + (0 if self.variance_parameters is None else len(self.variance_parameters))

    def refit(self, **changes: Any) -> GrowthFit:
        """Fit the same model again with some settings changed (``method="ml"``, ``random=...``)."""
        if self.data is None:
            raise ArgumentError("this fit does not keep its data; call fit_growth again.")
        return fit_growth(self.data, **{**self.options, "check": False, **changes})  # data checked already

    def trajectories(self, times: Sequence[float] | None = None, by: str | None = None,
                     level: float = 0.95, weights: str = "proportional") -> pd.DataFrame:
        """Model-implied mean trajectories with confidence bands (see :func:`.derived.trajectories`);
        other factors averaged with ``weights`` (``"proportional"``, the default, or ``"equal"``)."""
        return derived.trajectories(self, times=times, by=by, level=level, weights=weights)

    def arm_differences(self, at: float | None = None, level: float = 0.95, by: str | None = None,
                        weights: str = "proportional") -> pd.DataFrame:
        """Arm differences at a time with CIs and Feingold's d (see :func:`.derived.arm_differences`);
        moderators and categorical covariates averaged with ``weights``: ``"proportional"`` (the
        default: their observed frequencies) or ``"equal"`` (emmeans' default)."""
        return derived.arm_differences(self, at=at, level=level, by=by, weights=weights)

    def residuals(self) -> pd.DataFrame:
        """Observed, fitted and residual values per analysed row."""
        return derived.residuals(self)

    def random_effect_intervals(self, level: float = 0.95, group: str | None = None) -> pd.DataFrame:
        """Random effects with conditional standard errors (participants; any grouping factor of a formula)."""
        return derived.random_effect_intervals(self, level=level, group=group)

    def marginal_means(self, specs: Sequence[str] | str = "arm", at: Mapping[str, Any] | None = None,
                       weights: str = "equal", by: Sequence[str] | str | None = None,
                       level: float = 0.95) -> pd.DataFrame:
        """Estimated marginal means as emmeans computes them (see :func:`.formula_means.marginal_means`)."""
        from .derived.means import marginal_means

        return marginal_means(self.as_formula_fit(), specs, at=at, weights=weights, by=by, level=level)

    def contrasts(self, specs: Sequence[str] | str = "arm", at: Mapping[str, Any] | None = None,
                  method: str = "trt.vs.ctrl", weights: str = "equal", by: Sequence[str] | str | None = None,
                  adjust: str = "none", level: float = 0.95) -> pd.DataFrame:
        """Contrasts of marginal means as emmeans' ``contrast`` (see :func:`.formula_means.contrasts`)."""
        from .derived.means import contrasts

        return contrasts(self.as_formula_fit(), specs, at=at, method=method, weights=weights, by=by, adjust=adjust,
                         level=level)

    def as_formula_fit(self) -> GrowthFit:
        """This fit, or for a fit from keyword arguments the same model fitted from its formula (once)."""
        if self.formula_model is not None:
            return self
        if self.data is None or self.spec.shape == "piecewise" or self.spec.baseline not in ("outcome", "covariate"):
            raise ArgumentError("marginal means and contrasts need the model as a formula: fit it with "
                                f"ipt.fit_growth(df, formula=...) (this model: {self.formula}).")
        if self._twin is None:
            self._twin = fit_growth(self.data, formula=self.formula, method="ml" if self.method == "ml" else "reml",
                                    reference_arm=self.spec.reference_arm,
                                    reference_levels=dict(self.spec.reference_levels), time=self.spec.time, check=False)
        return self._twin

    def icc(self) -> pd.DataFrame:
        """Participant (and therapist) intraclass correlations at time 0."""
        return derived.icc(self)

    def r_squared(self) -> dict[str, float]:
        """Marginal and conditional R^2 (Nakagawa and Schielzeth 2013)."""
        return derived.r_squared(self)

    def random_effects(self, group: str | None = None) -> pd.DataFrame:
        """Predicted random effects (BLUPs) per participant, or per therapist with ``group``."""
        return derived.random_effects(self, group=group)

    @property
    def outcome(self) -> str:
        return self.spec.outcome

    @property
    def registry(self) -> Registry:
        """The instrument registry in force for the data fitted (the study's instruments included)."""
        return registry_in_force(None, study=Study.from_attrs(self.data_attrs.get("ipt_study")))

    def summary(self) -> Summary:
        """The model, the fit, the fixed effects (Satterthwaite df) and variance components, and the
        notes: prints as text, renders as HTML in a notebook."""
        if self.formula_model is not None:
            kind = "Linear mixed model" if self.formula_model.structure is not None else "Linear model"
            title = f"{kind} of {self.outcome}"
            lines = [f"formula: {self.formula}",
                     f"estimation: {self.method.upper() if self.formula_model.structure else 'least squares'}"]
        else:
            title = f"Linear mixed growth model of {self.outcome}"
            random = "intercept and slope" if self.spec.random == "slope" else "intercept"
            lines = [f"formula: {self.formula}",
                     f"time: {self.spec.time} ({self.spec.shape}); random {random} by participant"
                     + (f", intercept by {self.spec.therapist}" if self.spec.therapist else "")
                     + f"; estimation: {self.method.upper()}"]
        lines.append(f"{self.n_obs} observations, {self.n_participants} participants; log-likelihood "
                     f"{self.log_likelihood:.2f}, AIC {self.aic:.2f}, BIC {self.bic:.2f}"
                     + ("" if self.converged else "; NOT CONVERGED"))
        notes = list(self.notes)
        if self.singular:
            notes.insert(0, "singular fit (a variance at 0 or a correlation at +-1); simplify the random part.")
        return Summary.of(title, lines, [("fixed effects", self.fixed_effects),
                                         ("variance components", self.variance_components)], notes)

    def summary_text(self) -> str:
        """:meth:`summary` as text."""
        return str(self.summary())

    def to_frame(self) -> pd.DataFrame:
        """The fixed effects table."""
        return self.fixed_effects.copy()

    def __repr__(self) -> str:
        return self.summary_text()

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (used by ``ipt-outcomes fit --json``)."""
        return jsonable({
            "outcome": self.outcome, "formula": self.formula, "time": self.spec.time, "shape": self.spec.shape,
            "random": self.spec.random,
            "method": self.method, "reference_arm": self.spec.reference_arm, "engine": self.engine,
            "fixed_effects": self.fixed_effects, "variance_components": self.variance_components,
            "log_likelihood": float(self.log_likelihood), "aic": float(self.aic), "bic": float(self.bic),
            "converged": bool(self.converged), "singular": bool(self.singular), "n_obs": int(self.n_obs),
            "n_participants": int(self.n_participants),
            "notes": list(self.notes),
        })

    def contrast(self, L: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, float]:
        """Estimate, SE, Satterthwaite df, t, p and CI of a linear combination of the fixed effects."""
        L = np.asarray(L, float)
        beta = self.fixed_effects["estimate"].to_numpy()
        if L.shape != beta.shape:
            raise ArgumentError(f"a contrast needs {len(beta)} weights, one per fixed effect.")
        # computed on first use
        if self.satterthwaite_state is None and self.mixed_data is not None and self.variance_parameters is not None:
            self.satterthwaite_state = satterthwaite_state(self.mixed_data, self.variance_parameters, self.method == "reml")
        if self.satterthwaite_state is None:
            raise ArgumentError("this fit keeps no covariance of its estimates; refit it with fit_growth.")
        est = float(L @ beta)
        se = math.sqrt(float(L @ self.satterthwaite_state.vcov @ L))
        df = _usable_df(self.satterthwaite_state.df(L), self.n_obs, len(beta), self.notes, "a contrast")
        t = est / se
        crit = t_ppf(0.5 + level / 2, df)
        return {"estimate": est, "std_error": se, "df": df, "statistic": t,
                "p_value": float(t_two_sided(t, df)), "ci_lower": est - crit * se, "ci_upper": est + crit * se}


@checked(df=frame, outcome=optional(text), formula=optional(text), time=optional(text),
         random=optional(choice("intercept", "slope")), method=choice("reml", "ml"), reference_arm=optional(text),
         covariates=names, moderators=names,
         baseline=choice("outcome", "covariate"), shape=choice("linear", "log", "quadratic", "piecewise"),
         therapist=optional(text), breakpoints=each(number()), reference_levels=optional(mapping), level=level,
         engine=choice("ipt", "statsmodels"), arm=optional(text))
def fit_growth(
    df: pd.DataFrame,
    outcome: str | None = None,
    time: str | None = None,
    random: Literal["intercept", "slope"] | None = None,
    method: Literal["reml", "ml"] = "reml",
    reference_arm: str | None = None,
    covariates: Sequence[str] = (),
    moderators: Sequence[str] = (),
    baseline: Literal["outcome", "covariate"] = "outcome",
    *,
    shape: Literal["linear", "log", "quadratic", "piecewise"] = "linear",
    therapist: str | None = None,
    breakpoints: tuple[float, float] = (3.0, 12.0),
    reference_levels: Mapping[str, str] | None = None,
    level: float = 0.95,
    check: bool = True,
    engine: Literal["ipt", "statsmodels"] = "ipt",
    formula: str | None = None,
    arm: str | None = None,
) -> GrowthFit:
    """Fit a linear mixed growth model of one outcome across sessions (or weeks).

    Parameters
    ----------
    df
        Canonical trial table (see the data model). Rows of other instruments are ignored; rows
        with a missing score or covariate are dropped (counted in ``notes``), which is valid under
        missing at random.
    outcome
        Instrument key (``"HAMD17"``); with ``formula``, the formula's left side names it.
    formula
        An lme4-style formula, ``"HAMD17 ~ session * arm + baseline + age + (session | participant_id)"``,
        instead of the keyword arguments that build one: the fixed part in formulaic's syntax,
        random terms ``(terms | group)``, ``(terms || group)`` (uncorrelated), nested ``(1 | a/b)``
        and crossed groups; no random term fits a linear model (R's ``lm``). ``baseline`` is the
        instrument's baseline score as a covariate (baseline rows leave the response) unless the
        data have a ``baseline`` column. See ``docs/formulas.md``.
    time
        Any numeric column: ``session``, ``week`` or an extra column such as ``month``. Default
        (None): the study's ``time``, else ``session`` if the data have it, else ``week``
        (:func:`ipt_outcomes.study.time_column`); an assumed choice is stated in ``notes``.
    random
        ``"intercept"`` or ``"slope"`` (correlated random intercept and slope by participant). By
        default (None) a random slope, unless the data cannot identify one (as lme4 refuses: no
        more observations than random effects, e.g. every participant assessed twice), in which case
        a random intercept is fitted, announced by a :class:`ModelFallbackWarning` and in ``notes``.
        An explicit ``"slope"`` on such data raises :class:`AnalysisError`.
    method
        ``"reml"`` or ``"ml"``.
    reference_arm
        Arm the others are compared with; default the study's reference arm, else an arm named
        like a control (TAU, waitlist, control, ...), else the first in sorted order.
    arm
        With ``formula``: the treatment column of the data (default ``arm`` when the formula uses
        it), so that a formula on the analysis data set's own columns (``THERAPY``) has arm
        differences and trajectories by arm.
    covariates
        Numeric or categorical columns (reference = first sorted level unless ``reference_levels``).
    moderators
        Columns such as ``problem_area`` or ``disorder`` (categorical: one term per level against
        the first) or ``age`` (numeric: modelled as continuous): moderator, moderator x time,
        moderator x arm and moderator x arm x time terms. A moderator with a single value in the
        analysed rows is an error.
    baseline
        ``"outcome"``: baseline is the first point of the trajectory; ``"covariate"``: baseline rows
        are removed from the response and the baseline score enters as the covariate ``baseline``.
    shape
        ``"linear"``, ``"log"`` (``log(time + 1)``), ``"quadratic"`` or ``"piecewise"`` by IPT phase
        (breaks after session ``breakpoints[0]`` and ``breakpoints[1]``).
    therapist
        Column of a further random intercept (``therapist_id`` or ``site``), participants nested in it.
    level
        Confidence level of the intervals.
    engine
        ``"ipt"`` (default): lme4's profiled criterion evaluated from per-participant sufficient
        statistics (fast; :mod:`ipt_outcomes.models.engine.profiled`). ``"statsmodels"``: statsmodels MixedLM,
        refined on the same criterion. Both give the same optimum.
    check
        Validate the rows and columns the model uses first (the outcome's rows; identifiers, arm,
        time, score, covariates, moderators) and raise if any is invalid.

    Returns
    -------
    GrowthFit
        ``fixed_effects`` (term, estimate, std_error, df, statistic, p_value, ci_lower, ci_upper; df
        by Satterthwaite), ``variance_components`` (group, term1, term2, estimate; term2 set = a
        covariance; group ``Residual``), ``log_likelihood``, ``aic``, ``bic``, ``converged``,
        ``singular``, ``n_obs``, ``n_participants``, ``method``.

    Notes
    -----
    Model: ``y_ij = x_ij' b + u_0i + u_1i f(t_ij) + e_ij`` with ``(u_0i, u_1i) ~ N(0, G)`` and
    ``e_ij ~ N(0, s2)``. The REML criterion is lme4's (Bates et al. 2015, section 3); the df of
    each coefficient follow Satterthwaite as in lmerTest (Kuznetsova et al. 2017), and
    ``p = 2 P(T_df > |t|)``. AIC and BIC count fixed effects and covariance parameters, as lme4.

    Raises
    ------
    DataValidationError
        The rows the model uses fail validation (with ``check=True``).
    AnalysisError
        The model cannot be fitted (no rows for the outcome, one arm, a confounded design...).
    ArgumentError
        An option is invalid.

    References
    ----------
    Bates D, Maechler M, Bolker B, Walker S (2015). J Stat Softw 67(1). doi:10.18637/jss.v067.i01
    Kuznetsova A, Brockhoff PB, Christensen RHB (2017). J Stat Softw 82(13). doi:10.18637/jss.v082.i13

    Examples
    --------
    >>> import ipt_outcomes as ipt
    >>> fit = ipt.fit_growth(ipt.load_example(), outcome="HAMD17", reference_arm="TAU")
    >>> list(fit.fixed_effects["term"])
    ['Intercept', 'session', 'arm[IPT]', 'session:arm[IPT]']
    """
    if formula is not None:
        keywords = {"random": random is not None, "covariates": bool(covariates), "moderators": bool(moderators),
                    "baseline": baseline != "outcome", "shape": shape != "linear", "therapist": therapist is not None,
                    "breakpoints": tuple(breakpoints) != (3.0, 12.0), "engine": engine != "ipt"}
        given = [k for k, v in keywords.items() if v]
        if given:
            raise ArgumentError(f"with formula=, write the model in the formula; {', '.join(given)} cannot be given as "
                                "well (e.g. covariates as '+ age', a therapist intercept as '+ (1 | therapist_id)').")
        from .formula_model import fit_formula

        parts = fit_formula(df, formula, outcome=outcome, time=time, method=method, reference_arm=reference_arm,
                            reference_levels=dict(reference_levels or {}), level=level, check=check, arm=arm)
        return GrowthFit(**parts.fields(), data=df, data_attrs=dict(df.attrs))
    if arm is not None and arm != "arm":
        raise ArgumentError("arm= names the treatment column of a formula's data; the keyword form reads the canonical "
                            "column arm.")
    if outcome is None:
        raise ArgumentError("fit_growth() needs outcome= (an instrument key such as 'HAMD17') or formula=.")
    if len(breakpoints) != 2 or not 0 < breakpoints[0] < breakpoints[1]:
        raise ArgumentError(f"breakpoints must be two times (first, second) with 0 < first < second, not "
                            f"{tuple(breakpoints)!r}.")
    unknown = sorted(set(reference_levels or {}) - set(covariates) - set(moderators))
    if unknown:
        raise ArgumentError(f"reference_levels names {', '.join(map(repr, unknown))}, which is not a covariate or "
                            "moderator of this model.")
    options = dict(outcome=outcome, time=time, random=random, method=method, reference_arm=reference_arm,
                   covariates=tuple(covariates), moderators=tuple(moderators), baseline=baseline, shape=shape,
                   therapist=therapist, breakpoints=tuple(breakpoints), reference_levels=dict(reference_levels or {}),
                   level=level, engine=engine)
    chosen_time = time_column(df, time)
    time = chosen_time.column
    options["time"] = time
    reference = reference_arm_of(df, outcome, reference_arm)
    spec = GrowthSpec(outcome=outcome, time=time, shape=shape, random=random or "slope", method=method,
                      reference_arm=reference.arm, covariates=tuple(covariates),
                      moderators=tuple(moderators), baseline=baseline, therapist=therapist,
                      breakpoints=(float(breakpoints[0]), float(breakpoints[1])),
                      reference_levels=dict(reference_levels or {}))
    if check:
        check_growth_input(df, spec)
    fallback = None
    if random is None and shape not in ("linear", "log"):  # a random slope needs one time term
        spec = GrowthSpec(**{**spec.__dict__, "random": "intercept"})
        fallback = f"random intercept by participant (the default for {shape} time: a random slope needs one time term)."
    design = build_design(df, spec)
    problem = identifiability_problem(design, spec)
    if problem and random is None and spec.random == "slope":
        fallback = (f"{problem}; a random intercept model was fitted instead (say random=\"intercept\" to choose "
                    "it explicitly).")
        warnings.warn(f"{outcome}: {fallback}", ModelFallbackWarning, stacklevel=2)
        spec = GrowthSpec(**{**spec.__dict__, "random": "intercept"})
        design = build_design(df, spec)
        problem = identifiability_problem(design, spec)
    if problem:
        remedy = ('use random="intercept"' if spec.random == "slope" else
                  "a mixed model needs repeated assessments of most participants")
        raise AnalysisError(f"the {outcome} model is not identifiable: {problem}; {remedy}.")
    spec = GrowthSpec(**{**spec.__dict__, "reference_arm": design.arm_levels[0]})
    fit = fit_design(design, spec, engine=engine, level=level)
    if fallback:
        fit.notes.insert(0, fallback)
    if reference.assumed:
        fit.notes.insert(0, reference.statement + ".")
    if chosen_time.how == "default":
        fit.notes.insert(0, chosen_time.statement + ".")
    fit.data, fit.data_attrs, fit.options = df, dict(df.attrs), options
    fit.formula = keyword_formula(spec)
    return fit


def keyword_formula(spec: GrowthSpec) -> str:
    """The lme4-style formula of a model given by keyword arguments (what ``fit.formula`` shows)."""
    t = spec.time
    time_part = {"linear": t, "log": f"log({t} + 1)", "quadratic": f"({t} + I({t} ** 2))",
                 "piecewise": f"({t}[initial] + {t}[middle] + {t}[termination])"}[spec.shape]
    from ..formula import quote_name

    fixed = " + ".join(f"{time_part} * arm * {quote_name(m)}" for m in spec.moderators) or f"{time_part} * arm"
    parts = [fixed, *map(quote_name, spec.covariates)]
    if spec.baseline == "covariate":
        parts.append("baseline")
    slope = time_part.strip("()") if spec.shape in ("linear", "log") else None
    parts.append(f"({slope} | participant_id)" if spec.random == "slope" and slope else "(1 | participant_id)")
    if spec.therapist:
        parts.append(f"(1 | {quote_name(spec.therapist)})")
    return f"{spec.outcome} ~ " + " + ".join(parts)


def identifiability_problem(design: Design, spec: GrowthSpec) -> str | None:
    """lme4's checks ``check.nobs.vs.nRE`` and ``check.nobs.vs.nlev``: the observations must outnumber
    the random effects of every term, else the variance components and the residual variance cannot
    be told apart. Returns the reason, or None when the model is identifiable."""
    n_obs, n_part = len(design.y), len(design.participant_ids)
    n_re = n_part * design.Z.shape[1]
    if n_obs <= n_re:
        per = n_obs / max(n_part, 1)
        what = "a random intercept and slope" if design.Z.shape[1] == 2 else "a random intercept"
        return (f"{n_obs} observations for {n_re} participant random effects ({what} for {n_part} participants, "
                f"{per:.2g} assessments each on average)")
    if design.therapist is not None:
        n_t = int(design.therapist.max()) + 1
        if n_obs <= n_t:
            return f"{n_obs} observations for {n_t} levels of {spec.therapist}"
    return None


def fit_design(design: Design, spec: GrowthSpec, engine: str = "ipt", level: float = 0.95,
               warn: bool = True, inference: bool = True) -> GrowthFit:
    """Fit a model to a built design (used by :func:`fit_growth` and by refits on simulated responses).

    With ``inference=False`` the Satterthwaite df, tests and intervals of the coefficient table are
    left missing (they are computed on first use by contrasts), which makes refits cheaper."""
    outcome, method = spec.outcome, spec.method
    data = MixedData.build(design.y, design.X, design.Z, design.participant, design.therapist)
    reml = method == "reml"
    result = fit_covariance(data, reml, engine)
    ev = evaluate(data, result.varpar, reml)
    notes = list(result.notes)
    if design.n_dropped:
        notes.append(f"{design.n_dropped} row(s) without a {outcome} score or covariate value were left out.")
    if result.statsmodels_beta is not None and data.therapist is None:
        se = np.sqrt(np.diag(ev.vcov_beta))
        if np.any(np.abs(result.statsmodels_beta - ev.beta) > 0.01 * se):
            notes.append("statsmodels' fixed effects disagreed with GLS at its own optimum (statsmodels issue "
                         "10239); the GLS values are reported.")
    G, g_t, s2 = unpack(result.varpar, data.q, data.therapist is not None)
    singular = bool(_is_singular(G, g_t, s2, data.therapist is not None))
    if singular:
        advice = singular_advice(G, g_t, s2, spec, design.random_terms)
        if warn:
            warnings.warn(f"singular fit for {outcome}: {advice}", SingularFitWarning, stacklevel=3)
        notes.append(f"singular fit: {advice}")
    if not result.converged and warn:
        warnings.warn(f"the model for {outcome} did not converge; treat the estimates with caution.",
                      ConvergenceWarning, stacklevel=3)
    if inference:
        satt = satterthwaite_state(data, result.varpar, reml)
        fixed = _fixed_table(design.terms, ev.beta, satt, level, len(design.y), notes)
    else:
        satt = None
        se = np.sqrt(np.diag(ev.vcov_beta))
        fixed = pd.DataFrame({"term": design.terms, "estimate": ev.beta, "std_error": se, "df": np.nan,
                              "statistic": ev.beta / se, "p_value": np.nan, "ci_lower": np.nan, "ci_upper": np.nan},
                             columns=FIXED_EFFECT_COLUMNS)
    k = len(result.varpar)
    p = design.X.shape[1]
    loglik = -ev.deviance / 2.0
    n = len(design.y)
    return GrowthFit(
        spec=spec, fixed_effects=fixed, variance_components=_variance_table(design, G, g_t, s2, spec.therapist),
        log_likelihood=loglik, aic=-2 * loglik + 2 * (p + k), bic=-2 * loglik + math.log(n) * (p + k),
        converged=result.converged, singular=singular, n_obs=n, n_participants=len(design.participant_ids),
        method=method, engine=result.optimizer, notes=notes, design=design, variance_parameters=result.varpar,
        satterthwaite_state=satt,
        mixed_data=data,
    )


def singular_advice(G: np.ndarray, g_t: float, s2: float, spec: GrowthSpec, terms: Sequence[str]) -> str:
    """Which component sits at its boundary, and the remedy (in Python's words; the command line
    translates them)."""
    tol = 1e-6 * s2
    found, remedies = [], []
    if G[0, 0] < tol:
        found.append("the participant intercept variance is 0 (participants differ no more than chance)")
        remedies.append("the fixed effects then equal ordinary regression; a random intercept is still the "
                        "design's model, so keep it and report the singular fit")
    if G.shape[0] == 2:
        if G[1, 1] < tol:
            found.append(f"the variance of the {terms[1]} slope is 0")
        elif G[0, 0] >= tol and abs(G[0, 1] / math.sqrt(G[0, 0] * G[1, 1])) > 1 - 1e-6:
            sign = "+1" if G[0, 1] > 0 else "-1"
            found.append(f"the correlation of the participant intercept and {terms[1]} slope is {sign}")
        if G[1, 1] < tol or G[0, 0] >= tol:
            remedies.append('the data do not support a random slope: use random="intercept"')
    if spec.therapist and g_t < tol:
        found.append(f"the {spec.therapist} intercept variance is 0")
        remedies.append(f"{spec.therapist} explains no variance: leave it out (therapist=None)")
    return "; ".join(found) + ". " + "; ".join(remedies) + "."


def _is_singular(G: np.ndarray, g_t: float, s2: float, has_t: bool) -> bool:
    tol = 1e-6 * s2
    if np.any(np.diag(G) < tol) or (has_t and g_t < tol):
        return True
    if G.shape[0] == 2:
        corr = G[0, 1] / math.sqrt(G[0, 0] * G[1, 1])
        return abs(corr) > 1 - 1e-6
    return False


def _usable_df(df: float, n_obs: int, p: int, notes: list[str], what: str) -> float:
    """Satterthwaite df, or, where lmerTest's formula gives an infinite or undefined value, the
    residual df ``n - p`` (as ``lm``), announced by an ApproximationWarning and a note."""
    if math.isfinite(df) and df > 0:
        return float(df)
    fallback = float(max(n_obs - p, 1))
    message = (f"the Satterthwaite df of {what} is {'infinite' if df == math.inf else 'undefined'} (the covariance "
               f"parameters do not inform its variance, often a singular fit); the residual df {fallback:.0f} "
               "(observations minus fixed effects) were used instead.")
    warnings.warn(message, ApproximationWarning, stacklevel=4)
    if message not in notes:
        notes.append(message)
    return fallback


def _fixed_table(terms: list[str], beta: np.ndarray, satt: SatterthwaiteState, level: float, n_obs: int,
                 notes: list[str]) -> pd.DataFrame:
    rows = []
    for i, term in enumerate(terms):
        L = np.zeros(len(terms))
        L[i] = 1.0
        se = math.sqrt(float(satt.vcov[i, i]))
        df = _usable_df(satt.df(L), n_obs, len(terms), notes, f"'{term}'")
        t = beta[i] / se
        crit = t_ppf(0.5 + level / 2, df)
        rows.append({"term": term, "estimate": float(beta[i]), "std_error": se, "df": df, "statistic": float(t),
                     "p_value": float(t_two_sided(t, df)), "ci_lower": float(beta[i] - crit * se),
                     "ci_upper": float(beta[i] + crit * se)})
    return pd.DataFrame(rows, columns=FIXED_EFFECT_COLUMNS)


def _variance_table(design: Design, G: np.ndarray, g_t: float, s2: float, therapist: str | None) -> pd.DataFrame:
    rows = [{"group": "participant_id", "term1": design.random_terms[0], "term2": None, "estimate": float(G[0, 0])}]
    if G.shape[0] == 2:
        rows.append({"group": "participant_id", "term1": design.random_terms[1], "term2": None, "estimate": float(G[1, 1])})
        rows.append({"group": "participant_id", "term1": design.random_terms[0], "term2": design.random_terms[1],
                     "estimate": float(G[0, 1])})
    if therapist:
        rows.append({"group": therapist, "term1": "Intercept", "term2": None, "estimate": float(g_t)})
    rows.append({"group": "Residual", "term1": None, "term2": None, "estimate": float(s2)})
    return pd.DataFrame(rows, columns=VARIANCE_COLUMNS)
