"""Turn the rules into one pandera schema, so that a single lazy pass finds every problem."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from .rules import Rule

__all__ = ["REQUIRED_CHECK", "RulesAhead", "build_schema", "schema_with_helper"]

#: pandera's name for a missing required column
REQUIRED_CHECK = "column_in_dataframe"


def _column_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda s, r=rule: pd.Series(r.passes(s.to_frame(name=r.column)), index=s.index),
                    error=rule.key, name=rule.check, ignore_na=False)


def _frame_check(rule: Rule) -> pa.Check:
    return pa.Check(lambda df, r=rule: pd.Series(r.passes(df), index=df.index), error=rule.key, name=rule.check,
                    ignore_na=False)


class RulesAhead:
    """The rules of one table evaluated by a second thread while pandera runs them in the first.

    pandera calls the checks one after another; the helper thread takes the rules from the last
    one pandera will call, backwards, and the two meet in the middle: NumPy releases the
    interpreter lock in most of a rule's work, so on two cores validation takes about two thirds
    of the time. A rule the helper has not started is cancelled and run by pandera's thread; one
    that raised in the helper is run again there, so that pandera reports the failure as usual.
    The results are the same whichever thread computes them (the rules only read the table and
    fill shared caches with equal values)."""

    def __init__(self, rules: list[Rule], frame: pd.DataFrame) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.frame = frame
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipt-rules")
        self._futures = {id(r): self._pool.submit(r.passes, frame) for r in reversed(rules)}

    def passes(self, rule: Rule) -> np.ndarray:
        future = self._futures.pop(id(rule), None)
        if future is not None and not future.cancel():  # running or done in the helper
            try:
                return future.result()
            except Exception:  # run again below, where pandera catches and reports it
                pass
        return rule.passes(self.frame)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()


def _bound_check(rule: Rule, frame: pd.DataFrame, ahead: RulesAhead | None = None) -> pa.Check:
    """A check on the rule's column that sees the whole of ``frame``: pandera then lists one failure
    case per failing row (a frame-level check would list every cell of the row)."""
    compute = ahead.passes if ahead is not None else (lambda r: r.passes(frame))
    return pa.Check(lambda s, r=rule: pd.Series(compute(r), index=s.index), error=rule.key, name=rule.check,
                    ignore_na=False)


def build_schema(rules: Iterable[Rule], required: Iterable[str], name: str = "ipt_trial",
                 bound: pd.DataFrame | None = None) -> pa.DataFrameSchema:
    """A pandera DataFrameSchema running ``rules``; ``required`` columns must be present.

    No dtype is enforced by pandera itself: numbers arriving as text are checked value by value
    by the rules, so a single bad cell is reported with its row instead of failing the column.
    With ``bound``, the schema is for that one table (as :func:`~ipt_outcomes.validate` runs it):
    every rule is a check on its column that reads the table it was built for.
    """
    return schema_with_helper(rules, required, bound, name=name, parallel=False)[0]


def schema_with_helper(rules: Iterable[Rule], required: Iterable[str], bound: pd.DataFrame | None, *,
                       name: str = "ipt_trial", parallel: bool = True) -> tuple[pa.DataFrameSchema, RulesAhead | None]:
    """:func:`build_schema`, and with ``parallel`` (and ``bound``) a :class:`RulesAhead` that
    evaluates the rules in a second thread too; close it after the validation (None when not used)."""
    rules = list(rules)
    columns: dict[str, pa.Column] = {}
    for column in required:
        columns[column] = pa.Column(required=True, nullable=True, name=column)
    frame_checks = []
    on_columns: list[Rule] = []
    for rule in rules:
        on_column = rule.column is not None and (bound is None or rule.column in bound.columns)
        if not on_column or (rule.frame_level and bound is None):
            frame_checks.append(_frame_check(rule))
            continue
        columns.setdefault(rule.column, pa.Column(required=False, nullable=True, name=rule.column))
        on_columns.append(rule)
    # in the order pandera calls them: column by column, each column's checks as added
    ordered = [r for c in columns for r in on_columns if r.column == c]
    ahead = RulesAhead(ordered, bound) if parallel and bound is not None and ordered else None
    for rule in ordered:
        checks = columns[rule.column].checks
        checks.append(_bound_check(rule, bound, ahead) if bound is not None else _column_check(rule))
    return pa.DataFrameSchema(columns, checks=frame_checks, name=name, strict=False, coerce=False), ahead


def failing_positions(failure_cases: pd.DataFrame, rule: Rule) -> np.ndarray:
    """Row positions that failed ``rule`` in pandera's failure-case table, in file order."""
    hits = failure_cases[failure_cases["check"] == rule.key]
    if hits.empty:
        return np.zeros(0, dtype=np.int64)
    if hits["index"].isna().any():
        detail = hits["failure_case"].iloc[0]
        raise RuntimeError(f"validation rule {rule.key} failed to run: {detail}")
    return np.unique(hits["index"].to_numpy(dtype=np.int64))
