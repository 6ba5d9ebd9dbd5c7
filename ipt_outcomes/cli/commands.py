"""The sub-commands. Each ``add_*`` registers a parser; each ``cmd_*`` runs one and returns the exit code."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from ..arguments import MAX_SEED
from ..errors import ArgumentError, IPTOutcomesError
from ..io import write_table
from ..io.output import atomic_output, check_output
from ..loading import load
from ..simulate import simulate_trial
from ..study import primary_outcome, time_column
from .render import cli_words, stderr_console, stdout_console, validation_lines, validation_table

if TYPE_CHECKING:
    from ..validation import ValidationReport

__all__ = ["REGISTRY"]


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a trial data file against the IPT schema",
                       description="Check a trial data file; list every problem with its line, "
                                   "participant and how to fix it.")
    p.add_argument("data", help="data file (CSV, TSV, Parquet, Excel, SPSS .sav, Stata .dta)")
    p.add_argument("--study", help="study description (YAML): renames, value maps, reshaping, instruments")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-rows", type=_whole(0), default=10,
                   help="problems listed of each kind, after the counts of each kind (default 10; 0 = all)")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    _import_in_background("pandera.pandas")
    df = load(args.data, study=args.study)
    from ..validation import validate

    report = validate(df)
    per_check = None if args.max_rows == 0 else args.max_rows
    if args.json:
        sys.stdout.write(report.to_json(per_check=per_check) + "\n")
    else:
        console = stdout_console()
        if not report.n_failures:
            console.print(report.summary_line(), markup=False)
        elif sys.stdout.isatty():
            console.print(validation_table(report, per_check))
        else:  # one problem per line: readable in logs, easy to grep
            sys.stdout.write(validation_lines(report, per_check))
    if not report.ok:
        stderr_console().print(f"ipt-outcomes: {args.data} failed validation with {report.n_errors} error(s); "
                               "fix the rows listed and run validate again.", markup=False)
        return 1
    return 0


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write a simulated IPT trial with known true effects",
                       description="Simulate a trial (canonical format) and write it to a file.")
    p.add_argument("--participants", type=_whole(2), default=200, help="number of participants (default 200)")
    p.add_argument("--seed", type=_whole(0, MAX_SEED), default=1, help="random seed (default 1)")
    p.add_argument("--out", required=True, help="output file (.csv, .tsv, .parquet, .xlsx, .sav, .dta)")
    p.add_argument("--arms", default="IPT,TAU", help="comma-separated arms; the last is the reference (default IPT,TAU)")
    p.add_argument("--effect-size", type=_finite, default=0.6,
                   help="growth-model d of the first arm against the reference (default 0.6)")
    p.add_argument("--dropout", type=_finite, default=0.2, help="share of participants who drop out (default 0.2)")
    p.add_argument("--disorders", default="depression", help="comma-separated disorders (default depression)")
    p.add_argument("--instruments", default=None, help="comma-separated instruments measured on everybody "
                                                       "(default: each disorder's own)")
    p.add_argument("--time-shape", choices=("linear", "log"), default="linear")
    p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    p.set_defaults(handler=cmd_simulate)


def cmd_simulate(args: argparse.Namespace) -> int:
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    instruments = None if args.instruments is None else [i.strip() for i in args.instruments.split(",") if i.strip()]
    df = simulate_trial(
        n_participants=args.participants, seed=args.seed, arms=arms,
        effect_sizes={arms[0]: args.effect_size} if len(arms) > 1 else {},
        disorders=[d.strip() for d in args.disorders.split(",") if d.strip()], instruments=instruments,
        dropout=args.dropout, time_shape=args.time_shape,
    )
    path = write_table(df, args.out, overwrite=args.force)
    stderr_console().print(f"wrote {len(df)} rows ({args.participants} participants) to {path}", markup=False)
    return 0


def add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="fit a mixed-effects growth model of one outcome",
                       description="Validate the data, fit a linear mixed growth model (Satterthwaite df as "
                                   "lmerTest) and print the tables.")
    p.add_argument("data", help="data file")
    p.add_argument("--study", help="study description (YAML)")
    p.add_argument("--outcome", help="instrument to model (default: the study's primary instrument)")
    p.add_argument("--formula", help="lme4-style model formula, e.g. \"HAMD17 ~ session * arm + baseline + "
                                     "(session | participant_id)\" (instead of --outcome, --random, --covariates, ...)")
    p.add_argument("--time", default=None, help="time column (default: the study's, else session, else week)")
    p.add_argument("--random", choices=("intercept", "slope"), default=None,
                   help="participant random effects (default: intercept and slope, or intercept alone where the "
                        "data cannot identify a slope, which the output then says)")
    p.add_argument("--method", choices=("reml", "ml"), default="reml")
    p.add_argument("--shape", choices=("linear", "log", "quadratic", "piecewise"), default="linear")
    p.add_argument("--reference-arm", help="comparison arm (default: the study's, or a control arm)")
    p.add_argument("--covariates", default="", help="comma-separated covariate columns")
    p.add_argument("--moderators", default="", help="comma-separated moderators (problem_area, disorder)")
    p.add_argument("--baseline", choices=("outcome", "covariate"), default="outcome")
    p.add_argument("--therapist", help="column of a therapist (or site) random intercept")
    p.add_argument("--at", type=_finite, help="time of the arm comparison (default: end of treatment)")
    p.add_argument("--anova", action="store_true",
                   help="add the classical mixed ANOVA on complete cases (pingouin) as a cross-check")
    p.add_argument("--json", action="store_true", help="print all results as JSON")
    p.set_defaults(handler=cmd_fit)


def _import_in_background(*modules: str) -> None:
    """Start importing third-party ``modules`` in a thread, to overlap slow imports (pandera 0.5 s,
    scipy.optimize 0.5 s, pingouin with matplotlib and seaborn 2 s) with reading the file, which
    Arrow does without the interpreter lock. The import statement that needs a module later waits
    for this one; a failure here is ignored and reported by that statement. Only modules that do not
    import ipt_outcomes are given, so the two threads never wait on each other's module locks."""
    import importlib
    import threading

    import pyarrow.csv  # noqa: F401  (what the main thread imports next, before the thread starts)

    def work() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:
                pass

    threading.Thread(target=work, name=f"import {', '.join(modules)}", daemon=True).start()


def cmd_fit(args: argparse.Namespace) -> int:
    import json

    if args.formula:
        return _fit_formula(args)
    _import_in_background("scipy.optimize", *(["pingouin"] if args.anova else []))
    df, report = _load_valid(args)
    if df is None:
        return 1
    from ..models import classical_anova, fit_growth  # after the read: scipy came in the background meanwhile

    outcome = primary_outcome(df, args.outcome)
    fit = fit_growth(df, outcome=outcome, time=args.time, random=args.random, method=args.method,
                     reference_arm=args.reference_arm, covariates=_names(args.covariates),
                     moderators=_names(args.moderators), baseline=args.baseline, shape=args.shape,
                     therapist=args.therapist, check=False)  # validated above, once
    differences = fit.arm_differences(at=args.at)
    icc = fit.icc()
    r2 = fit.r_squared()
    anova, anova_note = None, "not requested (add --anova for the classical mixed ANOVA on complete cases)"
    if args.anova:
        try:
            anova = classical_anova(df, outcome, time=fit.spec.time)
        except IPTOutcomesError as exc:
            anova_note = f"not possible: {exc}"
    if args.json:
        result = fit.to_dict()
        result.update(arm_differences=_records(differences), icc=_records(icc), r_squared=r2,
                      validation={"n_warnings": report.n_warnings},
                      classical_anova=None if anova is None else {
                          "occasions": list(anova.occasions), "n_participants": anova.n_participants,
                          "n_excluded": anova.n_excluded, "table": _records(anova.table)})
        sys.stdout.write(json.dumps(result, indent=2, default=_json_default) + "\n")
        return 0
    out = [fit.summary_text(), "", f"Arm differences at {fit.spec.time} {differences['time'].iloc[0]:g} "
           "(model-implied means; d = Feingold 2009 growth-model effect size)"]
    for r in differences.itertuples():
        out.append(f"  {r.arm} - {r.reference_arm}: {r.difference:.2f} [{r.ci_lower:.2f}, {r.ci_upper:.2f}], "
                   f"t({r.df:.1f}) = {r.statistic:.2f}, {_p(r.p_value)}; d = {r.effect_size_d:.2f} "
                   f"[{r.d_ci_lower:.2f}, {r.d_ci_upper:.2f}]")
    out.append("ICC at baseline: " + ", ".join(f"{r.group} {r.icc:.3f}" for r in icc.itertuples()))
    out.append(f"R2 (Nakagawa & Schielzeth): marginal {r2['marginal']:.3f}, conditional {r2['conditional']:.3f}")
    out.append("")
    out.append(repr(anova) if anova is not None else f"Mixed ANOVA cross-check {anova_note}")
    sys.stdout.write(cli_words("\n".join(out)) + "\n")
    return 0


def _fit_formula(args: argparse.Namespace) -> int:
    """``fit --formula``: the model as written, its coefficient table, variance components and fit."""
    import json

    from ..models import fit_growth

    keywords = {"--outcome": args.outcome, "--random": args.random, "--covariates": args.covariates,
                "--moderators": args.moderators, "--therapist": args.therapist,
                "--shape": args.shape if args.shape != "linear" else None,
                "--baseline": args.baseline if args.baseline != "outcome" else None}
    given = [k for k, v in keywords.items() if v]
    if given:
        raise ArgumentError(f"--formula states the whole model; {', '.join(given)} cannot be given with it (write "
                            "covariates as '+ age', a therapist intercept as '+ (1 | therapist_id)').")
    from ..formula import parse_formula

    parse_formula(args.formula)  # a formula that cannot be read is refused before the data are loaded
    df, report = _load_valid(args)
    if df is None:
        return 1
    fit = fit_growth(df, formula=args.formula, time=args.time, method=args.method, reference_arm=args.reference_arm,
                     check=False)  # validated above, once
    if args.json:
        result = fit.to_dict()
        result["validation"] = {"n_warnings": report.n_warnings}
        sys.stdout.write(json.dumps(result, indent=2, default=_json_default) + "\n")
        return 0
    sys.stdout.write(cli_words(fit.summary_text()) + "\n")
    return 0


def _names(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _records(df):
    return df.astype(object).where(df.notna(), None).to_dict(orient="records")


def _json_default(value: object) -> object:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _p(p: float) -> str:
    """APA style: p < .001, else p = .034."""
    from ..formatting import p_text

    return p_text(p)


def _whole(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number in [minimum, maximum]."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(f"{value} is outside {minimum} to {maximum}" if maximum is not None
                                             else f"needs at least {minimum}")
        return value

    return parse


def _finite(text: str) -> float:
    """An argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def add_clinical(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("clinical", help="clinical significance, sudden gains and missing-data sensitivity",
                       description="Reliable and clinically significant change (Jacobson-Truax) by arm with risk "
                                   "differences, odds ratios and NNT; sudden gains; dropout pattern; sensitivity "
                                   "of the end-of-treatment arm effect (completers, LOCF, multiple imputation, "
                                   "tipping point).")
    p.add_argument("data", help="data file")
    p.add_argument("--study", help="study description (YAML)")
    p.add_argument("--outcome", help="instrument (default: the study's primary instrument)")
    p.add_argument("--reliability", type=_finite, help="reliability for the RCI (default: registry or study)")
    p.add_argument("--cutoff", help="clinical cut-off: a score, or a, b, c (default c with norms, else a)")
    p.add_argument("--reference-arm", help="comparison arm (default: the study's, or a control arm)")
    p.add_argument("--time", default=None, help="time column (default: the study's, else session, else week)")
    p.add_argument("--imputations", type=_whole(2, 10_000), default=50, help="multiple imputations (default 50)")
    p.add_argument("--seed", type=_whole(0, MAX_SEED), default=1, help="seed of the imputations (default 1)")
    p.add_argument("--json", action="store_true", help="print all results as JSON")
    p.set_defaults(handler=cmd_clinical)


def cmd_clinical(args: argparse.Namespace) -> int:
    import json
    import warnings

    from ..clinical import clinical_change, sudden_gains, summarise_change
    from ..errors import DataWarning
    from ..missing import last_observed, sensitivity_analyses

    df, _ = _load_valid(args)
    if df is None:
        return 1
    outcome = primary_outcome(df, args.outcome)
    cutoff: float | str | None = args.cutoff
    if cutoff is not None and cutoff not in ("a", "b", "c"):
        try:
            cutoff = float(cutoff)
        except ValueError:
            raise ArgumentError(f"--cutoff must be a number or a, b, c; not {cutoff!r}.") from None
    chosen_time = time_column(df, args.time)
    time = chosen_time.column
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        cc = clinical_change(df, outcome, reliability=args.reliability, cutoff=cutoff, time=time)  # type: ignore[arg-type]
    summary = summarise_change(cc, reference_arm=args.reference_arm)
    gains = sudden_gains(df, outcome, reliability=args.reliability, time=time)
    sens = sensitivity_analyses(df, outcome, n_imputations=args.imputations, seed=args.seed, time=time,
                                reference_arm=summary.attrs["reference_arm"], check=False)
    pattern = last_observed(df, outcome, time=time)
    choices = [summary.attrs["reference_statement"], chosen_time.statement, sens.settings["completer_rule"]]
    settings = cc.attrs["settings"]
    if args.json:
        result = {"outcome": outcome, "settings": settings, "reference_arm": summary.attrs["reference_arm"],
                  "time": time, "complete_from": sens.settings["complete_from"], "choices": choices,
                  "participants": _records(cc),
                  "summary": _records(summary), "sudden_gains": _records(gains),
                  "sudden_gain_threshold": gains.attrs["threshold"], "last_observed": _records(pattern),
                  "sensitivity": _records(sens.table), "tipping": _records(sens.tipping),
                  "tipping_points": sens.tipping_points, "notes": [str(w.message) for w in caught]}
        sys.stdout.write(json.dumps(result, indent=2, default=_json_default) + "\n")
        return 0
    out = [f"Clinical change in {outcome} (Jacobson-Truax): reliability {settings['reliability']:.2f}, "
           f"SD at baseline {settings['sd_baseline']:.2f}, reliable change {settings['reliable_change']:.2f} points, "
           f"cut-off {settings['cutoff_type']} = {settings['cutoff']:.2f}"]
    out.append(cli_words("Analysis choices: " + "; ".join(choices) + "."))
    for w in caught:
        out.append(f"note: {cli_words(str(w.message))}")
    out.append(f"{'outcome':<22}{'arm':<12}{'n':>5}{'%':>8}   vs {summary.attrs['reference_arm']}")
    for r in summary.itertuples():
        comp = "" if pd.isna(r.risk_difference) else (
            f"RD {r.risk_difference:+.3f} [{r.rd_ci_lower:+.3f}, {r.rd_ci_upper:+.3f}], OR {r.odds_ratio:.2f} "
            f"[{r.or_ci_lower:.2f}, {r.or_ci_upper:.2f}], {r.nnt_text}")
        out.append(f"{r.outcome:<22}{r.arm:<12}{r.n:>5}{r.percent:>8.1f}   {comp}")
    out.append("")
    n_rev = int(gains["reversed"].sum()) if len(gains) else 0
    if not gains.attrs.get("consecutive_pairs"):
        out.append(f"Sudden gains: {outcome} is not given at consecutive sessions; they need session-by-session "
                   "scores (choose such an --outcome).")
    else:
        out.append(f"Sudden gains (Tang & DeRubeis 1999, threshold {gains.attrs['threshold']:g} points): {len(gains)} gains "
               f"in {gains['participant_id'].nunique() if len(gains) else 0} participants, {n_rev} reversed "
                   f"({gains.attrs['consecutive_pairs']} pairs of consecutive sessions examined)")
    out.append("")
    out.append(f"Sensitivity of the end-of-treatment difference ({sens.settings['n_dropouts']} dropouts):")
    for r in sens.table.itertuples():
        if pd.isna(r.estimate):
            out.append(f"  {r.analysis:<30}{r.arm}: {r.note}")
        else:
            out.append(f"  {r.analysis:<30}{r.arm} - {r.reference_arm}: {r.estimate:.2f} [{r.ci_lower:.2f}, "
                       f"{r.ci_upper:.2f}], {_p(r.p_value)}")
    sys.stdout.write("\n".join(out) + "\n")
    return 0


def _load_valid(args: argparse.Namespace) -> tuple[pd.DataFrame | None, ValidationReport]:
    """Load and validate ``args.data``; on errors print them to stderr and return (None, report)."""
    _import_in_background("pandera.pandas")  # while the file is read
    df = load(args.data, study=args.study)
    from ..validation import validate

    report = validate(df)
    if not report.ok:
        sys.stderr.write(validation_lines(report, 5))
        stderr_console().print(f"ipt-outcomes: {args.data} failed validation; fix the errors above first.", markup=False)
        return None, report
    return df, report


def add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of the whole analysis",
                       description="Validate, model and report a trial in one HTML file that works offline.")
    p.add_argument("data", help="data file")
    p.add_argument("--out", required=True, help="HTML file to write")
    p.add_argument("--study", help="study description (YAML)")
    p.add_argument("--outcome", help="primary instrument (default: the study's)")
    p.add_argument("--time", default=None, help="time column (default: the study's, else session, else week)")
    p.add_argument("--reference-arm", help="comparison arm (default: the study's, or a control arm)")
    p.add_argument("--imputations", type=_whole(2, 10_000), default=50, help="multiple imputations (default 50)")
    p.add_argument("--seed", type=_whole(0, MAX_SEED), default=1, help="seed of the imputations (default 1)")
    p.add_argument("--figures", help="also write every figure into this folder")
    p.add_argument("--format", choices=("html", "png", "svg", "pdf"), default="png",
                   help="format of --figures (png, svg, pdf need Chrome/Chromium; default png)")
    p.add_argument("--reliability", type=_finite, default=None,
                   help="reliability of the outcome for the reliable change index (test-retest or internal "
                        "consistency; default: the study's, else the registry's)")
    p.add_argument("--docx", help="also write the report as a Word document (.docx)")
    p.add_argument("--force", action="store_true", help="replace the report (and figures) if they exist")
    p.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..figures import save_figure
    from ..report import build_report

    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ArgumentError(f"{out}: the report is HTML; give a file name ending in .html.")
    force = bool(getattr(args, "force", False))
    inputs = [args.data, args.study]
    check_output(out, force=force, inputs=inputs, what="report")
    docx = getattr(args, "docx", None)
    if docx is not None:
        if Path(docx).suffix.lower() != ".docx":
            raise ArgumentError(f"{docx}: --docx writes a Word document; give a file name ending in .docx.")
        check_output(docx, force=force, inputs=inputs, what="Word report")
    if args.figures and not Path(args.figures).is_dir():
        raise ArgumentError(f"{args.figures}: --figures needs an existing folder.")
    report = build_report(args.data, outcome=args.outcome, study=args.study, out=out,
                          n_imputations=args.imputations, seed=args.seed, progress=sys.stderr.isatty(),
                          time=getattr(args, "time", None), reference_arm=getattr(args, "reference_arm", None),
                          force=force, reliability=getattr(args, "reliability", None))
    for choice in report.results.get("choices", []):
        stderr_console().print(f"ipt-outcomes: {cli_words(choice)}", markup=False)
    for note in report.notes:
        stderr_console().print(f"ipt-outcomes: note: {cli_words(note)}", markup=False)
    if args.figures:
        folder = Path(args.figures)
        targets = {name: folder / f"{name}.{args.format}" for name in report.figures}
        written = [out, *([docx] if docx is not None else [])]  # this run's other outputs are never replaced
        for target in targets.values():  # every name checked before any figure is written
            if any(Path(target).resolve() == Path(w).resolve() for w in written):
                which = "report" if Path(target).resolve() == out.resolve() else "Word report"
                raise ArgumentError(f"{target}: is also this run's {which}; write the figures to another folder "
                                    "(--figures) or the report elsewhere (--out).")
            check_output(target, force=force, inputs=[*inputs, *written], what="figure")
        for name, fig in report.figures.items():
            save_figure(fig, targets[name], force=force, inputs=[*inputs, *written])
        stderr_console().print(f"wrote {len(report.figures)} figures to {folder}", markup=False)
    if docx is not None:
        from ..report.docx import write_docx

        write_docx(report, docx, title=f"IPT trial report: {report.results['fit'].outcome}", force=force,
                   inputs=tuple(inputs))
        stderr_console().print(f"wrote {docx}", markup=False)
    stderr_console().print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", markup=False)
    return 0


def add_demo(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="the whole pipeline on the bundled example trial",
                       description="Validate the bundled example trial, fit the growth models, run the clinical "
                                   "and sensitivity analyses and write the HTML report.")
    p.add_argument("--out", default="report.html", help="HTML file to write (default report.html)")
    p.add_argument("--imputations", type=_whole(2, 10_000), default=50, help="multiple imputations (default 50)")
    p.add_argument("--force", action="store_true", help="replace the report if it exists")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from ..examples import example_path, example_study_path

    console = stdout_console()
    check_output(args.out, force=args.force, what="report")  # before the work, not after it
    console.print(f"Example trial: {example_path()}", markup=False)
    df = load(example_path(), study=example_study_path())
    from ..validation import validate

    console.print(validate(df).summary_line(), markup=False)
    fit_args = build_fit_namespace(data=str(example_path()), study=str(example_study_path()), anova=True)
    code = cmd_fit(fit_args)
    if code:
        return code
    report_args = argparse.Namespace(data=str(example_path()), study=str(example_study_path()), out=args.out,
                                     outcome=None, imputations=args.imputations, seed=1, figures=None, format="png",
                                     force=args.force)
    code = cmd_report(report_args)
    console.print(f"Open {args.out} in a browser: it works offline.", markup=False)
    return code


def add_example(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("example", help="copy the bundled example trial and its study file into a folder",
                       description="Write example_trial.csv and example_trial_study.yaml (the bundled simulated IPT "
                                   "trial and its study description) into a folder, to look at or adapt.")
    p.add_argument("--out-dir", default=".", help="folder to write into (default: the current folder)")
    p.add_argument("--force", action="store_true", help="replace the files if they exist")
    p.set_defaults(handler=cmd_example)


def cmd_example(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..examples import example_path, example_study_path

    folder = Path(args.out_dir)
    if not folder.is_dir():
        raise ArgumentError(f"{folder}: --out-dir needs an existing folder.")
    sources = [example_path(), example_study_path()]
    existing = [folder / s.name for s in sources if (folder / s.name).exists()]
    if existing and not args.force:
        raise ArgumentError(f"{', '.join(map(str, existing))} exist(s); pass --force to replace, or choose --out-dir.")
    for source in sources:
        with atomic_output(folder / source.name, force=args.force, what="copy") as tmp:
            tmp.write_bytes(source.read_bytes())
        stderr_console().print(f"wrote {folder / source.name}", markup=False)
    return 0


def build_fit_namespace(**values: object) -> argparse.Namespace:
    """The defaults of the fit command, with some values replaced."""
    parser = argparse.ArgumentParser()
    add_fit(parser.add_subparsers())
    namespace = parser.parse_args(["fit", str(values.get("data", "-"))])
    for key, value in values.items():
        setattr(namespace, key, value)
    return namespace


REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [add_validate, add_simulate, add_fit, add_clinical,
                                                                 add_report, add_demo, add_example]
