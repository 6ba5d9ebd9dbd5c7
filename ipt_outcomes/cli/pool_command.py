"""``ipt-outcomes pool``: trials across disorders (a pooling file, or the bundled example) in one report."""

from __future__ import annotations

import argparse
import json
import sys

from .commands import _json_default, _records
from .render import cli_words, stderr_console

__all__ = ["add_pool", "cmd_pool"]


def add_pool(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pool", help="pool trials across disorders (harmonised outcome, IPD meta-analysis)",
                       description="Load every trial of a pooling file with its study file, put each trial's primary "
                                   "instrument on a common metric, estimate each trial's arm effect and pool them "
                                   "overall and by disorder; write a self-contained HTML report.")
    p.add_argument("pooling", nargs="?", help="pooling file (YAML: trials with data and study files)")
    p.add_argument("--example", action="store_true", help="the bundled four-trial, four-disorder example")
    p.add_argument("--out", help="HTML report to write")
    p.add_argument("--method", choices=("pomp", "baseline_sd"), default="pomp", help="common metric (default pomp)")
    p.add_argument("--effect", choices=("mean_difference", "d", "g"), default="mean_difference",
                   help="each trial's effect (default: the difference on the common metric)")
    p.add_argument("--tau2", choices=("reml", "dl", "pm", "fe"), default="reml", help="between-trial variance (default reml)")
    p.add_argument("--hksj", action="store_true", help="Hartung-Knapp-Sidik-Jonkman confidence interval")
    p.add_argument("--force", action="store_true", help="replace an existing report")
    p.add_argument("--json", action="store_true", help="print the pooled results as JSON")
    p.set_defaults(handler=cmd_pool)


def cmd_pool(args: argparse.Namespace) -> int:
    from ..errors import ArgumentError
    from ..examples import pooled_example_path
    from ..report.pooled import build_pooled_report

    if args.example == bool(args.pooling):
        raise ArgumentError("give a pooling file or --example (one of them).")
    if args.out is None and not args.json:
        raise ArgumentError("give --out FILE.html for the report, or --json for the results.")
    pooling = pooled_example_path() if args.example else args.pooling
    report = build_pooled_report(pooling, args.out, method=args.method, effect=args.effect, tau2=args.tau2,
                                 hksj=args.hksj, force=args.force)
    fit = report.results["meta_analysis"]
    if args.json:
        out = {"pooling": str(pooling), "method": args.method, "effect": args.effect, "tau2_method": args.tau2,
               "hksj": args.hksj, "summary": _records(fit.to_frame())[0], "trial_effects": _records(report.results["effects"]),
               "subgroups": _records(fit.subgroups) if getattr(fit, "subgroups", None) is not None else None,
               "q_between": getattr(fit, "q_between", None), "q_between_p_value": getattr(fit, "q_between_p_value", None),
               "notes": report.notes}
        sys.stdout.write(json.dumps(out, indent=2, default=_json_default) + "\n")
    else:
        sys.stdout.write(f"{fit!r}\n")
    for note in report.notes:
        note = note.replace("pass reliability= to use a value you have checked",  # pool has no --reliability
                            "declare a value you have checked in the trial's study file (instruments:)")
        stderr_console().print(f"ipt-outcomes: note: {cli_words(note)}", markup=False)
    if args.out is not None:
        stderr_console().print(f"wrote {args.out}", markup=False)
    return 0
