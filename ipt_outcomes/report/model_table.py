"""The model table of a publication: one table for a fitted model, as ``sjPlot::tab_model`` lays it
out, with the trial's words.

Fixed effects get human labels ("Session", "IPT vs TAU", "Session × IPT vs TAU", "Baseline HAM-D
17", "Sex: M"), their estimate, SE, 95 % CI, df and p; the random part is given as standard
deviations and correlations by grouping factor (sigma, tau00, tau11, rho01), then the ICC, the
numbers of participants (and of each grouping factor's levels) and observations, marginal and
conditional R^2 and the formula. :func:`model_table` returns the table as text cells rounded for
reading (a ``part`` column says which block a row belongs to); :func:`model_table_html` renders it
with the blocks as headed rows, and the Word writer uses the same table.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..formatting import p_cell
from .page import escape

__all__ = ["MODEL_TABLE_COLUMNS", "model_table", "model_table_html", "term_label"]

MODEL_TABLE_COLUMNS = ["part", "Predictor", "Estimate", "SE", "95% CI", "df", "p"]
_FACTOR = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<level>.*)\]$", re.S)
_PHASES = {"initial": "initial phase", "middle": "middle phase", "termination": "termination phase"}


def _split_interaction(term: str) -> list[str]:
    """``session:arm[IPT]`` -> ``["session", "arm[IPT]"]``; a ':' inside brackets or parentheses stays."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(term):
        if ch in "[(":
            depth += 1
        elif ch in "])":
            depth = max(depth - 1, 0)
        elif ch == ":" and depth == 0:
            parts.append(term[start:i])
            start = i + 1
    parts.append(term[start:])
    return parts


def _column_label(column: str, labels: Mapping[str, str]) -> str:
    if column in labels:
        return str(labels[column])
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else column


def term_label(term: str, *, time: str, reference_arm: str | None, baseline: str | None = None,
               labels: Mapping[str, str] | None = None) -> str:
    """The reader's name of a fixed-effect term: ``session:arm[IPT]`` -> ``Session × IPT vs TAU``.

    ``time`` is the time column; ``reference_arm`` names what an arm level is compared with;
    ``baseline`` is the label of the ``baseline`` covariate (the instrument's baseline score);
    ``labels`` maps column names to the study file's labels.
    """
    labels = labels or {}
    if term == "Intercept":
        return "Intercept"
    time_label = _column_label(time, labels)
    out = []
    for part in _split_interaction(term):
        factor = _FACTOR.match(part)
        if part == time:
            out.append(time_label)
        elif part == f"log({time} + 1)":
            out.append(f"log({time_label} + 1)")
        elif part == f"{time}^2":
            out.append(f"{time_label}\u00b2")
        elif part == "baseline" and baseline:
            out.append(baseline)
        elif factor and factor["name"] == time and factor["level"] in _PHASES:
            out.append(f"{time_label} ({_PHASES[factor['level']]})")
        elif factor and factor["name"] == "arm":
            out.append(f"{factor['level']} vs {reference_arm}" if reference_arm else factor["level"])
        elif factor:
            out.append(f"{_column_label(factor['name'], labels)}: {factor['level'].replace('_', ' ')}")
        else:
            out.append(_column_label(part, labels) if re.fullmatch(r"\w+", part) else part)
    return " \u00d7 ".join(out)


def _num(x: Any, digits: int) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{x:.{digits}f}".replace("-", "\u2212")


def _digits(se: float, digits: int) -> int:
    """``digits``, or more when the SE would round to zero (a term on a large scale, ``I(age ** 2)``):
    two significant digits of the SE, at most 6 decimals."""
    if not math.isfinite(se) or se <= 0 or se >= 10.0 ** -digits:
        return digits
    return min(6, 1 - math.floor(math.log10(se)))


def _p(p: float) -> str:
    return p_cell(p)


def _group_name(group: str, labels: Mapping[str, str]) -> str:
    if group == "participant_id":
        return "Participant"
    if group.endswith("_id") and group not in labels:
        group = group[:-3]
    return " within ".join(_column_label(g, labels) for g in reversed(group.split(":")))


def _group_sizes(fit: Any) -> dict[str, int]:
    if fit.formula_model is not None:
        structure = fit.formula_model.structure
        return {} if structure is None else {f.name: int(f.n_levels) for f in structure.factors}
    sizes = {"participant_id": int(fit.n_participants)}
    design = fit.design
    if fit.spec.therapist and design is not None and design.therapist is not None:
        sizes[fit.spec.therapist] = len(set(design.therapist.tolist()))
    return sizes


def _random_rows(fit: Any, digits: int, labels: Mapping[str, str], time: str) -> list[dict[str, str]]:
    vc = fit.variance_components
    rows: list[dict[str, str]] = []

    def term(t: str) -> str:
        return term_label(t, time=time, reference_arm=fit.spec.reference_arm, labels=labels).lower() \
            if t != "Intercept" else "intercept"

    variances: dict[tuple[str, str], float] = {}
    for r in vc.itertuples():
        if r.group != "Residual" and not isinstance(r.term2, str):
            variances[(r.group, r.term1)] = float(r.estimate)
    residual = vc.loc[vc["group"] == "Residual", "estimate"]
    if len(residual):
        rows.append({"Predictor": "Residual SD (\u03c3)", "Estimate": _num(math.sqrt(max(float(residual.iloc[0]), 0.0)),
                                                                            digits)})
    for r in vc.itertuples():
        if r.group == "Residual":
            continue
        who = _group_name(r.group, labels)
        if isinstance(r.term2, str):
            v1, v2 = variances.get((r.group, r.term1), math.nan), variances.get((r.group, r.term2), math.nan)
            corr = float(r.estimate) / math.sqrt(v1 * v2) if v1 > 0 and v2 > 0 else math.nan
            rows.append({"Predictor": f"{who}: correlation of {term(r.term1)} and {term(r.term2)} (\u03c1)",
                         "Estimate": _num(corr, digits)})
        else:
            symbol = "\u03c4\u2080\u2080" if r.term1 == "Intercept" else "\u03c4\u2081\u2081"
            rows.append({"Predictor": f"{who}: SD of {term(r.term1)} ({symbol})",
                         "Estimate": _num(math.sqrt(max(float(r.estimate), 0.0)), digits)})
    return rows


def model_table(fit: Any, *, labels: Mapping[str, str] | None = None, digits: int = 2) -> pd.DataFrame:
    """One table of a fitted model (:class:`~ipt_outcomes.GrowthFit`), text cells rounded for reading.

    Columns ``part`` (``Fixed effects``, ``Random effects``, ``Model``), ``Predictor``, ``Estimate``,
    ``SE``, ``95% CI``, ``df`` and ``p``. ``labels`` maps column names to labels (the study file's
    ``labels``); the instrument is named by its registry name. ``table.attrs["title"]`` names the
    dependent variable, ``table.attrs["note"]`` the estimation and df method.
    """
    labels = dict(labels or {})
    registry = fit.registry
    outcome = fit.outcome
    inst = registry[outcome] if outcome in registry else None
    instrument = inst.name if inst is not None else outcome
    time = fit.spec.time
    mixed = fit.formula_model is None or fit.formula_model.structure is not None
    rows: list[dict[str, str]] = []
    for r in fit.fixed_effects.itertuples():
        d = _digits(r.std_error, digits)
        rows.append({"part": "Fixed effects",
                     "Predictor": term_label(r.term, time=time, reference_arm=fit.spec.reference_arm,
                                             baseline=f"Baseline {instrument}", labels=labels),
                     "Estimate": _num(r.estimate, d), "SE": _num(r.std_error, d),
                     "95% CI": f"{_num(r.ci_lower, d)}, {_num(r.ci_upper, d)}",
                     "df": _num(r.df, 1), "p": _p(r.p_value)})
    rows += [{"part": "Random effects" if mixed else "Model", **row}
             for row in _random_rows(fit, digits, labels, time)]
    model: list[dict[str, str]] = []
    if mixed:
        for r in fit.icc().itertuples():
            model.append({"Predictor": f"ICC ({_group_name(r.group, labels).lower()})", "Estimate": _num(r.icc, 2)})
    sizes = _group_sizes(fit)
    model.append({"Predictor": "N participants", "Estimate": f"{int(fit.n_participants):,}"})
    for group, n in sizes.items():
        if group != "participant_id":
            first, _, rest = _group_name(group, labels).lower().partition(" within ")
            plural = first if first.endswith("s") else first + "s"
            model.append({"Predictor": f"N {plural}" + (f" within {rest}" if rest else ""), "Estimate": f"{n:,}"})
    model.append({"Predictor": "Observations", "Estimate": f"{int(fit.n_obs):,}"})
    r2 = fit.r_squared()
    if "marginal" in r2:
        model.append({"Predictor": "Marginal R\u00b2 / conditional R\u00b2",
                      "Estimate": f"{_num(r2['marginal'], 3)} / {_num(r2['conditional'], 3)}"})
    else:
        model.append({"Predictor": "R\u00b2 / adjusted R\u00b2",
                      "Estimate": f"{_num(r2['r_squared'], 3)} / {_num(r2['adjusted_r_squared'], 3)}"})
    model.append({"Predictor": "Formula", "Estimate": fit.formula})
    rows += [{"part": "Model", **row} for row in model]
    table = pd.DataFrame(rows, columns=MODEL_TABLE_COLUMNS).fillna("")
    full = inst.full_name if inst is not None else outcome
    table.attrs["title"] = f"{full} ({instrument})" if inst is not None and full != instrument else instrument
    if not mixed:
        method = "ordinary least squares; t tests on the residual df"
    else:
        method = (f"{'REML' if fit.method == 'reml' else 'maximum likelihood'}; df by Satterthwaite's approximation")
    table.attrs["note"] = (f"Estimates in {instrument} points; {method}; {fit.spec.reference_arm} is the "
                           "reference arm." + (" Singular fit: a variance is at zero or a correlation at \u00b11."
                                               if fit.singular else ""))
    return table


def model_table_html(table: pd.DataFrame, caption: str | None = None) -> str:
    """The model table as HTML: one header row, each block under a headed row; all text escaped."""
    columns = [c for c in table.columns if c != "part"]
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body, part = [], None
    for row in table.itertuples(index=False):
        values = dict(zip(table.columns, row, strict=True))
        if values["part"] != part:
            part = values["part"]
            body.append(f'<tr class="block"><th colspan="{len(columns)}">{escape(part)}</th></tr>')
        if values["Predictor"] == "Formula":
            body.append(f'<tr><td>Formula</td><td colspan="{len(columns) - 1}"><code>{escape(values["Estimate"])}'
                        "</code></td></tr>")
            continue
        body.append("<tr>" + "".join(f"<td>{escape(values[c])}</td>" for c in columns) + "</tr>")
    title = caption or table.attrs.get("title", "")
    note = table.attrs.get("note")
    foot = f'<tfoot><tr><td colspan="{len(columns)}">{escape(note)}</td></tr></tfoot>' if note else ""
    return (f'<table class="model-table"><caption>{escape(title)}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody>{foot}</table>")
