"""Methods and results paragraphs in APA style, written from the analysis results."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..models import GrowthFit
from ..registry import Registry, default_registry

__all__ = ["apa_p", "methods_paragraph", "results_paragraph"]


def apa_p(p: float) -> str:
    """'p < .001' or 'p = .034' (APA: no leading zero)."""
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "\u2212")


def _instrument(outcome: str, registry: Registry | None = None) -> str:
    reg = registry if registry is not None else default_registry()
    return f"{reg[outcome].full_name} ({reg[outcome].name})" if outcome in reg else outcome


def _formula_model_sentence(fit: GrowthFit) -> str:
    """How a model from the analysis plan's formula was analysed (the formula verbatim, in lme4 notation)."""
    spec = fit.spec
    if fit.formula_model.structure is None:
        return (f"{_instrument(spec.outcome, fit.registry)} was analysed with the linear model of the analysis plan, "
                f"{fit.formula}, by ordinary least squares with {spec.reference_arm} as the reference arm; t tests "
                "used the residual degrees of freedom.")
    groups = ", ".join(f.name.replace("_", " ") for f in fit.formula_model.structure.factors)
    return (f"Change in {_instrument(spec.outcome, fit.registry)} was analysed with the linear mixed-effects model of "
            f"the analysis plan, {fit.formula} (lme4 notation; random effects by {groups}), estimated by "
            f"{'restricted maximum likelihood (REML)' if fit.method == 'reml' else 'maximum likelihood'} with "
            f"{spec.reference_arm} as the reference arm; all participants with at least one score were analysed, "
            "which is valid when data are missing at random. Degrees of freedom for fixed effects used the Satterthwaite "
            "approximation (Kuznetsova et al., 2017). Arm differences at the end of treatment are estimated marginal "
            "means (covariates at their mean, factors averaged with equal weights, as emmeans); the growth-model "
            "effect size d divides the difference in model-implied change by the baseline SD (Feingold, 2009). "
            "Marginal and conditional R\u00b2 follow Nakagawa, Johnson and Schielzeth (2017).")


def methods_paragraph(fit: GrowthFit, settings: dict[str, Any], versions: dict[str, str]) -> str:
    spec = fit.spec
    if fit.formula_model is not None:
        return _methods_rest(_formula_model_sentence(fit), settings, versions)
    random = ("random intercepts and random slopes of time (correlated) for participants" if spec.random == "slope"
              else "random intercepts for participants")
    if spec.therapist:
        random += f" and random intercepts for {spec.therapist.replace('_', ' ')}"
    shape = {"linear": "linear", "log": "log-linear (log[session + 1])", "quadratic": "quadratic",
             "piecewise": "piecewise linear by IPT phase"}[spec.shape]
    text = (
        f"Change in {_instrument(spec.outcome, fit.registry)} across {spec.time}s was analysed with a linear "
        "mixed-effects growth "
        f"model with {shape} time, arm, and their interaction as fixed effects and {random} ({fit.formula} in lme4 "
        "notation), estimated by "
        f"{'restricted maximum likelihood (REML)' if spec.method == 'reml' else 'maximum likelihood'} "
        f"with {spec.reference_arm} as the reference arm; all participants with at least one score were analysed, "
        "which is valid when data are missing at random. Degrees of freedom for fixed effects used the Satterthwaite "
        "approximation (Kuznetsova et al., 2017). Arm differences at the end of treatment are model-implied means; "
        "the growth-model effect size d divides the difference in model-implied change by the baseline SD (Feingold, "
        "2009). Marginal and conditional R\u00b2 follow Nakagawa and Schielzeth (2013).")
    return _methods_rest(text, settings, versions)


def _methods_rest(text: str, settings: dict[str, Any], versions: dict[str, str]) -> str:
    cc = settings.get("clinical", {})
    if cc:
        text += (
            f" Reliable and clinically significant change on the {cc['outcome']} followed Jacobson and Truax (1991) "
            f"with reliability {cc['reliability']:.2f} and the cut-off {cc['cutoff_type']} ({_num(cc['cutoff'])}); "
            f"response was a reduction of at least {cc['response_percent']:g}% from baseline. Risk differences use "
            "Newcombe's hybrid score interval and numbers needed to treat follow Altman (1998).")
    text += (
        " Sensitivity analyses of the end-of-treatment difference comprised completers-only and last observation "
        f"carried forward analyses of covariance, multiple imputation ({settings.get('n_imputations', 50)} imputations, "
        "Rubin's rules), and a delta-adjusted tipping-point analysis. Analyses used ipt_outcomes "
        f"{versions.get('ipt-outcomes', '?')} with statsmodels {versions.get('statsmodels', '?')} and pingouin "
        f"{versions.get('pingouin', '?')} in Python {versions.get('python', '?')}.")
    return text


def results_paragraph(fit: GrowthFit, differences: pd.DataFrame, summary: pd.DataFrame | None,
                      sensitivity: pd.DataFrame | None, n_randomised: int) -> str:
    spec = fit.spec
    fe = fit.fixed_effects.set_index("term")
    parts = [f"Of {n_randomised} randomised participants, {fit.n_participants} contributed {fit.n_obs} "
             f"{spec.outcome} scores to the growth model."]
    time_term = fit._design.time_terms[0] if fit._design is not None else spec.time
    for r in differences.itertuples():
        term = f"{time_term}:arm[{r.arm}]"
        if term in fe.index:
            b = fe.loc[term]
            parts.append(
                f"Compared with {r.reference_arm}, scores in the {r.arm} arm changed by a further {_num(b['estimate'], 3)} "
                f"points per {spec.time} (SE = {_num(b['std_error'], 3)}, t({_num(b['df'], 1)}) = {_num(b['statistic'])}, "
                f"{apa_p(b['p_value'])}).")
        parts.append(
            f"At {spec.time} {r.time:g}, the model-implied difference ({r.arm} \u2212 {r.reference_arm}) was "
            f"{_num(r.difference)} points, 95% CI [{_num(r.ci_lower)}, {_num(r.ci_upper)}], {apa_p(r.p_value)}, "
            f"d = {_num(r.effect_size_d)} [{_num(r.d_ci_lower)}, {_num(r.d_ci_upper)}].")
    if summary is not None and len(summary):
        rel = summary[(summary["outcome"] == "reliable_improvement")]
        ref = summary.attrs.get("reference_arm")
        for r in rel[rel["arm"] != ref].itertuples():
            base = rel[rel["arm"] == ref].iloc[0]
            parts.append(
                f"Reliable improvement occurred in {r.percent:.0f}% ({r.count}/{r.n}) of the {r.arm} arm and "
                f"{base['percent']:.0f}% ({base['count']}/{base['n']}) of {ref} (risk difference "
                f"{_num(100 * r.risk_difference, 1)} percentage points, 95% CI [{_num(100 * r.rd_ci_lower, 1)}, "
                f"{_num(100 * r.rd_ci_upper, 1)}]; {r.nnt_text}).")
    if sensitivity is not None and len(sensitivity):
        est = sensitivity.dropna(subset=["estimate"])
        signs = {(row.ci_upper < 0) or (row.ci_lower > 0) for row in est.itertuples()}
        verdict = ("The conclusion was the same in every sensitivity analysis" if len(signs) == 1 else
                   "The sensitivity analyses did not all agree")
        tip = sensitivity[sensitivity["analysis"] == "delta-adjusted tipping point"]["note"]
        parts.append(f"{verdict}; {'; '.join(tip)}." if len(tip) else f"{verdict}.")
    return " ".join(parts)
