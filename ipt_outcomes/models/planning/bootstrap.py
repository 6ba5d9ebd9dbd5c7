"""``ipt.parametric_bootstrap``: bootstrap intervals for fixed effects or any derived quantity.

Each replicate draws a response from the fitted model, ``y* = X b + Z u* + e*`` with
``u* ~ N(0, G)`` per participant (``N(0, g_t)`` per therapist) and ``e* ~ N(0, sigma^2)``, refits the
same model on the same design with the fast engine, and recomputes the statistic. Intervals are
percentile intervals; the bootstrap SE is the SD of the replicates. Replicates whose refit fails are
counted and left out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace

import numpy as np
import pandas as pd
from rich.progress import Progress

from ...arguments import checked, function, instance, level, optional, seed, whole
from ...errors import ArgumentError, IPTOutcomesError, IPTOutcomesWarning
from ..derived.quantities import require_rows
from ..engine.likelihood import unpack
from ..formula_model import refit_response, simulate_response
from ..growth import GrowthFit, fit_design

__all__ = ["fixed_effect_statistic", "parametric_bootstrap"]

Statistic = Callable[[GrowthFit], Mapping[str, float] | pd.Series]


def fixed_effect_statistic(fit: GrowthFit) -> pd.Series:
    """The default statistic: every fixed-effect estimate, by term."""
    return fit.fixed_effects.set_index("term")["estimate"]


def _simulate_response(fit: GrowthFit, rng: np.random.Generator) -> np.ndarray:
    if fit.formula_model is not None:
        return simulate_response(fit, rng)
    design = fit.design
    require_rows(fit, "the parametric bootstrap")
    G, g_t, s2 = unpack(fit.variance_parameters, design.Z.shape[1], design.therapist is not None)
    n_part = len(design.participant_ids)
    u = rng.multivariate_normal(np.zeros(G.shape[0]), G, size=n_part, method="eigh")
    y = design.X @ fit.fixed_effects["estimate"].to_numpy() + np.sum(design.Z * u[design.participant], axis=1)
    if design.therapist is not None:
        y += rng.normal(0, math.sqrt(max(g_t, 0.0)), int(design.therapist.max()) + 1)[design.therapist]
    return y + rng.normal(0, math.sqrt(s2), len(y))


def _growth_fit(value: object, where: str) -> GrowthFit:
    from ..growth import GrowthFit

    return instance(GrowthFit, "a GrowthFit (what ipt.fit_growth returns)")(value, where)


@checked(fit=lambda v, w: _growth_fit(v, w), statistic=optional(function), n_boot=whole(1, 1_000_000), seed=seed,
         level=level)
def parametric_bootstrap(fit: GrowthFit, statistic: Statistic | None = None, n_boot: int = 999, seed: int = 1,
                         level: float = 0.95, progress: bool = True) -> pd.DataFrame:
    """Parametric bootstrap of a fitted growth model.

    Parameters
    ----------
    fit
        A :class:`GrowthFit`.
    statistic
        ``statistic(fit) -> mapping name -> value``; default all fixed effects. For example
        ``lambda f: {"difference": f.arm_differences(at=16)["difference"].iloc[0]}``.
    n_boot, seed, level
        Replicates, seed, and confidence level of the percentile intervals.

    Returns
    -------
    pandas.DataFrame
        ``name``, ``estimate`` (on the original fit), ``boot_mean``, ``boot_se``, ``ci_lower``,
        ``ci_upper``, ``n_boot`` (successful refits), ``n_failed``.
    """
    if fit.design is None and fit.formula_model is None:
        raise ArgumentError("this fit does not keep its design; refit it with fit_growth.")
    if n_boot < 2:
        raise ArgumentError("n_boot must be at least 2.")
    statistic = statistic or fixed_effect_statistic
    original = pd.Series(dict(statistic(fit)), dtype=float)
    rng = np.random.default_rng(seed)
    draws, failed = [], 0
    engine = "ipt"
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("parametric bootstrap", total=n_boot)
        for _ in range(n_boot):
            y = _simulate_response(fit, rng)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", IPTOutcomesWarning)
                    if fit.formula_model is not None:
                        refit = refit_response(fit, y)
                    else:
                        design = replace(fit.design, y=y, data=fit.design.data.assign(score=y))
                        refit = fit_design(design, fit.spec, engine=engine, warn=False, inference=False)
                    refit.data_attrs = fit.data_attrs
                    values = pd.Series(dict(statistic(refit)), dtype=float)
                draws.append(values.reindex(original.index))
            except (IPTOutcomesError, np.linalg.LinAlgError):
                failed += 1
            bar.advance(task)
    table = pd.DataFrame(draws)
    alpha = (1 - level) / 2
    return pd.DataFrame({
        "name": original.index,
        "estimate": original.to_numpy(),
        "boot_mean": table.mean().to_numpy(),
        "boot_se": table.std(ddof=1).to_numpy(),
        "ci_lower": table.quantile(alpha).to_numpy(),
        "ci_upper": table.quantile(1 - alpha).to_numpy(),
        "n_boot": len(table),
        "n_failed": failed,
    })
