"""Package hygiene: public names, no import side effects, shipped data files, docstring examples."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

import ipt_outcomes as ipt


def test_public_names_importable():
    for name in ipt.__all__:
        assert hasattr(ipt, name), name


def test_import_has_no_side_effects():
    """Importing ipt_outcomes changes no pandas option and adds no warning filter of its own
    (third-party libraries are imported first, so their own filters are not counted)."""
    code = (
        "import warnings, numpy, scipy.stats, scipy.optimize, pandas as pd, pandera.pandas, yaml, rich\n"
        "import plotly.graph_objects, plotly.offline\n"
        "names = ['display.max_rows', 'display.max_columns', 'display.width', 'display.precision', "
        "'mode.chained_assignment', 'future.infer_string']\n"
        "before = {n: pd.get_option(n) for n in names}; filters = list(warnings.filters)\n"
        "import ipt_outcomes\n"
        "assert {n: pd.get_option(n) for n in names} == before\n"
        "assert warnings.filters == filters, [f for f in warnings.filters if f not in filters]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_schema_files_found():
    from ipt_outcomes.resources import schema_file

    assert "HAMD17" in schema_file("instruments.yaml").read_text(encoding="utf-8")
    assert "participant_id" in schema_file("canonical.yaml").read_text(encoding="utf-8")
    assert ipt.example_path().is_file() and ipt.example_study_path().is_file()


def test_installed_wheel_ships_data_schemas():
    """A non-editable install (as in CI) must carry data_schemas inside the package."""
    package_dir = Path(ipt.__file__).resolve().parent
    if (package_dir.parent / "pyproject.toml").exists():
        pytest.skip("running from a source checkout (editable install); CI checks the installed wheel")
    shipped = files("ipt_outcomes") / "data_schemas"
    assert (shipped / "instruments.yaml").is_file()
    assert (shipped / "canonical.yaml").is_file()


MODULES = [m.name for m in pkgutil.walk_packages(ipt.__path__, "ipt_outcomes.") if ".cli.main" not in m.name]


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
