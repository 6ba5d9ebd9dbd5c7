"""Classical cross-check: mixed (split-plot) ANOVA on complete cases, through pingouin.

Researchers often report it beside the mixed model. Only participants with a score at every
chosen occasion are used, so it is biased when dropout depends on the outcome (the mixed model is
not, under missing at random); the number left out is reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...arguments import checked, each, frame, number, optional, text
from ...errors import AnalysisError, ArgumentError
from ...selection import outcome_mask

__all__ = ["ClassicalAnova", "classical_anova"]


@dataclass(frozen=True)
class ClassicalAnova:
    """pingouin's mixed-ANOVA table and the complete-case sample it used."""

    table: pd.DataFrame
    occasions: tuple[float, ...]
    n_participants: int
    n_excluded: int

    def __repr__(self) -> str:
        shown = self.table.copy()
        formats = {"SS": "{:.2f}", "MS": "{:.2f}", "F": "{:.2f}", "p_unc": "{:.4f}", "np2": "{:.3f}", "eps": "{:.3f}"}
        for column, fmt in formats.items():
            if column in shown:
                shown[column] = shown[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
        return (f"Mixed ANOVA cross-check (pingouin; complete cases at {self.time_label()}): "
                f"{self.n_participants} participants, {self.n_excluded} excluded\n{shown.to_string(index=False)}")

    def time_label(self) -> str:
        return ", ".join(f"{o:g}" for o in self.occasions)


@checked(df=frame, outcome=text, time=optional(text), occasions=optional(each(number())))
def classical_anova(df: pd.DataFrame, outcome: str, time: str | None = None,
                    occasions: Sequence[float] | None = None) -> ClassicalAnova:
    """Arm x time mixed ANOVA on participants observed at every occasion (pingouin.mixed_anova).

    Parameters
    ----------
    df
        Canonical trial table.
    outcome
        Instrument key.
    time
        Time column.
    occasions
        Times to compare; default: baseline (0) and the latest time at which at least half of the
        participants with a baseline have a score.

    Returns
    -------
    ClassicalAnova
        ``table`` (pingouin columns: Source, SS, DF1, DF2, MS, F, p_unc, np2, eps), ``occasions``,
        ``n_participants``, ``n_excluded``.
    """
    import pingouin as pg

    from ...study import time_column

    time = time_column(df, time).column

    data = df.loc[outcome_mask(df, outcome), ["participant_id", "arm", time, "score"]] if "instrument" in df.columns \
        else df[["participant_id", "arm", time, "score"]]
    data = data.dropna()
    data = data.assign(score=pd.to_numeric(data["score"]), **{time: pd.to_numeric(data[time])})
    if data.empty:
        raise AnalysisError(f"no {outcome} scores for a classical ANOVA.")
    # participants as integer codes: every per-participant question is a bincount (O(rows))
    person, ids = pd.factorize(data["participant_id"])
    t = data[time].to_numpy(float)
    if occasions is None:
        with_base = np.bincount(person[t == 0], minlength=len(ids)) > 0
        has_base = with_base[person]
        seen = pd.DataFrame({"p": person[has_base], "t": t[has_base]}).drop_duplicates()
        counts = seen.groupby("t").size()
        later = counts[(counts.index > 0) & (counts >= int(with_base.sum()) / 2)]
        if later.empty:
            raise AnalysisError("no occasion after baseline has half of the participants; give occasions=.")
        occasions = [0.0, float(later.index.max())]
    occasions = tuple(float(o) for o in occasions)
    if len(occasions) < 2:
        raise ArgumentError("a mixed ANOVA needs at least two occasions.")
    at = np.isin(t, occasions)
    pairs = pd.DataFrame({"p": person[at], "t": t[at]})
    twice = pairs.duplicated().to_numpy()
    complete_person = np.bincount(pairs["p"].to_numpy()[~twice], minlength=len(ids)) == len(occasions)
    if complete_person[pairs["p"].to_numpy()[twice]].any():
        raise AnalysisError("some participants have two scores at the same occasion; validate the data first.")
    sub = data[at & complete_person[person]]
    keep = ids[complete_person]
    all_ids = len(ids)
    if sub["arm"].nunique() < 2 or len(keep) < 4:
        raise AnalysisError("too few complete cases in at least two arms for a mixed ANOVA.")
    with warnings.catch_warnings():  # pingouin's own use of a pandas keyword pandas now deprecates
        warnings.filterwarnings("ignore", message="The inplace keyword", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The inplace keyword", category=DeprecationWarning)
        table = pg.mixed_anova(data=sub, dv="score", within=time, between="arm", subject="participant_id")
    table = table.rename(columns={"p-unc": "p_unc"})
    return ClassicalAnova(table=table, occasions=occasions, n_participants=len(keep), n_excluded=all_ids - len(keep))
