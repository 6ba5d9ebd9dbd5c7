"""Turn the rules into one pandera schema, so that a single lazy pass finds every problem."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .rules import Rule

__all__ = ["REQUIRED_CHECK", "build_schema"]

#: pandera's name for a missing required column
REQUIRED_CHECK = "column_in_dataframe"


def _column_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda s, r=rule: pd.Series(r.passes(s.to_frame(name=r.column)), index=s.index),
                    error=rule.key, name=rule.check, ignore_na=False)


def _frame_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda df, r=rule: pd.Series(r.passes(df), index=df.index), error=rule.key, name=rule.check,
                    ignore_na=False)


def _bound_check(rule: Rule, frame: pd.DataFrame) -> pa.Check:
    """A check on the rule's column that sees the whole of ``frame``: pandera then lists one failure
    case per failing row (a frame-level check would list every cell of the row)."""
    return pa.Check(lambda s, r=rule: pd.Series(r.passes(frame), index=s.index), error=rule.key, name=rule.check,
                    ignore_na=False)


def build_schema(rules: Iterable[Rule], required: Iterable[str], name: str = "ipt_trial",
                 bound: pd.DataFrame | None = None) -> pa.DataFrameSchema:
    """A pandera DataFrameSchema running ``rules``; ``required`` columns must be present.

    No dtype is enforced by pandera itself: numbers arriving as text are checked value by value
    by the rules, so a single bad cell is reported with its row instead of failing the column.
    With ``bound``, the schema is for that one table (as :func:`~ipt_outcomes.validate` runs it):
    every rule is a check on its column that reads the table it was built for.
    """
    rules = list(rules)
    columns: dict[str, pa.Column] = {}
    for column in required:
        columns[column] = pa.Column(required=True, nullable=True, name=column)
    frame_checks = []
    for rule in rules:
        on_column = rule.column is not None and (bound is None or rule.column in bound.columns)
        if not on_column or (rule.frame_level and bound is None):
            frame_checks.append(_frame_check(rule))
            continue
        col = columns.setdefault(rule.column, pa.Column(required=False, nullable=True, name=rule.column))
        col.checks.append(_bound_check(rule, bound) if bound is not None else _column_check(rule))
    return pa.DataFrameSchema(columns, checks=frame_checks, name=name, strict=False, coerce=False)


def failing_positions(failure_cases: pd.DataFrame, rule: Rule) -> np.ndarray:
    """Row positions that failed ``rule`` in pandera's failure-case table, in file order."""
    hits = failure_cases[failure_cases["check"] == rule.key]
    if hits.empty:
        return np.zeros(0, dtype=np.int64)
    if hits["index"].isna().any():
        detail = hits["failure_case"].iloc[0]
        raise RuntimeError(f"validation rule {rule.key} failed to run: {detail}")
    return np.unique(hits["index"].to_numpy(dtype=np.int64))
