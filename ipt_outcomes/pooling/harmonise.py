"""``ipt.harmonise``: one common metric for trials that measured different instruments.

* ``pomp``: the percent of maximum possible score (Cohen, Cohen, Aiken & West 1999),
  ``POMP = 100 (score - min) / (max - min)`` with the instrument's possible range from the registry
  (or the study's declared instruments); for an instrument on which a higher score is better,
  ``100 - POMP``, so that on the common metric higher is always worse. Range 0 to 100.
* ``baseline_sd``: baseline-SD units: ``(score - m) / s`` with ``m`` the baseline mean and ``s`` the
  pooled within-arm baseline SD (``sqrt(sum (n_a - 1) s_a^2 / sum (n_a - 1))``) of the same trial
  and instrument, the sign reversed for higher-is-better instruments. A difference of 1 is one
  baseline SD of that trial, the scale of a standardised mean difference (Cohen's d with the
  baseline SD; Feingold 2009); every trial starts near 0.

No published linking table between these instruments is applied: none is cited in the domain notes,
and POMP and baseline-SD units are the two transformations IPD meta-analyses of
different instruments use. The input table is not changed; the result has ``instrument`` set to
``POMP`` or ``BASELINE_SD``, the original instrument and score in ``source_instrument`` and
``source_score``, and the common metric declared as an instrument of the table's study, so that
validation and the analyses know its range and direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..errors import AnalysisError, ArgumentError
from ..study import Study, registry_in_force, time_column

__all__ = ["METRICS", "harmonise", "pooled_sd"]

METRICS = {"pomp": "POMP", "baseline_sd": "BASELINE_SD"}


def harmonise(df: pd.DataFrame, metric: str = "pomp", instrument: str | Mapping[str, str] | None = None,
              time: str | None = None, *, method: str | None = None) -> pd.DataFrame:
    """The table with every score on a common metric (see the module docstring).

    Parameters
    ----------
    df
        Canonical long table, one or more trials (``trial_id``), any instruments the registry or the
        table's study knows.
    metric
        The common metric: ``pomp`` or ``baseline_sd``. (``method=`` is its former name, still accepted
        with a DeprecationWarning: ``method`` now means an estimator everywhere.)
    instrument
        The instrument to harmonise: one name, or one per trial (``{trial_id: instrument}``). Default:
        each trial's only instrument, else the study's primary instrument; a trial with several and
        no choice is an error listing them. Rows of the other instruments are not in the result (one
        common score per participant and time).
    time
        Time column whose 0 is the baseline (``baseline_sd`` only); default the toolkit's rule.
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"harmonise() needs a pandas DataFrame, not {type(df).__name__}.")
    if method is not None:
        import warnings

        warnings.warn("harmonise(method=...) is now harmonise(metric=...); method means an estimator everywhere.",
                      DeprecationWarning, stacklevel=2)
        metric = method
    if metric not in METRICS:
        raise ArgumentError(f"metric must be 'pomp' or 'baseline_sd', not {metric!r}.")
    method = metric
    for column in ("instrument", "score"):
        if column not in df.columns:
            raise ArgumentError(f"the table has no {column!r} column; harmonise() needs instrument and score.")
    registry = registry_in_force(df)
    out = df.loc[_chosen_rows(df, instrument)].copy()
    chosen: pd.Series = out["instrument"].astype("string")
    score = pd.to_numeric(out["score"], errors="coerce").to_numpy(float)
    names = [str(v) for v in chosen.dropna().unique()]
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise AnalysisError(f"instrument(s) {', '.join(unknown)} are not in the registry: their range and direction "
                            "are needed; declare them in the study file (instruments: {name: {min, max, higher_is}}).")
    already = [n for n in names if n in METRICS.values()]
    if already:
        raise AnalysisError(f"the table is already harmonised ({', '.join(already)}); harmonise the original scores.")
    common = np.full(len(out), np.nan)
    if method == "pomp":
        for name in names:
            rows = (chosen == name).fillna(False).to_numpy()
            inst = registry[name]
            pomp = 100.0 * (score[rows] - inst.min) / (inst.max - inst.min)
            common[rows] = 100.0 - pomp if inst.higher_is == "better" else pomp
        bounds = (0.0, 100.0)
    else:
        common, bounds = _baseline_sd(out, chosen, score, registry, time)
    out["source_instrument"] = out["instrument"]
    out["source_score"] = out["score"]
    out["instrument"] = METRICS[method]
    out["score"] = common
    out.attrs = _with_metric(df.attrs, METRICS[method], bounds, method)
    return out


def _chosen_rows(df: pd.DataFrame, instrument: str | Mapping[str, str] | None) -> np.ndarray:
    """Rows of the instrument harmonised in each trial (see :func:`harmonise`)."""
    inst = df["instrument"].astype("string")
    trial = df["trial_id"].astype("string").fillna("") if "trial_id" in df.columns else \
        pd.Series("", index=df.index, dtype="string")
    study = Study.from_attrs(df.attrs.get("ipt_study"))
    keep = np.zeros(len(df), dtype=bool)
    for tr in trial.unique():
        in_trial = (trial == tr).to_numpy()
        present = sorted(str(v) for v in inst[in_trial].dropna().unique())
        what = f"trial {tr}" if tr else "the table"
        if isinstance(instrument, Mapping):
            if tr not in instrument:
                raise ArgumentError(f"instrument gives no instrument for {what}; give one for every trial "
                                    f"({', '.join(map(str, trial.unique()))}).")
            chosen = str(instrument[tr])
        elif instrument is not None:
            chosen = str(instrument)
        elif len(present) == 1:
            chosen = present[0]
        elif study is not None and study.primary_instrument in present:
            chosen = str(study.primary_instrument)
        else:
            raise ArgumentError(f"{what} has the instruments {', '.join(present)}: choose the one to harmonise with "
                                "instrument= (one name, or {trial_id: instrument}).")
        if chosen not in present:
            raise ArgumentError(f"{what} has no {chosen} scores (it has {', '.join(present)}).")
        keep |= in_trial & (inst == chosen).fillna(False).to_numpy()
    return keep


def _baseline_sd(out: pd.DataFrame, instrument: pd.Series, score: np.ndarray, registry: Any, time: str | None
                 ) -> tuple[np.ndarray, tuple[float, float]]:
    t = time_column(out, time).column
    when = pd.to_numeric(out[t], errors="coerce").to_numpy(float)
    blank = pd.Series("", index=out.index, dtype="string")
    trial = out["trial_id"].astype("string").fillna("") if "trial_id" in out.columns else blank
    arm = out["arm"].astype("string").fillna("") if "arm" in out.columns else blank
    common = np.full(len(out), np.nan)
    lo, hi = np.inf, -np.inf
    keys = pd.DataFrame({"trial": trial.to_numpy(), "instrument": instrument.to_numpy()})  # positional index
    for (tr, name), idx in keys.groupby(["trial", "instrument"], dropna=True).groups.items():
        positions = np.asarray(idx)
        base = positions[(when[positions] == 0) & np.isfinite(score[positions])]
        sd, dof = pooled_sd(score[base], arm.to_numpy()[base])
        what = f"trial {tr}, instrument {name}" if tr else f"instrument {name}"
        if dof < 1:
            raise AnalysisError(f"{what}: fewer than two baseline scores ({t} 0) in an arm; baseline-SD units need the "
                                "baseline SD of each trial. Use method='pomp', or add the baseline assessments.")
        if not sd > 0:
            raise AnalysisError(f"{what}: the baseline scores do not vary (SD 0); baseline-SD units are not defined. "
                                "Use method='pomp'.")
        mean = float(np.mean(score[base]))
        inst = registry[str(name)]
        flip = -1.0 if inst.higher_is == "better" else 1.0
        common[positions] = flip * (score[positions] - mean) / sd
        ends = sorted([flip * (inst.min - mean) / sd, flip * (inst.max - mean) / sd])
        lo, hi = min(lo, ends[0]), max(hi, ends[1])
    return common, (float(np.floor(lo)), float(np.ceil(hi)))


def pooled_sd(scores: np.ndarray, arms: np.ndarray) -> tuple[float, float]:
    """The pooled within-arm SD, ``sqrt(sum (n_a - 1) s_a^2 / sum (n_a - 1))``, and its df (NaN SD
    without df)."""
    by_arm = pd.Series(np.asarray(scores, float)).groupby(np.asarray(arms))
    n, var = by_arm.count(), by_arm.var(ddof=1)
    dof = float((n - 1).clip(lower=0).sum())
    if dof < 1:
        return float("nan"), dof
    return float(np.sqrt(float(((n - 1) * var.fillna(0)).sum()) / dof)), dof


def _with_metric(attrs: dict, key: str, bounds: tuple[float, float], method: str) -> dict:
    """The table's study with the common metric declared as one of its instruments."""
    attrs = dict(attrs)
    study = Study.from_attrs(attrs.get("ipt_study"))
    spec = dict(study.spec.get("spec", {})) if study is not None else {}
    source = study.source if study is not None else "<harmonised>"
    instruments = dict(spec.get("instruments") or {})
    instruments[key] = {
        "name": key.replace("_", " "), "min": bounds[0], "max": bounds[1], "higher_is": "worse", "integer": False,
        "full_name": ("percent of maximum possible score (POMP)" if method == "pomp"
                      else "score in units of the trial's pooled baseline SD"),
        "unit": "% of maximum" if method == "pomp" else "baseline SD",
    }
    spec["instruments"] = instruments
    if "model" in spec:  # an analysis plan's formula names the original instrument
        spec.pop("model")
    spec.pop("primary_instrument", None)
    attrs["ipt_study"] = {"source": source, "spec": spec}
    attrs["ipt_harmonised"] = {"method": method, "instrument": key}
    return attrs
