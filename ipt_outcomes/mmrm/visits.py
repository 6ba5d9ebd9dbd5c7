"""Visits of an MMRM: their order, the baseline visit, which visits are planned, and windows.

Order (AR(1), Toeplitz and ante-dependence structures read lags from it):

* an ordered categorical keeps its categories' order;
* numbers, or texts that are numbers (``"2"``, ``"10"``), in numeric order;
* texts that are one number with the same words around it (``week 2``, ``week 10``; ``V1``, ``V12``)
  in the order of that number;
* any other text is refused: the order cannot be guessed (``week10`` sorts before ``week2`` as text).

The baseline visit (``baseline="covariate"``): ``baseline_visit`` when given, else the visit whose
number is 0. Planned visits: every post-baseline visit held by at least 10 % of the participants of
the busiest visit (and by at least two); a rarer value is an assessment off the plan and refused,
with windows suggested that map it. Visits that are each held by a minority and never two by one
participant (an end-of-treatment assessment at a varying session, 13 to 16 in a 12-16 session
course) are fitted as the separate visits they are, and a note says so with the windows that would
make them one visit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError

__all__ = ["VisitOrder", "apply_windows", "off_plan", "order_visits", "staggered_note"]

_ONE_NUMBER = re.compile(r"^\s*(\D*?)\s*([+-]?\d+(?:\.\d+)?)\s*(\D*?)\s*$")
#: a post-baseline visit held by fewer than this share of the busiest visit's participants is off the plan
PLANNED_SHARE = 0.10


def _text(value: object) -> str:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return f"{float(value):g}"
    return str(value)


@dataclass(frozen=True)
class VisitOrder:
    labels: pd.Series           # each row's visit as text
    order: list[str]            # the visits in time order
    numbers: dict[str, float]   # each visit's number, when the visits are numbers or numbered labels
    how: str                    # what fixed the order, for notes


def order_visits(values: pd.Series, visit: str) -> VisitOrder:
    """The visits of ``values`` in time order (see the module docstring)."""
    present = values.dropna()
    if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.ordered:
        seen = set(present.astype(object).map(_text))
        order = [_text(c) for c in values.cat.categories if _text(c) in seen]
        labels = values.astype(object).map(_text, na_action="ignore")
        numbers = _numbers(order)
        return VisitOrder(labels, order, numbers or {}, f"{visit} in the order of its ordered categories")
    numeric = pd.to_numeric(present.astype(object), errors="coerce") if not pd.api.types.is_numeric_dtype(present) \
        else present.astype(float)
    if numeric.notna().all():
        distinct = sorted(set(numeric.astype(float)))
        label = {v: f"{v:g}" for v in distinct}
        as_number = pd.to_numeric(values.astype(object), errors="coerce") if not pd.api.types.is_numeric_dtype(values) \
            else values.astype(float)
        return VisitOrder(as_number.map(label), [label[v] for v in distinct], {label[v]: v for v in distinct},
                          f"{visit} in numeric order")
    texts = sorted(set(present.astype(object).map(str)))
    numbers = _numbers(texts)
    if numbers is None:
        shown = ", ".join(texts[:6]) + (" ..." if len(texts) > 6 else "")
        raise ArgumentError(
            f"the visits of {visit!r} are texts whose order cannot be told ({shown}); an MMRM's covariance and its "
            f"lags need the visits in time order. Give {visit} as an ordered categorical, e.g. df[{visit!r}] = "
            f"pd.Categorical(df[{visit!r}], categories=[...in time order...], ordered=True), or as numbers "
            "(weeks or sessions).")
    order = sorted(texts, key=numbers.__getitem__)
    return VisitOrder(values.astype(object).map(str, na_action="ignore"), order, numbers,
                      f"{visit} in the order of the number in each label")


def _numbers(labels: list[str]) -> dict[str, float] | None:
    """Each label's number when every label is one number with the same words around it, else None."""
    out, affixes = {}, set()
    for label in labels:
        m = _ONE_NUMBER.match(label)
        if m is None:
            return None
        affixes.add((m.group(1).lower(), m.group(3).lower()))
        out[label] = float(m.group(2))
    if len(affixes) > 1 or len(set(out.values())) < len(out):
        return None
    return out


def baseline_label(order: VisitOrder, visit: str, baseline_visit: str | None) -> str:
    """The visit that holds the baseline: ``baseline_visit``, else the visit numbered 0."""
    if baseline_visit is not None:
        if str(baseline_visit) not in order.order:
            raise ArgumentError(f"baseline_visit={baseline_visit!r} is not a visit of {visit}; visits: "
                                f"{', '.join(order.order)}.")
        return str(baseline_visit)
    zero = [v for v, n in order.numbers.items() if n == 0]
    if not zero:
        raise ArgumentError(
            f"baseline='covariate' takes each participant's baseline score from the visit numbered 0, and {visit} has "
            f"none (visits: {', '.join(order.order[:6])}). Say which visit is the baseline with baseline_visit= "
            f"(mmrm --baseline-visit, the study file's mmrm: baseline_visit), e.g. baseline_visit={order.order[0]!r}; "
            "or, when the baseline score is a column of its own, give it as a covariate with baseline='none'.")
    return zero[0]


def off_plan(per_visit: pd.Series, visit: str, scored: pd.DataFrame) -> None:
    """Refuse visits held by fewer than 10 % of the busiest visit's participants (or by fewer than two)."""
    floor = max(2.0, PLANNED_SHARE * float(per_visit.max()))
    thin = [str(v) for v, k in per_visit.items() if k < floor]
    if not thin:
        return
    first = scored.loc[scored[visit].astype(str).isin(thin)].head(3)
    who = "; ".join(f"participant {r['participant_id']}, {visit} {r[visit]}" for _, r in first.iterrows())
    raise AnalysisError(
        f"{visit} {', '.join(thin)} is held by fewer than {floor:.0f} participants ({who or 'no scored row'}), under "
        f"{PLANNED_SHARE * 100:.0f} % of the busiest {visit}: an assessment off the plan? An MMRM estimates a mean and a "
        "variance at every visit. Map such assessments to a planned visit with windows (the study file's visits:, "
        "or visit_windows=; every post-baseline assessment must fall in one window) or drop them.")


def staggered_note(scored: pd.DataFrame, visit: str, order: list[str], numbers: dict[str, float]) -> str | None:
    """A note when the last visits are one assessment at a varying time: each held by under half of the
    busiest visit's participants and no participant holding two of them."""
    per = scored.groupby(visit, observed=True)["participant_id"].nunique()
    busiest = float(per.max())
    tail: list[str] = []
    for v in reversed(order):
        if per.get(v, 0) >= 0.5 * busiest:
            break
        tail.insert(0, v)
    if len(tail) < 2:
        return None
    held = scored.loc[scored[visit].astype(str).isin(tail)].groupby("participant_id", observed=True)[visit].nunique()
    if (held > 1).any():
        return None
    counts = ", ".join(f"{v}: {int(per[v])}" for v in tail)
    note = (f"{visit} {', '.join(tail)} were fitted as separate planned visits (participants: {counts}); no participant "
            f"has two of them, so they may be one assessment at a varying time (an end-of-treatment visit).")
    if all(v in numbers for v in order):
        windows = {numbers[v]: (numbers[v], numbers[v]) for v in order if v not in tail}
        windows[numbers[tail[-1]]] = (numbers[tail[0]], numbers[tail[-1]])
        spans = ", ".join(f"{k:g}: [{lo:g}, {hi:g}]" for k, (lo, hi) in sorted(windows.items()))
        note += f" To fit them as one visit, map them with windows: visits: {{{spans}}} in the study file."
    return note


def apply_windows(rows: pd.DataFrame, visit: str, windows: Mapping[float, tuple[float, float]],
                  origin: str) -> tuple[pd.Series, int]:
    """Each assessment time replaced by the planned visit whose window holds it; the baseline (0) stays.
    An assessment in no window, or two assessments of a participant in one window, are refused."""
    time = pd.to_numeric(rows[visit], errors="coerce")
    if time.isna().any():
        raise ArgumentError(f"visit windows need a numeric {visit!r}; {int(time.isna().sum())} value(s) are not numbers.")
    mapped = time.copy()
    placed = time == 0
    for planned, (lo, hi) in windows.items():
        inside = (time >= lo) & (time <= hi)
        mapped[inside] = float(planned)
        placed |= inside
    if not placed.all():
        off = rows.loc[~placed.to_numpy()].head(3)
        who = "; ".join(f"participant {r['participant_id']}, {visit} {float(r[visit]):g}" for _, r in off.iterrows())
        raise AnalysisError(f"{int((~placed).sum())} assessment(s) fall in no visit window of {origin} ({who}); widen "
                            "the windows or add one for those times (a visit's own time is a window too: 4: [4, 4]), "
                            "or drop those assessments.")
    keyed = pd.DataFrame({"participant_id": rows["participant_id"].to_numpy(), "visit": mapped.to_numpy(),
                          "time": time.to_numpy()})
    scored = keyed.loc[rows["score"].notna().to_numpy()] if "score" in rows else keyed
    twice = scored.duplicated(["participant_id", "visit"], keep=False)
    if twice.any():
        clash = scored.loc[twice]
        first_id = clash["participant_id"].iloc[0]
        mine = clash.loc[clash["participant_id"] == first_id]
        n_people = clash["participant_id"].nunique()
        raise AnalysisError(
            f"the windows of {origin} put two assessments of one participant in one visit: participant {first_id} has "
            f"{visit} {', '.join(f'{t:g}' for t in mine['time'])} all mapped to visit {mine['visit'].iloc[0]:g} "
            f"({n_people} participant(s) in all). Each window must hold at most one assessment per participant: "
            "narrow the windows so they do not reach a neighbouring planned visit.")
    return mapped, int((mapped != time).sum())
