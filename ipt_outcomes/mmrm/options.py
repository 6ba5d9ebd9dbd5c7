"""The MMRM's choices, in a module of their own: the command line builds its parser from them
without importing the model (and numpy, scipy) at start-up."""

from __future__ import annotations

__all__ = ["DF_METHODS", "STRUCTURES"]

STRUCTURES = ("us", "toeplitz", "ar1", "cs", "ad", "adh", "toeph", "ar1h", "csh", "sp_exp", "sp_gau", "sp_pow")
#: the mmrm package's names where they differ from ours
ALIASES = {"toep": "toeplitz"}
DF_METHODS = ("satterthwaite", "residual", "kenward-roger", "between-within")

DEFAULTS = {"covariance": "us", "df_method": "satterthwaite", "method": "reml", "baseline": "covariate",
            "covariates": (), "group_covariance": None, "baseline_visit": None}
_STUDY_KEYS = {"covariance": "covariance", "df": "df_method", "method": "method", "baseline": "baseline",
               "covariates": "covariates", "group_covariance": "group_covariance", "baseline_visit": "baseline_visit"}


def resolve(study_mmrm: dict | None, given: dict) -> tuple[dict, list[str]]:
    """``fit_mmrm`` keywords: what was given, else the study's ``mmrm:`` block, else the defaults;
    and a statement of each default the user did not choose (for the output)."""
    study_mmrm = study_mmrm or {}
    out, assumed = {}, []
    for key, default in DEFAULTS.items():
        from_study = {v: k for k, v in _STUDY_KEYS.items()}[key]
        if given.get(key) is not None:
            out[key] = given[key]
        elif study_mmrm.get(from_study) is not None:
            out[key] = study_mmrm[from_study]
        else:
            out[key] = default
            if key in ("covariance", "df_method"):
                assumed.append(f"{key.replace('_method', '')} {default} (the default)")
    return out, assumed
