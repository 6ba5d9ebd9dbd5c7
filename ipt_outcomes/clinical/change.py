"""``ipt.clinical_change``: reliable and clinically significant change per participant.

Jacobson and Truax (1991): ``SE = SD_pre * sqrt(1 - r_xx)``, ``S_diff = sqrt(2) * SE``,
``RCI = (final - baseline) / S_diff``; a change is reliable when ``|RCI| > 1.96``, its sign read
by the instrument's direction. Cut-offs: ``a = M_clin - 2 SD_clin`` (two SDs away from the
dysfunctional mean, towards health), ``b = M_func + 2 SD_func`` (two SDs inside the functional
range), ``c = (SD_func M_clin + SD_clin M_func) / (SD_func + SD_clin)``, signs mirrored for an
instrument where higher is better. Categories: recovered (reliable improvement and crossed the
cut-off into the functional range), improved (reliable improvement otherwise), deteriorated
(reliable worsening), unchanged.

References: Jacobson NS, Truax P (1991) J Consult Clin Psychol 59:12-19. doi:10.1037/0022-006X.59.1.12
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ..arguments import checked, choice, either, frame, number, optional, text
from ..errors import AnalysisError, ApproximationWarning, ArgumentError, DataWarning
from ..registry import Instrument, Registry
from ..selection import outcome_rows
from ..study import registry_in_force, time_column

__all__ = ["CATEGORIES", "CHANGE_COLUMNS", "ChangeSettings", "clinical_change", "jacobson_truax_cutoffs"]

CATEGORIES = ("recovered", "improved", "unchanged", "deteriorated")
CHANGE_COLUMNS = ["participant_id", "arm", "baseline", "final", "change", "percent_change", "rci", "category",
                  "response", "remission", "final_time", "reliable_improvement", "reliable_deterioration"]
Z_RELIABLE = 1.959963984540054


@dataclass(frozen=True)
class ChangeSettings:
    """The values a clinical-change table was computed with (kept in ``attrs["settings"]``)."""

    outcome: str
    reliability: float
    reliability_source: str
    sd_baseline: float
    s_diff: float
    reliable_change: float
    cutoff: float | None
    cutoff_type: str
    response_percent: float
    remission: float | None
    higher_is: str


def jacobson_truax_cutoffs(m_clin: float, sd_clin: float, m_func: float | None, sd_func: float | None,
                           higher_is: Literal["worse", "better"] = "worse") -> dict[str, float]:
    """Cut-offs a, b and c of Jacobson and Truax (1991); b and c need functional norms.

    >>> cuts = jacobson_truax_cutoffs(20.0, 5.0, 3.0, 3.0)
    >>> cuts["a"], cuts["b"], round(cuts["c"], 4)
    (10.0, 9.0, 9.375)
    """
    s = 1.0 if higher_is == "worse" else -1.0
    out = {"a": m_clin - s * 2 * sd_clin}
    if m_func is not None and sd_func is not None:
        out["b"] = m_func + s * 2 * sd_func
        out["c"] = (sd_func * m_clin + sd_clin * m_func) / (sd_func + sd_clin)
    return out


@checked(df=frame, outcome=text, reliability=optional(number(0, 1, open_low=True, open_high=True)),
         cutoff=optional(either(choice("a", "b", "c"), number())), time=optional(text), at=optional(number()),
         sd_baseline=optional(number(0, open_low=True)), response_percent=optional(number(0, 100, open_low=True)),
         remission=optional(number()))
def clinical_change(
    df: pd.DataFrame,
    outcome: str,
    reliability: float | None = None,
    cutoff: float | Literal["a", "b", "c"] | None = None,
    *,
    time: str | None = None,
    at: float | None = None,
    sd_baseline: float | None = None,
    response_percent: float | None = None,
    remission: float | None = None,
    registry: Registry | None = None,
) -> pd.DataFrame:
    """One row per participant: baseline, final score, change, RCI and clinical-significance category.

    Parameters
    ----------
    df
        Canonical trial table.
    outcome
        Instrument key.
    reliability
        Reliability ``r_xx`` for the RCI. Default: the study's instrument entry, else the registry
        (an unverified registry value is used with an :class:`ApproximationWarning`).
    cutoff
        A score, or ``"a"``, ``"b"``, ``"c"``. Default: ``"c"`` when the instrument has functional
        norms, else ``"a"``. The clinical mean and SD are the sample's baseline scores.
    time, at
        Time column (default: :func:`ipt_outcomes.study.time_column`: the study's, else ``session``,
        else ``week``); the final score is the one at ``at``, or by default each participant's last
        score after baseline.
    sd_baseline
        SD of baseline scores for the RCI. Default: from the data (all arms pooled, ``ddof=1``).
    response_percent
        Reduction (increase, if higher is better) from baseline that counts as response; default the
        registry's ``cutoffs.response_percent``, else 50.
    remission
        Final score at or below which (at or above, if higher is better) a participant is in
        remission; default the registry's ``cutoffs.remission`` (missing if none).

    Returns
    -------
    pandas.DataFrame
        ``participant_id, arm, baseline, final, change, percent_change, rci, category, response,
        remission, final_time, reliable_improvement, reliable_deterioration``. Participants without a
        score after baseline keep their row with missing ``final``, ``category`` and flags (a
        :class:`DataWarning` says how many). ``attrs["settings"]`` holds the values used.

    Examples
    --------
    >>> import ipt_outcomes as ipt
    >>> trial = ipt.simulate_trial(n_participants=100, seed=3, dropout=0, instruments=["PHQ9"])
    >>> cc = ipt.clinical_change(trial, "PHQ9")
    >>> sorted(cc["category"].unique())
    ['deteriorated', 'improved', 'recovered', 'unchanged']
    """
    reg = registry_in_force(df, registry)
    inst = reg[outcome]
    time = time_column(df, time).column
    data = outcome_rows(df, outcome, ["participant_id", "arm", "score", time])
    if len(data) == 0:
        raise AnalysisError(f"no rows for outcome {outcome!r}.")
    # participants as integer codes (sorted ids, as a sorted groupby): one hash pass over the rows
    person, ids = pd.factorize(data["participant_id"], sort=True)
    score = pd.to_numeric(data["score"], errors="coerce").to_numpy(dtype=float)
    t = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float)
    arm_values = data["arm"].to_numpy(dtype=object)
    arm = np.full(len(ids), np.nan, dtype=object)
    first = _first_row(person, pd.notna(arm_values) & (person >= 0), len(ids))  # first arm recorded
    arm[first >= 0] = arm_values[first[first >= 0]]
    scored = ~np.isnan(score) & ~np.isnan(t) & (person >= 0)
    base = _pick(score, _first_row(person, scored & (t == 0), len(ids)))
    post = scored & ((t > 0) if at is None else (t == at))
    if at is not None and not post.any():
        times = t[scored]
        raise ArgumentError(f"no {outcome} score at {time} {at:g}: at= must be a time at which participants were "
                            f"assessed ({time} {times.min():g} to {times.max():g} in these data).")
    # each participant's latest score after baseline (of two at the same latest time, the later row)
    latest = pd.Series(np.where(post, t, -np.inf)).groupby(person).max().reindex(range(len(ids))).to_numpy()
    final_row = _last_row(person, post & (t == latest[np.maximum(person, 0)]), len(ids))
    final, final_time = _pick(score, final_row), _pick(t, final_row)
    present = base[~np.isnan(base)]
    r_xx, r_source = _reliability(inst, reliability)
    sd0 = float(np.std(present, ddof=1)) if sd_baseline is None and len(present) > 1 else \
        (math.nan if sd_baseline is None else float(sd_baseline))
    if not sd0 > 0:
        raise AnalysisError(f"the SD of {outcome} baseline scores is {sd0}; the RCI needs a positive SD (give sd_baseline).")
    s_diff = math.sqrt(2.0) * sd0 * math.sqrt(1.0 - r_xx)
    cut, cut_type = _cutoff(inst, cutoff, float(present.mean()) if len(present) else math.nan, sd0)
    sign = -1.0 if inst.higher_is == "worse" else 1.0  # sign of an improvement
    resp = float(response_percent if response_percent is not None else inst.cutoffs.get("response_percent", 50))
    remit = remission if remission is not None else inst.cutoffs.get("remission")

    out = pd.DataFrame({"participant_id": pd.Index(ids).astype(str), "arm": arm})
    out["baseline"], out["final"], out["final_time"] = base, final, final_time
    out["change"] = out["final"] - out["baseline"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["percent_change"] = np.where(out["baseline"] != 0, 100 * out["change"] / out["baseline"], np.nan)
    out["rci"] = out["change"] / s_diff
    known = out["rci"].notna()
    improve = sign * out["rci"] > Z_RELIABLE
    worse = -sign * out["rci"] > Z_RELIABLE
    functional_end = (out["final"] < cut) if inst.higher_is == "worse" else (out["final"] > cut)
    dysfunctional_start = (out["baseline"] >= cut) if inst.higher_is == "worse" else (out["baseline"] <= cut)
    category = np.select([improve & functional_end & dysfunctional_start, improve, worse],
                         ["recovered", "improved", "deteriorated"], "unchanged")
    out["category"] = pd.Series(category, index=out.index).where(known, None).astype(object)
    out["reliable_improvement"] = improve.where(known, None).astype(object)
    out["reliable_deterioration"] = worse.where(known, None).astype(object)
    response = (sign * out["percent_change"] >= resp)
    out["response"] = response.where(out["percent_change"].notna(), None).astype(object)
    if remit is None:
        out["remission"] = None
    else:
        rem = (out["final"] <= remit) if inst.higher_is == "worse" else (out["final"] >= remit)
        out["remission"] = rem.where(out["final"].notna(), None).astype(object)
    missing_final = int(out["final"].isna().sum())
    if missing_final:
        warnings.warn(f"{missing_final} participant(s) have no {outcome} score after baseline; they are kept with "
                      "missing final score and category (see the missing-data analyses).", DataWarning, stacklevel=2)
    out = out[CHANGE_COLUMNS]
    out.attrs["settings"] = ChangeSettings(
        outcome=outcome, reliability=r_xx, reliability_source=r_source, sd_baseline=sd0, s_diff=s_diff,
        reliable_change=Z_RELIABLE * s_diff, cutoff=cut, cutoff_type=cut_type, response_percent=resp,
        remission=None if remit is None else float(remit), higher_is=inst.higher_is).__dict__
    if df.attrs.get("ipt_study") is not None:  # the study's reference arm reaches summarise_change
        out.attrs["ipt_study"] = df.attrs["ipt_study"]
    return out


def _first_row(person: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """For each of ``n`` participants the position of their first row where ``mask`` holds, else -1."""
    return _row_of(person, mask, n, "min")


def _last_row(person: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """For each of ``n`` participants the position of their last row where ``mask`` holds, else -1."""
    return _row_of(person, mask, n, "max")


def _row_of(person: np.ndarray, mask: np.ndarray, n: int, how: str) -> np.ndarray:
    rows = np.flatnonzero(mask)
    chosen = pd.Series(rows).groupby(person[rows]).agg(how)  # integer keys: one hash pass
    return chosen.reindex(range(n), fill_value=-1).to_numpy(dtype=np.int64)


def _pick(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``values`` at ``rows``, NaN where a row is -1."""
    return np.where(rows >= 0, values[np.maximum(rows, 0)], np.nan)


def _reliability(inst: Instrument, given: float | None) -> tuple[float, str]:
    if given is not None:
        if not 0 < given < 1:
            raise ArgumentError(f"reliability must lie between 0 and 1, not {given}.")
        return float(given), "argument"
    if inst.reliability is None:
        raise ArgumentError(f"{inst.key} has no reliability in the registry; pass reliability= (for example "
                            "Cronbach's alpha or test-retest r from your sample or the instrument's manual).")
    if not inst.reliability_verified:
        warnings.warn(f"the registry reliability of {inst.key} ({inst.reliability}) is not verified against its "
                      "primary source; pass reliability= to use a value you have checked.", ApproximationWarning,
                      stacklevel=3)
    return float(inst.reliability), inst.reliability_source or "registry"


def _cutoff(inst: Instrument, cutoff: float | str | None, m_clin: float, sd_clin: float) -> tuple[float, str]:
    func = inst.norms.get("functional") if inst.norms else None
    m_func = func.get("mean") if func else None
    sd_func = func.get("sd") if func else None
    cuts = jacobson_truax_cutoffs(m_clin, sd_clin, m_func, sd_func, inst.higher_is)
    if cutoff is None:
        cutoff = "c" if "c" in cuts else "a"
    if isinstance(cutoff, str):
        if cutoff not in ("a", "b", "c"):
            raise ArgumentError(f"cutoff must be a score or 'a', 'b', 'c', not {cutoff!r}.")
        if cutoff not in cuts:
            raise ArgumentError(f"cut-off {cutoff} needs functional norms, which the registry lacks for {inst.key}; "
                                "give the norms in the study file or a numeric cutoff.")
        return float(cuts[cutoff]), cutoff
    return float(cutoff), "given"
