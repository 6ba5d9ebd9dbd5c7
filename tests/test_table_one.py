"""Table 1 of the report: arm headers with their N and an overall column, counts by hand, missing
values counted, and no constant or duplicated characteristic."""

from __future__ import annotations

import numpy as np

import ipt_outcomes as ipt
from ipt_outcomes.report.build import _baseline_table


def test_table_one_by_hand():
    df = ipt.load_example()
    ids = df["participant_id"].unique()
    df.loc[df["participant_id"].isin(ids[:3]), "age"] = np.nan  # three participants without an age
    table = _baseline_table(df, "HAMD17", "session").set_index("characteristic")
    per = df.groupby("participant_id").first()
    n = per["arm"].value_counts()
    assert list(table.columns) == [f"IPT (N = {n['IPT']})", f"TAU (N = {n['TAU']})", f"Overall (N = {len(per)})"]
    grief = (per["problem_area"] == "grief") & (per["arm"] == "IPT")
    assert table.loc["Problem area: grief", f"IPT (N = {n['IPT']})"] == f"{grief.sum()} ({100 * grief.sum() / n['IPT']:.0f}%)"
    ages = per["age"].dropna()
    missing_ipt = int(per.loc[per["arm"] == "IPT", "age"].isna().sum())
    assert table.loc["Age, years, mean (SD)", f"Overall (N = {len(per)})"] == \
        f"{ages.mean():.1f} ({ages.std(ddof=1):.1f}); missing 3"
    assert table.loc["Age, years, mean (SD)", f"IPT (N = {n['IPT']})"].endswith(f"missing {missing_ipt}") or missing_ipt == 0
    names = list(table.index)
    assert not any(name.startswith("Format") for name in names)  # every participant individual: left out
    assert not any(name.startswith("Population") for name in names)  # the same grouping as disorder
    assert len(set(names)) == len(names)
