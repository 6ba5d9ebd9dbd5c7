"""Turn the rules into one pandera schema, so that a single lazy pass finds every problem."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pandera.pandas as pa

from .rules import Rule

__all__ = ["REQUIRED_CHECK", "build_schema"]

#: pandera's name for a missing required column
REQUIRED_CHECK = "column_in_dataframe"


def _column_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda s, r=rule: r.passes(s.to_frame(name=r.column)).astype(bool),
                    error=rule.key, name=rule.check, ignore_na=False)


def _frame_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda df, r=rule: r.passes(df).astype(bool), error=rule.key, name=rule.check, ignore_na=False)


def build_schema(rules: Iterable[Rule], required: Iterable[str], name: str = "ipt_trial") -> pa.DataFrameSchema:
    """A pandera DataFrameSchema running ``rules``; ``required`` columns must be present.

    No dtype is enforced by pandera itself: numbers arriving as text are checked value by value
    by the rules, so a single bad cell is reported with its row instead of failing the column.
    """
    rules = list(rules)
    columns: dict[str, pa.Column] = {}
    for column in required:
        columns[column] = pa.Column(required=True, nullable=True, name=column)
    for rule in rules:
        if rule.frame_level or rule.column is None:
            continue
        col = columns.setdefault(rule.column, pa.Column(required=False, nullable=True, name=rule.column))
        col.checks.append(_column_check(rule))
    frame_checks = [_frame_check(r) for r in rules if r.frame_level]
    return pa.DataFrameSchema(columns, checks=frame_checks, name=name, strict=False, coerce=False)


def failing_positions(failure_cases: pd.DataFrame, rule: Rule) -> list[int]:
    """Row positions that failed ``rule`` in pandera's failure-case table."""
    hits = failure_cases[failure_cases["check"] == rule.key]
    if hits.empty:
        return []
    if hits["index"].isna().any():
        detail = hits["failure_case"].iloc[0]
        raise RuntimeError(f"validation rule {rule.key} failed to run: {detail}")
    return sorted({int(i) for i in hits["index"]})
