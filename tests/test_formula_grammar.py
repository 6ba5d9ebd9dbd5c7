"""The formula language: a formula is data, never code.

Term algebra, poly() and scale() against R (tests/reference/make_formula_grammar_fixtures.R writes
formula_grammar_fixtures.json), fits with transforms against lme4 + lmerTest + emmeans, and every
way a formula used to run Python (through fit_growth, random terms, the command line and a study
file read by report) refused without running anything.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.formula import MAX_ORDER, MAX_TERMS, fit_factor, parse_formula
from ipt_outcomes.formula.syntax import Column, Factor

REF = Path(__file__).resolve().parent / "reference"
FIXTURES = json.loads((REF / "formula_grammar_fixtures.json").read_text(encoding="utf-8"))


def _labels(value) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


@pytest.mark.parametrize("case", FIXTURES["terms"], ids=[c["formula"] for c in FIXTURES["terms"]])
def test_term_algebra_is_r_terms(case):
    parsed = parse_formula(case["formula"])
    assert [":".join(t) for t in parsed.fixed_terms.terms] == _labels(case["labels"])
    assert parsed.fixed_terms.has_intercept == bool(case["intercept"])


def test_poly_is_r_poly_and_predicts_with_its_state():
    ref = FIXTURES["poly"]
    data = pd.DataFrame({"x": ref["x"]})
    state = fit_factor(Factor("poly", Column("x"), degree=3), data)
    np.testing.assert_allclose(state.apply(data), np.array(ref["values"]), rtol=0, atol=1e-13)
    np.testing.assert_allclose(state.apply(pd.DataFrame({"x": ref["new"]})), np.array(ref["predicted"]), rtol=0,
                               atol=1e-12)
    raw = fit_factor(Factor("poly", Column("x"), degree=2, raw=True), data)
    np.testing.assert_allclose(raw.apply(data), np.array(ref["raw"]), rtol=0, atol=0)


def test_scale_and_center_are_r_scale():
    ref = FIXTURES["scale"]
    data = pd.DataFrame({"x": ref["x"]})
    state = fit_factor(Factor("scale", Column("x")), data)
    assert state.center == pytest.approx(ref["center"], rel=1e-15)
    assert state.spread == pytest.approx(ref["sd"], rel=1e-15)
    np.testing.assert_allclose(state.apply(data), ref["values"], rtol=1e-14)
    centred = fit_factor(Factor("center", Column("x")), data)
    np.testing.assert_allclose(centred.apply(pd.DataFrame({"x": [0.0, 10.0]})),
                               [-ref["center"], 10.0 - ref["center"]], rtol=1e-15)


def _trials() -> pd.DataFrame:
    d = pd.read_csv(REF / "data" / "formula_trials.csv", dtype={"participant_id": str})
    d["instrument"] = "X"
    return d


_R_NAMES = {"I((session/4)^2)": "I((session / 4) ** 2)"}


@pytest.mark.parametrize("case_id", sorted(FIXTURES["fits"]))
def test_fits_with_transforms_match_lme4_and_emmeans(case_id):
    case = FIXTURES["fits"][case_id]
    fit = ipt.fit_growth(_trials(), formula=case["formula"], check=False,
                         reference_arm=None if "C(arm" in case["formula"] else case["reference"])
    ref = pd.DataFrame(case["fixed_effects"])
    ref["term"] = ref["term"].replace(_R_NAMES)
    got = fit.fixed_effects.set_index("term").loc[ref["term"]]
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], rtol=1e-5)
    np.testing.assert_allclose(got["df"], ref["df"], rtol=2e-3)
    assert fit.log_likelihood == pytest.approx(case["log_likelihood"], abs=1e-6)
    means = fit.marginal_means("arm", at={"session": case["at"]}).set_index("arm")
    rm = pd.DataFrame(case["marginal_means"]).set_index("arm")
    np.testing.assert_allclose(means.loc[rm.index, "estimate"], rm["estimate"], rtol=1e-6)
    np.testing.assert_allclose(means.loc[rm.index, "std_error"], rm["std_error"], rtol=1e-5)
    np.testing.assert_allclose(means.loc[rm.index, "df"], rm["df"], rtol=2e-3)


# -- formulas that used to run code -------------------------------------------------------------------
def _payloads(marker: Path) -> list[str]:
    return [
        f"I(__import__('os').system('touch {marker}').bit_length())",
        "session.__class__.__mro__",
        f"(exec(\"open('{marker}', 'w')\") or 1)",
        f"I((lambda: open('{marker}', 'w'))())",
        f"log(__import__('os').system('touch {marker}'))",
        f"C(arm, Treatment(__import__('os').system('touch {marker}')))",
        f"poly(session, __import__('os').system('touch {marker}'))",
        "session[0]",
        f"`x`(open('{marker}', 'w'))",
        "np.log(session)",
        f"{{open('{marker}', 'w')}}",
    ]


@pytest.fixture(scope="module")
def example():
    return ipt.load_example()


def test_no_formula_runs_code_in_the_fixed_or_random_part(example, tmp_path):
    marker = tmp_path / "F"
    for payload in _payloads(marker):
        for formula in (f"HAMD17 ~ session * arm + {payload} + (1 | participant_id)",
                        f"HAMD17 ~ session * arm + ({payload} | participant_id)",
                        f"HAMD17 ~ session * arm + (1 | {payload})"):
            with pytest.raises(ipt.ArgumentError) as info:
                ipt.fit_growth(example, formula=formula, check=False)
            assert "formula" in str(info.value)
            assert not marker.exists(), formula


def test_the_offending_text_is_named():
    with pytest.raises(ipt.ArgumentError, match=r"__import__\(\.\.\.\) cannot be called"):
        parse_formula("y ~ I(__import__('os').system('x'))")
    with pytest.raises(ipt.ArgumentError, match=r"'session.__class__.__mro__' reads like attribute access"):
        parse_formula("y ~ session.__class__.__mro__")
    with pytest.raises(ipt.ArgumentError, match=r"exec\(\.\.\.\) is not a transform"):
        parse_formula("y ~ (exec('x') or 1)")
    with pytest.raises(ipt.ArgumentError, match=r"'\[' is not part of the formula language"):
        parse_formula("y ~ session[0]")
    with pytest.raises(ipt.ArgumentError, match=r"the quoted text 'session' is not a term"):
        parse_formula("y ~ 'session'")


def _cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    exe = shutil.which("ipt-outcomes")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "ipt_outcomes.cli.main", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_command_line_and_study_file_refuse_code_and_exit_2(tmp_path):
    marker = tmp_path / "F"
    payload = _payloads(marker)[0]
    result = _cli("fit", str(ipt.example_path()), "--formula", f"HAMD17 ~ session * arm + {payload}")
    assert result.returncode == 2 and "cannot be called" in result.stderr
    study = tmp_path / "shared_study.yaml"
    formula = f"HAMD17 ~ session * arm + {payload} + (1 | participant_id)"
    study.write_text("model:\n  formula: " + json.dumps(formula) + "\n", encoding="utf-8")
    result = _cli("report", str(ipt.example_path()), "--study", str(study), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "model.formula" in result.stderr
    assert not marker.exists() and not (tmp_path / "r.html").exists()


# -- bounds --------------------------------------------------------------------------------------------
def test_bounds_on_terms_order_depth_and_length():
    many = " + ".join(f"x{i}" for i in range(MAX_TERMS + 1))
    with pytest.raises(ipt.ArgumentError, match=f"at most {MAX_TERMS}"):
        parse_formula(f"y ~ ({many})^1")
    with pytest.raises(ipt.ArgumentError, match=r"expands to 1,048,575 terms"):
        parse_formula("y ~ (" + " + ".join(f"x{i}" for i in range(20)) + ")^20")
    order = "*".join(f"x{i}" for i in range(MAX_ORDER + 1))
    with pytest.raises(ipt.ArgumentError, match=f"interaction of {MAX_ORDER + 1} factors"):
        parse_formula(f"y ~ {order}")
    parse_formula("y ~ " + "*".join(f"x{i}" for i in range(MAX_ORDER)))  # the bound itself is allowed
    with pytest.raises(ipt.ArgumentError, match="nested more than"):
        parse_formula("y ~ " + "(" * 200 + "x" + ")" * 200)
    with pytest.raises(ipt.ArgumentError, match="characters is refused"):
        parse_formula("y ~ x" + " + x" * 5000)


def test_too_many_columns_and_too_much_memory_are_refused_before_building(example, monkeypatch):
    from ipt_outcomes.formula import matrices
    from ipt_outcomes.models import formula_design

    def never(*args, **kwargs):
        raise AssertionError("the matrices were built")

    monkeypatch.setattr(formula_design, "build_term_matrix", never)
    wide = example.assign(code=example.index.astype(str))  # one level per row
    with pytest.raises(ipt.ArgumentError, match=r"would have up to [\d,]+ columns; at most 2,000"):
        ipt.fit_growth(wide, formula="HAMD17 ~ session * code * arm + (1 | participant_id)", check=False)
    monkeypatch.setattr("ipt_outcomes.io.files.available_memory", lambda: 1000)
    with pytest.raises(ipt.AnalysisError, match=r"needs about [\d.]+ GiB of memory; 0.0 GiB are available"):
        ipt.fit_growth(example, formula="HAMD17 ~ session * arm + (1 | participant_id)", check=False)
    assert matrices.MAX_COLUMNS == 2000


@pytest.mark.parametrize("name", ["log", "I", "C", "np", "poly", "exp"])
def test_columns_named_like_transforms_work_bare_or_backquoted(example, name):
    data = example.assign(**{name: np.random.default_rng(7).uniform(1.0, 3.0, len(example))})
    expected = ipt.fit_growth(example.assign(z=data[name]), formula="HAMD17 ~ session * arm + z + (1 | participant_id)",
                              check=False).fixed_effects["estimate"].to_numpy()
    for written in (name, f"`{name}`"):
        fit = ipt.fit_growth(data, formula=f"HAMD17 ~ session * arm + {written} + (1 | participant_id)", check=False)
        assert name in fit.fixed_effects["term"].tolist()
        np.testing.assert_allclose(fit.fixed_effects["estimate"], expected, rtol=1e-10)
    fit = ipt.fit_growth(data, formula=f"HAMD17 ~ session * arm + log(`{name}`) + (1 | participant_id)", check=False)
    assert f"log({name})" in fit.fixed_effects["term"].tolist() or f"log(`{name}`)" in fit.fixed_effects["term"].tolist()


def test_a_column_with_spaces_and_a_transform_that_is_not_finite(example):
    data = example.assign(**{"weeks since start": example["session"].astype(float)})
    fit = ipt.fit_growth(data, formula="HAMD17 ~ `weeks since start` * arm + (1 | participant_id)", check=False)
    assert "weeks since start:arm[IPT]" in fit.fixed_effects["term"].tolist()
    with pytest.raises(ipt.ArgumentError, match=r"log\(session\) is not a finite number in \d+ analysed row\(s\) "
                                                 r"\(first: participant \w+, session 0"):
        ipt.fit_growth(example, formula="HAMD17 ~ log(session) * arm + (1 | participant_id)", check=False)
    with pytest.raises(ipt.ArgumentError, match="uses 'arm' as a number, but arm is categorical"):
        ipt.fit_growth(example, formula="HAMD17 ~ session + I(arm * 2) + (1 | participant_id)", check=False)
