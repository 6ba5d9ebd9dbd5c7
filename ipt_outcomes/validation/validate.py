"""``ipt.validate``: check a canonical trial table against the IPT schema, collecting every problem."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from ..arguments import checked, frame
from ..errors import ArgumentTypeError
from ..study import Study, load_study
from ..vocabulary import canonical_spec
from .coded import CodedTable, first_in_group
from .context import ValidationContext
from .findings import Findings
from .report import FAILURE_COLUMNS, ValidationReport
from .rules import Rule, build_rules
from .schema import REQUIRED_CHECK, build_schema, failing_positions, schema_with_helper

__all__ = ["trial_schema", "validate"]

#: tables with this many rows (from, to) have their rules evaluated by two threads
_PARALLEL_ROWS = (50_000, 5_000_000)


def validate(df: pd.DataFrame, study: str | Path | Study | Mapping[str, Any] | None = None) -> ValidationReport:
    """Validate a canonical trial table; never raises on bad data.

    Parameters
    ----------
    df
        The long table (one row per participant x occasion x instrument). Not modified.
    study
        Study description for custom instruments, the planned session maximum and the IPT arms.
        Default: the study the table was loaded with (``df.attrs["ipt_study"]``), if any.

    Returns
    -------
    ValidationReport
        ``ok`` (no errors), ``failures`` (one row per problem: column, check, row, participant_id,
        value, severity, message, file, line), ``errors``, ``warnings``, ``missing_scores``.

    Raises
    ------
    TypeError
        ``df`` is not a pandas DataFrame (an argument error, not a data problem).

    Notes
    -----
    Errors: required columns, a time column (``session`` or ``week``), non-empty identifiers,
    vocabularies of category columns, numbers, whole session counts, values >= 0, dates, known
    instruments, scores inside the instrument's range, unique (trial, participant, time,
    instrument), participant-level columns constant within a participant, at most two distinct
    problem areas. Warnings: no baseline for a participant's instrument, sessions beyond the
    planned maximum, time out of order against dates, a problem area in a non-IPT arm, a
    fractional total on an integer instrument, a secondary problem area without a primary.

    Examples
    --------
    >>> import ipt_outcomes as ipt
    >>> report = ipt.validate(ipt.load(ipt.example_path()))
    >>> report.ok
    True
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError(f"validate() needs a pandas DataFrame, not {type(df).__name__}; "
                            "read files with ipt.load().")
    study_obj = load_study(study) if study is not None else Study.from_attrs(df.attrs.get("ipt_study"))
    source = df.attrs.get("ipt_source")
    labels = df.index
    index_is_original = isinstance(labels, pd.RangeIndex) and labels.start == 0 and labels.step == 1
    frame = df.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    structural: list[dict[str, Any]] = []
    duplicated = frame.columns.duplicated()
    for name in sorted(set(frame.columns[duplicated])):
        structural.append(_row(column=name, check="duplicate_column", message=(
            f"{_file_prefix(source)}column {name!r} appears more than once; rename or remove the copies "
            "(only the first is checked).")))
    frame = frame.loc[:, ~duplicated]
    if frame.empty:
        what = "a header and no rows" if len(frame.columns) else "no columns and no rows"
        structural.append(_row(column=None, check="no_rows", message=(
            f"{_file_prefix(source)}the table has {what}; there is nothing to validate or analyse. Check that the right file "
            "(or Excel sheet, study file read settings) was given and that the export contains data.")))

    ctx = ValidationContext.build(frame, study_obj, source, index_is_original)
    spec = canonical_spec()
    if not ctx.time_columns:
        structural.append(_row(column="session", check="time_column", message=(
            f"{_file_prefix(source)}there is no time column; add 'session' (IPT sessions before the "
            "assessment, 0 = baseline) or 'week' (weeks since baseline), or rename yours in the study file.")))
    required = [c for c, s in spec["columns"].items() if s.get("required")]
    coded = CodedTable(frame)
    coded.prefetch([c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)])
    rules = list(build_rules(frame, ctx, coded))
    # a second thread for the rules where that pays and the results (a bool per row and rule) stay small
    schema, ahead = schema_with_helper(rules, required, frame, parallel=_PARALLEL_ROWS[0] <= len(frame) <= _PARALLEL_ROWS[1])
    try:
        # inplace: no deep copy of the table. On a shallow copy, because pandera registers the schema
        # on the object it validates, and a registration still alive at exit prints a traceback.
        schema.validate(frame.copy(deep=False), lazy=True, inplace=True)
        failure_cases = None
    except pa.errors.SchemaErrors as exc:
        failure_cases = exc.failure_cases
    finally:
        if ahead is not None:
            ahead.close()
    found: list[tuple[Rule, np.ndarray]] = []
    if failure_cases is not None:
        for name in failure_cases.loc[failure_cases["check"] == REQUIRED_CHECK, "failure_case"]:
            structural.append(_row(column=str(name), check="required_column", message=(
                f"{_file_prefix(source)}required column {name!r} is missing; add it, rename the file's "
                f"column in the study file (columns: {{yours: {name}}}), or give it as a constant.")))
        found = [(rule, failing_positions(failure_cases, rule)) for rule in rules]
    missing_scores, n_participants = _missing_scores(frame, coded), _count_participants(frame, coded)
    coded.release()  # messages are worded later, for the rows shown; they recompute what they need
    return ValidationReport(
        findings=Findings(frame, labels, ctx, structural, found),
        missing_scores=missing_scores,
        n_rows=len(frame),
        n_participants=n_participants,
        source=str(source["path"]) if source else None,
        settings={"planned_sessions_max": ctx.planned_sessions_max, "time_columns": list(ctx.time_columns),
                  "study": study_obj.source if study_obj is not None else None},
    )


@checked(df=frame)
def trial_schema(df: pd.DataFrame, study: str | Path | Study | None = None) -> pa.DataFrameSchema:
    """The pandera schema that :func:`validate` runs for this table (for use in your own pipelines)."""
    study_obj = load_study(study) if study is not None else Study.from_attrs(df.attrs.get("ipt_study"))
    frame = df.reset_index(drop=True)
    ctx = ValidationContext.build(frame, study_obj, None, False)
    required = [c for c, s in canonical_spec()["columns"].items() if s.get("required")]
    return build_schema(build_rules(frame, ctx), required)


def _file_prefix(source: Mapping[str, Any] | None) -> str:
    return f"{source['path']}: " if source else ""


def _row(**values: Any) -> dict[str, Any]:
    row = dict.fromkeys(FAILURE_COLUMNS)
    row["severity"] = "error"
    row.update(values)
    return row


def _missing_scores(frame: pd.DataFrame, coded: CodedTable) -> pd.DataFrame:
    columns = ["instrument", "arm", "n_rows", "n_missing"]
    if "score" not in frame.columns:
        return pd.DataFrame(columns=columns)
    keys = [c for c in ("instrument", "arm") if c in frame.columns]
    missing = frame["score"].isna().to_numpy()
    if not keys:
        return pd.DataFrame([{"instrument": None, "arm": None, "n_rows": len(frame),
                              "n_missing": int(missing.sum())}], columns=columns)
    group = coded.group(tuple(keys))
    n_rows = np.bincount(group)
    n_missing = np.bincount(group, weights=missing, minlength=len(n_rows)).astype(int)
    first = np.flatnonzero(first_in_group(group))  # a row of each group, in row order; its group is group[first]
    table = pd.DataFrame({k: [coded.key_texts(k)[c] if c >= 0 else "" for c in coded.keys(k)[first]] for k in keys})
    table = table.assign(n_rows=n_rows[group[first]], n_missing=n_missing[group[first]])
    table = table.sort_values(keys, kind="stable").reset_index(drop=True)
    return table.reindex(columns=columns)


def _count_participants(frame: pd.DataFrame, coded: CodedTable) -> int:
    if "participant_id" not in frame.columns:
        return 0
    person = coded.participant()
    return int(np.count_nonzero(np.bincount(person[person >= 0]))) if (person >= 0).any() else 0
