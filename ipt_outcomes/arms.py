"""The reference arm: one rule for every command and function.

Every comparison of arms (growth models, clinical significance, sensitivity analyses, reports,
partitioned fits) asks :func:`choose_reference_arm`, so that they never disagree. The rule, in order:

1. the arm the caller names (``reference_arm=``, ``--reference-arm``);
2. the study file's ``reference_arm``;
3. an arm named like a control condition (:data:`CONTROL_NAMES`, matched as whole words, case
   folded; the earlier name in that list wins when several arms match);
4. otherwise the first arm in sorted order, which is an assumption the output states.

The choice comes with the sentence that says how it was made, which the command line and the
report print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ArgumentError

__all__ = ["CONTROL_NAMES", "ReferenceArm", "choose_reference_arm"]

#: Names of comparison conditions in psychotherapy trials, most specific first.
CONTROL_NAMES: tuple[str, ...] = (
    "treatment as usual", "usual care", "enhanced usual care", "tau", "euc", "waitlist", "wait list",
    "waiting list", "wl", "placebo", "pill placebo", "attention control", "control", "clinical management",
    "no treatment", "assessment only",
)


@dataclass(frozen=True)
class ReferenceArm:
    """The reference arm and how it was chosen (``given``, ``study``, ``control_name``, ``sorted``)."""

    arm: str
    how: str

    @property
    def statement(self) -> str:
        """One sentence for outputs, saying what was assumed when the user did not say it."""
        reasons = {
            "given": "as requested",
            "study": "from the study file",
            "control_name": "its name marks a control condition; set reference_arm to change",
            "sorted": "no arm is named like a control, so the first arm in sorted order was taken; "
                      "set reference_arm to choose",
        }
        return f"reference arm {self.arm} ({reasons[self.how]})"

    @property
    def assumed(self) -> bool:
        return self.how in ("control_name", "sorted")


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()).strip() + " "


def _is_active(arm: str) -> bool:
    """An arm that adds an active treatment (``IPT + TAU``) is not a control even if it names one."""
    words = _words(arm)
    return any(f" {w} " in words for w in ("ipt", "interpersonal", "cbt", "ipsrt", "plus")) or "+" in arm


def choose_reference_arm(arms: Iterable[Any], given: str | None = None, study: Any = None) -> ReferenceArm:
    """Apply the rule above to the arms present (``study``: a :class:`~ipt_outcomes.Study`, the
    ``ipt_study`` attrs of a table, or None)."""
    from .study import Study

    names = sorted({str(a) for a in arms if a is not None and str(a) not in ("", "nan", "<NA>")})
    if not names:
        raise ArgumentError("there are no arms in the data to compare.")
    if given is not None:
        if str(given) not in names:
            raise ArgumentError(f"reference arm {given!r} is not in the data; arms: {', '.join(names)}.")
        return ReferenceArm(str(given), "given")
    if study is not None and not isinstance(study, Study):
        study = Study.from_attrs(study)
    if study is not None and study.reference_arm:
        if study.reference_arm not in names:
            raise ArgumentError(f"{study.source}: reference_arm {study.reference_arm!r} is not an arm of the data; "
                                f"arms: {', '.join(names)}.")
        return ReferenceArm(study.reference_arm, "study")
    for control in CONTROL_NAMES:  # the whole name first ("TAU"), then a name containing it ("TAU only")
        exact = [a for a in names if _words(a).strip() == control]
        within = [a for a in names if f" {control} " in _words(a) and not _is_active(a)]
        if exact or within:
            return ReferenceArm((exact or sorted(within, key=len))[0], "control_name")
    return ReferenceArm(names[0], "sorted")
