"""Methods and results paragraphs in APA style, written from the analysis results.

Every sentence is built from the numbers the report's tables show (the same rows, the same
rounding), names the instrument one way (its full name once, then its short name), says which arm a
difference favours from the registry's ``higher_is``, and treats a non-significant result as such.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..models import GrowthFit
from .model_table import term_label
from .wording import Wording, apa_p, ci, count, num, sentence, significant, verdict

__all__ = ["apa_p", "engine_sentence", "methods_paragraph", "results_paragraph"]

SHAPES = {"linear": "linear", "log": "log-linear (log[time + 1])", "quadratic": "quadratic",
          "piecewise": "piecewise linear by IPT phase"}
CUTOFFS = {"a": "Jacobson and Truax's cut-off a: two baseline SDs from the baseline mean towards health",
           "b": "Jacobson and Truax's cut-off b: two SDs from the functional population's mean",
           "c": "Jacobson and Truax's cut-off c: between the clinical and functional means, weighted by their SDs",
           "given": "the cut-off given to the analysis"}
SENSITIVITY_NAMES = {"primary mixed model (MAR)": "in the growth model", "completers only": "among completers",
                     "LOCF (biased)": "with the last observation carried forward",
                     "multiple imputation (MAR)": "after multiple imputation"}


def _wording(fit: GrowthFit) -> Wording:
    return Wording.of(fit.spec.outcome, fit.spec.time, fit.registry)


def _estimation(method: str) -> str:
    return "restricted maximum likelihood (REML)" if method == "reml" else "maximum likelihood"


def _formula_model_sentence(fit: GrowthFit, w: Wording) -> str:
    """How a model from the analysis plan's formula was analysed (the formula verbatim, in lme4 notation)."""
    spec = fit.spec
    if fit.formula_model.structure is None:
        return (f"{w.first} was analysed with the linear model of the analysis plan, {fit.formula}, by ordinary least "
                f"squares with {spec.reference_arm} as the reference arm; t tests used the residual degrees of freedom.")
    groups = ", ".join(f.name.replace("_", " ") for f in fit.formula_model.structure.factors)
    return (f"Change in {w.first} was analysed with the linear mixed-effects model of the analysis plan, {fit.formula} "
            f"(lme4 notation; random effects by {groups}), estimated by {_estimation(fit.method)} with "
            f"{spec.reference_arm} as the reference arm; all participants with at least one score were analysed, "
            "which is valid when data are missing at random. Degrees of freedom for fixed effects used the Satterthwaite "
            "approximation (Kuznetsova et al., 2017). Arm differences at the end of treatment are estimated marginal "
            "means (covariates at their mean, factors averaged with equal weights, as emmeans); the growth-model "
            "effect size d divides the difference in model-implied change by the baseline SD (Feingold, 2009). "
            "Marginal and conditional R\u00b2 follow Nakagawa, Johnson and Schielzeth (2017).")


def methods_paragraph(fit: GrowthFit, settings: dict[str, Any], versions: dict[str, str],
                      secondary: bool = False) -> str:
    """The methods paragraph of the growth model (``secondary``: it follows an MMRM primary analysis,
    which has already named the instrument)."""
    spec = fit.spec
    w = _wording(fit)
    if secondary:
        w = Wording(w.short, w.short, w.lower_is_better, w.time)
    if fit.formula_model is not None:
        return _methods_rest(_formula_model_sentence(fit, w), fit, w, settings, versions)
    random = ("random intercepts and random slopes of time (correlated) for participants" if spec.random == "slope"
              else "random intercepts for participants")
    if spec.therapist:
        random += f" and random intercepts for {spec.therapist.replace('_', ' ')}"
    text = (
        f"Change in {w.first} across {w.units} was analysed with a linear mixed-effects growth model with "
        f"{SHAPES[spec.shape]} time, arm, and their interaction as fixed effects and {random} ({fit.formula} in lme4 "
        f"notation), estimated by {_estimation(spec.method)} with {spec.reference_arm} as the reference arm; all "
        "participants with at least one score were analysed, which is valid when data are missing at random. Degrees "
        "of freedom for fixed effects used the Satterthwaite approximation (Kuznetsova et al., 2017). Arm differences "
        "at the end of treatment are model-implied means; the growth-model effect size d divides the difference in "
        "model-implied change by the baseline SD (Feingold, 2009). Marginal and conditional R\u00b2 follow Nakagawa "
        "and Schielzeth (2013).")
    return _methods_rest(text, fit, w, settings, versions)


def engine_sentence(fit: GrowthFit, versions: dict[str, str]) -> str:
    """Which software estimated the model, with versions, from the fit's own record of its engine."""
    what = "growth model" if fit.formula_model is None else "model"
    ours = f"ipt_outcomes {versions.get('ipt-outcomes', '?')}"
    engine = str(getattr(fit, "engine", ""))
    if engine.startswith("statsmodels"):
        return f"The {what} was fitted with statsmodels {versions.get('statsmodels', '?')} ({engine}) through {ours}"
    if engine.startswith("least squares"):
        return f"The {what} was fitted by {engine} in {ours}"
    how = engine.removeprefix("ipt_outcomes ").replace("(RE)ML", "REML" if fit.method == "reml" else "ML")
    return f"The {what} was fitted with the {ours} mixed-model engine ({how})"


def _methods_rest(text: str, fit: GrowthFit, w: Wording, settings: dict[str, Any], versions: dict[str, str]) -> str:
    cc = settings.get("clinical", {})
    if cc:
        fall, below = w.improvement()
        text += (
            f" Reliable and clinically significant change on the {w.short} followed Jacobson and Truax (1991) with "
            f"reliability {cc['reliability']:.2f}: reliable improvement is a {fall} of more than the reliable change "
            f"index ({num(cc['reliable_change'])} points); recovery is reliable improvement from a baseline on the clinical side "
            f"of {num(cc['cutoff'])} points to an end score {below} it ({CUTOFFS.get(cc['cutoff_type'], 'cut-off')}); "
            f"response is a {fall} of at least {cc['response_percent']:g}% from baseline. Risk differences use "
            "Newcombe's hybrid score interval and numbers needed to treat follow Altman (1998).")
    text += (
        " Sensitivity analyses of the end-of-treatment difference comprised completers-only and last observation "
        f"carried forward analyses of covariance, multiple imputation ({settings.get('n_imputations', 50)} imputations, "
        "Rubin's rules), and a delta-adjusted tipping-point analysis. "
        f"{engine_sentence(fit, versions)}; the mixed ANOVA cross-check used pingouin {versions.get('pingouin', '?')}; "
        f"all analyses ran in Python {versions.get('python', '?')}.")
    return text


def results_paragraph(fit: GrowthFit, differences: pd.DataFrame, summary: pd.DataFrame | None,
                      sensitivity: pd.DataFrame | None, n_randomised: int, *,
                      clinical_settings: dict[str, Any] | None = None,
                      sensitivity_settings: dict[str, Any] | None = None,
                      tipping: pd.DataFrame | None = None, tipping_points: dict[str, float | None] | None = None,
                      secondary: bool = False) -> str:
    """The results paragraph: sample, slopes, end-of-treatment difference with d, clinical change and
    the sensitivity analyses, every number as the report's tables show it."""
    w = _wording(fit)
    name = w.short
    parts = [f"Of {count(n_randomised)} randomised participants, {count(fit.n_participants)} contributed "
             f"{count(fit.n_obs)} {name} scores to the {'secondary ' if secondary else ''}"
             f"{'growth model' if fit.formula_model is None else 'model'}."]
    for r in differences.itertuples():
        parts += _slope_sentences(fit, w, r.arm, r.reference_arm)
        parts.append(_difference_sentence(w, r))
    if summary is not None and len(summary) and clinical_settings:
        parts += _clinical_sentences(summary, clinical_settings, w)
    if sensitivity is not None and len(sensitivity):
        parts += _sensitivity_sentences(sensitivity, sensitivity_settings or {}, tipping, tipping_points or {}, w,
                                        clinical_settings or {})
    return " ".join(sentence(p) for p in parts)


def _slope_sentences(fit: GrowthFit, w: Wording, arm: str, reference: str) -> list[str]:
    fe = fit.fixed_effects.set_index("term")
    time_term = fit.design.time_terms[0] if fit.design is not None else fit.spec.time
    term = f"{time_term}:arm[{arm}]"
    if term not in fe.index:
        return []
    b = fe.loc[term]
    stats = f"SE = {num(b['std_error'], 3)}, t({num(b['df'], 1)}) = {num(b['statistic'])}, {apa_p(b['p_value'])}"
    simple = fit.formula_model is None and fit.spec.shape == "linear" and not fit.spec.covariates \
        and time_term in fe.index
    if simple:
        slope_ref = float(fe.loc[time_term, "estimate"])
        slope_arm = slope_ref + float(b["estimate"])
        return [f"{w.short} scores {w.change(slope_arm)} in {arm} and {w.change(slope_ref)} in {reference}; the "
                f"difference in slopes was b = {num(b['estimate'], 3)} points per {w.unit} ({stats})"]
    label = term_label(term, time=fit.spec.time, reference_arm=reference)
    return [f"The {label} interaction was b = {num(b['estimate'], 3)} ({stats})"]


def _difference_sentence(w: Wording, r: Any) -> str:
    favoured = w.favoured(r.difference, r.arm, r.reference_arm)
    stats = (f"difference {num(r.difference)}, {ci(r.ci_lower, r.ci_upper)}, {apa_p(r.p_value)}; "
             f"d = {num(r.effect_size_d)}, {ci(r.d_ci_lower, r.d_ci_upper)}")
    text = f"At {w.at(r.time)}, the model-implied mean {w.short} score was {w.compare(r.difference, r.arm, r.reference_arm)}"
    if significant(r.ci_lower, r.ci_upper):
        tail = f", favouring {favoured}" if favoured else " (the registry does not say which direction is better)"
        return f"{text} ({stats}){tail}"
    return (f"{text} ({stats}); the confidence interval of the difference includes zero, so these data do not show "
            "either arm to be better")


def _clinical_sentences(summary: pd.DataFrame, st: dict[str, Any], w: Wording) -> list[str]:
    ref = summary.attrs.get("reference_arm")
    fall, below = w.improvement()
    what = {
        "reliable_improvement": f"Reliable improvement (a {fall} of more than {num(st['reliable_change'])} points)",
        "recovered": f"Recovery (reliable improvement to an end score {below} {num(st['cutoff'])})",
        "response": f"Response (a {fall} of at least {st['response_percent']:g}%)",
    }
    if st.get("remission") is not None:
        what["remission"] = f"Remission (an end score of {'at most' if below == 'below' else 'at least'} {st['remission']:g})"
    out = []
    for outcome, label in what.items():
        rows = summary[summary["outcome"] == outcome]
        base = rows[rows["arm"] == ref]
        if base.empty or int(base.iloc[0]["n"]) == 0:
            continue
        base = base.iloc[0]
        for r in rows[rows["arm"] != ref].itertuples():
            if not r.n:
                continue
            text = (f"{label} occurred in {r.percent:.0f}% ({r.count}/{r.n}) of participants in {r.arm} and "
                    f"{base['percent']:.0f}% ({base['count']}/{base['n']}) in {ref}")
            if r.risk_difference == r.risk_difference:
                text += (f" (risk difference {num(100 * r.risk_difference, 1)} percentage points, "
                         f"{ci(100 * r.rd_ci_lower, 100 * r.rd_ci_upper, 1)}"
                         + (f"; {_brackets(r.nnt_text)}" if isinstance(r.nnt_text, str) and r.nnt_text else "") + ")")
            out.append(text)
    return out


def _sensitivity_sentences(table: pd.DataFrame, settings: dict[str, Any], tipping: pd.DataFrame | None,
                           points: dict[str, float | None], w: Wording, clinical: dict[str, Any]) -> list[str]:
    out = []
    n_dropouts = settings.get("n_dropouts")
    cut = settings.get("complete_from")
    if n_dropouts == 0:
        out.append(f"Every participant with a baseline score was observed at {w.at(cut)} or later, so no one counted as a "
                   "dropout: the completers, last-observation and multiple-imputation analyses use the same end scores "
                   "and the tipping-point analysis does not apply" if cut is not None else
                   "No participant dropped out, so the tipping-point analysis does not apply")
    elif n_dropouts is not None and cut is not None:
        with_baseline = table.loc[table["analysis"] == "multiple imputation (MAR)", "n"]
        of = f"Of the {count(with_baseline.iloc[0])} participants with a baseline score, " if len(with_baseline) else \
            "Among participants with a baseline score, "
        out.append(f"{of}{count(n_dropouts)} {'were' if n_dropouts != 1 else 'was'} not observed at {w.at(cut)} or "
                   "later (dropouts)")
    estimated = table.dropna(subset=["estimate"])
    for arm, rows in estimated.groupby("arm", sort=False):
        ref = rows["reference_arm"].iloc[0]
        others = rows[rows["analysis"] != "primary mixed model (MAR)"]
        if len(others):
            listed = [f"{num(r.estimate)} ({ci(r.ci_lower, r.ci_upper)}) {SENSITIVITY_NAMES.get(r.analysis, r.analysis)}"
                      for r in others.itertuples()]
            out.append(f"Under other handling of missing data, the end-of-treatment difference ({arm} \u2212 {ref}) was "
                       + _join(listed))
        found: dict[str, list[str]] = {}
        for r in rows.itertuples():
            found.setdefault(verdict(r, w, arm, ref), []).append(SENSITIVITY_NAMES.get(r.analysis, r.analysis))
        if len(found) == 1:
            out.append(f"Every analysis of {arm} against {ref} showed {next(iter(found))}")
        else:
            described = [f"{what} {_join(where)}" for what, where in found.items()]
            joined = ", but ".join(described) if len(described) == 2 else "; ".join(described)
            out.append(f"The analyses of {arm} against {ref} disagreed: they showed {joined}, so "
                       "this conclusion depends on how missing data are handled")
        if n_dropouts:
            out += _tipping_sentence(table, tipping, points.get(arm), arm, w, clinical)
    return out


def _tipping_sentence(table: pd.DataFrame, tipping: pd.DataFrame | None, point: float | None, arm: str, w: Wording,
                      clinical: dict[str, Any]) -> list[str]:
    mi = table[(table["analysis"] == "multiple imputation (MAR)") & (table["arm"] == arm)]
    if mi.empty:
        return []
    mi = mi.iloc[0]
    worse = "higher" if w.lower_is_better is not False else "lower"
    if not significant(mi["ci_lower"], mi["ci_upper"]):
        return [f"Because multiple imputation showed no clear difference for {arm}, the tipping-point analysis had no "
                "conclusion to overturn"]
    sd = clinical.get("sd_baseline")
    if point is not None:
        scale = f" ({point / sd:.2f} baseline SDs)" if sd else ""
        return [f"In the tipping-point analysis, the difference was no longer significant once {arm} participants who "
                f"dropped out were assumed to score {point:.2f} points{scale} {worse} than predicted under missing at "
                "random"]
    grid = tipping[tipping["arm"] == arm]["delta"] if tipping is not None and len(tipping) else None
    upto = f" up to {grid.max():.2f} points" if grid is not None and len(grid) else ""
    return [f"In the tipping-point analysis, the difference stayed significant even when {arm} participants who dropped "
            f"out were assumed to score{upto} {worse} than predicted under missing at random"]


def _brackets(text: str) -> str:
    """Parentheses inside parentheses become brackets (APA)."""
    return text.replace("(", "[").replace(")", "]")


def _join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b, and c'."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + f", and {items[-1]}"
