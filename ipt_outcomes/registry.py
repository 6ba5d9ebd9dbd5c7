"""The instrument registry: ranges, direction, cut-offs, reliability and norms of each instrument.

The registry is a YAML file shipped in ``data_schemas/instruments.yaml``. A study description can
declare further instruments (or override values of known ones); :meth:`Registry.extended` returns a
registry that holds both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import RegistryError
from .resources import read_yaml_resource
from .vocabulary import fold

__all__ = ["Instrument", "Registry", "default_registry"]


@dataclass(frozen=True)
class Instrument:
    """One outcome instrument and the facts the toolkit needs about it."""

    key: str
    name: str
    min: float
    max: float
    higher_is: Literal["worse", "better"] = "worse"
    integer: bool = True
    full_name: str = ""
    items: int | None = None
    unit: str = "points"
    aliases: tuple[str, ...] = ()
    cutoffs: Mapping[str, Any] = field(default_factory=dict)
    reliability: float | None = None
    reliability_verified: bool = True
    reliability_source: str = ""
    reliable_change_points: float | None = None
    norms: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    declared_by_study: bool = False

    @property
    def label(self) -> str:
        """Axis label: display name and unit, e.g. ``"HAM-D 17 (points)"``."""
        return f"{self.name} ({self.unit})"

    @classmethod
    def from_mapping(cls, key: str, spec: Mapping[str, Any], *, declared_by_study: bool = False,
                     origin: str = "instrument registry") -> Instrument:
        """Build an instrument from a registry or study entry, checking every field."""
        where = f"{origin}, instrument {key!r}"
        if not isinstance(spec, Mapping):
            raise RegistryError(f"{where}: expected a mapping of fields, got {type(spec).__name__}.")
        for required in ("min", "max"):
            if required not in spec:
                raise RegistryError(f"{where}: field {required!r} is missing; give the lowest and "
                                    "highest possible total score as min and max.")
        lo, hi = _number(spec["min"], where, "min"), _number(spec["max"], where, "max")
        if not lo < hi:
            raise RegistryError(f"{where}: min ({lo}) must be smaller than max ({hi}).")
        direction = str(spec.get("higher_is", spec.get("direction", "worse"))).lower()
        if direction not in ("worse", "better"):
            raise RegistryError(f"{where}: higher_is must be 'worse' or 'better', not {direction!r}.")
        reliability = spec.get("reliability")
        rel_value, rel_verified, rel_source = None, True, ""
        if isinstance(reliability, Mapping):
            rel_value = reliability.get("value")
            rel_verified = bool(reliability.get("verified", True))
            rel_source = str(reliability.get("source", ""))
            kind = str(reliability.get("type", "")).lower()
            if "inter-rater" in kind or "interrater" in kind or "inter rater" in kind:
                raise RegistryError(f"{where}: reliability of type {reliability.get('type')!r}: the reliable change "
                                    "index (Jacobson & Truax 1991) needs test-retest reliability or internal "
                                    "consistency (Cronbach's alpha), not agreement between raters; give one of those "
                                    "with its source.")
        elif reliability is not None:
            rel_value = reliability
        if rel_value is not None:
            rel_value = _number(rel_value, where, "reliability")
            if not 0 < rel_value < 1:
                raise RegistryError(f"{where}: reliability must lie between 0 and 1, not {rel_value}.")
        rc = spec.get("reliable_change")
        rc_points = rc.get("points") if isinstance(rc, Mapping) else rc
        return cls(
            key=key,
            name=str(spec.get("name", key)),
            full_name=str(spec.get("full_name", spec.get("name", key))),
            min=lo,
            max=hi,
            higher_is=direction,  # type: ignore[arg-type]
            integer=bool(spec.get("integer", False)),
            items=spec.get("items"),
            unit=str(spec.get("unit", "points")),
            aliases=tuple(str(a) for a in spec.get("aliases") or ()),
            cutoffs=dict(spec.get("cutoffs") or {}),
            reliability=rel_value,
            reliability_verified=rel_verified,
            reliability_source=rel_source,
            reliable_change_points=None if rc_points is None else _number(rc_points, where, "reliable_change"),
            norms=dict(spec.get("norms") or {}),
            sources=tuple(str(s) for s in spec.get("sources") or ()),
            declared_by_study=declared_by_study,
        )


def _number(value: Any, where: str, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RegistryError(f"{where}: {name} must be a number, not {value!r}.") from None
    if not math.isfinite(number):
        raise RegistryError(f"{where}: {name} must be finite, not {value!r}.")
    return number


class Registry(Mapping[str, Instrument]):
    """A read-only mapping of instrument key to :class:`Instrument`, with alias look-up."""

    def __init__(self, instruments: Mapping[str, Instrument]) -> None:
        self._instruments = dict(instruments)
        self._aliases: dict[str, str] = {}
        # a key always names itself (a study's BDI is not the registry's BDI-II, whose alias BDI is),
        # then a study's aliases, then the registry's
        for key in self._instruments:
            self._aliases[fold(key)] = key
        ordered = sorted(self._instruments.items(), key=lambda item: not item[1].declared_by_study)
        for key, inst in ordered:
            for spelling in inst.aliases:
                self._aliases.setdefault(fold(spelling), key)

    def __getitem__(self, key: str) -> Instrument:
        try:
            return self._instruments[key]
        except KeyError:
            raise RegistryError(
                f"Instrument {key!r} is not in the registry. Known instruments: "
                f"{', '.join(sorted(self._instruments))}. Declare it in the study file under "
                "'instruments:' with min, max and higher_is."
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._instruments)

    def __len__(self) -> int:
        return len(self._instruments)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self._instruments)})"

    def resolve(self, spelling: object) -> str | None:
        """Return the registry key for a spelling or alias (``"HAM-D"`` -> ``"HAMD17"``), else None."""
        if not isinstance(spelling, str):
            return None
        return self._aliases.get(fold(spelling))

    def extended(self, declared: Mapping[str, Mapping[str, Any]], origin: str = "study file") -> Registry:
        """Return a registry with study-declared instruments added (or known ones overridden)."""
        merged = dict(self._instruments)
        for key, spec in declared.items():
            if key in merged and isinstance(spec, Mapping):
                base = merged[key]
                known = {
                    "name": base.name, "full_name": base.full_name, "min": base.min, "max": base.max,
                    "higher_is": base.higher_is, "integer": base.integer, "items": base.items,
                    "unit": base.unit, "aliases": list(base.aliases), "cutoffs": dict(base.cutoffs),
                    "reliability": {"value": base.reliability, "verified": base.reliability_verified,
                                    "source": base.reliability_source},
                    "reliable_change": base.reliable_change_points, "norms": dict(base.norms),
                    "sources": list(base.sources),
                }
                spec = {**known, **spec}
            merged[str(key)] = Instrument.from_mapping(str(key), spec, declared_by_study=True, origin=origin)
        return Registry(merged)



def default_registry() -> Registry:
    """The registry shipped in ``data_schemas/instruments.yaml``."""
    raw = read_yaml_resource("instruments.yaml")
    return Registry({str(k): Instrument.from_mapping(str(k), v) for k, v in raw.items()})
