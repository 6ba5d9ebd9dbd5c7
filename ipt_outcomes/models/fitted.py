"""What the derived quantities of a growth model read of a fit: an interface, not the class.

Trajectories, arm differences, marginal means, random effects and residuals (:mod:`.derived`,
:mod:`.formula_means`, :mod:`.formula_levels`) are functions of a fitted model. They are typed
against :class:`GrowthModel`, which :class:`~.growth.GrowthFit` satisfies (and the MMRM's fit for
what it shares), so they import no result class: imports run one way, from the result objects
down to the computations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .design import Design, GrowthSpec

__all__ = ["FormulaModel", "GrowthModel"]


class FormulaModel(Protocol):
    """Any model with a formula design (growth or MMRM), as the reference grids of marginal means and
    contrasts read it."""

    formula: str

    @property
    def formula_model(self) -> Any: ...

    def contrast(self, L: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, float]: ...


class GrowthModel(Protocol):
    """A fitted growth model as the derived quantities read it."""

    spec: GrowthSpec
    fixed_effects: pd.DataFrame
    variance_components: pd.DataFrame
    log_likelihood: float
    aic: float
    bic: float
    converged: bool
    singular: bool
    n_obs: int
    n_participants: int
    method: str
    engine: str
    notes: list[str]
    formula: str
    formula_model: Any
    design: Design | None
    variance_parameters: np.ndarray | None
    data: pd.DataFrame | None
    data_attrs: dict[str, Any]

    @property
    def outcome(self) -> str: ...

    @property
    def n_parameters(self) -> int: ...

    def refit(self, **changes: Any) -> GrowthModel: ...

    def contrast(self, L: Sequence[float] | np.ndarray, level: float = 0.95) -> dict[str, float]: ...

    def as_formula_fit(self) -> GrowthModel: ...

    def random_effects(self, group: str | None = None) -> pd.DataFrame: ...

    def marginal_means(self, specs: Sequence[str] | str = "arm", at: Mapping[str, Any] | None = None,
                       weights: str = "equal", by: Sequence[str] | str | None = None,
                       level: float = 0.95) -> pd.DataFrame: ...
