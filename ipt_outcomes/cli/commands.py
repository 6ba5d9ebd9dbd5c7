"""The sub-commands. Each ``add_*`` registers a parser; each ``cmd_*`` runs one and returns the exit code."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from ..io import write_table
from ..loading import load
from ..simulate import simulate_trial
from ..validation import validate
from .render import stderr_console, stdout_console, validation_lines, validation_table

__all__ = ["REGISTRY"]


def add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a trial data file against the IPT schema",
                       description="Check a trial data file; list every problem with its line, "
                                   "participant and how to fix it.")
    p.add_argument("data", help="data file (CSV, TSV, Parquet, Excel, SPSS .sav, Stata .dta)")
    p.add_argument("--study", help="study description (YAML): renames, value maps, reshaping, instruments")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--max-rows", type=int, default=200, help="problems shown in the table (default 200; 0 = all)")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    df = load(args.data, study=args.study)
    report = validate(df)
    if args.json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        console = stdout_console()
        limit = None if args.max_rows == 0 else args.max_rows
        if report.failures.empty:
            console.print(report.summary_line(), markup=False)
        elif sys.stdout.isatty():
            console.print(validation_table(report, limit))
        else:  # one problem per line: readable in logs, easy to grep
            sys.stdout.write(validation_lines(report, limit))
            if args.max_rows and len(report.failures) > args.max_rows:
                console.print(f"... {len(report.failures) - args.max_rows} more problems; use --max-rows 0 "
                              "or --json to see all.")
    if not report.ok:
        stderr_console().print(f"ipt-outcomes: {args.data} failed validation with {report.n_errors} error(s); "
                               "fix the rows listed and run validate again.", markup=False)
        return 1
    return 0


def add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="write a simulated IPT trial with known true effects",
                       description="Simulate a trial (canonical format) and write it to a file.")
    p.add_argument("--participants", type=_positive_int, default=200, help="number of participants (default 200)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--out", required=True, help="output file (.csv, .tsv, .parquet, .xlsx, .sav, .dta)")
    p.add_argument("--arms", default="IPT,TAU", help="comma-separated arms; the last is the reference (default IPT,TAU)")
    p.add_argument("--effect-size", type=float, default=0.6,
                   help="growth-model d of the first arm against the reference (default 0.6)")
    p.add_argument("--dropout", type=float, default=0.2, help="share of participants who drop out (default 0.2)")
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


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 2:
        raise argparse.ArgumentTypeError("needs at least 2")
    return value


REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = [add_validate, add_simulate]
