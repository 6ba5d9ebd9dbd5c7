"""Render library results for the terminal with rich (plain text when not a terminal)."""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING

import pandas as pd
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:  # the validation stack (pandera) is imported by the commands that validate, when they do
    from ..validation import ValidationReport

__all__ = ["cli_words", "count_lines", "more_line", "stderr_console", "stdout_console", "validation_lines", "validation_table"]

# Library messages name Python arguments; on the command line the same advice names the flags.
_PY_TO_CLI = [
    (r'random=["\']intercept["\']', "--random intercept"),
    (r'random=["\']slope["\']', "--random slope"),
    (r"\(therapist=None\)", "(drop --therapist)"),
    (r"set reference_arm to", "pass --reference-arm to"),
    (r"Run ipt\.validate\(\) to see every problem, or pass check=False\.", "Run ipt-outcomes validate to see every problem."),
    (r"pass reliability=", "pass --reliability"),
    (r"\bcutoff=", "--cutoff "),
    (r"\btime=[\"']?(\w+)[\"']?", r"--time \1"),
    (r"\btime=", "--time "),
    (r"n_imputations", "--imputations"),
    (r" \(force=True\)", ""),
    (r"\bn_participants=", "--participants "),
    (r"\bdf_method=[\"']?([\w-]+)[\"']?", r"--df \1"),
    (r"\bmethod=[\"'](reml|ml)[\"']", r"--method \1"),
]


_FLAGS = {"n_imputations": "imputations", "n_participants": "participants", "effect_size": "effect-size",
          "reference_arm": "reference-arm", "time_shape": "time-shape"}


def _flag(match: re.Match[str]) -> str:
    name = match.group(1)
    return "--" + _FLAGS.get(name, name.replace("_", "-"))


def cli_words(text: str) -> str:
    """The advice of a library message in the command line's words (``random="intercept"`` becomes
    ``--random intercept``, ``fit_growth() argument level`` becomes ``--level``)."""
    text = re.sub(r"\b\w+\(\) argument (\w+)", _flag, text)
    text = re.sub(r"\bat=(?=[-\d])", "--at ", text)
    for pattern, replacement in _PY_TO_CLI:
        text = re.sub(pattern, replacement, text)
    return text


def stdout_console() -> Console:
    return _console(sys.stdout)


def stderr_console() -> Console:
    return _console(sys.stderr)


def _console(stream) -> Console:
    # No colour codes: the stream escapes every control character (data text may carry them), so
    # what reaches the terminal is plain text whatever the data say.
    return Console(file=stream, width=None if stream.isatty() else 160, highlight=False, color_system=None)


def count_lines(report: ValidationReport) -> list[str]:
    """One line per kind of problem with its number: the overview of a file with many problems."""
    counts = report.counts
    if len(counts) < 2 and report.n_failures <= 1:
        return []
    lines = ["problems by kind:"]
    for r in counts.itertuples():
        column = "" if r.column is None or (isinstance(r.column, float) and pd.isna(r.column)) else f" ({r.column})"
        lines.append(f"  {r.severity:<8}{r.check}{column}: {r.n}")
    return lines


def more_line(report: ValidationReport, shown: int) -> str:
    hidden = report.n_failures - shown
    return (f"... {hidden} more problem(s) of the kinds above; --max-rows 0 lists them all (with --json as JSON)."
            if hidden > 0 else "")


def validation_table(report: ValidationReport, per_check: int | None = 10) -> Table:
    """A table of problems (the first ``per_check`` of each kind): severity, where, participant,
    column, check, message; the counts of each kind in the caption."""
    rows = report.first_failures(per_check)
    caption = "\n".join([*count_lines(report), more_line(report, len(rows))]).strip()
    table = Table(title=_cell(report.summary_line()), title_justify="left", show_lines=False,
                  caption=_cell(caption) or None, caption_justify="left")
    for name in ("severity", "where", "participant", "column", "check", "problem"):
        table.add_column(name, overflow="fold")
    for _, r in rows.iterrows():
        where = f"line {r['line']}" if pd.notna(r["line"]) else ("" if pd.isna(r["row"]) else f"row {r['row']}")
        table.add_row(
            "[red]error[/red]" if r["severity"] == "error" else "[yellow]warning[/yellow]",
            where, _cell(r["participant_id"]), _cell(r["column"]), _cell(r["check"]),
            _cell(r["message"]),
        )
    return table


def validation_lines(report: ValidationReport, per_check: int | None = 10) -> str:
    """Plain text: the summary, the counts of each kind, then one problem per line
    (``[error] check: message``), the first ``per_check`` of each kind (all with None)."""
    rows = report.first_failures(per_check)
    lines = [report.summary_line(), *count_lines(report)]
    lines += [f"[{r.severity}] {r.check}: {r.message}" for r in rows.itertuples()]
    more = more_line(report, len(rows))
    return "\n".join([*lines, *([more] if more else [])]) + "\n"


def _cell(value: object) -> str:
    from rich.markup import escape

    from .terminal import printable

    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else escape(printable(str(value)))
