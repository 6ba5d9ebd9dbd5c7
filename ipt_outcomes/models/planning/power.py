"""``ipt.power_simulation``: power of a planned trial by simulation and refitting.

For each sample size: simulate ``n_replicates`` trials with :func:`ipt_outcomes.simulate_trial`
(the given effect size and dropout), fit the planned growth model with the fast engine, and count
how often the tested coefficient is significant. Power comes with its Monte Carlo SE and a Wilson
interval. Replicates run in parallel processes; each has its own seed from one
``numpy.random.SeedSequence``, so results do not depend on the number of processes.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from ...arguments import checked, each, level, mapping, number, optional, seed, text, whole
from ...errors import ArgumentError, IPTOutcomesError, IPTOutcomesWarning
from ...simulate import simulate_trial, time_term

__all__ = ["power_simulation"]


def _one(args: tuple[int, int, dict[str, Any], dict[str, Any], str, str, float]) -> tuple[float, float, bool]:
    """One replicate: (estimate, p value, failed)."""
    seed, n, sim, fit_kw, outcome, term, _alpha = args
    from ..growth import fit_growth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IPTOutcomesWarning)
        try:
            df = simulate_trial(n_participants=n, seed=seed, **sim)
            fit = fit_growth(df, outcome, check=False, **fit_kw)
            row = fit.fixed_effects.set_index("term").loc[term]
            return float(row["estimate"]), float(row["p_value"]), False
        except (IPTOutcomesError, np.linalg.LinAlgError, KeyError):
            return math.nan, math.nan, True


def _single_threaded() -> None:
    """Worker initializer: one BLAS thread per process, so processes do not compete for cores."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn (a pingouin dependency)
        pass


def _truth(sim: dict[str, Any], outcome: str, term: str) -> float:
    """The true coefficient (it does not depend on the sample size: read it off a tiny trial)."""
    small = simulate_trial(n_participants=4, seed=0, **sim)
    return float(small.attrs["truth"]["instruments"][outcome]["fixed_effects"].get(term, math.nan))


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _run_chunk(chunk: list[tuple]) -> list[tuple[float, float, bool]]:
    return [_one(a) for a in chunk]


@checked(n_participants=each(whole(4, 10_000_000)), effect_size=number(), dropout=number(0, 1, open_high=True),
         n_replicates=whole(1, 10_000_000), seed=seed, alpha=level, outcome=text, arm=text,
         simulate=optional(mapping), fit=optional(mapping), n_jobs=optional(whole(1, 1024)))
def power_simulation(
    n_participants: int | Sequence[int] = 200,
    effect_size: float = 0.6,
    dropout: float = 0.2,
    n_replicates: int = 1000,
    seed: int = 1,
    *,
    alpha: float = 0.05,
    outcome: str = "HAMD17",
    arm: str = "IPT",
    simulate: Mapping[str, Any] | None = None,
    fit: Mapping[str, Any] | None = None,
    n_jobs: int | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Power to detect the arm x time effect (or another term) for each sample size.

    Parameters
    ----------
    n_participants
        One or several total sample sizes.
    effect_size, dropout
        True growth-model d of ``arm`` against the reference arm, and the dropout share (MAR).
    n_replicates, seed
        Simulated trials per sample size, and the master seed.
    alpha
        Significance level of the two-sided Satterthwaite t test.
    simulate, fit
        Further arguments of :func:`ipt_outcomes.simulate_trial` and :func:`ipt_outcomes.fit_growth`
        (``fit={"term": ...}`` chooses another coefficient to test).
    n_jobs
        Processes (default: all cores).

    Returns
    -------
    pandas.DataFrame
        ``n_participants``, ``effect_size``, ``dropout``, ``term``, ``replicates``, ``failed``,
        ``power``, ``mc_se`` (``sqrt(power (1 - power) / R)``), ``ci_lower``, ``ci_upper`` (Wilson),
        ``mean_estimate``, ``truth``.
    """
    sizes = [n_participants] if isinstance(n_participants, (int, np.integer)) else list(n_participants)
    if n_replicates < 1 or not sizes or any(int(n) < 4 for n in sizes):
        raise ArgumentError("power_simulation needs n_replicates >= 1 and sample sizes of at least 4.")
    sim = {"effect_sizes": {arm: effect_size}, "dropout": dropout, "therapists_per_arm": 0,
           "instruments": [outcome], **dict(simulate or {})}
    fit_kw = dict(fit or {})
    shape = sim.get("time_shape", "linear")
    term = fit_kw.pop("term", f"{time_term('session', shape)}:arm[{arm}]")
    if "formula" not in fit_kw:  # a formula states the model itself (keyword options are refused with it)
        fit_kw.setdefault("shape", shape)
    fit_kw.setdefault("reference_arm", sim.get("reference_arm", (sim.get("arms") or ("IPT", "TAU"))[-1]))
    jobs = n_jobs or os.cpu_count() or 1
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    rows = []
    with Progress(disable=not progress, transient=True) as bar:
        for n, ss in zip(sizes, seeds, strict=True):
            task = bar.add_task(f"power, n = {n}", total=n_replicates)
            rep_seeds = [int(s.generate_state(1)[0]) for s in ss.spawn(n_replicates)]
            work = [(s, int(n), sim, fit_kw, outcome, term, alpha) for s in rep_seeds]
            results: list[tuple[float, float, bool]] = []
            if jobs == 1:
                for item in work:
                    results.append(_one(item))
                    bar.advance(task)
            else:
                with ProcessPoolExecutor(max_workers=jobs, initializer=_single_threaded) as pool:
                    for chunk in pool.map(_run_chunk, _chunks(work, 10)):
                        results.extend(chunk)
                        bar.advance(task, len(chunk))
            est = np.array([r[0] for r in results])
            p = np.array([r[1] for r in results])
            failed = int(sum(r[2] for r in results))
            ok = ~np.isnan(p)
            hits = int(np.sum(p[ok] < alpha))
            m = int(ok.sum())
            power = hits / m if m else math.nan
            from ...clinical.summary import wilson_interval

            lo, hi = wilson_interval(hits, m) if m else (math.nan, math.nan)
            truth = _truth(sim, outcome, term)
            rows.append({"n_participants": int(n), "effect_size": effect_size, "dropout": dropout, "term": term,
                         "replicates": m, "failed": failed, "power": power,
                         "mc_se": math.sqrt(power * (1 - power) / m) if m else math.nan,
                         "ci_lower": lo, "ci_upper": hi, "mean_estimate": float(np.nanmean(est)) if m else math.nan,
                         "truth": truth})
    return pd.DataFrame(rows)
