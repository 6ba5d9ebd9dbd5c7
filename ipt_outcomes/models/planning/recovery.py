"""Parameter recovery: refit simulated trials with known truth and summarise bias and coverage."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from ...errors import SingularFitWarning
from ...simulate import simulate_trial
from ..growth import fit_growth

__all__ = ["binomial_band", "recovery_study", "summarise_recovery"]


def recovery_study(n_replicates: int, seed: int = 1, term: str = "session:arm[IPT]",
                   simulate: Mapping[str, Any] | None = None, fit: Mapping[str, Any] | None = None,
                   outcome: str = "HAMD17", progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Simulate ``n_replicates`` trials, fit each, and return one row per replicate.

    Columns: ``replicate``, ``seed``, ``truth``, ``estimate``, ``std_error``, ``df``, ``ci_lower``,
    ``ci_upper``, ``covered``, ``singular``, ``converged``. Summarise with :func:`summarise_recovery`.
    """
    rows = []
    for r in range(n_replicates):
        s = seed * 100_003 + r
        df = simulate_trial(seed=s, **dict(simulate or {}))
        truth = df.attrs["truth"]["instruments"][outcome]["fixed_effects"][term]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SingularFitWarning)
            result = fit_growth(df, outcome=outcome, **dict(fit or {}))
        row = result.fixed_effects.set_index("term").loc[term]
        rows.append({"replicate": r, "seed": s, "truth": truth, "estimate": row["estimate"],
                     "std_error": row["std_error"], "df": row["df"], "ci_lower": row["ci_lower"],
                     "ci_upper": row["ci_upper"], "covered": bool(row["ci_lower"] <= truth <= row["ci_upper"]),
                     "singular": any(issubclass(w.category, SingularFitWarning) for w in caught),
                     "converged": result.converged})
        if progress is not None:
            progress(r + 1)
    return pd.DataFrame(rows)


def summarise_recovery(results: pd.DataFrame) -> dict[str, float]:
    """Bias (with its Monte Carlo SE), empirical SE, mean model SE and CI coverage (with MC SE)."""
    n = len(results)
    error = results["estimate"] - results["truth"]
    coverage = float(results["covered"].mean())
    return {
        "replicates": n,
        "truth": float(results["truth"].iloc[0]),
        "mean_estimate": float(results["estimate"].mean()),
        "bias": float(error.mean()),
        "bias_mc_se": float(error.std(ddof=1) / math.sqrt(n)),
        "empirical_se": float(results["estimate"].std(ddof=1)),
        "mean_model_se": float(results["std_error"].mean()),
        "coverage": coverage,
        "coverage_mc_se": math.sqrt(coverage * (1 - coverage) / n) if 0 < coverage < 1 else 0.0,
        "singular_fits": int(results["singular"].sum()),
        "not_converged": int((~results["converged"]).sum()),
    }


def binomial_band(n: int, p: float = 0.95, z: float = 3.29) -> tuple[float, float]:
    """Coverage band expected from Monte Carlo error alone (normal approximation, two-sided 99.9 %)."""
    half = z * math.sqrt(p * (1 - p) / n)
    return max(p - half, 0.0), min(p + half, 1.0)
