"""``ipt.fit_pooled``: the one-stage model of pooled trials on a harmonised outcome.

``outcome ~ time * arm * (moderators) + (time | trial_id:participant_id) + (1 | trial_id)`` with the
formula engine (REML, Satterthwaite df; checked against lme4/lmerTest): participants nested in
trials with their own intercepts and slopes, a random intercept per trial, and the moderators
(disorder, problem area, format, population, sessions attended for dose) moderating the arm effect
over time. ``arm`` is the pooled condition: each trial's IPT arms are ``IPT`` and its reference arm
``control`` (other arms, active comparators, are left out, and the notes say so), so trials with
different comparators (TAU, waitlist) enter one model. Arm differences by disorder, each at its own
end of treatment: :func:`arm_differences_at_end` (``fit.arm_differences(by="disorder")`` takes them
all at the largest time of the pooled table).

The trial intercept needs more trials than the fixed effects constant within trials explain: with
one trial per disorder and a disorder moderator it is not identifiable, and ``trial_effect="auto"``
(default) then fits the model without it and states so; ``True`` refuses instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..study import primary_outcome, time_column
from .trials import trial_reference_arms

__all__ = ["arm_differences_at_end", "fit_pooled"]


def fit_pooled(df: pd.DataFrame, outcome: str | None = None, moderators: Sequence[str] = ("disorder",),
               time: str | None = None, trial_effect: bool | str = "auto", method: str = "reml"):
    """Fit the one-stage pooled model (see the module docstring); returns a GrowthFit."""
    from ..models import fit_growth

    if method not in ("reml", "ml"):
        raise ArgumentError(f"method must be 'reml' or 'ml', not {method!r}.")
    estimation: Literal["reml", "ml"] = "ml" if method == "ml" else "reml"

    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"fit_pooled() needs a pandas DataFrame, not {type(df).__name__}.")
    if "trial_id" not in df.columns:
        raise ArgumentError("fit_pooled() needs trial_id (a table from ipt.load_trials).")
    if trial_effect not in ("auto", True, False):
        raise ArgumentError(f"trial_effect must be 'auto', True or False, not {trial_effect!r}.")
    outcome = primary_outcome(df, outcome)
    t = time_column(df, time).column
    missing = [m for m in moderators if m not in df.columns]
    if missing:
        raise ArgumentError(f"moderator column(s) {', '.join(missing)} are not in the data.")
    data, notes = _pooled_arms(df)
    moderated = f"{t} * arm" + (f" * ({' + '.join(moderators)})" if moderators else "")
    participants = f"({t} | trial_id:participant_id)"
    with_trial = f"{outcome} ~ {moderated} + {participants} + (1 | trial_id)"
    without = f"{outcome} ~ {moderated} + {participants}"
    if trial_effect is False:
        fit = fit_growth(data, formula=without, method=estimation, reference_arm="control", check=False)
    else:
        try:
            fit = fit_growth(data, formula=with_trial, method=estimation, reference_arm="control", check=False)
        except AnalysisError as exc:
            if trial_effect is True or "random intercept of trial_id" not in str(exc):
                raise
            fit = fit_growth(data, formula=without, method=estimation, reference_arm="control", check=False)
            notes.append(f"the trial random intercept was left out: {exc}")
    fit.notes[:0] = notes
    return fit


def _pooled_arms(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    references = trial_reference_arms(df)
    info = df.attrs.get("ipt_trials") or {}
    trial = df["trial_id"].astype(str)
    arm = df["arm"].astype(str)
    condition = pd.Series(pd.NA, index=df.index, dtype="string")
    notes = []
    for tr in sorted(trial.unique()):
        rows = (trial == tr).to_numpy()
        ref = references.get(tr)
        if ref is None:
            from ..arms import choose_reference_arm

            choice = choose_reference_arm(arm[rows].unique(), None, df.attrs.get("ipt_study"))
            ref = choice.arm
            notes.append(f"trial {tr}: reference arm {ref} ({choice.how}).")
        ipt_arms = (info.get(tr) or {}).get("ipt_arms") or [a for a in arm[rows].unique() if "IPT" in a.upper()]
        condition[rows & (arm == ref).to_numpy()] = "control"
        condition[rows & arm.isin(ipt_arms).to_numpy()] = "IPT"
        left = sorted(set(arm[rows]) - {ref, *ipt_arms})
        if left:
            notes.append(f"trial {tr}: arm(s) {', '.join(left)} are neither IPT nor the reference arm and are left out.")
    data = df.assign(arm=condition).loc[condition.notna().to_numpy()].copy()
    data.attrs = dict(df.attrs)
    if data["arm"].nunique() < 2:
        raise AnalysisError("the pooled trials have no IPT arm and reference arm to compare (name the IPT arms in "
                            "each study file's ipt_arms).")
    notes.insert(0, "arm: each trial's IPT arms as IPT and its reference arm as control.")
    return data, notes


def arm_differences_at_end(fit, by: str = "disorder") -> pd.DataFrame:
    """The arm difference of each level of ``by`` at that level's own end of treatment (the largest
    time of its analysed rows: each disorder's trials, 12 sessions for one, 20 for another), not at
    the pooled table's largest time, which would extrapolate the shorter trials."""
    data = fit.formula_model.data
    time = fit.spec.time
    rows = []
    for value in data[by].cat.categories if isinstance(data[by].dtype, pd.CategoricalDtype) else sorted(data[by].unique()):
        end = float(data.loc[data[by] == value, time].max())
        table = fit.arm_differences(by=by, at=end)
        rows.append(table[table[by].astype(str) == str(value)])
    return pd.concat(rows, ignore_index=True)
