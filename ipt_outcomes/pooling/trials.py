"""``ipt.load_trials``: several trials, each a data file with its own study file, as one canonical table.

The pooling file (YAML)::

    name: IPT across disorders
    trials:
      - id: DEP1                 # becomes trial_id
        data: depression.csv     # paths relative to the pooling file
        study: depression_study.yaml
      - id: PTSD1
        data: ptsd.csv
        study: ptsd_study.yaml
        constants: {disorder: ptsd}   # optional trial-level columns the data lack

Each trial is loaded with its study (renames, value maps, instruments) and validated on its own; a
trial whose data fail is reported with its id and file, all trials at once. Across trials: ids are
unique, a trial's own ``trial_id`` column (if any) agrees with its id, each trial has at least two
arms and a reference arm (its study's, or the toolkit's rule, stated), participants are keyed
within their trial, and trial-level columns (disorder, population, format) are constant within a
trial (a warning otherwise). The studies' declared instruments are merged; a name declared twice
with different definitions is refused. ``df.attrs["ipt_trials"]`` keeps, per trial, its files,
reference arm and IPT arms.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..arms import choose_reference_arm
from ..errors import DataValidationError, DataWarning, InputFileError, StudyDefinitionError
from ..loading import load
from ..study import check_nesting, load_study, read_yaml

__all__ = ["load_trials", "pooling_inputs", "trial_reference_arms"]

_KEYS = {"name", "description", "trials"}
_TRIAL_KEYS = {"id", "data", "study", "constants"}
TRIAL_LEVEL = ("disorder", "population", "format")


def load_trials(path: str | Path) -> pd.DataFrame:
    """Load and validate every trial of a pooling file (see the module docstring)."""
    from ..validation import validate

    source = Path(path)
    spec = _read(source)
    frames, info, problems = [], {}, []
    instruments: dict[str, Any] = {}
    for entry in spec["trials"]:
        trial_id = entry["id"]
        data = (source.parent / entry["data"]).resolve()  # an absolute path stays itself
        study_path = (source.parent / entry["study"]).resolve() if entry.get("study") is not None else None
        try:
            study = load_study(study_path) if study_path is not None else None
            df = load(data, study=study)
        except (InputFileError, StudyDefinitionError) as exc:
            raise type(exc)(f"{source}: trial {trial_id}: {exc}") from None
        for column, value in (entry.get("constants") or {}).items():
            if column in df.columns:
                raise StudyDefinitionError(f"{source}: trial {trial_id}: constants.{column}: the data already have a "
                                           f"column {column!r}; remove the constant.")
            df[column] = value
        if "trial_id" in df.columns:
            own = sorted({str(v) for v in df["trial_id"].dropna().unique()})
            if own and own != [trial_id]:
                raise StudyDefinitionError(f"{source}: trial {trial_id}: its data ({data}) have trial_id "
                                           f"{', '.join(own)}; make the pooling file's id the same, or drop the column.")
        df["trial_id"] = trial_id
        report = validate(df, study=study) if study is not None else validate(df)
        if not report.ok:
            first = report.errors.iloc[0]
            problems.append(f"trial {trial_id} ({data}): {report.n_errors} error(s), first: {first['message']}")
            continue
        arms = sorted({str(a) for a in df["arm"].dropna().unique()})
        if len(arms) < 2:
            problems.append(f"trial {trial_id} ({data}): one arm only ({', '.join(arms) or 'none'}); a trial effect "
                            "needs two arms.")
            continue
        reference = choose_reference_arm(arms, None, study)
        for column in TRIAL_LEVEL:
            if column in df.columns and df[column].dropna().astype(str).nunique() > 1:
                warnings.warn(f"trial {trial_id}: {column} is not the same for every participant "
                              f"({', '.join(sorted(df[column].dropna().astype(str).unique()))}); analyses by {column} "
                              "treat the trial as a mixture.", DataWarning, stacklevel=2)
        for name, definition in (study.instruments.items() if study is not None else ()):
            if name in instruments and instruments[name] != definition:
                raise StudyDefinitionError(f"{source}: instrument {name} is declared differently by two trials' study "
                                           "files; give it one definition (or different names).")
            instruments[name] = definition
        info[trial_id] = {"data": str(data), "study": str(study_path) if study_path else None,
                          "reference_arm": reference.arm, "reference_arm_how": reference.how, "arms": arms,
                          "ipt_arms": list(study.ipt_arms) if study is not None and study.ipt_arms else None}
        df.attrs = {}
        frames.append(df)
    if len(spec["trials"]) < 2:
        warnings.warn(f"{source} lists one trial: pooling and meta-analysis need at least two.", DataWarning, stacklevel=2)
    if problems:
        raise DataValidationError(f"{source}: {len(problems)} trial(s) failed validation; run ipt-outcomes validate on "
                                  "each: " + "; ".join(problems))
    pooled = pd.concat(frames, ignore_index=True, sort=False)
    for column in pooled.columns:  # text columns stay text across trials
        if pooled[column].dtype == object and all(isinstance(v, str) for v in pooled[column].dropna()):
            pooled[column] = pooled[column].astype("string")
    pooled.attrs["ipt_study"] = {"source": str(source), "spec": {"name": spec.get("name", ""),
                                                                  "instruments": instruments}}
    pooled.attrs["ipt_trials"] = info
    return pooled


def pooling_inputs(path: str | Path) -> list[Path]:
    """Every file a pooling file names (itself, each trial's data and study file): the inputs that
    no output may replace."""
    source = Path(path)
    spec = _read(source)
    out = [source]
    for entry in spec["trials"]:
        out += [(source.parent / entry[key]).resolve() for key in ("data", "study") if entry.get(key) is not None]
    return out


def _read(source: Path) -> dict[str, Any]:
    if not Path(source).exists():
        raise InputFileError(f"{source}: no such pooling file.")
    raw = read_yaml(Path(source), "pooling file")
    check_nesting(raw, str(source), "pooling file")
    if not isinstance(raw, dict) or not isinstance(raw.get("trials"), list) or not raw["trials"]:
        raise StudyDefinitionError(f"{source}: a pooling file needs trials: a list of {{id, data, study}} entries.")
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise StudyDefinitionError(f"{source}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}.")
    seen: set[str] = set()
    for i, entry in enumerate(raw["trials"], 1):
        if not isinstance(entry, dict) or "id" not in entry or "data" not in entry:
            raise StudyDefinitionError(f"{source}: trials[{i}] needs at least id and data.")
        extra = sorted(set(map(str, entry)) - _TRIAL_KEYS)
        if extra:
            raise StudyDefinitionError(f"{source}: trials[{i}]: unknown key(s) {', '.join(extra)}; allowed: "
                                       f"{', '.join(sorted(_TRIAL_KEYS))}.")
        for key in ("data", "study"):
            value = entry.get(key)
            if (value is not None or key == "data") and (not isinstance(value, str) or not value.strip()):
                raise StudyDefinitionError(f"{source}: trials[{i}].{key} must be a file name (a path relative to the "
                                           f"pooling file), not {value!r}.")
        constants = entry.get("constants")
        if constants is not None:
            if not isinstance(constants, dict):
                raise StudyDefinitionError(f"{source}: trials[{i}].constants must map columns to values, e.g. "
                                           f"constants: {{disorder: ptsd}}; not {constants!r}.")
            for column, value in constants.items():
                if not isinstance(column, str) or not (value is None or isinstance(value, str | int | float | bool)):
                    raise StudyDefinitionError(f"{source}: trials[{i}].constants.{column}: a column name with one "
                                               f"value (text or number), not {value!r}.")
        entry["id"] = str(entry["id"])
        if entry["id"] in seen:
            raise StudyDefinitionError(f"{source}: trial id {entry['id']} appears twice; give each trial its own id.")
        seen.add(entry["id"])
    return raw


def trial_reference_arms(df: pd.DataFrame) -> dict[str, str]:
    """Each trial's reference arm as :func:`load_trials` chose it (empty for other tables)."""
    info = df.attrs.get("ipt_trials") or {}
    return {str(k): str(v["reference_arm"]) for k, v in info.items() if isinstance(v, dict) and "reference_arm" in v}

