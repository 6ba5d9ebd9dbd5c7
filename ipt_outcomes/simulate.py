"""``ipt.simulate_trial``: canonical trial data with known true effects.

The generating model, for participant i (arm a, therapist h) at assessment j with
``f(t) = t`` (linear) or ``log(t + 1)`` (log-linear), on a latent scale in baseline-SD units::

    z_ij = u0_i + v_h + (beta_a + u1_i) * f(t_ij) + e_ij
    (u0, u1) ~ N(0, [[icc, rho*sqrt(icc)*tau], [., tau^2]]),  v_h ~ N(0, therapist_icc),
    e ~ N(0, 1 - icc - therapist_icc)

and each instrument k scores ``y = mean_k + sd_k * z`` (rounded and clipped to the instrument's
range unless ``integer_scores=False``). ``beta_a`` makes the reference arm improve by
``reference_improvement`` baseline SDs by the end of treatment and arm a by ``effect_sizes[a]``
more (Feingold's growth-model d). Dropout is monotone and missing at random: the chance of leaving
before an assessment rises with the score just observed (of an instrument given every session),
calibrated to the requested rate.

The true parameters come back in ``df.attrs["truth"]``, in the term names of
:func:`ipt_outcomes.fit_growth` and in the instrument's raw units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from .arguments import checked, choice, each, either, mapping, names, number, optional, seed, text, whole
from .errors import ArgumentError
from .io.writers import FORMULA_STARTS
from .registry import default_registry
from .vocabulary import category_values

__all__ = ["DISORDER_INSTRUMENTS", "SIMULATION_BASELINES", "simulate_trial"]

#: baseline mean and SD of clinical samples, used only to simulate (not norms)
SIMULATION_BASELINES: dict[str, tuple[float, float]] = {
    "HAMD17": (20.0, 4.5), "BDI2": (28.0, 8.0), "PHQ9": (16.0, 4.5), "EPDS": (17.0, 4.0),
    "PCL5": (50.0, 12.0), "CAPS5": (40.0, 9.0), "EDEQ_GLOBAL": (3.6, 1.0), "GAD7": (14.0, 4.0),
    "LSAS": (75.0, 20.0),
}
#: default outcome instrument of each disorder
DISORDER_INSTRUMENTS: dict[str, str] = {
    "depression": "HAMD17", "perinatal_depression": "EPDS", "bulimia": "EDEQ_GLOBAL",
    "binge_eating": "EDEQ_GLOBAL", "anorexia": "EDEQ_GLOBAL", "ptsd": "PCL5", "anxiety": "GAD7",
    "social_anxiety": "LSAS", "bipolar": "HAMD17", "substance_use": "PHQ9", "other": "PHQ9",
}
_PROBLEM_AREAS = {"role_dispute": 0.35, "role_transition": 0.3, "grief": 0.15, "interpersonal_deficits": 0.2}


def time_term(time: str, shape: str) -> str:
    """Name of the fixed-effect term of time for a shape (shared with the models)."""
    return f"log({time} + 1)" if shape == "log" else time


@checked(n_participants=whole(2), seed=optional(seed), arms=names, allocation=optional(each(number(0))),
         reference_arm=optional(text), effect_sizes=optional(mapping), reference_improvement=number(),
         disorders=either(mapping, names), instruments=optional(names), schedule=optional(mapping),
         sessions=each(whole(1)), time_shape=choice("linear", "log"), participant_icc=number(0, 1, open_high=True),
         change_sd=number(0), intercept_slope_correlation=number(-1, 1), therapist_icc=number(0, 1, open_high=True),
         therapists_per_arm=whole(0, 10_000), dropout=number(0, 1, open_high=True), dropout_mechanism=choice("mar", "mcar"),
         intermittent_missing=number(0, 1, open_high=True), missing=choice("drop", "keep"),
         problem_areas=optional(mapping), secondary_problem_area=number(0, 1), problem_areas_in=choice("ipt", "all"),
         problem_area_effects=optional(mapping), disorder_effects=optional(mapping), trial_id=text, start_date=text)
def simulate_trial(
    n_participants: int = 200,
    seed: int | None = 1,
    *,
    arms: Sequence[str] = ("IPT", "TAU"),
    allocation: Sequence[float] | None = None,
    reference_arm: str | None = None,
    effect_sizes: Mapping[str, float] | None = None,
    reference_improvement: float = 0.8,
    disorders: Mapping[str, float] | Sequence[str] = ("depression",),
    instruments: Sequence[str] | None = None,
    schedule: Mapping[str, Sequence[int | str]] | None = None,
    sessions: tuple[int, int] = (12, 16),
    time_shape: Literal["linear", "log"] = "linear",
    participant_icc: float = 0.6,
    change_sd: float = 0.5,
    intercept_slope_correlation: float = -0.3,
    therapist_icc: float = 0.05,
    therapists_per_arm: int = 4,
    dropout: float = 0.2,
    dropout_mechanism: Literal["mar", "mcar"] = "mar",
    intermittent_missing: float = 0.0,
    missing: Literal["drop", "keep"] = "drop",
    problem_areas: Mapping[str, float] | None = None,
    secondary_problem_area: float = 0.3,
    problem_areas_in: Literal["ipt", "all"] = "ipt",
    problem_area_effects: Mapping[str, float] | None = None,
    disorder_effects: Mapping[str, float] | None = None,
    integer_scores: bool = True,
    trial_id: str = "SIM1",
    start_date: str = "2024-01-08",
) -> pd.DataFrame:
    """Simulate an IPT trial in the canonical long format, with the truth attached.

    Parameters
    ----------
    n_participants
        Number of randomised participants.
    seed
        Seed of the random generator (``numpy.random.default_rng``); the same seed gives the same data.
    arms, allocation, reference_arm
        Arm names, their allocation probabilities (default equal) and the comparison arm (default:
        the last arm).
    effect_sizes
        Growth-model d (Feingold 2009) of each arm against the reference at the end of treatment;
        positive = better. Default: 0.6 for the first non-reference arm (IPT vs control, Cuijpers 2011).
    reference_improvement
        Improvement of the reference arm over treatment, in baseline SDs.
    disorders
        Disorders (equal shares) or a mapping disorder -> share.
    instruments
        Instruments measured on everybody. Default: each participant's disorder instrument
        (:data:`DISORDER_INSTRUMENTS`).
    schedule
        Per instrument, the sessions at which it is given (``"end"`` = the participant's last
        planned session). Default: every session from 0.
    sessions
        Range of planned IPT sessions; each participant's plan is drawn uniformly from it. The end
        of treatment for effect sizes is ``sessions[1]``.
    time_shape
        ``"linear"`` or ``"log"`` change over sessions.
    participant_icc, change_sd, intercept_slope_correlation, therapist_icc
        Variance structure in baseline-SD units: share of baseline variance between participants,
        SD across participants of the change by the end of treatment, correlation of intercepts and
        slopes, share of variance between therapists (therapists nested in arms).
    therapists_per_arm
        Therapists in each arm (0: no therapist column and no therapist variance).
    dropout, dropout_mechanism
        Share of participants who leave early, and whether leaving depends on the last observed
        score (``"mar"``) or not (``"mcar"``).
    intermittent_missing
        Chance that a single assessment of someone still in the trial is missing.
    missing
        ``"drop"`` omits rows after dropout; ``"keep"`` keeps them with a missing score.
    problem_areas, secondary_problem_area, problem_areas_in
        Shares of primary problem areas, the chance of a second one, and whether they are recorded
        for IPT arms only (as in most trials) or all arms.
    problem_area_effects, disorder_effects
        Extra d for IPT arms by primary problem area or disorder (moderators).
    integer_scores
        Round and clip scores to the instrument's range and precision (set False to check models
        against the exact truth).

    Returns
    -------
    pandas.DataFrame
        Canonical columns ``trial_id, participant_id, arm, disorder, instrument, score, session,
        week, problem_area, problem_area_secondary, therapist_id, format, population,
        sessions_attended, assessment_date`` plus ``age``. ``df.attrs["truth"]`` holds, per
        instrument, ``fixed_effects`` and ``variance_components`` (raw units, fit_growth term
        names), ``baseline_sd``, ``effect_sizes`` and the realised ``dropout_rate``.

    Examples
    --------
    >>> import ipt_outcomes as ipt
    >>> df = ipt.simulate_trial(n_participants=40, seed=3)
    >>> sorted(df["arm"].unique()), df.attrs["truth"]["reference_arm"]
    (['IPT', 'TAU'], 'TAU')
    """
    _check_arguments(n_participants, arms, sessions, participant_icc, therapist_icc, dropout,
                     intermittent_missing, time_shape, missing, dropout_mechanism)
    _check_feasible(n_participants, len(instruments) if instruments else 1)
    _check_values(effect_sizes, "effect_sizes", arms)
    _check_values(problem_area_effects, "problem_area_effects", None)
    _check_values(disorder_effects, "disorder_effects", None)
    if not _is_date(start_date):
        raise ArgumentError(f"start_date must be a date such as '2024-01-08', not {start_date!r}.")
    rng = np.random.default_rng(seed)
    registry = default_registry()
    arms = [str(a) for a in arms]
    reference_arm = reference_arm if reference_arm is not None else arms[-1]
    if reference_arm not in arms:
        raise ArgumentError(f"reference_arm {reference_arm!r} is not one of the arms {arms}.")
    treated = [a for a in arms if a != reference_arm]
    effects = dict(effect_sizes) if effect_sizes is not None else {treated[0]: 0.6} if treated else {}
    unknown = set(effects) - set(arms)
    if unknown:
        raise ArgumentError(f"effect_sizes names arms that are not in arms: {sorted(unknown)}.")
    disorder_shares = _shares(disorders, "disorders", category_values("disorder"))
    pa_shares = _shares(problem_areas or _PROBLEM_AREAS, "problem_areas", category_values("problem_area"))
    ipt_arms = [a for a in arms if "ipt" in a.lower() or "interpersonal" in a.lower()]

    n = n_participants
    probs = np.full(len(arms), 1 / len(arms)) if allocation is None else np.asarray(allocation, float)
    if len(probs) != len(arms) or np.any(probs < 0) or not math.isclose(probs.sum(), 1.0, rel_tol=1e-6):
        raise ArgumentError("allocation must give one non-negative probability per arm, summing to 1.")
    arm_idx = _balanced_allocation(rng, n, probs)
    arm = np.asarray(arms, dtype=object)[arm_idx]
    disorder = rng.choice(list(disorder_shares), size=n, p=list(disorder_shares.values()))
    planned = rng.integers(sessions[0], sessions[1] + 1, size=n)
    end = sessions[1]
    f = (lambda t: np.log(np.asarray(t, float) + 1)) if time_shape == "log" else (lambda t: np.asarray(t, float))
    f_end = float(f(end))

    # problem areas
    is_ipt = np.isin(arm, ipt_arms)
    record_pa = is_ipt if problem_areas_in == "ipt" else np.ones(n, bool)
    primary = np.where(record_pa, rng.choice(list(pa_shares), size=n, p=list(pa_shares.values())), None)
    secondary = np.full(n, None, dtype=object)
    for i in np.flatnonzero(record_pa & (rng.random(n) < secondary_problem_area)):
        others = [a for a in pa_shares if a != primary[i]]
        secondary[i] = others[rng.integers(len(others))]

    # participant effects (latent, baseline-SD units)
    tau = change_sd / f_end
    cov = np.array([[participant_icc, intercept_slope_correlation * math.sqrt(participant_icc) * tau],
                    [intercept_slope_correlation * math.sqrt(participant_icc) * tau, tau ** 2]])
    u = rng.multivariate_normal(np.zeros(2), cov, size=n)
    therapist = np.full(n, None, dtype=object)
    v = np.zeros(n)
    if therapists_per_arm > 0:
        t_effects = rng.normal(0, math.sqrt(therapist_icc), size=(len(arms), therapists_per_arm))
        t_idx = rng.integers(therapists_per_arm, size=n)
        therapist = np.array([f"T{a + 1}{t + 1:02d}" for a, t in zip(arm_idx, t_idx, strict=True)], dtype=object)
        v = t_effects[arm_idx, t_idx]
    resid_var = 1.0 - participant_icc - (therapist_icc if therapists_per_arm > 0 else 0.0)
    d_i = np.array([effects.get(a, 0.0) for a in arm])
    mod = np.zeros(n)
    for area, d in (problem_area_effects or {}).items():
        mod += np.where(is_ipt & (primary == area), d, 0.0)
    for dis, d in (disorder_effects or {}).items():
        mod += np.where(is_ipt & (disorder == dis), d, 0.0)
    beta = -(reference_improvement + d_i + mod) / f_end  # latent: lower = better

    # assessment occasions (every session up to the plan)
    pid = np.repeat(np.arange(n), planned + 1)
    session = np.concatenate([np.arange(k + 1) for k in planned])
    gaps = np.where(rng.random(len(session)) < 0.15, 2.0, 1.0)
    gaps[session == 0] = 0.0
    week = pd.Series(gaps).groupby(pid).cumsum().to_numpy()
    z_mean = u[pid, 0] + v[pid] + (beta[pid] + u[pid, 1]) * f(session)
    instrument_of = _instruments(instruments, disorder, registry)
    keys = sorted({k for ks in instrument_of for k in ks})
    residual = {key: rng.normal(0, math.sqrt(resid_var), len(session)) for key in keys}
    # dropout depends on the previous score of an instrument given every session (missing at random)
    every = [k for k in keys if (schedule or {}).get(k) is None]
    driver = np.array([next((k for k in ks if k in every), ks[0]) for ks in instrument_of], dtype=object)
    z_driver = z_mean + np.select([driver[pid] == k for k in keys], [residual[k] for k in keys])
    dropped_at = _dropout(rng, pid, session, z_driver, n, dropout, dropout_mechanism)
    in_trial = session < dropped_at[pid]
    last_session = pd.Series(np.where(in_trial, session, -1)).groupby(pid).max().to_numpy()

    frames, truth_by_instrument = [], {}
    for key in keys:
        inst = registry[key]
        mean, sd = SIMULATION_BASELINES.get(key, ((inst.min + inst.max) / 2, (inst.max - inst.min) / 6))
        sign = 1.0 if inst.higher_is == "worse" else -1.0
        has = np.array([key in ks for ks in instrument_of])
        rows = has[pid]
        sched = (schedule or {}).get(key)
        if sched is not None:
            rows &= _scheduled(session, planned[pid], sched)
        z = z_mean + residual[key]
        score = mean + sign * sd * z
        if integer_scores:
            score = np.round(score) if inst.integer else np.round(score, 2)
            score = np.clip(score, inst.min, inst.max)
        observed = (in_trial & (rng.random(len(session)) >= intermittent_missing)) | (session == 0)
        score = np.where(observed, score, np.nan)
        keep = rows if missing == "keep" else rows & in_trial
        frames.append(pd.DataFrame({"_pid": pid[keep], "instrument": key, "score": score[keep],
                                    "session": session[keep], "week": week[keep]}))
        truth_by_instrument[key] = _truth(key, mean, sd, sign, arms, reference_arm, effects, time_shape,
                                          f_end, reference_improvement, participant_icc, tau,
                                          intercept_slope_correlation, therapist_icc, therapists_per_arm,
                                          resid_var, end)
    long = pd.concat(frames, ignore_index=True).sort_values(["_pid", "session", "instrument"], kind="stable")
    p = long.pop("_pid").to_numpy()
    starts = pd.Timestamp(start_date) + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    ids = np.array([f"P{i + 1:04d}" for i in range(n)], dtype=object)
    fmt = "individual"
    population = np.where(disorder == "perinatal_depression", "perinatal", "adult")
    age = np.round(rng.normal(38, 11, n).clip(18, 80))
    age[population == "perinatal"] = np.round(rng.normal(30, 5, (population == "perinatal").sum()).clip(18, 45))
    out = pd.DataFrame({
        "trial_id": _text(np.full(len(p), trial_id, dtype=object)),
        "participant_id": _text(ids[p]),
        "arm": _text(arm, p),
        "disorder": _text(disorder, p),
        "instrument": _text(long["instrument"].to_numpy()),
        "score": long["score"].to_numpy(),
        "session": long["session"].to_numpy().astype("int64"),
        "week": long["week"].to_numpy(),
        "problem_area": _text(primary, p),
        "problem_area_secondary": _text(secondary, p),
        "therapist_id": _text(therapist, p),
        "format": _text(np.full(len(p), fmt, dtype=object)),
        "population": _text(population, p),
        "sessions_attended": last_session[p].clip(0).astype("int64"),
        "assessment_date": (starts[p] + pd.to_timedelta(long["week"].to_numpy() * 7, unit="D")).normalize(),
        "age": age[p],
    })
    if therapists_per_arm == 0:
        out = out.drop(columns="therapist_id")
    out.attrs["truth"] = {
        "seed": seed,
        "n_participants": n,
        "reference_arm": reference_arm,
        "arms": arms,
        "time_shape": time_shape,
        "end_session": end,
        "effect_sizes": {a: effects.get(a, 0.0) for a in treated},
        "dropout_rate": float(np.mean(dropped_at <= planned)),
        "instruments": truth_by_instrument,
        "moderators": {"problem_area": dict(problem_area_effects or {}),
                       "disorder": dict(disorder_effects or {})},
    }
    return out


def _text(values: np.ndarray, rows: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A string column; with ``rows``, the per-participant ``values`` repeated by row (one Python
    string per participant, shared by its rows, not one per cell)."""
    values = np.asarray(values, dtype=object)
    return pd.array(values if rows is None else values[rows], dtype="string")


def _check_arguments(n: int, arms: Sequence[str], sessions: tuple[int, int], icc: float, t_icc: float,
                     dropout: float, intermittent: float, shape: str, missing: str, mechanism: str) -> None:
    if not isinstance(n, (int, np.integer)) or n < 2:
        raise ArgumentError(f"n_participants must be a whole number >= 2, not {n!r}.")
    if len(arms) < 1 or len(set(arms)) != len(arms):
        raise ArgumentError(f"arms must be distinct names, got {list(arms)}.")
    for arm in arms:
        if arm[:1] in FORMULA_STARTS or arm != arm.strip() or any(not c.isprintable() for c in arm):
            raise ArgumentError(f"arm name {arm!r} would be read as a formula by spreadsheets or holds spaces or "
                                "control characters at its ends; start arm names with a letter or digit.")
    if len(sessions) != 2 or not 1 <= sessions[0] <= sessions[1]:
        raise ArgumentError(f"sessions must be (min, max) with 1 <= min <= max, not {sessions!r}.")
    if not (0 <= icc < 1 and 0 <= t_icc < 1 and icc + t_icc < 1):
        raise ArgumentError("participant_icc and therapist_icc must be in [0, 1) and sum to less than 1.")
    if not 0 <= dropout < 1 or not 0 <= intermittent < 1:
        raise ArgumentError("dropout and intermittent_missing must be in [0, 1).")
    if shape not in ("linear", "log"):
        raise ArgumentError(f"time_shape must be 'linear' or 'log', not {shape!r}.")
    if missing not in ("drop", "keep"):
        raise ArgumentError(f"missing must be 'drop' or 'keep', not {missing!r}.")
    if mechanism not in ("mar", "mcar"):
        raise ArgumentError(f"dropout_mechanism must be 'mar' or 'mcar', not {mechanism!r}.")


#: memory one simulated participant costs at its peak, per instrument (measured about 6 KB with the
#: interpreter; with a margin)
_BYTES_PER_PARTICIPANT = 10_000


def _check_feasible(n: int, n_instruments: int) -> None:
    from .io.files import available_memory

    need = n * n_instruments * _BYTES_PER_PARTICIPANT
    available = available_memory()
    if available is not None and need > 0.8 * available:
        most = int(0.8 * available / (n_instruments * _BYTES_PER_PARTICIPANT))
        raise ArgumentError(f"n_participants={n:,} needs about {need / 1e9:,.0f} GB of memory and "
                            f"{available / 1e9:.1f} GB is available: at most about {most:,} participants "
                            "can be simulated on this machine.")


def _check_values(values: Mapping[str, Any] | None, name: str, keys: Sequence[str] | None) -> None:
    for key, value in (values or {}).items():
        number()(value, f"simulate_trial() argument {name}[{key!r}]")
        if keys is not None and key not in keys:
            raise ArgumentError(f"simulate_trial() argument {name}: {key!r} is not one of the arms {list(keys)}.")


def _is_date(value: str) -> bool:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return not pd.isna(stamp) and stamp.year < 2200


def _shares(value: Mapping[str, float] | Sequence[str], name: str, allowed: Sequence[str]) -> dict[str, float]:
    shares = dict(value) if isinstance(value, Mapping) else {str(k): 1.0 for k in value}
    bad = [k for k in shares if k not in allowed]
    if bad or not shares:
        raise ArgumentError(f"{name}: unknown value(s) {bad}; allowed: {', '.join(allowed)}.")
    total = float(sum(shares.values()))
    if total <= 0 or any(v < 0 for v in shares.values()):
        raise ArgumentError(f"{name}: shares must be non-negative with a positive sum.")
    return {k: v / total for k, v in shares.items()}


def _balanced_allocation(rng: np.random.Generator, n: int, probs: np.ndarray) -> np.ndarray:
    """Allocation as in a trial: the counts match the ratio as closely as possible, order random."""
    counts = np.floor(probs * n).astype(int)
    for k in np.argsort(-(probs * n - counts))[: n - counts.sum()]:
        counts[k] += 1
    return rng.permutation(np.repeat(np.arange(len(probs)), counts))


def _instruments(instruments: Sequence[str] | None, disorder: np.ndarray, registry: Any) -> list[tuple[str, ...]]:
    if instruments is None:
        return [(DISORDER_INSTRUMENTS[d],) for d in disorder]
    keys = tuple(instruments)
    for k in keys:
        registry[k]  # raises a clear error for an unknown instrument
    return [keys] * len(disorder)


def _scheduled(session: np.ndarray, planned: np.ndarray, schedule: Sequence[int | str]) -> np.ndarray:
    mask = np.zeros(len(session), bool)
    for s in schedule:
        if s == "end":
            mask |= session == planned
        elif s == "every":
            mask[:] = True
        else:
            mask |= session == int(s)
    return mask


def _dropout(rng: np.random.Generator, pid: np.ndarray, session: np.ndarray, z: np.ndarray, n: int,
             rate: float, mechanism: str) -> np.ndarray:
    """Session before which each participant leaves (a large number for completers)."""
    never = np.iinfo(np.int64).max
    if rate == 0:
        return np.full(n, never)
    uniform = rng.random(len(session))
    prev_z = np.concatenate([[0.0], z[:-1]])
    gamma = 1.0 if mechanism == "mar" else 0.0
    post = session > 0

    starts = np.flatnonzero(np.r_[True, pid[1:] != pid[:-1]])  # rows are grouped by participant

    def leave_at(alpha: float) -> np.ndarray:
        p = 1 / (1 + np.exp(-(alpha + gamma * prev_z)))
        leaves = post & (uniform < p)
        return np.minimum.reduceat(np.where(leaves, session, never), starts)

    lo, hi = -15.0, 5.0
    for _ in range(50):
        mid = (lo + hi) / 2
        share = np.mean(leave_at(mid) < never)
        lo, hi = (mid, hi) if share < rate else (lo, mid)
    return leave_at((lo + hi) / 2)


def _truth(key: str, mean: float, sd: float, sign: float, arms: list[str], reference: str,
           effects: Mapping[str, float], shape: str, f_end: float, ref_improvement: float, icc: float,
           tau: float, rho: float, t_icc: float, n_therapists: int, resid_var: float, end: int) -> dict[str, Any]:
    term = time_term("session", shape)
    fixed = {"Intercept": mean, term: -sign * sd * ref_improvement / f_end}
    for a in arms:
        if a == reference:
            continue
        fixed[f"arm[{a}]"] = 0.0
        fixed[f"{term}:arm[{a}]"] = -sign * sd * effects.get(a, 0.0) / f_end
    var = {
        ("participant_id", "Intercept", None): sd ** 2 * icc,
        ("participant_id", term, None): sd ** 2 * tau ** 2,
        ("participant_id", "Intercept", term): sd ** 2 * rho * math.sqrt(icc) * tau,
        ("Residual", None, None): sd ** 2 * resid_var,
    }
    if n_therapists > 0:
        var[("therapist_id", "Intercept", None)] = sd ** 2 * t_icc
    return {
        "fixed_effects": fixed,
        "variance_components": [{"group": g, "term1": t1, "term2": t2, "estimate": v}
                                for (g, t1, t2), v in var.items()],
        "baseline_mean": mean,
        "baseline_sd": sd,
        "end_session": end,
        "higher_is": "worse" if sign > 0 else "better",
    }
