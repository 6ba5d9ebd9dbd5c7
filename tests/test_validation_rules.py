"""Each schema rule with a passing and a failing case (data model, section 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.validation import FAILURE_COLUMNS


def test_valid_table_passes_every_rule(small):
    report = ipt.validate(small)
    assert report.ok
    assert report.failures.empty, report.failures.to_string()
    assert list(report.failures.columns) == FAILURE_COLUMNS


def _set(row, column, value):
    def mutate(df):
        df[column] = df[column].astype(object)
        df.loc[row, column] = value
        return df
    return mutate


def _drop(column):
    return lambda df: df.drop(columns=column)


def _seq(*fns):
    def mutate(df):
        for fn in fns:
            df = fn(df)
        return df
    return mutate


# (id, mutation, check, severity, row or None, column)
CASES = [
    ("missing participant_id column", _drop("participant_id"), "required_column", "error", None, "participant_id"),
    ("missing score column", _drop("score"), "required_column", "error", None, "score"),
    ("no time column", _seq(_drop("session"), _drop("week")), "time_column", "error", None, "session"),
    ("empty participant id", _set(1, "participant_id", None), "not_null", "error", 1, "participant_id"),
    ("empty arm", _set(2, "arm", None), "not_null", "error", 2, "arm"),
    ("unknown disorder", _set(0, "disorder", "flu"), "allowed_values", "error", 0, "disorder"),
    ("unknown problem area", _set(0, "problem_area", "work stress"), "allowed_values", "error", 0, "problem_area"),
    ("unknown format", _set(3, "format", "carrier pigeon"), "allowed_values", "error", 3, "format"),
    ("unknown population", _set(3, "population", "martians"), "allowed_values", "error", 3, "population"),
    ("unknown instrument", _set(4, "instrument", "MADRS"), "known_instrument", "error", 4, "instrument"),
    ("score not a number", _set(1, "score", "twelve"), "numeric", "error", 1, "score"),
    ("infinite score", _set(1, "score", np.inf), "numeric", "error", 1, "score"),
    ("score above range", _set(2, "score", 53.0), "score_range", "error", 2, "score"),
    ("score below range", _set(2, "score", -1.0), "score_range", "error", 2, "score"),
    ("fractional HAMD total", _set(2, "score", 12.5), "score_integer", "warning", 2, "score"),
    ("session not whole", _set(1, "session", 1.5), "integer", "error", 1, "session"),
    ("negative session", _set(1, "session", -1), "min_value", "error", 1, "session"),
    ("negative week", _set(1, "week", -0.5), "min_value", "error", 1, "week"),
    ("session text", _set(1, "session", "one"), "numeric", "error", 1, "session"),
    ("negative dose", _set(0, "sessions_attended", -2), "min_value", "error", 0, "sessions_attended"),
    ("bad date", _set(1, "assessment_date", "31/02/2025x"), "date", "error", 1, "assessment_date"),
    ("duplicate key", _seq(_set(1, "session", 0), _set(1, "week", 0.0)), "unique_key", "error", 0, "participant_id"),
    ("arm differs within participant", _set(2, "arm", "CBT"), "participant_constant", "error", 2, "arm"),
    ("site differs within participant", _seq(lambda d: d.assign(site="S1"), _set(5, "site", "S2")),
     "participant_constant", "error", 5, "site"),
    ("same primary and secondary area", _set(0, "problem_area_secondary", "grief"),
     "problem_areas_distinct", "error", 0, "problem_area_secondary"),
    ("three problem areas", _seq(_set(1, "problem_area_secondary", "role_dispute"),
                                 _set(2, "problem_area_secondary", "role_transition")),
     "at_most_two_problem_areas", "error", 0, "problem_area"),
    ("secondary without primary", _seq(_set(3, "problem_area", None), _set(4, "problem_area", None),
                                       _set(5, "problem_area", None), _set(3, "problem_area_secondary", "grief"),
                                       _set(4, "problem_area_secondary", "grief"),
                                       _set(5, "problem_area_secondary", "grief"),
                                       _set(3, "arm", "IPT"), _set(4, "arm", "IPT"), _set(5, "arm", "IPT")),
     "secondary_without_primary", "warning", 3, "problem_area_secondary"),
    ("no baseline", _seq(lambda d: d.drop(index=3).reset_index(drop=True)),
     "baseline_present", "warning", 3, "instrument"),
    ("beyond planned sessions", _set(2, "session", 25), "planned_sessions", "warning", 2, "session"),
    ("session out of order against date", _seq(_set(1, "session", 2), _set(2, "session", 1)),
     "time_order", "warning", 2, "session"),
    ("problem area in a non-IPT arm", lambda d: d.assign(problem_area="grief"),
     "problem_area_arm", "warning", 3, "problem_area"),
]


@pytest.mark.parametrize(("mutate", "check", "severity", "row", "column"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_fails(small, mutate, check, severity, row, column):
    df = mutate(small.copy())
    report = ipt.validate(df)
    hits = report.failures[report.failures["check"] == check]
    assert len(hits) >= 1, report.failures.to_string()
    hit = hits.iloc[0]
    assert hit["severity"] == severity
    assert hit["column"] == column
    if row is not None:
        assert hit["row"] == row
        assert hit["participant_id"] == df.loc[row, "participant_id"] or pd.isna(df.loc[row, "participant_id"])
        assert f"row {row}" in hit["message"]
    assert report.ok == (severity == "warning" and report.n_errors == 0)
    # a message says what is wrong and what to do
    assert any(word in hit["message"] for word in ("add", "Add", "fix", "use", "write", "check", "keep", "remove",
                                                   "fill", "correct", "declare", "leave", "must"))


def test_alias_in_validate_suggests_canonical_value(small):
    df = small.copy()
    df.loc[0, "problem_area"] = "Bereavement"
    msg = ipt.validate(df).failures.query("check == 'allowed_values'")["message"].iloc[0]
    assert "'grief'" in msg


def test_study_declared_instrument_is_validated_like_registry(small):
    study = ipt.Study.from_mapping({"instruments": {"MADRS": {"min": 0, "max": 60, "higher_is": "worse"}}})
    df = small.copy()
    df["instrument"] = "MADRS"
    assert ipt.validate(df, study=study).ok
    df.loc[1, "score"] = 61
    report = ipt.validate(df, study=study)
    assert list(report.failures["check"]) == ["score_range"]
    assert "MADRS range 0 to 60" in report.failures["message"].iloc[0]


def test_planned_maximum_from_study(small):
    df = small.copy()
    df.loc[2, "session"] = 14
    assert ipt.validate(df).failures.empty  # default maximum is 20
    study = ipt.Study.from_mapping({"sessions": {"min": 8, "max": 12}})
    assert list(ipt.validate(df, study=study).failures["check"]) == ["planned_sessions"]


def test_ipt_arms_from_study(small):
    df = small.assign(arm=small["arm"].replace({"IPT": "Therapy A"}))
    assert "problem_area_arm" in set(ipt.validate(df).failures["check"])
    study = ipt.Study.from_mapping({"ipt_arms": ["Therapy A"]})
    assert ipt.validate(df, study=study).failures.empty


def test_every_problem_reported_in_one_pass(small):
    df = small.copy()
    df["score"] = df["score"].astype(object)
    df.loc[0, "score"] = 99
    df.loc[1, "score"] = "x"
    df.loc[2, "disorder"] = "flu"
    df.loc[3, "session"] = -1
    report = ipt.validate(df)
    assert {"score_range", "numeric", "allowed_values", "min_value"} <= set(report.errors["check"])


def test_validate_does_not_modify_input(small):
    df = small.copy()
    df.loc[0, "score"] = 99
    before = df.copy()
    ipt.validate(df)
    pd.testing.assert_frame_equal(df, before)


def test_missing_scores_are_counted_not_errors(small):
    df = small.copy()
    df.loc[[1, 2], "score"] = np.nan
    report = ipt.validate(df)
    assert report.ok
    counts = report.missing_scores.set_index("arm")["n_missing"]
    assert counts["IPT"] == 2 and counts["TAU"] == 0
    assert "2 missing score(s)" in report.summary_line()


def test_custom_index_is_reported_as_row_label(small):
    df = small.set_index(pd.Index([10, 11, 12, 13, 14, 15]))
    df.loc[12, "score"] = 99
    hit = ipt.validate(df).failures.iloc[0]
    assert hit["row"] == 12 and "row 12" in hit["message"]


def test_pooled_trials_participants_identified_within_trial(small):
    other = small.assign(trial_id="T2", arm=small["arm"].replace({"IPT": "CBT"}), problem_area=None)
    report = ipt.validate(pd.concat([small, other], ignore_index=True))
    assert report.failures.empty
    assert report.n_participants == 4


def test_duplicate_columns_reported(small):
    df = pd.concat([small, small[["score"]]], axis=1)
    report = ipt.validate(df)
    assert "duplicate_column" in set(report.failures["check"])


def test_raise_for_errors(small):
    df = small.copy()
    df.loc[0, "score"] = 99
    with pytest.raises(ipt.DataValidationError, match="score 99"):
        ipt.validate(df).raise_for_errors()


def test_validate_rejects_non_frames():
    with pytest.raises(TypeError):
        ipt.validate([1, 2, 3])


def test_report_json_and_html(small):
    df = small.copy()
    df.loc[0, "disorder"] = "<script>alert(1)</script>"
    report = ipt.validate(df)
    assert '"ok": false' in report.to_json()
    assert "<script>" not in report._repr_html_()


def test_trial_schema_is_pandera(small):
    import pandera.pandas as pa

    schema = ipt.trial_schema(small)
    assert isinstance(schema, pa.DataFrameSchema)
    schema.validate(small, lazy=True)


def test_problem_areas_assessed_in_all_arms(small):
    df = small.assign(problem_area="grief")
    study = ipt.Study.from_mapping({"problem_areas_assessed": "all"})
    assert ipt.validate(df, study=study).failures.empty
    with pytest.raises(ipt.StudyDefinitionError, match="problem_areas_assessed"):
        ipt.Study.from_mapping({"problem_areas_assessed": "some"})


def test_no_participant_id_anywhere_is_reported_not_a_crash():
    """Every participant id missing (found by the fuzzing test): the not-null error, and the rules
    that group by participant (baseline present, at most two problem areas) run on no groups."""
    df = ipt.simulate_trial(5, seed=1).head(6).copy()
    df["participant_id"] = None
    report = ipt.validate(df)
    assert not report.ok and set(report.errors["check"]) == {"not_null"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_missing_scores_by_instrument_and_arm_match_a_count_by_hand_on_shuffled_rows(example_df, seed):
    """Each (instrument, arm) row carries its own counts whatever the row order (the groups were once
    labelled in row order and counted in code order: HAMD17/TAU got PHQ9's count)."""
    df = example_df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    got = ipt.validate(df).missing_scores.set_index(["instrument", "arm"])
    for (instrument, arm), rows in df.groupby([df["instrument"].astype(str), df["arm"].astype(str)]):
        assert got.loc[(instrument, arm), "n_rows"] == len(rows), (instrument, arm)
        assert got.loc[(instrument, arm), "n_missing"] == int(rows["score"].isna().sum()), (instrument, arm)
    assert len(got) == df.groupby(["instrument", "arm"], observed=True).ngroups
