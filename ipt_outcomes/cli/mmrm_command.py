"""``ipt-outcomes mmrm``: the mixed model for repeated measures (a trial's usual primary analysis)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import ArgumentError
from ..study import primary_outcome, time_column
from .commands import _import_in_background, _json_default, _load_valid, _names, _p, _records
from .render import cli_words

if TYPE_CHECKING:
    from ..validation import ValidationReport

__all__ = ["add_mmrm", "cmd_mmrm"]


def add_mmrm(sub: argparse._SubParsersAction) -> None:
    from ..mmrm.options import DF_METHODS, STRUCTURES

    p = sub.add_parser("mmrm", help="fit an MMRM (categorical visit x arm, baseline as covariate)",
                       description="Validate the data and fit the mixed model for repeated measures: outcome ~ "
                                   "baseline + covariates + arm * visit with the visit categorical and a residual "
                                   "covariance over the planned visits; least-squares means by visit and arm, and "
                                   "each arm against the reference arm at every visit.")
    p.add_argument("data", help="data file (the canonical table, or any tidy long analysis data set with --formula)")
    p.add_argument("--formula", default=None,
                   help="the model as the analysis plan states it, in the mmrm package's syntax: "
                        "\"CHANGE ~ BASVAL*VISIT + THERAPY*VISIT + us(VISIT | PATIENT)\"")
    p.add_argument("--arm", default=None, help="with --formula: the treatment column (default: arm, if the formula uses it)")
    p.add_argument("--study", help="study description (YAML)")
    p.add_argument("--outcome", help="instrument to model (default: the study's primary instrument)")
    p.add_argument("--visit", default=None,
                   help="visit column (default: the study's time, else session, else week); each value a planned visit")
    p.add_argument("--covariance", choices=STRUCTURES, default=None,
                   help="residual covariance (default: the study's mmrm.covariance, else us, unstructured)")
    p.add_argument("--df", dest="df_method", choices=DF_METHODS, default=None,
                   help="denominator degrees of freedom (default satterthwaite; kenward-roger as SAS DDFM=KR, REML only)")
    p.add_argument("--method", choices=("reml", "ml"), default=None, help="default: the study's, else reml")
    p.add_argument("--reference-arm", help="comparison arm (default: the study's, or a control arm)")
    p.add_argument("--covariates", default=None, help="comma-separated covariate columns (default: the study's)")
    p.add_argument("--baseline", choices=("covariate", "none"), default=None,
                   help="the visit-0 score as a covariate (default), or analyse every visit as a response")
    p.add_argument("--baseline-visit", default=None,
                   help="the visit holding the baseline score (default: the study's mmrm.baseline_visit, else the visit "
                        "numbered 0)")
    p.add_argument("--group-covariance", choices=("arm",), default=None, help="one covariance per arm")
    p.add_argument("--json", action="store_true", help="print all results as JSON")
    p.set_defaults(handler=cmd_mmrm)


def cmd_mmrm(args: argparse.Namespace) -> int:
    _import_in_background("scipy.optimize")
    keywords = {"--outcome": args.outcome, "--visit": args.visit, "--covariance": args.covariance,
                "--covariates": args.covariates, "--baseline": args.baseline, "--group-covariance": args.group_covariance,
                "--baseline-visit": args.baseline_visit}
    from ..study import load_study

    planned = load_study(args.study) if args.study else None
    plan_formula = (planned.mmrm or {}).get("formula") if planned is not None else None
    if args.formula is not None or (plan_formula and not any(v is not None for v in keywords.values())):
        given = [k for k, v in keywords.items() if v is not None]
        if given:
            raise ArgumentError(f"--formula states the whole model; {', '.join(given)} cannot be given with it (a "
                                "covariate as '+ sex', the covariance as '+ us(VISIT | PATIENT)').")
        from ..formula import parse_formula

        parse_formula(args.formula or plan_formula)  # a formula that cannot be read is refused before the data
        df, report = _load_for_formula(args)
    elif args.arm is not None:
        raise ArgumentError("--arm names the treatment column of a --formula model.")
    else:
        df, report = _load_valid(args)
    if df is None:
        return 1
    from ..mmrm import fit_mmrm
    from ..mmrm.options import resolve
    from ..study import Study

    study = Study.from_attrs(df.attrs.get("ipt_study"))
    plan = dict(study.mmrm) if study is not None else {}
    formula = args.formula or (plan.get("formula") if not any(v is not None for v in keywords.values()) else None)
    choices: list[str] = []
    if formula is not None:
        df_method = args.df_method or plan.get("df") or "satterthwaite"
        method = args.method or plan.get("method") or "reml"
        if args.df_method is None and plan.get("df") is None:
            choices.append("df satterthwaite (the default); choose with --df or the study file's mmrm: block")
        fit = fit_mmrm(df, formula=formula, arm=args.arm or plan.get("arm"), reference_arm=args.reference_arm,
                       df_method=df_method, method=method)
        visit_name = fit.visit
    else:
        outcome = primary_outcome(df, args.outcome)
        visit = time_column(df, args.visit or plan.get("visit"))
        flags = {"covariance": args.covariance, "df_method": args.df_method, "method": args.method,
                 "baseline": args.baseline, "group_covariance": args.group_covariance,
                 "baseline_visit": args.baseline_visit,
                 "covariates": None if args.covariates is None else _names(args.covariates)}
        options, assumed = resolve(plan, flags)
        fit = fit_mmrm(df, outcome, visit=visit.column, reference_arm=args.reference_arm, **options)
        choices = [] if visit.how == "given" else [f"visit: {visit.statement.replace('set time=', 'set --visit ')}"]
        choices += [f"{a}; choose with --{a.split()[0]} or the study file's mmrm: block" for a in assumed]
        visit_name = visit.column
    if report is None:
        choices.append("the data are not the canonical table: only the checks the model needs were run (its columns "
                       "exist, the outcome is numeric, one value per subject and visit, missing values counted)")
    named = _Named(visit_name)
    means, differences = fit.marginal_means(), fit.arm_differences()
    if args.json:
        result = {"outcome": fit.outcome, "visit": named.column, "formula": fit.formula, "covariance_structure":
                  fit.covariance_structure, "group_covariance": fit.group_covariance, "method": fit.method,
                  "df_method": fit.df_method, "reference_arm": fit.reference_arm, "n_obs": fit.n_obs,
                  "n_participants": fit.n_participants, "log_likelihood": fit.log_likelihood, "aic": fit.aic,
                  "bic": fit.bic, "converged": fit.converged, "fixed_effects": _records(fit.fixed_effects),
                  "covariance": _matrices(fit.covariance), "correlation": _matrices(fit.correlation),
                  "marginal_means": _records(means), "arm_differences": _records(differences),
                  "choices": choices, "notes": list(dict.fromkeys(fit.notes)),
                  "validation": {"n_warnings": report.n_warnings} if report is not None else None}
        sys.stdout.write(json.dumps(result, indent=2, default=_json_default) + "\n")
        return 0
    out = [str(fit.summary()), *(f"note: {c}" for c in choices), "",
           f"Least-squares means by {named.column} (proportional weights)"]
    for r in means.itertuples(index=False):
        out.append(f"  {named.column} {r[0]:<6} {r.arm:<12} {r.estimate:8.2f} [{r.ci_lower:.2f}, {r.ci_upper:.2f}]"
                   f"  SE {r.std_error:.2f}, df {r.df:.1f}")
    out += ["", f"Arm differences at every {named.column} (against {fit.reference_arm})"]
    for r in differences.itertuples(index=False):
        out.append(f"  {named.column} {r[0]:<6} {r.arm} - {r.reference_arm}: {r.difference:.2f} [{r.ci_lower:.2f}, "
                   f"{r.ci_upper:.2f}], "
                   f"t({r.df:.1f}) = {r.statistic:.2f}, {_p(r.p_value)}")
    sys.stdout.write(cli_words("\n".join(out)) + "\n")
    return 0


class _Named:
    def __init__(self, column: str) -> None:
        self.column = column


def _load_for_formula(args: argparse.Namespace) -> tuple[pd.DataFrame | None, ValidationReport | None]:
    """A formula's data: the canonical table is validated in full; any other tidy table gets only the
    checks the model needs (in :func:`ipt_outcomes.fit_mmrm`); the report is then None."""
    from ..loading import load

    df = load(args.data, study=args.study)
    if {"participant_id", "instrument", "score"} <= set(df.columns):
        return _load_valid_frame(args, df)
    return df, None


def _load_valid_frame(args: argparse.Namespace, df: pd.DataFrame) -> tuple[pd.DataFrame | None, ValidationReport]:
    from ..validation import validate
    from .render import stderr_console, validation_lines

    report = validate(df)
    if not report.ok:
        sys.stderr.write(validation_lines(report, 5))
        stderr_console().print(f"ipt-outcomes: {args.data} failed validation; fix the errors above first.", markup=False)
        return None, report
    return df, report


def _matrices(value: pd.DataFrame | dict[str, pd.DataFrame]) -> dict:
    """A visits x visits frame (or one per arm) as {row visit: {column visit: value}}."""
    if isinstance(value, dict):
        return {group: _matrices(frame) for group, frame in value.items()}
    return {str(i): {str(c): float(v) for c, v in row.items()} for i, row in value.iterrows()}
