"""Classical cross-check: mixed (split-plot) ANOVA on complete cases, through pingouin.

Researchers often report it beside the mixed model. Only participants with a score at every
chosen occasion are used, so it is biased when dropout depends on the outcome (the mixed model is
not, under missing at random); the number left out is reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from ..arguments import checked, each, frame, number, optional, text
from ..errors import AnalysisError, ArgumentError

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

    from ..study import time_column

    time = time_column(df, time).column

    data = df[(df["instrument"].astype(str) == outcome)] if "instrument" in df.columns else df
    data = data[["participant_id", "arm", time, "score"]].dropna()
    data = data.assign(score=pd.to_numeric(data["score"]), **{time: pd.to_numeric(data[time])})
    if data.empty:
        raise AnalysisError(f"no {outcome} scores for a classical ANOVA.")
    if occasions is None:
        # masks from per-participant transforms: isin() with a set of a million ids is slow on Arrow text
        has_base = data[time].eq(0).groupby(data["participant_id"], sort=False).transform("any").to_numpy(bool)
        n_base = data.loc[has_base, "participant_id"].nunique()
        counts = data[has_base].groupby(time)["participant_id"].nunique()
        later = counts[(counts.index > 0) & (counts >= n_base / 2)]
        if later.empty:
            raise AnalysisError("no occasion after baseline has half of the participants; give occasions=.")
        occasions = [0.0, float(later.index.max())]
    occasions = tuple(float(o) for o in occasions)
    if len(occasions) < 2:
        raise ArgumentError("a mixed ANOVA needs at least two occasions.")
    sub = data[data[time].isin(occasions)]
    complete = sub.groupby("participant_id", sort=False)[time].transform("nunique").to_numpy() == len(occasions)
    all_ids = data["participant_id"].nunique()
    sub = sub[complete]
    keep = sub["participant_id"].unique()
    if sub.duplicated(["participant_id", time]).any():
        raise AnalysisError("some participants have two scores at the same occasion; validate the data first.")
    if sub["arm"].nunique() < 2 or len(keep) < 4:
        raise AnalysisError("too few complete cases in at least two arms for a mixed ANOVA.")
    with warnings.catch_warnings():  # pingouin's own use of a pandas keyword pandas now deprecates
        warnings.filterwarnings("ignore", message="The inplace keyword", category=FutureWarning)
        warnings.filterwarnings("ignore", message="The inplace keyword", category=DeprecationWarning)
        table = pg.mixed_anova(data=sub, dv="score", within=time, between="arm", subject="participant_id")
    table = table.rename(columns={"p-unc": "p_unc"})
    return ClassicalAnova(table=table, occasions=occasions, n_participants=len(keep), n_excluded=all_ids - len(keep))
