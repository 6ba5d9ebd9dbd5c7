"""The algebra of terms, as R's ``terms.formula``: sums, interactions, crossing, nesting and powers of
term sets. A term is a tuple of factor labels in the order the factors first appear in the formula
(``order``); a term set also carries whether the formula asked for an intercept."""

from __future__ import annotations

import itertools

from .syntax import TermSet

__all__ = ["add", "by_degree", "colon", "nested", "power_of", "remove", "star"]


def _merge(a: tuple[str, ...], b: tuple[str, ...], order: dict[str, int]) -> tuple[str, ...]:
    return tuple(sorted(set(a) | set(b), key=order.__getitem__))


def _unique(terms: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    seen, out = set(), []
    for t in terms:
        key = frozenset(t)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


def add(a: TermSet, b: TermSet) -> TermSet:
    return TermSet(_unique(a.terms + b.terms), b.intercept if b.intercept is not None else a.intercept)


def remove(a: TermSet, b: TermSet) -> TermSet:
    gone = {frozenset(t) for t in b.terms}
    intercept = a.intercept
    if b.intercept is True:
        intercept = False
    elif b.intercept is False:
        intercept = True
    return TermSet([t for t in a.terms if frozenset(t) not in gone], intercept)


def colon(a: TermSet, b: TermSet, order: dict[str, int]) -> TermSet:
    return TermSet(_unique([_merge(x, y, order) for x in a.terms for y in b.terms]), None)


def star(a: TermSet, b: TermSet, order: dict[str, int]) -> TermSet:
    return TermSet(_unique(a.terms + b.terms + colon(a, b, order).terms), None)


def nested(a: TermSet, b: TermSet, order: dict[str, int]) -> TermSet:
    whole = tuple(sorted({f for t in a.terms for f in t}, key=order.__getitem__))
    return TermSet(_unique(a.terms + colon(TermSet([whole]), b, order).terms), None)


def power_of(a: TermSet, k: int, order: dict[str, int]) -> TermSet:
    out: list[tuple[str, ...]] = []
    for r in range(1, k + 1):
        for combo in itertools.combinations(a.terms, r):
            merged: tuple[str, ...] = ()
            for t in combo:
                merged = _merge(merged, t, order)
            out.append(merged)
    return TermSet(_unique(out), None)


def by_degree(terms: TermSet) -> TermSet:
    """R's order of terms: by the number of factors, then as they appear."""
    return TermSet(sorted(terms.terms, key=len), terms.intercept)
