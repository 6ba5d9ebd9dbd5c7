"""Table 1 of the report: arm headers with their N and an overall column, counts by hand, missing
values counted, and no constant or duplicated characteristic."""

from __future__ import annotations

import numpy as np
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.report.table_one import baseline_table as _baseline_table


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


def test_study_characteristics_and_labels(tmp_path):
    df = ipt.load_example()
    ids = df["participant_id"].unique()
    rng = np.random.default_rng(3)
    employed = dict(zip(ids, rng.choice(["employed", "unemployed", "student"], len(ids)), strict=True))
    income = dict(zip(ids, rng.normal(30, 8, len(ids)).round(1), strict=True))
    df["employment"] = df["participant_id"].map(employed)
    df["income"] = df["participant_id"].map(income)
    df["medication"] = df["participant_id"].map(dict(zip(ids, rng.integers(0, 2, len(ids)), strict=True)))
    df.loc[df["participant_id"] == ids[0], "employment"] = None
    study = ipt.Study.from_mapping({"characteristics": ["employment", "income", "medication"],
                                    "labels": {"employment": "Employment status", "income": "Income, k\u20ac",
                                               "age": "Age at randomisation"}})
    table = ipt.baseline_table(df, "HAMD17", "session", study=study).set_index("characteristic")
    per = df.groupby("participant_id").first()
    overall = f"Overall (N = {len(per)})"
    n = int((per["employment"] == "student").sum())
    assert table.loc["Employment status: student", overall] == f"{n} ({100 * n / len(per):.0f}%)"
    assert table.loc["Employment status: missing", overall] == "1"
    assert table.loc["Income, k\u20ac, mean (SD)", overall] == f"{per['income'].mean():.1f} ({per['income'].std():.1f})"
    assert "Age at randomisation, mean (SD)" in table.index
    m = int((per["medication"] == 1).sum())  # a 0/1 code: categories, not a mean
    assert table.loc["Medication: 1", overall] == f"{m} ({100 * m / len(per):.0f}%)"
    assert "Medication, mean (SD)" not in table.index


def test_a_characteristic_the_data_lack_is_named():
    df = ipt.load_example()
    study = ipt.Study.from_mapping({"characteristics": ["employment"]})
    with pytest.raises(ipt.ArgumentError, match=r"'employment'.*which the data do not have"):
        ipt.baseline_table(df, "HAMD17", "session", study=study)
    with pytest.raises(ipt.StudyDefinitionError, match="characteristics must be a list"):
        ipt.Study.from_mapping({"characteristics": [1]})
    with pytest.raises(ipt.StudyDefinitionError, match=r"labels\.age must be a text label"):
        ipt.Study.from_mapping({"labels": {"age": 3}})


def test_codes_in_two_spellings_are_one_row_of_table_one_and_a_validation_warning(tmp_path):
    """``F`` and ``f`` (or `` F``) in a covariate: validation warns (naming both spellings) and Table 1
    counts them as one level, shown in the more frequent spelling, by hand."""
    df = ipt.load_example()
    ids = list(df["participant_id"].unique())
    sex = {pid: ("F" if i % 3 else "M") for i, pid in enumerate(ids)}
    sex.update({ids[1]: "f", ids[2]: " f", ids[3]: "m"})  # lower case and a leading space
    df["sex"] = df["participant_id"].map(sex)
    report = ipt.validate(df)
    assert report.ok
    warned = report.warnings[report.warnings["check"] == "spelling_variants"]
    assert set(warned["column"]) == {"sex"}
    assert any("'f' and ' f', 'F' differ only in case or spacing" in m or "'f' and 'F'" in m for m in warned["message"])
    study = tmp_path / "study.yaml"
    study.write_text("characteristics: [sex]\n", encoding="utf-8")
    table = _baseline_table(df, "HAMD17", "session", study=ipt.load_study(study)).set_index("characteristic")
    per = df.groupby("participant_id").first()
    overall = f"Overall (N = {len(per)})"
    rows = [r for r in table.index if r.lower().startswith("sex")]
    assert rows == ["Sex: F", "Sex: M"]
    women = int(per["sex"].str.strip().str.upper().eq("F").sum())
    assert table.loc["Sex: F", overall] == f"{women} ({100 * women / len(per):.0f}%)"
