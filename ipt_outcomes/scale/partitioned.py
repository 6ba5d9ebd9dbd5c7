"""Validate and fit trial data too large for one machine's memory, partition by partition.

Validation runs :func:`ipt_outcomes.validate` (the pandera schema and the cross-row rules) on each
partition on the workers and gathers the problems on the client; participants whose rows are spread
over several partitions are reported, since their cross-row rules cannot be checked (write the
data partitioned by participant). Fitting computes per-participant sufficient statistics on each
partition, with one design fixed in advance (the arm and other categorical levels are read first),
sums them on the client, participant by participant, and runs the fast engine on the combined
statistics: the result equals fitting all the data at once.

On a real cluster, connect a client first (``distributed.Client("scheduler:8786")``) and give a
path every worker can read (shared file system or object store); the functions use the current
Dask client when one exists.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from ..arms import choose_reference_arm
from ..errors import AnalysisError, ArgumentError, ConvergenceWarning, InputFileError, SingularFitWarning
from ..models.design import GrowthSpec, build_design
from ..models.engine.likelihood import MixedData, evaluate, unpack
from ..models.engine.profiled import fit_profiled
from ..models.engine.satterthwaite import satterthwaite_state
from ..models.engine.statistics import sufficient_statistics
from ..models.growth import GrowthFit, _fixed_table, _is_singular, singular_advice
from ..validation import ValidationReport, validate
from ..validation.report import FAILURE_COLUMNS

__all__ = ["combine_statistics", "fit_growth_partitioned", "read_partitioned", "validate_partitioned"]


def _dd() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError:
        raise ArgumentError("partitioned data need Dask: pip install 'ipt-outcomes[dask]'.") from None
    return dd


def read_partitioned(path: str | Path) -> Any:
    """Open a folder of Parquet files (or one file) as a Dask DataFrame, one partition per file."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: not found; give a folder of Parquet files or one Parquet file.")
    try:
        return _dd().read_parquet(str(p))
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{p}: cannot be read as partitioned Parquet ({exc}).") from None


def _as_dask(data: Any) -> Any:
    return read_partitioned(data) if isinstance(data, (str, Path)) else data


def _keyed_within_trials(pdf: pd.DataFrame) -> pd.DataFrame:
    """Participants keyed as ``trial_id:participant_id`` in every partition (whatever trials it holds),
    so that the keys agree across partitions; ``trial_id`` is then dropped, so nothing keys them twice."""
    if "trial_id" not in pdf.columns or "participant_id" not in pdf.columns:
        return pdf
    key = pdf["trial_id"].astype("string").fillna("") + ":" + pdf["participant_id"].astype("string")
    return pdf.assign(participant_id=key).drop(columns="trial_id")


def _validate_partition(pdf: pd.DataFrame, number: int) -> tuple[pd.DataFrame, pd.DataFrame, int, np.ndarray]:
    report = validate(pdf.reset_index(drop=True))
    failures = report.failures.assign(partition=number)
    keyed = _keyed_within_trials(pdf)
    ids = keyed["participant_id"].astype(str).unique() if "participant_id" in keyed.columns else np.array([], object)
    return failures, report.missing_scores, len(pdf), ids


def validate_partitioned(data: str | Path | Any) -> ValidationReport:
    """Validate every partition on the workers; one report with a ``partition`` column.

    ``row`` is the row within its partition. Participants found in more than one partition are
    reported once each (check ``split_participant``).
    """
    import dask

    ddf = _as_dask(data)
    parts = ddf.to_delayed()
    results = dask.compute(*[dask.delayed(_validate_partition)(part, i) for i, part in enumerate(parts)])
    failures = [r[0] for r in results]
    owners: dict[str, int] = {}
    split = set()
    for i, (_, _, _, ids) in enumerate(results):
        for pid in ids:
            if owners.setdefault(pid, i) != i:
                split.add(pid)
    if split:
        rows = [{**dict.fromkeys(FAILURE_COLUMNS), "column": "participant_id", "check": "split_participant",
                 "participant_id": pid, "severity": "error", "partition": owners[pid],
                 "message": (f"participant {pid} has rows in more than one partition, so the rules across a "
                             "participant's rows cannot be checked; write the data partitioned by participant.")}
                for pid in sorted(split)]
        failures.append(pd.DataFrame(rows))
    table = pd.concat(failures, ignore_index=True) if failures else pd.DataFrame(columns=[*FAILURE_COLUMNS, "partition"])
    missing = pd.concat([r[1] for r in results], ignore_index=True)
    if len(missing):
        missing = missing.groupby(["instrument", "arm"], as_index=False)[["n_rows", "n_missing"]].sum()
    n_participants = len(owners)
    return ValidationReport(failures=table, missing_scores=missing, n_rows=int(sum(r[2] for r in results)),
                            n_participants=n_participants, source=str(data) if isinstance(data, (str, Path)) else None,
                            settings={"partitions": len(parts)})


def _partition_statistics(pdf: pd.DataFrame, spec: GrowthSpec) -> dict[str, Any] | None:
    rows = pdf[(pdf["instrument"] == spec.outcome).to_numpy(bool)] if "instrument" in pdf.columns else pdf
    if rows.empty:
        return None
    design = build_design(_keyed_within_trials(rows), spec)
    stats = sufficient_statistics(design.y, design.X, design.Z, design.participant)
    return {"ids": design.participant_ids, "ZZ": stats["ZZ"], "ZX": stats["ZX"], "Zy": stats["Zy"], "n": stats["n"],
            "XX": stats["XX"], "Xy": stats["Xy"], "yy": float(stats["yy"]), "terms": design.terms,
            "random_terms": design.random_terms, "sum_x": design.X.sum(axis=0), "dropped": design.n_dropped}


def combine_statistics(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-participant statistics over partitions (a participant may appear in several)."""
    parts = [p for p in parts if p is not None]
    if not parts:
        raise AnalysisError("no partition holds rows of this outcome.")
    ids, index = np.unique(np.concatenate([p["ids"] for p in parts]), return_inverse=True)
    n_groups = len(ids)

    def summed(key: str) -> np.ndarray:
        stacked = np.concatenate([p[key] for p in parts])
        out = np.zeros((n_groups, *stacked.shape[1:]))
        np.add.at(out, index, stacked)
        return out

    return {"ids": ids, "ZZ": summed("ZZ"), "ZX": summed("ZX"), "Zy": summed("Zy"), "n": summed("n"),
            "XX": sum(p["XX"] for p in parts), "Xy": sum(p["Xy"] for p in parts),
            "yy": np.array(sum(p["yy"] for p in parts)), "terms": parts[0]["terms"],
            "random_terms": parts[0]["random_terms"], "sum_x": sum(p["sum_x"] for p in parts),
            "dropped": int(sum(p["dropped"] for p in parts))}


def fit_growth_partitioned(data: str | Path | Any, outcome: str, time: str = "session",
                           random: Literal["intercept", "slope"] = "slope", method: Literal["reml", "ml"] = "reml",
                           reference_arm: str | None = None, covariates: tuple[str, ...] = (),
                           shape: Literal["linear", "log", "quadratic", "piecewise"] = "linear",
                           level: float = 0.95) -> GrowthFit:
    """Fit the growth model of :func:`ipt_outcomes.fit_growth` to partitioned data.

    Participant random effects only (no therapist component, no moderators). The result has the
    fixed effects with Satterthwaite df, variance components and fit statistics; methods that
    need the rows themselves (trajectories, residuals, random effects) are not available.
    """
    import dask

    ddf = _as_dask(data)
    cols = set(ddf.columns)
    for column in ("participant_id", "arm", "score", time):
        if column not in cols:
            raise ArgumentError(f"column {column!r} is needed but not in the data.")
    rows = ddf[ddf["instrument"] == outcome] if "instrument" in cols else ddf
    arms = sorted(str(a) for a in rows["arm"].dropna().unique().compute())
    level_sets: dict[str, tuple[str, ...]] = {}
    reference = choose_reference_arm(arms, reference_arm)
    reference_arm = reference.arm
    if len(arms) < 2:
        raise AnalysisError("only one arm has data; arm effects need two.")
    level_sets["arm"] = (reference_arm, *[a for a in arms if a != reference_arm])
    for cov in covariates:
        if not pd.api.types.is_numeric_dtype(ddf[cov].dtype):
            level_sets[cov] = tuple(sorted(str(v) for v in ddf[cov].dropna().unique().compute()))
    spec = GrowthSpec(outcome=outcome, time=time, shape=shape, random=random, method=method,
                      reference_arm=reference_arm, covariates=tuple(covariates), level_sets=level_sets)
    parts = dask.compute(*[dask.delayed(_partition_statistics)(part, spec) for part in ddf.to_delayed()])
    combined = combine_statistics(list(parts))
    stats = {k: combined[k] for k in ("ZZ", "ZX", "Zy", "n", "XX", "Xy", "yy")}
    md = MixedData.from_statistics(stats)
    if np.linalg.matrix_rank(stats["XX"]) < stats["XX"].shape[0]:
        raise AnalysisError("the fixed effects are not estimable in the combined data (a level without rows?).")
    n_obs, n_part = md.n_obs, len(combined["ids"])
    if n_obs <= n_part * md.q:
        raise AnalysisError(f"the {outcome} model is not identifiable: {n_obs} observations for {n_part * md.q} "
                            f"participant random effects ({n_part} participants); use random=\"intercept\".")
    reml = method == "reml"
    result = fit_profiled(md, reml)
    ev = evaluate(md, result.varpar, reml)
    G, g_t, s2 = unpack(result.varpar, md.q, False)
    singular = bool(_is_singular(G, g_t, s2, False))
    notes = [reference.statement + "."] if reference.assumed else []
    if singular:
        advice = singular_advice(G, g_t, s2, spec, combined["random_terms"])
        warnings.warn(f"singular fit for {outcome}: {advice}", SingularFitWarning, stacklevel=2)
        notes.append(f"singular fit: {advice}")
    if not result.converged:
        warnings.warn(f"the model for {outcome} did not converge.", ConvergenceWarning, stacklevel=2)
    satt = satterthwaite_state(md, result.varpar, reml)
    fixed = _fixed_table(combined["terms"], ev.beta, satt, level, md.n_obs, notes)
    rt = combined["random_terms"]
    vc = [{"group": "participant_id", "term1": rt[0], "term2": None, "estimate": float(G[0, 0])}]
    if md.q == 2:
        vc += [{"group": "participant_id", "term1": rt[1], "term2": None, "estimate": float(G[1, 1])},
               {"group": "participant_id", "term1": rt[0], "term2": rt[1], "estimate": float(G[0, 1])}]
    vc.append({"group": "Residual", "term1": None, "term2": None, "estimate": float(s2)})
    n, p, k = md.n_obs, md.p, len(result.varpar)
    loglik = -ev.deviance / 2
    if combined["dropped"]:
        notes.append(f"{combined['dropped']} row(s) without a score were left out.")
    return GrowthFit(spec=spec, fixed_effects=fixed, variance_components=pd.DataFrame(vc),
                     log_likelihood=loglik, aic=-2 * loglik + 2 * (p + k), bic=-2 * loglik + math.log(n) * (p + k),
                     converged=result.converged, singular=singular, n_obs=n, n_participants=len(combined["ids"]),
                     method=method, engine="ipt_outcomes profiled (RE)ML from partition statistics (Dask)",
                     notes=notes, variance_parameters=result.varpar, satterthwaite_state=satt, mixed_data=md)
