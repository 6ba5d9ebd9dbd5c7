"""``ipt.trial_effects``: each trial's arm effect with its standard error, the first stage of a
two-stage individual-participant-data meta-analysis (the second is :func:`.meta_analysis`).

Each trial is fitted on its own with the toolkit's growth model (:func:`ipt_outcomes.fit_growth`:
random intercepts and slopes of time, REML, Satterthwaite df; the growth model is checked against
lme4 elsewhere), and its model-implied arm difference at the trial's end of treatment is taken:

* ``effect="mean_difference"`` (default): that difference and its SE, on the outcome's scale (use a
  harmonised outcome, :func:`.harmonise`, when trials measured different instruments);
* ``effect="d"``: the difference divided by the trial's pooled within-arm baseline SD of the
  outcome, the SE divided alike (the SD treated as known, as the growth-model d of Feingold 2009);
* ``effect="g"``: ``d`` times Hedges' (1981) small-sample factor ``J = 1 - 3 / (4 (n_1 + n_2) - 9)``
  (participants of the two arms compared), the SE times ``J``.

Negative estimates mean lower (better, for a higher-is-worse outcome) scores in the arm than in the
reference arm. With three or more arms each arm gets its own row against the reference arm.
Trial-level columns (constant within a trial: disorder, population, format, ...) are kept as
moderators for :func:`.meta_analysis` ``by=``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from ..errors import AnalysisError, ArgumentError, IPTOutcomesError
from ..study import primary_outcome, time_column
from .harmonise import pooled_sd
from .trials import trial_reference_arms

__all__ = ["EFFECTS", "trial_effects"]

EFFECTS = ("mean_difference", "d", "g")
MODERATORS = ("disorder", "population", "format", "problem_areas_assessed")


def trial_effects(df: pd.DataFrame, outcome: str | None = None, effect: str = "mean_difference",
                  time: str | None = None, reference_arm: str | None = None,
                  moderators: Sequence[str] = MODERATORS) -> pd.DataFrame:
    """One row per trial (and arm against the reference arm): ``label``, ``trial_id``, ``arm``,
    ``reference_arm``, ``estimate``, ``std_error``, ``n_arm``, ``n_reference``, ``time`` (end of
    treatment), ``effect``, and the trial-level ``moderators`` present in the data."""
    from ..models import fit_growth

    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"trial_effects() needs a pandas DataFrame, not {type(df).__name__}.")
    if effect not in EFFECTS:
        raise ArgumentError(f"effect must be one of {', '.join(EFFECTS)}, not {effect!r}.")
    outcome = primary_outcome(df, outcome)
    t = time_column(df, time).column
    trials = df["trial_id"].astype("string").fillna("") if "trial_id" in df.columns else \
        pd.Series("", index=df.index, dtype="string")
    references = trial_reference_arms(df)  # each trial's own, when the table came from load_trials
    rows = []
    for trial in trials.unique():
        part = df.loc[(trials == trial).to_numpy()]
        part.attrs = dict(df.attrs)
        reference = reference_arm or references.get(str(trial))
        try:
            fit = fit_growth(part, outcome=outcome, time=t, reference_arm=reference, check=False)
        except IPTOutcomesError as exc:
            raise AnalysisError(f"trial {trial or '(the table)'}: the growth model could not be fitted: {exc}") from None
        scored = part[(part["instrument"].astype(str) == outcome) & pd.to_numeric(part["score"], errors="coerce").notna()]
        n_by_arm = scored.groupby(scored["arm"].astype(str))["participant_id"].nunique()
        sd = _baseline_sd(scored, t) if effect != "mean_difference" else 1.0
        for r in fit.arm_differences().itertuples(index=False):
            n1, n0 = int(n_by_arm.get(str(r.arm), 0)), int(n_by_arm.get(str(r.reference_arm), 0))
            scale = 1.0 / sd
            if effect == "g":
                scale *= 1.0 - 3.0 / (4.0 * (n1 + n0) - 9.0)
            row = {"label": f"{trial} {r.arm} vs {r.reference_arm}".strip(), "trial_id": trial or None,
                   "arm": r.arm, "reference_arm": r.reference_arm, "estimate": r.difference * scale,
                   "std_error": r.std_error * scale, "n_arm": n1, "n_reference": n0, "time": r.time,
                   "effect": effect}
            for column in moderators:
                if column in part.columns:
                    values = part[column].dropna().astype(str).unique()
                    row[column] = values[0] if len(values) == 1 else None
            rows.append(row)
    return pd.DataFrame(rows)


def _baseline_sd(scored: pd.DataFrame, time: str) -> float:
    base = scored[pd.to_numeric(scored[time], errors="coerce") == 0]
    sd, _ = pooled_sd(pd.to_numeric(base["score"], errors="coerce").to_numpy(float), base["arm"].astype(str).to_numpy())
    if not sd > 0:
        raise AnalysisError("effect='d' or 'g' needs baseline scores that vary in each trial; use "
                            "effect='mean_difference'.")
    return sd
