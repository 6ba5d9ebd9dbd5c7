"""``ipt.build_report``: the whole analysis as one self-contained HTML file."""

from __future__ import annotations

import datetime as dt
import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from .. import figures as F
from ..arguments import checked, frame_or_path, optional, path, seed, text, whole
from ..arms import choose_reference_arm
from ..clinical import clinical_change, dose_response, sudden_gains, summarise_change
from ..errors import ArgumentError, IPTOutcomesError, IPTOutcomesWarning
from ..io.output import atomic_output, check_output
from ..loading import load
from ..missing import retention, sensitivity_analyses
from ..missing.sensitivity import sensitivity_of_fit
from ..models import classical_anova, fit_growth
from ..study import Study, TimeColumn, load_study, primary_outcome, registry_in_force, time_column
from ..validation import validate
from .model_table import model_table, model_table_html
from .page import Section, escape, figure_html, render_page, table_html
from .provenance import package_versions, sha256_file
from .table_one import baseline_table
from .text import methods_paragraph, results_paragraph

__all__ = ["Report", "build_report"]

STEPS = ("validate", "primary model", "moderators", "clinical significance", "sensitivity", "diagnostics", "write")


@dataclass
class Report:
    """The built report: ``html``, the ``path`` written (if any), the figures and the notes raised."""

    html: str
    path: Path | None
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    results: dict[str, Any] = field(default_factory=dict)


@checked(data=frame_or_path, outcome=optional(text), out=optional(path), n_imputations=whole(2, 10_000), seed=seed,
         title=optional(text), time=optional(text), reference_arm=optional(text))
def build_report(data: str | Path | pd.DataFrame, outcome: str | None = None, *, study: str | Path | Study | None = None,
                 out: str | Path | None = None, n_imputations: int = 50, seed: int = 1, progress: bool = True,
                 title: str | None = None, time: str | None = None, reference_arm: str | None = None,
                 force: bool = False, reliability: float | None = None) -> Report:
    """Validate, model and report a trial in one HTML file that works offline.

    Parameters
    ----------
    data
        A data file (read with :func:`ipt_outcomes.load`) or a canonical DataFrame.
    outcome
        Primary instrument; default the study's ``primary_instrument``, else the only instrument.
    study
        Study description (for a file).
    out
        Where to write the HTML (not written if None). An existing file is replaced only with
        ``force``; an input (the data or study file, by any name or link) never.
    n_imputations, seed
        Multiple imputation settings of the sensitivity analyses.
    time, reference_arm
        Time column and reference arm; by default chosen by the rules every function uses
        (:func:`ipt_outcomes.study.time_column`, :func:`ipt_outcomes.arms.choose_reference_arm`),
        and the report states what was assumed.
    progress
        Show progress on the terminal (stderr).
    reliability
        Reliability of the outcome for the reliable change index (test-retest or internal
        consistency); default the study's, else the registry's (whose source the report names).

    Returns
    -------
    Report
        ``html`` and the figures; ``notes`` lists approximations and data warnings.

    Raises
    ------
    DataValidationError
        The data fail validation (the report would be misleading); the report of problems is attached.
    """
    from ..cli.terminal import progress_stream

    console = Console(file=progress_stream())
    notes: list[str] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=True, disable=not progress) as bar:
        task = bar.add_task("report", total=len(STEPS))

        def step(name: str) -> None:
            bar.update(task, description=f"report: {name}", advance=0 if name == STEPS[0] else 1)

        step("validate")
        path = None
        inputs = _inputs_of(data, study)
        if out is not None:  # before any work: a report must never replace its input
            check_output(out, force=force, inputs=inputs, what="report")
        if isinstance(data, pd.DataFrame):
            df = data
            digest = hashlib.sha256(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes()).hexdigest()
            source_label = "DataFrame (SHA-256 of its row hashes)"
        else:
            path = Path(data)
            df = load(path, study=study)
            digest = sha256_file(path)
            source_label = str(path)
        study_obj = load_study(study) if isinstance(data, pd.DataFrame) and study is not None else \
            Study.from_attrs(df.attrs.get("ipt_study"))
        report = validate(df, study=study_obj) if study_obj is not None else validate(df)
        report.raise_for_errors()
        outcome = primary_outcome(df, outcome, study_obj)
        chosen_time = time_column(df, time, study_obj)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", IPTOutcomesWarning)
            sections, figs, results = _analyse(df, outcome, report, study_obj, n_imputations, seed, step,
                                               chosen_time, reference_arm, reliability)
        notes += [str(w.message) for w in caught]
        step("write")
        versions = package_versions()
        settings = {"outcome": outcome, "n_imputations": n_imputations, "seed": seed,
                    "study": study_obj.source if study_obj else None, "clinical": results.get("clinical_settings", {})}
        methods = Section("methods", "Methods and results (APA)")
        texts = []
        if "mmrm" in results:  # the primary analysis first, then the growth model as a secondary analysis
            from .mmrm_section import mmrm_methods, mmrm_results

            registry = results["fit"].registry
            texts = [mmrm_methods(results["mmrm"], registry) + " Secondary analyses follow.",
                     mmrm_results(results["mmrm"], registry)]
        secondary = "mmrm" in results
        texts += [methods_paragraph(results["fit"], settings, versions, secondary=secondary),
                  results_paragraph(results["fit"], results["differences"], results.get("summary"),
                                    results.get("sensitivity"), results["n_randomised"],
                                    clinical_settings=results.get("clinical_settings"),
                                    sensitivity_settings=results.get("sensitivity_settings"),
                                    tipping=results.get("tipping"), tipping_points=results.get("tipping_points"),
                                    secondary=secondary)]
        for text in texts:
            methods.paragraph(text, "apa")
        results["apa_text"] = texts
        sections.insert(1, methods)
        if notes:
            box = "".join(f"<li>{escape(n)}</li>" for n in dict.fromkeys(notes))
            sections[0].add(f'<div class="note"><strong>Notes raised during the analysis</strong><ul>{box}</ul></div>')
        prov = Section("provenance", "Provenance")
        generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        rows = [("input", source_label), ("SHA-256 of input", digest), ("generated", generated),
                ("outcome", outcome), ("seed", seed), ("imputations", n_imputations),
                ("study file", settings["study"] or "none"), *versions.items()]
        prov.add(table_html(pd.DataFrame(rows, columns=["item", "value"]).astype(str)))
        sections.append(prov)
        page = render_page(title or f"IPT trial report: {outcome}",
                           f"{report.n_participants} participants, {report.n_rows} rows; generated by ipt_outcomes",
                           sections)
        written = None
        if out is not None:
            with atomic_output(out, force=force, inputs=inputs, what="report") as tmp:
                tmp.write_text(page, encoding="utf-8")
            written = Path(out)
        bar.update(task, advance=1)
    return Report(html=page, path=written, figures=figs, notes=list(dict.fromkeys(notes)), results=results)


def _inputs_of(data: Any, study: Any) -> list[Path]:
    """Every file the analysis read: the data (a path, or the file a DataFrame was loaded from) and
    the study file; a report may never be written over any of them."""
    found: list[Any] = [study if isinstance(study, (str, Path)) else None]
    if isinstance(data, pd.DataFrame):
        source = data.attrs.get("ipt_source")
        found.append(source.get("path") if isinstance(source, dict) else None)
        study_attrs = data.attrs.get("ipt_study")
        found.append(study_attrs.get("source") if isinstance(study_attrs, dict) else None)
    else:
        found.append(data)
    return [Path(str(f)) for f in found if f]


def _analyse(df: pd.DataFrame, outcome: str, report: Any, study: Study | None, n_imputations: int, seed: int,
             step: Any, chosen_time: TimeColumn, reference_arm: str | None, reliability: float | None = None
             ) -> tuple[list[Section], dict[str, Any], dict[str, Any]]:
    time = chosen_time.column
    figs: dict[str, Any] = {}
    results: dict[str, Any] = {}
    data = Section("data", "Data and validation")
    data.paragraph(report.summary_line())
    if len(report.failures):
        data.add(table_html(report.failures[["severity", "check", "line", "participant_id", "column", "message"]].head(100),
                            caption="Validation warnings (first 100)"))
    data.add(table_html(report.missing_scores, caption="Missing scores by instrument and arm"))
    results["baseline_table"] = baseline_table(df, outcome, time, study)
    data.add(table_html(results["baseline_table"], caption="Baseline characteristics by arm"))
    results["n_randomised"] = int(df["participant_id"].nunique())

    step("primary model")
    sections_first: list[Section] = []
    if study is not None and study.primary_analysis == "mmrm":  # the analysis plan's primary analysis leads
        from .mmrm_section import mmrm_section

        section, mmrm_fit, mmrm_figs = mmrm_section(df, outcome, study, time, reference_arm, registry_in_force(df))
        sections_first.append(section)
        figs.update(mmrm_figs)
        results["mmrm"] = mmrm_fit
    fit = _primary_fit(df, outcome, time, reference_arm, study)
    reference = choose_reference_arm(df.loc[df["instrument"].astype(str) == outcome, "arm"].dropna().unique(),
                                     reference_arm, study)
    differences = fit.arm_differences()
    results.update(fit=fit, differences=differences)
    role = "Secondary" if sections_first else "Primary"
    primary = Section("primary", f"{role} model: {outcome} (the analysis plan's formula)" if fit.formula_model
                      is not None else f"{role} growth model: {outcome}")
    labels = dict(study.labels) if study is not None else {}
    results["model_table"] = model_table(fit, labels=labels)
    primary.add(model_table_html(results["model_table"]))
    primary.add(table_html(differences.drop(columns=["change_difference"]), 2,
                           "Arm differences at the end of treatment, with Feingold's d"))
    try:
        anova = classical_anova(df, outcome, time=time)
        primary.add(table_html(anova.table, 3, f"Cross-check: mixed ANOVA on complete cases at {anova.time_label()} "
                                               f"({anova.n_participants} participants, {anova.n_excluded} excluded)"))
    except IPTOutcomesError as exc:
        primary.paragraph(f"Mixed ANOVA cross-check not possible: {exc}")
    if _has_time(fit):
        figs["trajectories"] = F.trajectory_figure(df, fit)
        primary.add(figure_html(figs["trajectories"], "fig-trajectories"))
    figs["observed_means"] = F.observed_means_figure(df, outcome, time, study=study)
    primary.add(figure_html(figs["observed_means"], "fig-observed-means"))

    step("moderators")
    moderators = Section("moderators", "Moderators: problem area and disorder")
    people = _scored_participants(df, outcome, ["problem_area", "disorder"])
    forest_rows = [differences.assign(label="All participants", n=[_n_in(people, [r.arm, r.reference_arm])
                                                                    for r in differences.itertuples()])]
    for moderator in ("problem_area", "disorder"):
        try:
            mfit = fit_growth(df, outcome=outcome, time=time, reference_arm=fit.spec.reference_arm,
                              moderators=[moderator], check=False)
        except IPTOutcomesError as exc:
            moderators.paragraph(f"{moderator}: not analysed ({exc})")
            continue
        by = mfit.arm_differences(by=moderator)
        forest_rows.append(by.assign(label=[f"{moderator.replace('_', ' ')}: {v}" for v in by[moderator]],
                                     n=[_n_in(people, [r.arm, r.reference_arm], moderator, getattr(r, moderator))
                                        for r in by.itertuples()]))
        three_way = mfit.fixed_effects[mfit.fixed_effects["term"].str.count(":") == 2]
        moderators.add(table_html(three_way, 3, f"Moderation of the arm x time effect by {moderator}"))
    forest = pd.concat(forest_rows, ignore_index=True)
    figs["forest"] = F.forest_figure(forest, outcome, registry=fit.registry)
    moderators.add(figure_html(figs["forest"], "fig-forest"))

    step("clinical significance")
    clinical = Section("clinical", "Clinical significance")
    cc = clinical_change(df, outcome, time=time, reliability=reliability)
    summary = summarise_change(cc, reference_arm=fit.spec.reference_arm)
    results.update(clinical=cc, summary=summary, clinical_settings=cc.attrs["settings"])
    st = cc.attrs["settings"]
    clinical.paragraph(f"Jacobson-Truax: reliability {st['reliability']:.2f} ({st['reliability_source']}); SD at "
                       f"baseline {st['sd_baseline']:.2f}; reliable change {st['reliable_change']:.2f} points; cut-off "
                       f"{st['cutoff_type']} = {st['cutoff']:.2f}.")
    results["summary_table"] = _compact_summary(summary)
    clinical.add(table_html(results["summary_table"], 2, f"Outcomes by arm (compared with {summary.attrs['reference_arm']}; "
                                                          "RD with Newcombe's interval, OR with Woolf's, NNT with Altman's)"))
    figs["jacobson"] = F.jacobson_figure(cc)
    figs["waterfall"] = F.waterfall_figure(cc)
    clinical.add(figure_html(figs["jacobson"], "fig-jacobson"))
    clinical.add(figure_html(figs["waterfall"], "fig-waterfall"))
    session_outcome = _session_by_session(df, outcome, time)
    if "sessions_attended" in df.columns:
        dose = dose_response(df, session_outcome, time=time)
        figs["dose_response"] = F.dose_response_figure(dose, session_outcome)
        clinical.paragraph(dose.attrs["caveat"])
        clinical.add(figure_html(figs["dose_response"], "fig-dose"))
    gains = sudden_gains(df, session_outcome, time=time)
    results["sudden_gains"] = gains
    if gains.attrs["consecutive_pairs"]:
        clinical.paragraph(f"Sudden gains on {session_outcome} (Tang and DeRubeis 1999; threshold "
                           f"{gains.attrs['threshold']:g} points): {len(gains)} gains in "
                           f"{gains['participant_id'].nunique() if len(gains) else 0} participants, "
                           f"{int(gains['reversed'].sum()) if len(gains) else 0} reversed.")
        if len(gains):
            clinical.add(table_html(gains.groupby("arm").agg(gains=("gain", "size"), mean_gain=("gain", "mean"),
                                                             reversed=("reversed", "sum")).reset_index(), 2,
                                    "Sudden gains by arm"))
    else:
        clinical.paragraph("Sudden gains need session-by-session scores, which these data do not have.")

    step("sensitivity")
    sens_section = Section("sensitivity", "Missing data and sensitivity analyses")
    if fit.formula_model is None:  # the primary model is the one the sensitivity analyses start from: fit once
        sens = sensitivity_of_fit(df, fit, n_imputations=n_imputations, seed=seed)
    else:
        sens = sensitivity_analyses(df, outcome, n_imputations=n_imputations, seed=seed, check=False, time=time,
                                    reference_arm=fit.spec.reference_arm)
    results["sensitivity_settings"] = sens.settings
    results["sensitivity"] = sens.table
    results.update(tipping=sens.tipping, tipping_points=sens.tipping_points)
    sens_section.add(table_html(sens.table, 3, "End-of-treatment arm difference under different assumptions"))
    if len(sens.tipping):
        figs["tipping"] = F.tipping_point_figure(sens.tipping, sens.tipping_points, outcome, fit.spec.reference_arm,
                                                 f"{time} {sens.settings['at']:g}")
        sens_section.add(figure_html(figs["tipping"], "fig-tipping"))
    ret = retention(df, outcome, time=time)
    figs["retention"] = F.retention_figure(ret, outcome, time, sens.settings["complete_from"])
    analysed = _analysed_participants(fit)
    counts = F.flow_counts(df, outcome, sens.settings["complete_from"], analysed, time=time)
    results["flow"] = counts
    figs["flow"] = F.flow_figure(counts)
    sens_section.add(figure_html(figs["flow"], "fig-flow"))
    flow_table = counts if counts["reasons"].astype(bool).any() else counts.drop(columns=["reasons"])
    sens_section.add(table_html(flow_table, 0, "Participant flow"))
    sens_section.add(figure_html(figs["retention"], "fig-retention"))

    choices = [reference.statement, chosen_time.statement, sens.settings["completer_rule"]]
    results["choices"] = choices
    data.paragraph("Analysis choices: " + "; ".join(choices) + ".")

    step("diagnostics")
    diag = Section("diagnostics", "Model diagnostics")
    figs["diagnostics"] = F.diagnostics_figure(fit)
    keys = ["diagnostics"]
    if _participant_effects(fit):
        figs["caterpillar"] = F.caterpillar_figure(fit)
        keys.append("caterpillar")
    for key in keys:
        diag.add(figure_html(figs[key], f"fig-{key}"))
    if fit.notes:
        diag.add("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in fit.notes) + "</ul>")
    if fit.singular:
        diag.paragraph("Singular fit: a variance is at zero or a correlation at \u00b11.", "note")
    return [data, *sections_first, primary, moderators, clinical, sens_section, diag], figs, results


def _primary_fit(df: pd.DataFrame, outcome: str, time: str, reference_arm: str | None, study: Study | None) -> Any:
    """The study's model formula when it has one (its left side is the outcome), else the growth model."""
    model = study.model if study is not None else {}
    if not model:
        return fit_growth(df, outcome=outcome, time=time, reference_arm=reference_arm, check=False)
    from ..models.derived.means import _arm_in_model
    from ..models.formula import parse_formula

    response = parse_formula(model["formula"]).response
    if response != outcome:
        raise ArgumentError(f"the study's model.formula is a model of {response}, but the report's outcome is {outcome}; "
                            f"drop --outcome or give --outcome {response}.")
    fit = fit_growth(df, formula=model["formula"], method=model.get("method", "reml"), time=time,
                     reference_arm=reference_arm, check=False)
    if not _arm_in_model(fit):
        raise ArgumentError(f"the study's model.formula ({model['formula']}) has no arm term; the report compares arms. "
                            "Add arm to the fixed part, or analyse this model with ipt-outcomes fit --formula.")
    return fit


def _scored_participants(df: pd.DataFrame, outcome: str, columns: list[str]) -> pd.DataFrame:
    """One row per participant with a score of ``outcome``: arm and the (participant-level) ``columns``."""
    from ..selection import outcome_rows

    rows = outcome_rows(df, outcome, ["participant_id", "arm", "score", *columns])
    rows = rows[rows["score"].notna()].drop_duplicates("participant_id")
    return rows.drop(columns="score").astype({c: str for c in rows.columns if c not in ("participant_id", "score")})


def _n_in(people: pd.DataFrame, arms: list[str], column: str | None = None, level: Any = None) -> int:
    """Participants (from :func:`_scored_participants`) in the compared arms and the subgroup."""
    rows = people[people["arm"].isin([str(a) for a in arms])]
    if column is not None:
        rows = rows[rows[column] == str(level)]
    return len(rows)


def _has_time(fit: Any) -> bool:
    if fit.formula_model is None:
        return True
    from ..models.derived.means import _time_in_model

    return _time_in_model(fit) is not None


def _participant_effects(fit: Any) -> bool:
    if fit.formula_model is None:
        return True  # keyword models always have participant random effects
    structure = fit.formula_model.structure
    return structure is not None and any(f.name == "participant_id" for f in structure.factors)


def _analysed_participants(fit: Any) -> set[str]:
    if fit.formula_model is not None:
        data = fit.formula_model.data
        return set(data["participant_id"].astype(str)) if "participant_id" in data else set()
    return set(map(str, fit.design.participant_ids)) if fit.design is not None else set()


def _compact_summary(summary: pd.DataFrame) -> pd.DataFrame:
    def interval(est: float, lo: float, hi: float, scale: float = 1.0, digits: int = 1) -> str:
        if pd.isna(est):
            return ""
        return f"{scale * est:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"

    return pd.DataFrame({
        "outcome": summary["outcome"].str.replace("_", " "),
        "arm": summary["arm"],
        "n (%)": [f"{c}/{n} ({p:.0f}%)" if n else "" for c, n, p in zip(summary["count"], summary["n"], summary["percent"],
                                                                        strict=True)],
        "missing": summary["n_missing"],
        "risk difference, % points": [interval(r[0], r[1], r[2], scale=100) for r in
                                      summary[["risk_difference", "rd_ci_lower", "rd_ci_upper"]].itertuples(index=False)],
        "odds ratio": [interval(r[0], r[1], r[2], digits=2)
                       for r in summary[["odds_ratio", "or_ci_lower", "or_ci_upper"]].itertuples(index=False)],
        "NNT": summary["nnt_text"].fillna(""),
    })


def _session_by_session(df: pd.DataFrame, outcome: str, time: str) -> str:
    """The instrument with the most consecutive-session pairs (the primary one if it has any)."""
    best, best_pairs = outcome, -1
    scored = df[["instrument", "participant_id", "score", time]].dropna(subset=["score"])
    for inst, g in scored.groupby(scored["instrument"].astype(str)):
        t = pd.to_numeric(g.sort_values(time)[time], errors="coerce")
        pairs = int((t.groupby(g["participant_id"]).diff() == 1).sum())
        if pairs > best_pairs or (inst == outcome and pairs == best_pairs):
            best, best_pairs = inst, pairs
    return best
