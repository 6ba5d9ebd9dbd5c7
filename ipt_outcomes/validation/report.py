"""The result of validation: problems as a DataFrame, never an exception."""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from ..errors import DataValidationError

__all__ = ["COUNT_COLUMNS", "FAILURE_COLUMNS", "ValidationReport"]

#: columns of ``ValidationReport.failures`` (``file`` and ``line`` point into the source file)
FAILURE_COLUMNS = ["column", "check", "row", "participant_id", "value", "severity", "message", "file", "line"]


#: columns of ``ValidationReport.counts``
COUNT_COLUMNS = ["check", "column", "severity", "n"]


class ValidationReport:
    """Every problem found in one validation pass.

    Attributes
    ----------
    failures : pandas.DataFrame
        One row per problem, errors first, then in file order, with columns ``column`` (canonical
        column), ``check`` (rule name), ``row`` (index label in the validated table),
        ``participant_id``, ``value`` (as text), ``severity`` (``"error"`` or ``"warning"``),
        ``message`` (what is wrong, where, and how to fix it), ``file`` and ``line`` (position in
        the source file when the table came from :func:`ipt_outcomes.load`, else missing). Built on
        first use: a file with a hundred thousand problems is validated as fast as a clean one, and
        words its messages only when they are asked for.
    counts : pandas.DataFrame
        One row per kind of problem (``check``, ``column``, ``severity``) with its number ``n``.
    missing_scores : pandas.DataFrame
        Per instrument and arm: ``n_rows``, ``n_missing`` scores (missing scores are allowed).
    n_rows, n_participants : int
        Size of the table.
    source : str or None
        The file the table was loaded from, if known.
    """

    def __init__(self, failures: pd.DataFrame | None = None, missing_scores: pd.DataFrame | None = None,
                 n_rows: int = 0, n_participants: int = 0, source: str | None = None,
                 settings: dict[str, Any] | None = None, *, findings: Any = None) -> None:
        if (failures is None) == (findings is None):
            raise ValueError("ValidationReport needs either failures or findings")
        self._failures = None if failures is None else failures.reset_index(drop=True)
        self._findings = findings
        self.missing_scores = missing_scores if missing_scores is not None else pd.DataFrame(
            columns=["instrument", "arm", "n_rows", "n_missing"])
        self.n_rows = n_rows
        self.n_participants = n_participants
        self.source = source
        self.settings = settings or {}

    @property
    def failures(self) -> pd.DataFrame:
        if self._failures is None:
            self._failures = self._findings.table(None)
        return self._failures

    @property
    def counts(self) -> pd.DataFrame:
        """How many problems of each kind, errors first."""
        if self._findings is not None:
            return self._findings.counts()
        f = self._failures
        table = f.groupby(["check", "column", "severity"], dropna=False, sort=False).size().reset_index(name="n")
        return _ordered_counts(table)

    def first_failures(self, per_check: int | None = 5) -> pd.DataFrame:
        """The first ``per_check`` problems of each kind (all with ``None``), errors first, then in
        file order: what a screen shows of a file with many problems."""
        if per_check is None:
            return self.failures
        if self._findings is not None and self._failures is None:
            return self._findings.table(per_check)
        f = self.failures
        shown = f.groupby(["check", "column"], dropna=False, sort=False).head(per_check)
        return shown.reset_index(drop=True)

    @property
    def errors(self) -> pd.DataFrame:
        """The problems of severity ``error``: the data cannot be analysed until they are fixed."""
        return self.failures[self.failures["severity"] == "error"].reset_index(drop=True)

    @property
    def warnings(self) -> pd.DataFrame:
        """The problems of severity ``warning``: worth a look, but the data can be analysed."""
        return self.failures[self.failures["severity"] == "warning"].reset_index(drop=True)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.n_errors == 0

    @property
    def n_errors(self) -> int:
        counts = self.counts
        return int(counts.loc[counts["severity"] == "error", "n"].sum())

    @property
    def n_warnings(self) -> int:
        counts = self.counts
        return int(counts.loc[counts["severity"] == "warning", "n"].sum())

    @property
    def n_failures(self) -> int:
        return int(self.counts["n"].sum())

    def raise_for_errors(self) -> None:
        """Raise :class:`~ipt_outcomes.errors.DataValidationError` if there is any error."""
        if not self.ok:
            shown = self.first_failures(1)
            first = str(shown.loc[shown["severity"] == "error", "message"].iloc[0]).rstrip(".")
            more = f" (and {self.n_errors - 1} more)" if self.n_errors > 1 else ""
            raise DataValidationError(f"the data failed validation: {first}{more}. Run ipt.validate() "
                                      "or 'ipt-outcomes validate' to see every problem.", report=self)

    def summary_line(self) -> str:
        where = f"{self.source}: " if self.source else ""
        verdict = "passed" if self.ok else "FAILED"
        n_missing = int(self.missing_scores["n_missing"].sum()) if len(self.missing_scores) else 0
        return (f"{where}validation {verdict}: {self.n_errors} error(s), {self.n_warnings} warning(s) in "
                f"{self.n_rows} rows, {self.n_participants} participants; {n_missing} missing score(s).")

    def to_dict(self, per_check: int | None = None) -> dict[str, Any]:
        """JSON-ready dictionary (used by ``ipt-outcomes validate --json``): every problem, or the first
        ``per_check`` of each kind."""
        shown = self.first_failures(per_check)
        failures = shown.astype(object).where(shown.notna(), None)
        return {
            "ok": self.ok,
            "source": self.source,
            "n_rows": self.n_rows,
            "n_participants": self.n_participants,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "counts": self.counts.to_dict(orient="records"),
            "failures_shown": "all" if per_check is None else f"first {per_check} of each kind",
            "failures": failures.to_dict(orient="records"),
            "missing_scores": self.missing_scores.to_dict(orient="records"),
        }

    def to_json(self, indent: int | None = 2, per_check: int | None = None) -> str:
        return json.dumps(self.to_dict(per_check), indent=indent, default=str)

    def __repr__(self) -> str:
        lines = [self.summary_line()]
        shown = self.first_failures(5)
        for _, r in shown.head(20).iterrows():
            lines.append(f"  [{r['severity']}] {r['check']}: {r['message']}")
        if self.n_failures > min(len(shown), 20):
            lines.append(f"  ... {self.n_failures - min(len(shown), 20)} more (see .counts and .failures)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><strong>{html.escape(self.summary_line())}</strong></p>"
        if not self.n_failures:
            return head
        counts = self.counts.to_html(index=False, escape=True, na_rep="")
        table = self.first_failures(20).drop(columns=["file"]).head(200).to_html(index=False, escape=True, na_rep="")
        return head + counts + table


def _ordered_counts(table: pd.DataFrame) -> pd.DataFrame:
    table = table.assign(_e=table["severity"] != "error").sort_values("_e", kind="stable").drop(columns="_e")
    return table.reset_index(drop=True).reindex(columns=COUNT_COLUMNS)
