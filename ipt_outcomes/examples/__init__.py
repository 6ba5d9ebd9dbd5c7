"""The bundled example trial (made by ``scripts/make_example_trial.py``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..resources import example_file

__all__ = ["EXAMPLE_SEED", "example_path", "example_study_path", "load_example", "pooled_example_path"]

#: seed used to simulate the bundled example trial
EXAMPLE_SEED = 2000


def example_path() -> Path:
    """Path of the bundled example trial (canonical CSV)."""
    return example_file("example_trial.csv")


def example_study_path() -> Path:
    """Path of the study description of the bundled example trial."""
    return example_file("example_trial_study.yaml")


def load_example() -> pd.DataFrame:
    """Load the bundled example trial with its study description."""
    from ..loading import load

    return load(example_path(), study=example_study_path())


def pooled_example_path() -> Path:
    """The pooling file of the bundled four-trial, four-disorder example (made by
    ``scripts/make_pooled_example.py``): depression (HAM-D 17), perinatal depression (EPDS),
    bulimia (EDE-Q global), PTSD (PCL-5)."""
    return example_file("pooled/pooled.yaml")
