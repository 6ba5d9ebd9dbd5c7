"""p values as APA writes them, one function for every table, paragraph, terminal line and Word cell:
by hand at the boundaries, and in the generated results text and model table of a fitted trial."""

from __future__ import annotations

import math
import re

import pytest

import ipt_outcomes as ipt
from ipt_outcomes.formatting import p_cell, p_text


@pytest.mark.parametrize("p, cell, text", [
    (0.034, ".034", "p = .034"),
    (0.0344999, ".034", "p = .034"),
    (0.0345001, ".035", "p = .035"),
    (0.001, ".001", "p = .001"),
    (0.000999, "< .001", "p < .001"),
    (1e-12, "< .001", "p < .001"),
    (0.5, ".500", "p = .500"),
    (0.9994, ".999", "p = .999"),
    (0.9995, "> .999", "p > .999"),
    (1.0, "> .999", "p > .999"),
    (math.nan, "", "p not available"),
    (None, "", "p not available"),
])
def test_p_by_hand(p, cell, text):
    assert p_cell(p) == cell
    assert p_text(p) == text


def test_the_results_text_and_the_model_table_write_p_the_apa_way():
    built = ipt.build_report(ipt.simulate_trial(60, seed=4, effect_sizes={"IPT": 0.3}), n_imputations=2,
                             progress=False)
    text = " ".join(built.results["apa_text"])
    shown = re.findall(r"p [=<>] ?\S+", text)
    assert shown and all(re.fullmatch(r"p (= \.\d{3}|< \.001|> \.999)[,;.)]*", s) for s in shown), shown
    assert "p = 0." not in text and "p < 0." not in text
    diff = built.results["differences"].iloc[0]
    assert p_text(diff["p_value"]) in text
    table = built.results["model_table"]
    fixed = table[table["part"] == "Fixed effects"]
    fe = built.results["fit"].fixed_effects
    assert list(fixed["p"]) == [p_cell(p) for p in fe["p_value"]]
