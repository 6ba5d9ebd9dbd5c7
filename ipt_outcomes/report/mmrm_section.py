"""The report's MMRM section, when the study's ``primary_analysis`` is ``mmrm``: the fit, the
least-squares means figure, the contrasts table, and the methods and results sentences."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..figures import ls_means_figure
from ..mmrm.options import resolve
from ..study import Study
from .page import Section, escape, figure_html, table_html
from .wording import Wording, apa_p, ci, num, sentence, significant

__all__ = ["mmrm_methods", "mmrm_results", "mmrm_section"]

STRUCTURE_NAMES = {
    "us": "an unstructured", "cs": "a compound-symmetry", "csh": "a heterogeneous compound-symmetry",
    "ar1": "a first-order autoregressive", "ar1h": "a heterogeneous first-order autoregressive",
    "toeplitz": "a Toeplitz", "toeph": "a heterogeneous Toeplitz", "ad": "a first-order ante-dependence",
    "adh": "a heterogeneous ante-dependence", "sp_exp": "a spatial exponential", "sp_gau": "a spatial Gaussian",
    "sp_pow": "a spatial power",
}
DF_NAMES = {
    "satterthwaite": "the Satterthwaite approximation", "kenward-roger":
    "the Kenward-Roger method (Kenward & Roger, 1997), which also adjusts the standard errors",
    "residual": "the residual degrees of freedom", "between-within": "the between-within method",
}


def mmrm_section(df: pd.DataFrame, outcome: str, study: Study, visit: str, reference_arm: str | None,
                 registry: Any) -> tuple[Section, Any, dict[str, Any]]:
    """Fit the study's MMRM and lay it out; returns the section, the fit and the figures."""
    from ..mmrm import fit_mmrm

    plan = dict(study.mmrm)
    if plan.get("formula"):  # the analysis plan's own model
        fit = fit_mmrm(df, formula=plan["formula"], arm=plan.get("arm"), reference_arm=reference_arm,
                       df_method=plan.get("df", "satterthwaite"), method=plan.get("method", "reml"))
        column = fit.visit
        if plan.get("df") is None:
            fit.notes.append("MMRM df satterthwaite (the default); set mmrm.df in the study file to choose.")
    else:
        options, assumed = resolve(plan, {})
        column = plan.get("visit", visit)
        fit = fit_mmrm(df, outcome, visit=column, reference_arm=reference_arm, **options)
        for a in assumed:
            fit.notes.append(f"MMRM {a}; set mmrm.{a.split()[0]} in the study file to choose.")
    section = Section("mmrm", f"Primary analysis: MMRM of {outcome} (the analysis plan)")
    section.paragraph(mmrm_methods(fit, registry))
    figs = {"ls_means": ls_means_figure(fit, registry)}
    section.add(figure_html(figs["ls_means"], "fig-ls-means"))
    differences = fit.arm_differences()
    section.add(table_html(differences, 2, f"Arm differences in least-squares means at every {column} "
                                           f"(against {fit.reference_arm})"))
    section.add(table_html(fit.marginal_means(), 2, f"Least-squares means by {column} and arm (proportional weights)"))
    section.add(table_html(fit.fixed_effects, 3, f"Fixed effects ({fit.df_method} df)"))
    cov = fit.covariance if not isinstance(fit.covariance, dict) else next(iter(fit.covariance.values()))
    caption = "Estimated residual covariance between visits" + (
        f" (arm {next(iter(fit.covariance))}; one per arm)" if isinstance(fit.covariance, dict) else "")
    section.add(table_html(cov.reset_index(), 2, caption))
    if fit.notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in dict.fromkeys(fit.notes))
        section.add(f'<div class="note"><strong>MMRM notes</strong><ul>{items}</ul></div>')
    return section, fit, figs


def mmrm_methods(fit: Any, registry: Any = None) -> str:
    """One paragraph naming the model, the covariance structure, the estimation and the df method."""
    w = Wording.of(fit.outcome, fit.visit, registry)
    structure = STRUCTURE_NAMES[fit.covariance_structure]
    groups = " estimated separately in each arm" if fit.group_covariance else ""
    baseline = "the baseline score and " if "baseline" in fit.formula else ""
    return (f"The primary analysis was a mixed model for repeated measures (MMRM) of {w.first} at the planned "
            f"{w.units} ({', '.join(fit.visits)}), with {baseline}arm, {w.unit} (categorical) and their "
            f"interaction as fixed effects ({fit.formula}) and {structure} residual covariance over the visits{groups}, "
            f"estimated by {'restricted maximum likelihood (REML)' if fit.method == 'reml' else 'maximum likelihood'} "
            f"with {fit.reference_arm} as the reference arm; all observed post-baseline scores were analysed, which is "
            f"valid when data are missing at random. Degrees of freedom used {DF_NAMES[fit.df_method]}. "
            "Least-squares means average other factors with weights proportional to their frequencies. The MMRM was "
            f"fitted with the ipt_outcomes engine ({'REML' if fit.method == 'reml' else 'ML'} from sufficient statistics by "
            "visit pattern).")


def mmrm_results(fit: Any, registry: Any = None) -> str:
    """The arm difference at the last planned visit, in APA style, with the arm it favours."""
    w = Wording.of(fit.outcome, fit.visit, registry)
    differences = fit.arm_differences()
    last = differences[differences[fit.visit].astype(str) == fit.visits[-1]]
    parts = []
    for r in last.itertuples(index=False):
        arm = str(r.arm)
        stats = (f"difference {num(r.difference)}, {ci(r.ci_lower, r.ci_upper)}, t({num(r.df, 1)}) = "
                 f"{num(r.statistic)}, {apa_p(r.p_value)}")
        text = (f"At {w.unit} {fit.visits[-1]}, the MMRM least-squares mean {w.short} score was "
                f"{w.compare(r.difference, arm, fit.reference_arm)} ({stats})")
        favoured = w.favoured(r.difference, arm, fit.reference_arm)
        if not significant(r.ci_lower, r.ci_upper):
            text += "; the confidence interval includes zero"
        elif favoured:
            text += f", favouring {favoured}"
        parts.append(sentence(text))
    return " ".join(parts)
