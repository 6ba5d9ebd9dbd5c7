"""What the validation rules need to know besides the data: registry, plan, and where rows came from."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..registry import Registry, default_registry
from ..study import Study
from ..vocabulary import canonical_spec

__all__ = ["ValidationContext"]


@dataclass(frozen=True)
class ValidationContext:
    """Settings shared by every rule of one validation run."""

    registry: Registry
    time_columns: tuple[str, ...]
    planned_sessions_max: int
    ipt_arms: tuple[str, ...] | None
    problem_areas_all_arms: bool
    ipt_pattern: re.Pattern[str]
    file: str | None
    row_word: str
    first_row_number: int
    source_rows: tuple[int, ...] | None
    renamed_from: Mapping[str, str]

    @classmethod
    def build(cls, frame: pd.DataFrame, study: Study | None, source: Mapping[str, Any] | None,
              index_is_original: bool) -> ValidationContext:
        defaults = canonical_spec()["defaults"]
        registry = study.registry() if study is not None else default_registry()
        planned = (study.planned_sessions_max if study is not None and study.planned_sessions_max is not None
                   else int(defaults["planned_sessions_max"]))
        time_columns = tuple(c for c in canonical_spec()["time_columns"] if c in frame.columns)
        usable = bool(source) and index_is_original and source.get("n_rows") == len(frame)
        rows = source.get("rows") if usable else None
        return cls(
            registry=registry,
            time_columns=time_columns,
            planned_sessions_max=planned,
            ipt_arms=study.ipt_arms if study is not None else None,
            problem_areas_all_arms=study is not None and study.problem_areas_assessed == "all",
            ipt_pattern=re.compile(defaults["ipt_arm_pattern"]),
            file=str(source["path"]) if usable else None,
            row_word=str(source.get("row_word", "row")) if usable else "row",
            first_row_number=int(source.get("first_row_number", 1)) if usable else 0,
            source_rows=tuple(rows) if rows is not None else None,
            renamed_from=dict(source.get("columns", {})) if usable else {},
        )

    def is_ipt_arm(self, arm: object) -> bool:
        if not isinstance(arm, str):
            return False
        if self.ipt_arms is not None:
            return arm in self.ipt_arms
        return bool(self.ipt_pattern.search(arm))

    def where(self, position: int, label: object) -> tuple[str | None, int | None, str]:
        """(file, line, text) for a row: the file's own numbering when known, else the row label."""
        if self.file is None:
            return None, None, f"row {label}"
        source_row = self.source_rows[position] if self.source_rows is not None else position
        line = self.first_row_number + int(source_row)
        return self.file, line, f"{self.file} {self.row_word} {line}"

    def column_text(self, column: str) -> str:
        raw = self.renamed_from.get(column)
        return f"column {column!r}" + (f" (file column {raw!r})" if raw and raw != column else "")
