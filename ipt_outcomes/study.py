"""Study descriptions: how a raw export maps onto the canonical table, and what the trial planned.

A study file is YAML. Every key is optional::

    name: PPD-IPT pilot
    reference_arm: TAU
    primary_instrument: HAMD17
    ipt_arms: [IPT]                  # default: arms whose name contains IPT / IPSRT / interpersonal
    problem_areas_assessed: all      # rated at intake in every arm (default: ipt, IPT arms only)
    sessions: {min: 12, max: 16}     # the planned number of IPT sessions
    read: {delimiter: ";", decimal: ",", encoding: latin-1, sheet: Data, date_format: "%d.%m.%Y"}
    columns: {ID: participant_id, group: arm, pa: problem_area}     # raw name -> canonical name
    values:                                                          # per canonical column
      arm: {1: IPT, 2: TAU}
    constants: {disorder: perinatal_depression, trial_id: PPD1}      # same value on every row
    reshape:                         # wide -> long: bdi.pre, bdi.post, bdi.2m ... become rows
      separator: "."
      measures: {bdi: BDI2, hamd: HAMD17}          # column prefix -> instrument
      occasions:                                   # suffix -> time values of that occasion
        pre:  {session: 0, week: 0}
        post: {session: 16, week: 16}
        2m:   {session: 16, week: 24.7, month: 2}
    instruments:                     # instruments the registry does not know (or overrides)
      MADRS: {min: 0, max: 60, higher_is: worse, reliability: 0.86}
    model:                           # the analysis plan's primary model, fitted by ``report``
      formula: "HAMD17 ~ session * arm + baseline + (session || participant_id)"
      method: reml                   # or ml
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from .errors import ArgumentTypeError, InputFileError, RegistryError, StudyDefinitionError
from .registry import Registry, default_registry

__all__ = ["Study", "TimeColumn", "load_study", "primary_outcome", "registry_in_force", "time_column"]

_TOP_KEYS = {
    "name", "description", "reference_arm", "primary_instrument", "ipt_arms", "problem_areas_assessed", "sessions", "read",
    "columns", "values", "constants", "reshape", "instruments", "time", "model", "primary_analysis", "mmrm", "visits",
    "labels", "characteristics",
}
_MMRM_KEYS = {"visit", "covariance", "df", "method", "covariates", "baseline", "group_covariance", "baseline_visit",
              "formula", "arm"}
_MODEL_KEYS = {"formula", "method"}
_READ_KEYS = {"delimiter", "decimal", "encoding", "sheet", "date_format", "dayfirst", "na_values"}
_RESHAPE_KEYS = {"separator", "measures", "occasions", "id_columns"}
_TIME_KEYS = {"session", "week"}


@dataclass(frozen=True)
class Study:
    """A parsed study description. Build it with :func:`load_study` or ``Study.from_mapping``."""

    name: str = ""
    source: str = "<study>"
    reference_arm: str | None = None
    primary_instrument: str | None = None
    ipt_arms: tuple[str, ...] | None = None
    problem_areas_assessed: str = "ipt"
    planned_sessions_min: int | None = None
    planned_sessions_max: int | None = None
    time: str | None = None
    read: Mapping[str, Any] = field(default_factory=dict)
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[Any, Any]] = field(default_factory=dict)
    constants: Mapping[str, Any] = field(default_factory=dict)
    reshape: Mapping[str, Any] | None = None
    instruments: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the analysis plan's model (``formula``, optional ``method``) that ``report`` fits as the primary model
    model: Mapping[str, Any] = field(default_factory=dict)
    #: what ``report`` leads with: ``growth`` (default) or ``mmrm`` (with the ``mmrm`` options)
    primary_analysis: str = "growth"
    #: the MMRM of the analysis plan: visit, covariance, df, method, covariates, baseline, group_covariance
    mmrm: Mapping[str, Any] = field(default_factory=dict)
    #: visit windows of the MMRM: planned visit -> (first, last) assessment time mapped to it
    visits: Mapping[float, tuple[float, float]] = field(default_factory=dict)
    #: labels of columns for tables and text (``labels: {age: "Age, years", employment: Employment}``)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: further baseline characteristics for Table 1 (columns of the canonical table, after ``columns``)
    characteristics: tuple[str, ...] = ()
    #: the mapping the study was built from (JSON-ready; kept in ``df.attrs["ipt_study"]``)
    spec: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def registry(self, base: Registry | None = None) -> Registry:
        """The instrument registry extended with this study's instruments."""
        base = base if base is not None else default_registry()
        return base.extended(self.instruments, origin=self.source) if self.instruments else base

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "<study>") -> Study:
        """Check a parsed YAML mapping and build a :class:`Study`; errors name the offending key."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise StudyDefinitionError(f"{source}: the study file must be a mapping of keys, "
                                       f"not {type(raw).__name__}.")
        check_nesting(raw, source, "study description")
        _no_unknown(raw, _TOP_KEYS, source, "")
        read = _check_read(_mapping(raw.get("read"), source, "read"), source)
        columns = _mapping(raw.get("columns"), source, "columns")
        for raw_name, canonical in columns.items():
            if not isinstance(canonical, str):
                raise StudyDefinitionError(f"{source}: columns.{raw_name} must name a column, "
                                           f"not {canonical!r}.")
        values = _mapping(raw.get("values"), source, "values")
        for column, mapping in values.items():
            _mapping(mapping, source, f"values.{column}")
        sessions = _mapping(raw.get("sessions"), source, "sessions")
        _no_unknown(sessions, {"min", "max"}, source, "sessions.")
        s_min = _int(sessions.get("min"), source, "sessions.min")
        s_max = _int(sessions.get("max"), source, "sessions.max")
        if s_min is not None and s_max is not None and s_min > s_max:
            raise StudyDefinitionError(f"{source}: sessions.min ({s_min}) is above sessions.max ({s_max}).")
        ipt_arms = raw.get("ipt_arms")
        if ipt_arms is not None:
            if isinstance(ipt_arms, str):
                ipt_arms = [ipt_arms]
            if not isinstance(ipt_arms, list):
                raise StudyDefinitionError(f"{source}: ipt_arms must be a list of arm names.")
            ipt_arms = tuple(str(a) for a in ipt_arms)
        assessed = str(raw.get("problem_areas_assessed", "ipt"))
        if assessed not in ("ipt", "all"):
            raise StudyDefinitionError(f"{source}: problem_areas_assessed must be 'ipt' (IPT arms only) or 'all' "
                                       f"(rated at intake in every arm), not {assessed!r}.")
        reshape = raw.get("reshape")
        if reshape is not None:
            reshape = _check_reshape(reshape, source)
        instruments = _mapping(raw.get("instruments"), source, "instruments")
        model = _check_model(_mapping(raw.get("model"), source, "model"), source)
        primary_analysis = str(raw.get("primary_analysis", "growth"))
        if primary_analysis not in ("growth", "mmrm"):
            raise StudyDefinitionError(f"{source}: primary_analysis must be 'growth' (the growth model, or model.formula) "
                                       f"or 'mmrm' (the mixed model for repeated measures), not {primary_analysis!r}.")
        mmrm = _check_mmrm(_mapping(raw.get("mmrm"), source, "mmrm"), source)
        visits = _check_visits(_mapping(raw.get("visits"), source, "visits"), source)
        labels = _mapping(raw.get("labels"), source, "labels")
        for column, label in labels.items():
            if not isinstance(label, str) or not label.strip():
                raise StudyDefinitionError(f"{source}: labels.{column} must be a text label, not {label!r}.")
        characteristics = raw.get("characteristics") or []
        if isinstance(characteristics, str):
            characteristics = [characteristics]
        if not isinstance(characteristics, list) or not all(isinstance(c, str) and c.strip() for c in characteristics):
            raise StudyDefinitionError(f"{source}: characteristics must be a list of column names "
                                       "(the baseline characteristics of Table 1).")
        primary = None if raw.get("primary_instrument") is None else str(raw["primary_instrument"])
        if model and primary is not None and model["response"] != primary:
            raise StudyDefinitionError(f"{source}: model.formula is a model of {model['response']} but primary_instrument "
                                       f"is {primary}; make them the same instrument.")
        study = cls(
            name=str(raw.get("name", "")),
            source=source,
            reference_arm=None if raw.get("reference_arm") is None else str(raw["reference_arm"]),
            primary_instrument=primary if primary is not None else model.get("response"),
            ipt_arms=ipt_arms,
            problem_areas_assessed=assessed,
            planned_sessions_min=s_min,
            planned_sessions_max=s_max,
            time=None if raw.get("time") is None else str(raw["time"]),
            read=dict(read),
            columns={str(k): v for k, v in columns.items()},
            values={str(k): dict(v) for k, v in values.items()},
            constants=dict(_mapping(raw.get("constants"), source, "constants")),
            reshape=reshape,
            instruments={str(k): v for k, v in instruments.items()},
            model={k: v for k, v in model.items() if k != "response"},
            primary_analysis=primary_analysis,
            mmrm=mmrm,
            visits=visits,
            labels={str(k): str(v).strip() for k, v in labels.items()},
            characteristics=tuple(dict.fromkeys(c.strip() for c in characteristics)),
            spec={"source": source, "spec": _plain(raw)},
        )
        try:
            study.registry()  # checks the declared instruments now, with the study file named
        except RegistryError as exc:
            raise StudyDefinitionError(str(exc)) from None
        return study

    @classmethod
    def from_attrs(cls, value: Any) -> Study | None:
        """Rebuild the study kept in ``df.attrs["ipt_study"]`` (None if absent or not a study)."""
        if isinstance(value, Study):
            return value
        if isinstance(value, Mapping) and "spec" in value:
            return cls.from_mapping(value["spec"], source=str(value.get("source", "<study>")))
        return None


def primary_outcome(df: Any, given: str | None = None, study: Study | None = None) -> str:
    """The outcome to analyse: ``given``, else the study's primary instrument (``study`` or the one
    the table was loaded with), else the table's only instrument."""
    from .errors import ArgumentError

    if given is not None:
        return given
    study = study if study is not None else Study.from_attrs(df.attrs.get("ipt_study"))
    if study is not None and study.primary_instrument:
        return study.primary_instrument
    instruments = sorted(df["instrument"].dropna().astype(str).unique())
    if len(instruments) != 1:
        raise ArgumentError(f"name the outcome (--outcome); the data hold {', '.join(instruments)}.")
    return instruments[0]


def registry_in_force(df: Any = None, registry: Registry | None = None, study: Study | None = None) -> Registry:
    """The instrument registry every analysis of ``df`` uses: ``registry`` if given, else the
    registry extended with the study's declared instruments (``study``, or the one the table was
    loaded with), else the shipped registry. One function, so that a study's direction,
    reliability and reliable-change points reach clinical change, sudden gains, sensitivity
    analyses, figures and reports alike."""
    if registry is not None:
        return registry
    if study is None and df is not None:
        study = Study.from_attrs(getattr(df, "attrs", {}).get("ipt_study"))
    return study.registry() if study is not None else default_registry()


@dataclass(frozen=True)
class TimeColumn:
    """The time column of an analysis and how it was chosen (``given``, ``study``, ``only``, ``default``)."""

    column: str
    how: str

    @property
    def statement(self) -> str:
        reasons = {"given": "as requested", "study": "from the study file's time key",
                   "only": "the only time column in the data", "default": "sessions are the default; set time=\"week\" for weeks"}
        return f"time column {self.column} ({reasons[self.how]})"


def time_column(df: Any, given: str | None = None, study: Study | None = None) -> TimeColumn:
    """The time column: ``given``, else the study's ``time:``, else ``session`` when the data have it
    with values, else ``week``. Raises ArgumentError when the column is absent."""
    from .errors import ArgumentError

    columns = list(getattr(df, "columns", []))

    def present(name: str) -> bool:
        return name in columns and bool(df[name].notna().any())

    if given is not None:
        if given not in columns:
            raise ArgumentError(f"time column {given!r} is not in the data; columns: {', '.join(map(str, columns))}.")
        _numeric_time(df, given, "")
        return TimeColumn(str(given), "given")
    study = study if study is not None else Study.from_attrs(getattr(df, "attrs", {}).get("ipt_study"))
    if study is not None and study.time:
        if study.time not in columns:
            raise ArgumentError(f"{study.source}: time column {study.time!r} is not in the data.")
        _numeric_time(df, study.time, f"{study.source}: ")
        return TimeColumn(study.time, "study")
    has_session, has_week = present("session"), present("week")
    if has_session:
        return TimeColumn("session", "default" if has_week else "only")
    if has_week:
        return TimeColumn("week", "only")
    raise ArgumentError("the data have no time column with values: add session (sessions received) or week "
                        "(weeks since baseline), or name another numeric column with time=.")


def _numeric_time(df: Any, name: str, where: str) -> None:
    """A time column holds numbers (session and week are checked, row by row, by validation)."""
    import pandas as pd

    from .errors import ArgumentError

    column = df[name]
    if name in ("session", "week") or (pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)):
        return
    example = column.dropna()
    shown = f" (e.g. {str(example.iloc[0])[:40]!r})" if len(example) else ""
    raise ArgumentError(f"{where}time column {name!r} does not hold numbers{shown}; give a column of sessions, weeks "
                        "or days since baseline.")


def load_study(path: str | Path | Study | Mapping[str, Any] | None) -> Study | None:
    """Read a study description from a YAML file (or pass a Study or mapping through)."""
    if path is None or isinstance(path, Study):
        return path
    if isinstance(path, Mapping):
        return Study.from_mapping(path, source="<study mapping>")
    if not isinstance(path, (str, PathLike)) or not str(path).strip():
        raise ArgumentTypeError(f"study must be the path of a study file (YAML), a Study or a mapping, "
                                f"not {type(path).__name__} {str(path)[:40]!r}.")
    p = Path(path)
    return Study.from_mapping(read_yaml(p, "study file"), source=str(p))


_MAX_STUDY_BYTES = 1_000_000
#: most values (mappings, lists and scalars, counted each time they are reached) and deepest nesting of
#: a study or pooling description: far above any real one, far below what exhausts memory
_MAX_NODES, _MAX_DEPTH = 100_000, 50


def read_yaml(p: Path, what: str) -> Any:
    """A study or pooling file: a regular file of at most 1 MB, UTF-8, YAML's safe subset without aliases.
    Every problem is a StudyDefinitionError naming the file (and the line of a YAML error)."""
    from .io.files import regular_file_size

    try:
        size = regular_file_size(p, what)
    except InputFileError as exc:
        raise StudyDefinitionError(str(exc)) from None
    if size > _MAX_STUDY_BYTES:
        raise StudyDefinitionError(f"{p}: {size:,} bytes is too large for a {what} (at most "
                                   f"{_MAX_STUDY_BYTES:,}); is this a data file given in its place?")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyDefinitionError(f"{p}: cannot read the {what} ({exc}); save it as UTF-8 text.") from None
    try:
        raw = yaml.load(text, Loader=_StudyLoader)
    except RecursionError:
        raise StudyDefinitionError(f"{p}: nested too deeply to be a {what}; check the indentation.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise StudyDefinitionError(f"{p}: not valid YAML{where}: {problem}. Check the indentation "
                                   "and quote values that contain ':' or '#'.") from None
    return raw


def check_nesting(raw: Any, source: str, what: str) -> None:
    """Refuse a mapping that contains itself, nests deeper than 50 levels or holds more than 100,000
    values counted along every path (shared parts counted each time: how a few objects stand for
    gigabytes), before anything copies or walks it recursively."""
    stack: list[tuple[Any, int, tuple[int, ...]]] = [(raw, 0, ())]
    seen = 0
    while stack:
        value, depth, path = stack.pop()
        seen += 1
        if seen > _MAX_NODES:
            raise StudyDefinitionError(f"{source}: the {what} holds more than {_MAX_NODES:,} values (parts repeated "
                                       "by reference count each time); a study needs a few hundred.")
        if depth > _MAX_DEPTH:
            raise StudyDefinitionError(f"{source}: the {what} is nested more than {_MAX_DEPTH} levels deep.")
        if isinstance(value, Mapping | list | tuple):
            if id(value) in path:
                raise StudyDefinitionError(f"{source}: the {what} contains itself (a mapping or list inside its own "
                                           "values); write the values out.")
            inner = (*path, id(value))
            children = value.values() if isinstance(value, Mapping) else value
            stack.extend((child, depth + 1, inner) for child in children)


class _StudyLoader(yaml.SafeLoader):
    """YAML's safe subset without aliases: a study file needs no anchors, and aliases are how a
    few hundred bytes expand to gigabytes (nested aliases) or never end (a node that contains itself)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"an alias (*{event.anchor}) repeats an earlier part of the file; aliases are "
                "not allowed in a study or pooling file, write the values out", event.start_mark)
        return super().compose_node(parent, index)


def _plain(value: Any) -> Any:
    """A JSON-ready copy of parsed YAML (keys as text, dates as ISO strings)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _mapping(value: Any, source: str, key: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise StudyDefinitionError(f"{source}: {key} must be a mapping (key: value lines), "
                                   f"not {type(value).__name__}.")
    return value


def _no_unknown(raw: Mapping[Any, Any], allowed: set[str], source: str, prefix: str) -> None:
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise StudyDefinitionError(
            f"{source}: unknown key{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(prefix + k for k in unknown)}; allowed: {', '.join(prefix + k for k in sorted(allowed))}."
        )


def _check_read(read: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """The ``read:`` options, each of the type the readers need; ``na_values`` a list of texts (a single
    value is one missing code, never split into characters)."""
    _no_unknown(read, _READ_KEYS, source, "read.")
    out = dict(read)
    for key in ("delimiter", "decimal", "encoding", "date_format"):
        value = out.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise StudyDefinitionError(f"{source}: read.{key} must be a text, e.g. {_READ_EXAMPLES[key]}, "
                                       f"not {value!r}.")
    if out.get("delimiter") is not None and len(out["delimiter"]) != 1:
        raise StudyDefinitionError(f"{source}: read.delimiter must be one character (',', ';', tab or '|'), "
                                   f"not {out['delimiter']!r}.")
    if out.get("decimal") not in (None, ".", ","):
        raise StudyDefinitionError(f"{source}: read.decimal must be '.' or ',', not {out['decimal']!r}.")
    if out.get("dayfirst") is not None and not isinstance(out["dayfirst"], bool):
        raise StudyDefinitionError(f"{source}: read.dayfirst must be true or false, not {out['dayfirst']!r}.")
    if out.get("sheet") is not None and (isinstance(out["sheet"], bool)
                                         or not isinstance(out["sheet"], (str, int)) or out["sheet"] == ""):
        raise StudyDefinitionError(f"{source}: read.sheet must be a sheet name or number, not {out['sheet']!r}.")
    na = out.get("na_values")
    if na is not None:
        values = na if isinstance(na, list) else [na]
        bad = [v for v in values if isinstance(v, (bool, Mapping, list)) or v is None]
        if bad:
            raise StudyDefinitionError(f"{source}: read.na_values must be a missing-value code or a list of "
                                       f"them, e.g. na_values: ['-99', '999']; {bad[0]!r} is not one.")
        out["na_values"] = [str(v) for v in values]
    return out


_READ_EXAMPLES = {"delimiter": "';'", "decimal": "','", "encoding": "latin-1", "date_format": "'%d.%m.%Y'"}


def _check_model(model: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """``model: {formula: "HAMD17 ~ session * arm + (session | participant_id)", method: reml}``: the
    formula read now (syntax errors name the study file); ``response`` is its left side."""
    if not model:
        return {}
    _no_unknown(model, _MODEL_KEYS, source, "model.")
    formula = model.get("formula")
    if not isinstance(formula, str) or not formula.strip():
        raise StudyDefinitionError(f"{source}: model.formula must be a formula in lme4 notation, e.g. "
                                   "\"HAMD17 ~ session * arm + (session | participant_id)\".")
    method = str(model.get("method", "reml")).lower()
    if method not in ("reml", "ml"):
        raise StudyDefinitionError(f"{source}: model.method must be reml or ml, not {model.get('method')!r}.")
    from .errors import ArgumentError
    from .models.formula import parse_formula

    try:
        parsed = parse_formula(formula)
    except ArgumentError as exc:
        raise StudyDefinitionError(f"{source}: model.formula: {exc}") from None
    return {"formula": formula, "method": method, "response": parsed.response}


def _check_mmrm(mmrm: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """``mmrm: {visit: week, covariance: us, df: kenward-roger, method: reml, covariates: [sex],
    baseline: covariate, baseline_visit: screening, group_covariance: arm}``, every key optional; or
    ``mmrm: {formula: "CHANGE ~ BASVAL*VISIT + THERAPY*VISIT + us(VISIT | PATIENT)", arm: THERAPY, df:
    kenward-roger, method: reml}``."""
    from .mmrm.options import DF_METHODS, STRUCTURES

    _no_unknown(mmrm, _MMRM_KEYS, source, "mmrm.")
    out: dict[str, Any] = {}
    if mmrm.get("formula") is not None:
        from .errors import ArgumentError
        from .formula import parse_formula

        formula = mmrm["formula"]
        if not isinstance(formula, str):
            raise StudyDefinitionError(f"{source}: mmrm.formula must be a formula, e.g. \"CHANGE ~ BASVAL*VISIT + "
                                       "THERAPY*VISIT + us(VISIT | PATIENT)\".")
        try:
            parsed = parse_formula(formula)
        except ArgumentError as exc:
            raise StudyDefinitionError(f"{source}: mmrm.formula: {exc}") from None
        if parsed.covariance is None:
            raise StudyDefinitionError(f"{source}: mmrm.formula has no covariance term such as us(VISIT | PATIENT).")
        clash = sorted(set(mmrm) & {"visit", "covariance", "covariates", "baseline", "group_covariance",
                                    "baseline_visit"})
        if clash:
            raise StudyDefinitionError(f"{source}: mmrm.formula states the whole model; remove mmrm.{', mmrm.'.join(clash)}.")
        out["formula"] = formula
        if mmrm.get("arm") is not None:
            out["arm"] = str(mmrm["arm"])
    elif mmrm.get("arm") is not None:
        raise StudyDefinitionError(f"{source}: mmrm.arm names the treatment column of mmrm.formula; give the formula.")
    choices = {"covariance": STRUCTURES, "df": DF_METHODS, "method": ("reml", "ml"), "baseline": ("covariate", "none"),
               "group_covariance": ("arm",)}
    for key, allowed in choices.items():
        if mmrm.get(key) is not None:
            value = str(mmrm[key]).lower()
            if value not in allowed:
                raise StudyDefinitionError(f"{source}: mmrm.{key} must be one of {', '.join(allowed)}, not {mmrm[key]!r}.")
            out[key] = value
    if out.get("df") == "kenward-roger" and out.get("method") == "ml":
        raise StudyDefinitionError(f"{source}: mmrm.df kenward-roger is defined for REML fits; set mmrm.method to reml.")
    for key in ("visit", "baseline_visit"):
        if mmrm.get(key) is not None:
            if not isinstance(mmrm[key], str | int | float) or isinstance(mmrm[key], bool):
                raise StudyDefinitionError(f"{source}: mmrm.{key} must be a name, not {mmrm[key]!r}.")
            out[key] = mmrm[key] if isinstance(mmrm[key], str) else f"{mmrm[key]:g}"
    covariates = mmrm.get("covariates")
    if covariates is not None:
        if isinstance(covariates, str):
            covariates = [covariates]
        if not isinstance(covariates, list) or not all(isinstance(c, str) for c in covariates):
            raise StudyDefinitionError(f"{source}: mmrm.covariates must be a list of column names.")
        out["covariates"] = list(covariates)
    return out


def _check_visits(visits: Mapping[Any, Any], source: str) -> dict[float, tuple[float, float]]:
    """``visits: {4: [3, 5], 8: [7, 9]}``: each planned visit with the window of assessment times
    (inclusive) mapped to it; windows may not overlap and must hold their visit."""
    out: dict[float, tuple[float, float]] = {}
    for planned, window in visits.items():
        try:
            value = float(planned)
            lo, hi = (float(w) for w in window)
        except (TypeError, ValueError):
            raise StudyDefinitionError(f"{source}: visits.{planned} must be a planned visit (a number) with a window "
                                       f"[first, last] of assessment times, e.g. visits: {{4: [3, 5]}}.") from None
        if not all(math.isfinite(v) for v in (value, lo, hi)):
            raise StudyDefinitionError(f"{source}: visits.{planned}: a planned visit and its window are finite numbers "
                                       f"(not {planned!r}: [{lo:g}, {hi:g}]); give the last assessment time that counts, "
                                       "e.g. visits: {4: [3, 5]}.")
        if not lo <= value <= hi:
            raise StudyDefinitionError(f"{source}: visits.{planned}: the window [{lo:g}, {hi:g}] does not contain the "
                                       "visit; give [first, last] around it.")
        out[value] = (lo, hi)
    ordered = sorted(out.items(), key=lambda kv: kv[1])
    for (a, (_, hi_a)), (b, (lo_b, _)) in itertools.pairwise(ordered):
        if lo_b <= hi_a:
            raise StudyDefinitionError(f"{source}: visits {a:g} and {b:g} have overlapping windows; an assessment "
                                       "must belong to one planned visit.")
    return out


def _int(value: Any, source: str, key: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StudyDefinitionError(f"{source}: {key} must be a whole number >= 0, not {value!r}.")
    return value


def _check_reshape(reshape: Any, source: str) -> dict[str, Any]:
    reshape = dict(_mapping(reshape, source, "reshape"))
    _no_unknown(reshape, _RESHAPE_KEYS, source, "reshape.")
    measures = _mapping(reshape.get("measures"), source, "reshape.measures")
    if not measures:
        raise StudyDefinitionError(f"{source}: reshape.measures is empty; map each column prefix to its "
                                   "instrument, e.g. 'measures: {bdi: BDI2}'.")
    occasions = _mapping(reshape.get("occasions"), source, "reshape.occasions")
    if not occasions:
        raise StudyDefinitionError(f"{source}: reshape.occasions is empty; give each column suffix its "
                                   "time values, e.g. 'pre: {session: 0, week: 0}'.")
    for label, times in occasions.items():
        times = _mapping(times, source, f"reshape.occasions.{label}")
        if not _TIME_KEYS & set(times):
            raise StudyDefinitionError(f"{source}: reshape.occasions.{label} gives no session or week; "
                                       "each occasion needs at least one of them.")
        for column, value in times.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise StudyDefinitionError(f"{source}: reshape.occasions.{label}.{column} must be a number, "
                                           f"not {value!r}.")
    separator = str(reshape.get("separator", "."))
    id_columns = reshape.get("id_columns")
    if id_columns is not None and not isinstance(id_columns, list):
        raise StudyDefinitionError(f"{source}: reshape.id_columns must be a list of column names.")
    return {
        "separator": separator,
        "measures": {str(k): str(v) for k, v in measures.items()},
        "occasions": {str(k): dict(v) for k, v in occasions.items()},
        "id_columns": None if id_columns is None else [str(c) for c in id_columns],
        "pattern": re.compile(
            "^(?P<measure>" + "|".join(re.escape(str(m)) for m in sorted(measures, key=len, reverse=True))
            + ")" + re.escape(separator) + "(?P<occasion>" +
            "|".join(re.escape(str(o)) for o in sorted(occasions, key=len, reverse=True)) + ")$"
        ),
    }
