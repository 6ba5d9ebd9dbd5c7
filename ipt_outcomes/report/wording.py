"""The small pieces the generated text is built from: numbers, p values, the instrument's name, the
time unit and which arm a difference favours. One place, so every paragraph says them one way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..formatting import p_text
from ..registry import Registry, default_registry

__all__ = ["Wording", "apa_p", "ci", "count", "num", "sentence"]

MINUS = "\u2212"


def apa_p(p: float) -> str:
    """'p < .001' or 'p = .034' (APA: no leading zero): :func:`ipt_outcomes.formatting.p_text`."""
    return p_text(p)


def num(x: float, digits: int = 2) -> str:
    """A signed number with a typographic minus; -0.00 is written 0.00."""
    text = f"{x:.{digits}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def ci(lo: float, hi: float, digits: int = 2) -> str:
    return f"95% CI [{num(lo, digits)}, {num(hi, digits)}]"


def count(n: int) -> str:
    """APA: thousands separated by commas."""
    return f"{int(n):,}"


def sentence(text: str) -> str:
    """Capitalise the first letter and end with one full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."


@dataclass(frozen=True)
class Wording:
    """How the text names the instrument and the time, and reads the direction of a difference.

    ``first``: the full name with the short one in brackets (its first mention); ``short``: every later
    mention; ``lower_is_better``: from the registry's ``higher_is`` (None when the instrument is not
    in the registry, and then no arm is said to be favoured).
    """

    first: str
    short: str
    lower_is_better: bool | None
    time: str

    @classmethod
    def of(cls, outcome: str, time: str, registry: Registry | None = None) -> Wording:
        reg = registry if registry is not None else default_registry()
        if outcome in reg:
            inst = reg[outcome]
            short = inst.name or outcome
            full = inst.full_name if inst.full_name and inst.full_name != short else ""
            return cls(f"{full} ({short})" if full else short, short, inst.higher_is == "worse", time)
        return cls(outcome, outcome, None, time)

    @property
    def unit(self) -> str:
        """The time unit as a word: ``session``, ``week``, ``months since baseline``."""
        return self.time.replace("_", " ")

    @property
    def units(self) -> str:
        return self.unit if self.unit.endswith("s") else self.unit + "s"

    def at(self, t: float) -> str:
        return f"{self.unit} {t:g}"

    def favoured(self, difference: float, arm: str, reference: str) -> str | None:
        """The arm a difference (arm - reference) favours, or None if the direction is unknown."""
        if self.lower_is_better is None or difference == 0:
            return None
        better = difference < 0 if self.lower_is_better else difference > 0
        return arm if better else reference

    def compare(self, difference: float, arm: str, reference: str, digits: int = 2) -> str:
        """'2.00 points lower in IPT than in TAU' (or 'the same in IPT and TAU')."""
        size = f"{abs(difference):.{digits}f}"
        if float(size) == 0:
            return f"the same in {arm} and {reference} (to {digits} decimals)"
        word = "lower" if difference < 0 else "higher"
        return f"{size} point{'' if size == '1' else 's'} {word} in {arm} than in {reference}"

    def change(self, slope: float, digits: int = 2) -> str:
        """'fell by 0.25 points per session' / 'rose by ...' / 'did not change'."""
        size = f"{abs(slope):.{digits}f}"
        if float(size) == 0:
            return f"changed by less than {0.5 * 10 ** -digits:g} points per {self.unit}"
        return f"{'fell' if slope < 0 else 'rose'} by {size} points per {self.unit}"

    def improvement(self) -> tuple[str, str]:
        """('fall', 'below') for an instrument on which lower is better, ('rise', 'above') otherwise."""
        return ("fall", "below") if self.lower_is_better is not False else ("rise", "above")


def significant(lo: float, hi: float) -> bool:
    return bool(lo > 0 or hi < 0)


def verdict(row: Any, wording: Wording, arm: str, reference: str) -> str:
    """What one interval shows: 'a difference favouring IPT', 'lower scores in IPT', 'no clear difference'."""
    if not significant(row.ci_lower, row.ci_upper):
        return "no clear difference"
    favoured = wording.favoured(row.estimate, arm, reference)
    if favoured is None:
        return f"{'lower' if row.estimate < 0 else 'higher'} scores in {arm}"
    return f"a difference favouring {favoured}"
