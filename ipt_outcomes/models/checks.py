"""What a growth model checks of its input before fitting: the rows it uses validate, and which arm is
the reference (the toolkit's one rule, :func:`ipt_outcomes.arms.choose_reference_arm`)."""

from __future__ import annotations

import pandas as pd

from ..arms import ReferenceArm, choose_reference_arm
from ..errors import ArgumentError
from .design import GrowthSpec

__all__ = ["check_growth_input", "reference_arm_of"]


def reference_arm_of(df: pd.DataFrame, outcome: str, given: str | None) -> ReferenceArm:
    """The reference arm among the arms with rows of the outcome (:func:`..arms.choose_reference_arm`)."""
    if "arm" not in df.columns:
        raise ArgumentError("column 'arm' is needed for a growth model but is not in the data.")
    arms = df.loc[df["instrument"] == outcome, "arm"] if "instrument" in df.columns else df["arm"]
    if arms.dropna().empty:  # no rows for the outcome: build_design says so
        return ReferenceArm(str(given or ""), "given")
    return choose_reference_arm(arms.dropna().unique(), given, df.attrs.get("ipt_study"))


def check_growth_input(df: pd.DataFrame, spec: GrowthSpec) -> None:
    """Validate the outcome's rows on the columns the model uses; raise DataValidationError if invalid."""
    from ..errors import DataValidationError
    from ..validation import validate

    used = {"participant_id", "arm", "instrument", "score", spec.time, *spec.covariates, *spec.moderators}
    if spec.therapist:
        used.add(spec.therapist)
    keep = [c for c in df.columns if c in used or c in ("trial_id", "session", "week")]
    rows = df["instrument"].astype(str) == spec.outcome if "instrument" in df.columns else slice(None)
    report = validate(df.loc[rows, keep])
    errors = report.errors
    ignorable = (errors["check"].isin(["required_column", "time_column"]) & ~errors["column"].isin(used)) | \
        (errors["check"] == "no_rows")  # no rows for the outcome: the design says which instruments there are
    errors = errors[~ignorable]
    if len(errors):
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        first = str(errors["message"].iloc[0]).rstrip(".")
        raise DataValidationError(f"the {spec.outcome} data failed validation: {first}{more}. "
                                  "Run ipt.validate() to see every problem, or pass check=False.", report=report)
