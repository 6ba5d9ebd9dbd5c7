"""The result of validation: problems as a DataFrame, never an exception."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import DataValidationError

__all__ = ["FAILURE_COLUMNS", "ValidationReport"]

#: columns of ``ValidationReport.failures`` (``file`` and ``line`` point into the source file)
FAILURE_COLUMNS = ["column", "check", "row", "participant_id", "value", "severity", "message", "file", "line"]


@dataclass
class ValidationReport:
    """Every problem found in one validation pass.

    Attributes
    ----------
    failures : pandas.DataFrame
        One row per problem, errors and warnings alike, with columns ``column`` (canonical column),
        ``check`` (rule name), ``row`` (index label in the validated table), ``participant_id``,
        ``value`` (as text), ``severity`` (``"error"`` or ``"warning"``), ``message`` (what is wrong,
        where, and how to fix it), ``file`` and ``line`` (position in the source file when the table
        came from :func:`ipt_outcomes.load`, else missing).
    missing_scores : pandas.DataFrame
        Per instrument and arm: ``n_rows``, ``n_missing`` scores (missing scores are allowed).
    n_rows, n_participants : int
        Size of the table.
    source : str or None
        The file the table was loaded from, if known.
    """

    failures: pd.DataFrame
    missing_scores: pd.DataFrame
    n_rows: int
    n_participants: int
    source: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)

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
        return not bool((self.failures["severity"] == "error").any())

    @property
    def n_errors(self) -> int:
        return int((self.failures["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        return int((self.failures["severity"] == "warning").sum())

    def raise_for_errors(self) -> None:
        """Raise :class:`~ipt_outcomes.errors.DataValidationError` if there is any error."""
        if not self.ok:
            first = str(self.errors["message"].iloc[0]).rstrip(".")
            more = f" (and {self.n_errors - 1} more)" if self.n_errors > 1 else ""
            raise DataValidationError(f"the data failed validation: {first}{more}. Run ipt.validate() "
                                      "or 'ipt-outcomes validate' to see every problem.", report=self)

    def summary_line(self) -> str:
        where = f"{self.source}: " if self.source else ""
        verdict = "passed" if self.ok else "FAILED"
        n_missing = int(self.missing_scores["n_missing"].sum()) if len(self.missing_scores) else 0
        return (f"{where}validation {verdict}: {self.n_errors} error(s), {self.n_warnings} warning(s) in "
                f"{self.n_rows} rows, {self.n_participants} participants; {n_missing} missing score(s).")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary (used by ``ipt-outcomes validate --json``)."""
        failures = self.failures.astype(object).where(self.failures.notna(), None)
        return {
            "ok": self.ok,
            "source": self.source,
            "n_rows": self.n_rows,
            "n_participants": self.n_participants,
            "n_errors": self.n_errors,
            "n_warnings": self.n_warnings,
            "failures": failures.to_dict(orient="records"),
            "missing_scores": self.missing_scores.to_dict(orient="records"),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def __repr__(self) -> str:
        lines = [self.summary_line()]
        for _, r in self.failures.head(20).iterrows():
            lines.append(f"  [{r['severity']}] {r['check']}: {r['message']}")
        if len(self.failures) > 20:
            lines.append(f"  ... {len(self.failures) - 20} more (see .failures)")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = f"<p><strong>{html.escape(self.summary_line())}</strong></p>"
        if self.failures.empty:
            return head
        table = self.failures.drop(columns=["file"]).head(200).to_html(index=False, escape=True, na_rep="")
        return head + table
