"""Controlled vocabularies of the canonical table and the aliases accepted on import."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from .resources import read_yaml_resource

__all__ = ["alias_map", "canonical_spec", "category_values", "fold", "normalise_value"]

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Fold a spelling for alias matching: lower case, every non-alphanumeric character removed.

    >>> fold("Role Disputes"), fold("HAM-D"), fold(" grief/loss ")
    ('roledisputes', 'hamd', 'griefloss')
    """
    return _NOT_ALNUM.sub("", text.lower())


def canonical_spec() -> Mapping[str, Any]:
    """The parsed ``data_schemas/canonical.yaml``."""
    return read_yaml_resource("canonical.yaml")


def category_values(column: str) -> tuple[str, ...]:
    """Allowed values of a category column of the canonical table (empty if free text)."""
    spec = canonical_spec()["columns"].get(column, {})
    return tuple(spec.get("values") or ())


@cache
def alias_map(column: str) -> Mapping[str, str]:
    """Folded spelling -> canonical value, for one category column (canonical values included)."""
    spec = canonical_spec()["columns"].get(column, {})
    mapping: dict[str, str] = {}
    for value in spec.get("values") or ():
        mapping[fold(value)] = value
    for value, spellings in (spec.get("aliases") or {}).items():
        for spelling in spellings:
            mapping.setdefault(fold(str(spelling)), value)
    return mapping


def normalise_value(column: str, value: object) -> object:
    """Map a known alias of a category column to its canonical value; anything else unchanged."""
    if not isinstance(value, str):
        return value
    return alias_map(column).get(fold(value), value)
