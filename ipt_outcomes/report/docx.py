"""The report as a Word document (python-docx): the methods and results text, real Word tables and
the main figures as images, for a journal template.

Figures are drawn by kaleido in a headless Chrome/Chromium (:mod:`ipt_outcomes.figures.export`),
each retried; a figure the browser fails to draw every time stops the document with an error naming
it. Without any browser the document says so in place of each figure and keeps everything else
(and the command line says so too).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from ..formatting import p_cell
from ..io.output import atomic_output
from ..plaintext import printable

__all__ = ["write_docx"]

FIGURES = (("ls_means", "Least-squares means by visit (MMRM)"),
           ("trajectories", "Individual courses and model-implied means"),
           ("observed_means", "Observed means by planned visit"),
           ("forest", "Arm differences at the end of treatment, overall and by moderator"),
           ("flow", "Participant flow (CONSORT)"),
           ("tipping", "Tipping-point analysis of the end-of-treatment difference"))


def write_docx(report: Any, path: str | Path, *, title: str, force: bool = False,
               inputs: tuple[Any, ...] = ()) -> Path:
    """Write ``report`` (a built :class:`~ipt_outcomes.Report`) to ``path`` as .docx."""
    from docx import Document
    from docx.shared import Inches

    results = report.results
    doc = Document()
    doc.add_heading(printable(title), level=0)
    doc.add_heading("Methods and results", level=1)
    for text in results.get("apa_text", []):
        doc.add_paragraph(printable(text))
    tables = [("Table 1. Baseline characteristics by arm", results.get("baseline_table"), 1)]
    if "mmrm" in results:
        tables.append(("Arm differences in least-squares means at every visit (MMRM)",
                       results["mmrm"].arm_differences(), 2))
    model = results.get("model_table")
    if model is not None:
        role = "Secondary" if "mmrm" in results else "Primary"
        tables.append((f"{role} model: {model.attrs.get('title', '')}. {model.attrs.get('note', '')}", model, 2))
    tables += [
               ("Arm differences at the end of treatment", results["differences"].drop(columns=["change_difference"],
                                                                                      errors="ignore"), 2),
               ("Clinical significance (risk differences with Newcombe's interval, NNT with Altman's)",
                results.get("summary_table", results.get("summary")), 1),
               ("Sensitivity analyses", results.get("sensitivity"), 2)]
    doc.add_heading("Tables", level=1)
    for caption, table, digits in tables:
        if table is None or not len(table):
            continue
        doc.add_paragraph(printable(caption), style="Caption")
        _table(doc, table, digits)
    doc.add_heading("Figures", level=1)
    available = _can_draw()
    for key, caption in FIGURES:
        fig = report.figures.get(key)
        if fig is None:
            continue
        doc.add_paragraph(caption, style="Caption")
        image = _png(fig, caption) if available else None
        if image is None:
            doc.add_paragraph("(figure not included: drawing it needs Chrome or Chromium; the HTML report has it)")
        else:
            doc.add_picture(io.BytesIO(image), width=Inches(6.3))
    if report.notes:
        doc.add_heading("Notes", level=1)
        for note in report.notes:
            doc.add_paragraph(printable(note), style="List Bullet")
    with atomic_output(path, force=force, inputs=inputs, what="Word report") as tmp:
        doc.save(str(tmp))
    return Path(path)


def _table(doc: Any, table: pd.DataFrame, digits: int) -> None:
    if "part" in table.columns and "Predictor" in table.columns:
        _blocked_table(doc, table)
        return
    frame = table.reset_index(drop=True)
    grid = doc.add_table(rows=1, cols=len(frame.columns))
    grid.style = "Table Grid"
    for cell, name in zip(grid.rows[0].cells, frame.columns, strict=True):
        cell.text = printable(str(name).replace("_", " "))
    p_columns = {i for i, name in enumerate(frame.columns) if "p_value" in str(name)}
    for row in frame.itertuples(index=False):
        cells = grid.add_row().cells
        for i, (cell, value) in enumerate(zip(cells, row, strict=True)):
            cell.text = _p(value) if i in p_columns else printable(_text(value, digits))


def _blocked_table(doc: Any, table: pd.DataFrame) -> None:
    """The model table: its text cells as they are, each block (fixed, random, model) under a row
    merged across the table."""
    columns = [c for c in table.columns if c != "part"]
    grid = doc.add_table(rows=1, cols=len(columns))
    grid.style = "Table Grid"
    for cell, name in zip(grid.rows[0].cells, columns, strict=True):
        cell.text = printable(str(name))
    part = None
    for row in table.itertuples(index=False):
        values = dict(zip(table.columns, row, strict=True))
        if values["part"] != part:
            part = values["part"]
            cells = grid.add_row().cells
            merged = cells[0].merge(cells[-1])
            merged.text = printable(str(part))
            merged.paragraphs[0].runs[0].bold = True
        cells = grid.add_row().cells
        if values["Predictor"] == "Formula":
            cells[0].text = "Formula"
            merged = cells[1].merge(cells[-1])
            merged.text = printable(str(values["Estimate"]))
            continue
        for cell, name in zip(cells, columns, strict=True):
            cell.text = printable(str(values[name]))


def _text(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        if abs(value) < 0.001 and value != 0 and digits >= 3:
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def _p(value: Any) -> str:
    """APA p: ``< .001`` or ``.034`` (no leading zero)."""
    return p_cell(value)


def _can_draw() -> bool:
    from ..figures.export import static_export_available

    return static_export_available()


def _png(fig: Any, caption: str) -> bytes:
    """The figure as PNG, retried; an AnalysisError naming it when the browser fails every time (the
    document is then not written: never one silently missing a figure)."""
    from ..figures.export import static_image

    return static_image(fig, "png", width=1000, height=600, scale=1.5, name=f"{caption!r} of the Word report")
