"""``ipt.build_pooled_report``: trials across disorders in one self-contained HTML file.

Load every trial of a pooling file (:func:`ipt_outcomes.load_trials`), harmonise the primary
instrument of each (:func:`ipt_outcomes.harmonise`), take each trial's arm effect
(:func:`ipt_outcomes.trial_effects`) and pool them overall and by disorder
(:func:`ipt_outcomes.meta_analysis`): a forest plot by disorder with pooled diamonds and prediction
intervals, trajectories on the harmonised scale by disorder, sessions to reliable improvement by
disorder (each trial on its own instrument), leave-one-out, and the methods in words.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import IPTOutcomesError, IPTOutcomesWarning
from ..io.output import atomic_output, check_output
from .page import Section, escape, figure_html, render_page, table_html
from .provenance import package_versions
from .text import apa_p

__all__ = ["build_pooled_report"]

METRIC_WORDS = {"pomp": "the percent of maximum possible score (POMP; 0-100, higher worse)",
                "baseline_sd": "units of each trial's pooled baseline SD (higher worse)"}
EFFECT_WORDS = {"mean_difference": "the model-implied difference at the end of treatment on the harmonised scale",
                "d": "that difference divided by the trial's pooled baseline SD (growth-model d, Feingold 2009)",
                "g": "that d with Hedges' small-sample correction (g)"}


def build_pooled_report(pooling: str | Path, out: str | Path | None = None, *, method: str = "pomp",
                        effect: str = "mean_difference", tau2: str = "reml", hksj: bool = False,
                        force: bool = False) -> Any:
    """Build the pooled report (see the module docstring); returns a :class:`~ipt_outcomes.Report`."""
    from ..clinical import improvement_by_session
    from ..figures.pooled import harmonised_trajectories_figure, improvement_by_disorder_figure, meta_forest_figure
    from ..pooling import harmonise, load_trials, meta_analysis, trial_effects
    from ..pooling.trials import pooling_inputs
    from ..study import load_study, time_column
    from .build import Report

    inputs = pooling_inputs(pooling)  # the pooling file, every trial's data and study file
    if out is not None:
        check_output(out, force=force, inputs=inputs, what="report")
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IPTOutcomesWarning)
        pooled = load_trials(pooling)
        common = harmonise(pooled, method)
        metric = common["instrument"].iloc[0]
        effects = trial_effects(common, metric, effect=effect)
        by = "disorder" if "disorder" in effects.columns and effects["disorder"].notna().all() else None
        fit = meta_analysis(effects, method=tau2, hksj=hksj, by=by)
        time = time_column(common).column
        figs = {"forest": meta_forest_figure(fit, by=by or "label", what=effect.replace("_", " ")),
                "trajectories": harmonised_trajectories_figure(common, time, metric)}
        improvement = []
        for trial, info in pooled.attrs["ipt_trials"].items():
            part = pooled[pooled["trial_id"] == trial]
            part.attrs = {"ipt_study": dict(load_study(info["study"]).spec)} if info["study"] else {}
            instrument = str(common.loc[common["trial_id"] == trial, "source_instrument"].iloc[0])
            try:
                table = improvement_by_session(part, instrument, time=time)
            except IPTOutcomesError as exc:
                notes.append(f"trial {trial}: sessions to improvement not computed ({exc})")
                continue
            disorder = part["disorder"].dropna().astype(str).iloc[0] if "disorder" in part.columns else trial
            improvement.append(table.assign(disorder=f"{disorder} ({trial}, {instrument})"))
        if improvement:
            figs["improvement"] = improvement_by_disorder_figure(pd.concat(improvement, ignore_index=True))
    notes += [str(w.message) for w in caught]
    sections = _sections(pooled, common, effects, fit, figs, by, method, effect, tau2, hksj, notes)
    page = render_page("IPT across trials and disorders", f"{fit.k} trial effects from {pooled['trial_id'].nunique()} "
                       f"trials, {pooled.groupby('trial_id')['participant_id'].nunique().sum()} participants; generated "
                       "by ipt_outcomes", sections)
    written = None
    if out is not None:
        with atomic_output(out, force=force, inputs=inputs, what="report") as tmp:
            tmp.write_text(page, encoding="utf-8")
        written = Path(out)
    return Report(html=page, path=written, figures=figs, notes=list(dict.fromkeys(notes)),
                  results={"pooled": pooled, "harmonised": common, "effects": effects, "meta_analysis": fit})


def _sections(pooled, common, effects, fit, figs, by, method, effect, tau2, hksj, notes) -> list[Section]:
    trials = Section("trials", "Trials")
    info = pooled.attrs["ipt_trials"]
    rows = []
    for trial, part in pooled.groupby("trial_id", sort=True):
        rows.append({"trial": trial, "disorder": ", ".join(sorted(part["disorder"].dropna().astype(str).unique()))
                     if "disorder" in part.columns else "",
                     "instrument": str(common.loc[common["trial_id"] == trial, "source_instrument"].iloc[0]),
                     "participants": int(part["participant_id"].nunique()), "arms": ", ".join(info[trial]["arms"]),
                     "reference arm": info[trial]["reference_arm"], "data": Path(info[trial]["data"]).name})
    trials.add(table_html(pd.DataFrame(rows), caption="Trials pooled (each validated with its own study file)"))
    if notes:
        items = "".join(f"<li>{escape(n)}</li>" for n in dict.fromkeys(notes))
        trials.add(f'<div class="note"><strong>Notes raised during the analysis</strong><ul>{items}</ul></div>')
    methods = Section("methods", "Methods")
    methods.paragraph(_methods(fit, by, method, effect, tau2, hksj), "apa")
    methods.paragraph(_results(fit, by, effect), "apa")
    pooled_s = Section("pooled", "Pooled arm effect")
    pooled_s.add(figure_html(figs["forest"], "fig-forest-pooled"))
    pooled_s.add(table_html(fit.to_frame(), 3, "Pooled over all trials"))
    if by is not None:
        pooled_s.add(table_html(fit.subgroups, 3, f"By {by}; test for subgroup differences Q = {fit.q_between:.2f} on "
                                                  f"{fit.q_between_df} df, p = {fit.q_between_p_value:.3g}"))
    pooled_s.add(table_html(effects.drop(columns=["effect"]), 3, "Each trial's arm effect"))
    if fit.k >= 3:
        pooled_s.add(table_html(fit.leave_one_out(), 3, "Leave one trial out"))
    else:
        pooled_s.add('<p class="note">Leave one trial out: not shown, since with two trials leaving one out leaves a '
                     "single trial, which is not a meta-analysis (each trial's own effect is in the table above).</p>")
    course = Section("course", "Course by disorder")
    course.add(figure_html(figs["trajectories"], "fig-trajectories-pooled"))
    if "improvement" in figs:
        course.add(figure_html(figs["improvement"], "fig-improvement-pooled"))
    versions = package_versions()
    prov = Section("provenance", "Provenance")
    prov.add(table_html(pd.DataFrame([("pooling file", pooled.attrs["ipt_study"]["source"]), *versions.items()],
                                     columns=["item", "value"]).astype(str)))
    return [trials, methods, pooled_s, course, prov]


def _methods(fit, by, method, effect, tau2, hksj) -> str:
    estimator = {"reml": "restricted maximum likelihood", "dl": "the DerSimonian-Laird estimator",
                 "pm": "the Paule-Mandel estimator", "fe": "a fixed-effect model (no between-trial variance)"}[tau2]
    text = (f"Each trial's primary instrument was put on a common metric, {METRIC_WORDS[method]}. Within each trial a "
            "linear mixed-effects growth model (random intercepts and slopes for participants, REML) estimated the arm "
            f"effect as {EFFECT_WORDS[effect]}. The trial effects were pooled in a two-stage individual-participant-data "
            f"meta-analysis with a random-effects model, between-trial variance by {estimator}")
    text += (", and the Hartung-Knapp-Sidik-Jonkman adjustment of the confidence interval (t on k - 1 df)" if hksj
             else ", and Wald (normal) confidence intervals")
    text += ("; heterogeneity as Q, tau\u00b2 and I\u00b2 (Higgins & Thompson, 2002), with a 95% prediction interval.")
    if by is not None:
        text += (f" Trials were also pooled by {by}, each subgroup with its own tau\u00b2, and the subgroup estimates "
                 "compared with the Q test for subgroup differences.")
    return text


def _results(fit, by, effect) -> str:
    favours = "favouring IPT" if fit.ci_upper < 0 else "favouring the comparator" if fit.ci_lower > 0 else \
        "with a confidence interval that includes no difference"
    text = (f"Over {fit.k} trials the pooled effect was {fit.estimate:.2f} (95% CI {fit.ci_lower:.2f} to "
            f"{fit.ci_upper:.2f}, {apa_p(fit.p_value)}), "
            f"{favours}; tau\u00b2 = {fit.tau2:.3f}, I\u00b2 = {fit.i2:.0f}%, prediction interval {fit.pi_lower:.2f} to "
            f"{fit.pi_upper:.2f}.")
    if by is not None:
        text += (f" The test for differences between {by}s gave Q = {fit.q_between:.2f} on {fit.q_between_df} df "
                 f"({apa_p(fit.q_between_p_value)}).")
    return re.sub(r"(?<![\w])-(?=\d)", "\u2212", text)  # minus signs of numbers
