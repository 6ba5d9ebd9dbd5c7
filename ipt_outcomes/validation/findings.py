"""What validation found: failing row positions per rule, worded into messages only when asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .context import ValidationContext
from .report import COUNT_COLUMNS, FAILURE_COLUMNS, _ordered_counts
from .rules import Rule

__all__ = ["MAX_VALUE_CHARS", "Findings"]

#: longest cell value kept in a report (a 50,000-character cell is shown by its start)
MAX_VALUE_CHARS = 200


class Findings:
    """The positions each rule failed at, and the structural problems (missing columns, no rows)."""

    def __init__(self, frame: pd.DataFrame, labels: pd.Index, ctx: ValidationContext,
                 structural: list[dict[str, Any]], found: list[tuple[Rule, np.ndarray]]) -> None:
        self.frame, self.labels, self.ctx = frame, labels, ctx
        self.structural = structural
        self.found = [(rule, positions) for rule, positions in found if len(positions)]
        self._all: pd.DataFrame | None = None

    def counts(self) -> pd.DataFrame:
        rows = [(r["check"], r["column"], r["severity"], 1) for r in self.structural]
        rows += [(rule.check, rule.column, rule.severity, len(pos)) for rule, pos in self.found]
        table = pd.DataFrame(rows, columns=COUNT_COLUMNS)
        table = table.groupby(["check", "column", "severity"], dropna=False, sort=False)["n"].sum().reset_index()
        return _ordered_counts(table)

    def table(self, per_check: int | None) -> pd.DataFrame:
        """Failures as rows: all, or the first ``per_check`` of each rule; errors first, then file order."""
        if per_check is None and self._all is not None:
            return self._all
        rows: list[dict[str, Any]] = [dict(r) for r in self.structural]
        for rule, positions in self.found:
            shown = positions if per_check is None else positions[:per_check]
            rows.extend(_explain(rule, self.frame, shown, self.labels, self.ctx))
        order = [(r["severity"] != "error", r.pop("_pos", -1)) for r in rows]
        rows = [r for _, r in sorted(zip(order, rows, strict=True), key=lambda pair: pair[0])]
        failures = pd.DataFrame(rows, columns=FAILURE_COLUMNS)
        failures["line"] = failures["line"].astype("Int64")
        if per_check is None:
            self._all = failures
        return failures


def _explain(rule: Rule, frame: pd.DataFrame, positions: np.ndarray, labels: pd.Index,
             ctx: ValidationContext) -> list[dict[str, Any]]:
    pids = (list(frame["participant_id"].iloc[positions].to_numpy(dtype=object)) if "participant_id" in frame.columns
            else [None] * len(positions))
    out = []
    column_text = ctx.column_text(rule.column) if rule.column else "table"
    for (value, text), pos, pid in zip(rule.explain(frame, positions), positions, pids, strict=True):
        file, line, where = ctx.where(int(pos), labels[pos])
        pid_text = f"participant {pid}" if pid is not None and not _is_missing(pid) else "participant unknown"
        out.append({
            "column": rule.column,
            "check": rule.check,
            "row": labels[pos],
            "participant_id": None if _is_missing(pid) else str(pid),
            "value": None if _is_missing(value) else _clip(str(value)),
            "severity": rule.severity,
            "message": f"{where}, {pid_text}, {column_text}: {text}",
            "file": file,
            "line": line,
            "_pos": int(pos),
        })
    return out


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _clip(text: str) -> str:
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."
