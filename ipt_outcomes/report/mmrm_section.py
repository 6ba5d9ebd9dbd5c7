"""The report's MMRM section, when the study's ``primary_analysis`` is ``mmrm``: the fit, the
least-squares means figure, the contrasts table, and the methods and results sentences."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..figures import ls_means_figure
from ..mmrm.options import resolve
from ..study import Study
from .page import Section, escape, figure_html, table_html

__all__ = ["mmrm_methods", "mmrm_results", "mmrm_section"]

STRUCTURE_NAMES = {
    "us": "an unstructured", "cs": "a compound-symmetry", "csh": "a heterogeneous compound-symmetry",
    "ar1": "a first-order autoregressive", "ar1h": "a heterogeneous first-order autoregressive",
    "toeplitz": "a Toeplitz", "toeph": "a heterogeneous Toeplitz", "adh": "a heterogeneous ante-dependence",
}
DF_NAMES = {
    "satterthwaite": "the Satterthwaite approximation", "kenward-roger":
    "the Kenward-Roger method (Kenward & Roger, 1997), which also adjusts the standard errors",
    "residual": "the residual degrees of freedom", "between-within": "the between-within method",
}


def _p(p: float) -> str:
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def _num(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}".replace("-", "\u2212")


def mmrm_section(df: pd.DataFrame, outcome: str, study: Study, visit: str, reference_arm: str | None,
                 registry: Any) -> tuple[Section, Any, dict[str, Any]]:
    """Fit the study's MMRM and lay it out; returns the section, the fit and the figures."""
    from ..mmrm import fit_mmrm

    plan = dict(study.mmrm)
    options, assumed = resolve(plan, {})
    column = plan.get("visit", visit)
    fit = fit_mmrm(df, outcome, visit=column, reference_arm=reference_arm, **options)
    for a in assumed:
        fit.notes.append(f"MMRM {a}; set mmrm.{a.split()[0]} in the study file to choose.")
    section = Section("mmrm", f"Primary analysis: MMRM of {outcome} (the analysis plan)")
    section.paragraph(mmrm_methods(fit))
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


def mmrm_methods(fit: Any) -> str:
    """One paragraph naming the model, the covariance structure, the estimation and the df method."""
    structure = STRUCTURE_NAMES[fit.covariance_structure]
    groups = " estimated separately in each arm" if fit.group_covariance else ""
    baseline = "the baseline score and " if "baseline" in fit.formula else ""
    return (f"The primary analysis was a mixed model for repeated measures (MMRM) of {fit.outcome} at the planned "
            f"{fit.visit}s ({', '.join(fit.visits)}), with {baseline}arm, {fit.visit} (categorical) and their "
            f"interaction as fixed effects ({fit.formula}) and {structure} residual covariance over the visits{groups}, "
            f"estimated by {'restricted maximum likelihood (REML)' if fit.method == 'reml' else 'maximum likelihood'} "
            f"with {fit.reference_arm} as the reference arm; all observed post-baseline scores were analysed, which is "
            f"valid when data are missing at random. Degrees of freedom used {DF_NAMES[fit.df_method]}. "
            "Least-squares means average other factors with weights proportional to their frequencies.")


def mmrm_results(fit: Any) -> str:
    """The arm difference at the last planned visit, in APA style."""
    differences = fit.arm_differences()
    last = differences[differences[fit.visit].astype(str) == fit.visits[-1]]
    parts = []
    for r in last.itertuples(index=False):
        parts.append(f"At {fit.visit} {fit.visits[-1]}, the MMRM difference in least-squares means ({r.contrast}) was "
                     f"{_num(r.difference)} points, 95% CI [{_num(r.ci_lower)}, {_num(r.ci_upper)}], "
                     f"t({_num(r.df, 1)}) = {_num(r.statistic)}, {_p(r.p_value)}.")
    return " ".join(parts)
