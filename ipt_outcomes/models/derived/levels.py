"""Random effects, residuals, R^2 and ICC of a formula model at every grouping level.

Conditional modes (lme4's ``ranef``) solve the penalised system of the whole random part,
``(Lambda'Z'Z Lambda + I) v = Lambda'Z'(y - X b)``, ``u = Lambda v``, with a sparse LU factorisation
(scipy): exact, and linear in the rows for nested designs. Their conditional standard errors
(lme4's ``condVar``: ``s2 Lambda (Lambda'Z'Z Lambda + I)^-1 Lambda'``, given ``b``) need the inverse's
diagonal blocks and are computed for up to :data:`MAX_CONDITIONAL` random effects.

R^2 and ICC follow Nakagawa, Johnson and Schielzeth (2017) as R's ``performance`` computes them:
``var_f = var(X b)`` (sample variance), ``var_r = sum over groups of mean_i z_i' G z_i`` (Johnson 2014
for random slopes), ``R2_marginal = var_f / (var_f + var_r + s2)``, ``R2_conditional =
(var_f + var_r) / (var_f + var_r + s2)``, ``ICC_adjusted = var_r / (var_r + s2)``, ``ICC_unadjusted =
var_r / (var_f + var_r + s2)``; by group, a group's intercept variance over the sum of the intercept
variances and ``s2`` (performance's ``by_group``; with random slopes, the ICC at time 0).

References
----------
Nakagawa S, Johnson PCD, Schielzeth H (2017). The coefficient of determination R2 and intra-class
correlation coefficient from generalized linear mixed-effects models revisited and expanded.
J R Soc Interface 14:20170213. doi:10.1098/rsif.2017.0213
Johnson PCD (2014). Methods Ecol Evol 5:944-946. doi:10.1111/2041-210X.12225
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import ArgumentError
from ..fitted import GrowthModel

__all__ = ["formula_icc", "formula_r_squared", "formula_random_effects", "formula_residuals"]

#: conditional standard errors are computed (a dense inverse) up to this many random effects
MAX_CONDITIONAL = 6000


def _estimates(fit: GrowthModel) -> tuple[np.ndarray, np.ndarray, float]:
    beta = fit.fixed_effects["estimate"].to_numpy(float)
    q = fit.formula_model.structure.n_theta if fit.formula_model.structure else 0
    return beta, np.asarray(fit.variance_parameters[:q], float), float(fit.variance_parameters[-1])


def _require_random(fit: GrowthModel, what: str) -> None:
    if fit.formula_model.structure is None:
        raise ArgumentError(f"{fit.formula} has no random part (a linear model): it has no {what}.")


def _system(fit: GrowthModel):
    """Sparse Z Lambda of the whole random part and the offsets of each factor's effects."""
    from scipy import sparse

    design = fit.formula_model
    _, theta, _ = _estimates(fit)
    n = len(design.y)
    blocks, offsets, start = [], [], 0
    for f, lam, Z, code in zip(design.structure.factors, design.structure.lambdas(theta), design.Zs, design.codes,
                               strict=True):
        ZL = Z @ lam  # rows times the factor's relative factor: column j of level k at k * q + j
        rows = np.repeat(np.arange(n), f.q)
        cols = (code[:, None] * f.q + np.arange(f.q)[None, :]).ravel()
        blocks.append(sparse.csr_matrix((ZL.ravel(), (rows, cols)), shape=(n, f.n_levels * f.q)))
        offsets.append(start)
        start += f.n_levels * f.q
    return sparse.hstack(blocks, format="csc"), offsets


def _modes(fit: GrowthModel, conditional: bool = False) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Each factor's conditional modes (levels x q) and, when small enough, conditional SDs."""
    from scipy import sparse
    from scipy.sparse.linalg import splu

    design = fit.formula_model
    beta, theta, s2 = _estimates(fit)
    ZL, offsets = _system(fit)
    r = design.y - design.X @ beta
    A = (ZL.T @ ZL + sparse.identity(ZL.shape[1], format="csc")).tocsc()
    lu = splu(A)
    v = lu.solve(ZL.T @ r)
    lams = design.structure.lambdas(theta)
    modes, sds = [], []
    total = ZL.shape[1]
    inverse = lu.solve(np.eye(total)) if conditional and total <= MAX_CONDITIONAL else None
    for f, lam, off in zip(design.structure.factors, lams, offsets, strict=True):
        vf = v[off:off + f.n_levels * f.q].reshape(f.n_levels, f.q)
        modes.append(vf @ lam.T)
        if inverse is not None:
            idx = off + np.arange(f.n_levels)[:, None] * f.q + np.arange(f.q)[None, :]
            block = inverse[idx[:, :, None], idx[:, None, :]]  # levels x q x q
            cov = s2 * np.einsum("ab,kbc,dc->kad", lam, block, lam)
            sds.append(np.sqrt(np.maximum(np.diagonal(cov, axis1=1, axis2=2), 0.0)))
    return modes, (sds if inverse is not None else None)


def formula_random_effects(fit: GrowthModel, group: str | None = None, intervals: bool = False,
                           level: float = 0.95) -> pd.DataFrame:
    """Conditional modes of one grouping factor (default: the participants, else the factor with the
    most levels), one row per level and a column per random term; with ``intervals``, long format with
    ``std_error`` and normal intervals (as lme4's ``condVar``)."""
    from ...inference.distributions import norm_ppf

    _require_random(fit, "random effects")
    design = fit.formula_model
    names = [f.name for f in design.structure.factors]
    if group is None:
        group = "participant_id" if "participant_id" in names else max(
            names, key=lambda n: design.structure.factors[names.index(n)].n_levels)
    if group not in names:
        raise ArgumentError(f"group must be a grouping factor of {fit.formula}: {', '.join(names)}; not {group!r}.")
    k = names.index(group)
    modes, sds = _modes(fit, conditional=intervals)
    f, labels = design.structure.factors[k], [str(x) for x in design.level_names[k]]
    if not intervals:
        frame = pd.DataFrame(modes[k], columns=list(f.columns))
        frame.insert(0, group, labels)
        return frame
    if sds is None:
        raise ArgumentError(f"conditional standard errors are computed for up to {MAX_CONDITIONAL} random effects; this "
                            f"model has more. fit.random_effects() gives the modes without them.")
    z = norm_ppf(0.5 + level / 2)
    u, s = modes[k], sds[k]
    return pd.DataFrame({group: np.repeat(np.asarray(labels, dtype=object), f.q),
                         "term": np.tile(np.asarray(f.columns, dtype=object), f.n_levels),
                         "estimate": u.ravel(), "std_error": s.ravel(),
                         "ci_lower": (u - z * s).ravel(), "ci_upper": (u + z * s).ravel()})


def formula_residuals(fit: GrowthModel) -> pd.DataFrame:
    """Observed, marginal fitted (``X b``), fitted (plus every level's random effects, lme4's
    ``fitted``) and residual values per analysed row."""
    design = fit.formula_model
    beta, _, _ = _estimates(fit)
    marginal = design.X @ beta
    fitted = marginal.copy()
    if design.structure is not None:
        modes, _ = _modes(fit)
        for u, Z, code in zip(modes, design.Zs, design.codes, strict=True):
            fitted += np.einsum("ij,ij->i", Z, u[code])
    data = design.data
    subject = design.subject if design.subject is not None else "participant_id"
    frame = pd.DataFrame({"participant_id": data[subject].astype(str).to_numpy() if subject in data
                          else np.arange(len(data))})
    arm = design.arm or "arm"
    if arm in data:
        frame["arm"] = data[arm].astype(str).to_numpy()
    if fit.spec.time in data:
        frame["time"] = data[fit.spec.time].to_numpy(float)
    frame["observed"] = design.y
    frame["fitted_marginal"] = marginal
    frame["fitted"] = fitted
    frame["residual"] = design.y - fitted
    return frame


def _variances(fit: GrowthModel) -> tuple[float, list[tuple[str, float, float]], float]:
    """var_f, per group (name, var_r of the group, intercept variance), s2."""
    design = fit.formula_model
    beta, theta, s2 = _estimates(fit)
    var_f = float(np.var(design.X @ beta, ddof=1))
    groups = []
    if design.structure is not None:
        for f, G, Z in zip(design.structure.factors, design.structure.covariances(theta, s2), design.Zs, strict=True):
            var_r = float(np.mean(np.einsum("ij,jk,ik->i", Z, G, Z)))
            cols = list(f.columns)
            intercept = float(G[cols.index("Intercept"), cols.index("Intercept")]) if "Intercept" in cols else 0.0
            groups.append((f.name, var_r, intercept))
    return var_f, groups, s2


def formula_r_squared(fit: GrowthModel) -> dict[str, float]:
    """Marginal and conditional R^2 (Nakagawa et al. 2017, as performance::r2_nakagawa); for a linear
    model, R^2 and adjusted R^2 as R's ``summary.lm``."""
    design = fit.formula_model
    if design.structure is None:
        beta, _, _ = _estimates(fit)
        resid = design.y - design.X @ beta
        has_intercept = bool(np.any(np.all(design.X == 1.0, axis=0)))
        centre = design.y.mean() if has_intercept else 0.0
        tss = float(np.sum((design.y - centre) ** 2))
        n, p = design.X.shape
        r2 = 1.0 - float(resid @ resid) / tss
        return {"r_squared": r2, "adjusted_r_squared": 1.0 - (1.0 - r2) * (n - int(has_intercept)) / (n - p)}
    var_f, groups, s2 = _variances(fit)
    var_r = sum(g[1] for g in groups)
    total = var_f + var_r + s2
    return {"marginal": var_f / total, "conditional": (var_f + var_r) / total}


def formula_icc(fit: GrowthModel) -> pd.DataFrame:
    """ICC per grouping factor (intercept variance over the sum of intercept variances and the residual
    variance), with ``attrs["adjusted"]`` and ``attrs["unadjusted"]`` over all random effects."""
    _require_random(fit, "intraclass correlation")
    var_f, groups, s2 = _variances(fit)
    intercepts = sum(g[2] for g in groups)
    frame = pd.DataFrame([{"group": name, "icc": icpt / (intercepts + s2)} for name, _, icpt in groups])
    var_r = sum(g[1] for g in groups)
    frame.attrs["adjusted"] = var_r / (var_r + s2)
    frame.attrs["unadjusted"] = var_r / (var_f + var_r + s2)
    return frame
