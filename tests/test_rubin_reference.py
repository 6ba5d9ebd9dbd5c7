"""Rubin's rules against R mice::pool.scalar (fixtures from tests/reference/make_mice_fixtures.R)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ipt_outcomes.missing import pool_rubin

FIXTURES = json.loads((Path(__file__).resolve().parent / "reference" / "mice_fixtures.json").read_text("utf-8"))


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_pool_rubin_matches_mice(name):
    """mice::pool.scalar(Q, U, n, k): pooled estimate, within, between, total variance, Barnard-Rubin df."""
    ref = FIXTURES[name]
    got = pool_rubin(ref["estimates"], ref["variances"], df_complete=ref["df_complete"])
    for key in ("estimate", "within", "between", "total", "df", "relative_increase", "fraction_missing_info"):
        assert got[key] == pytest.approx(ref[key], rel=1e-10), key
