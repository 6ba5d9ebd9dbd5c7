"""``report --docx``: a real Word document, opened and read back with python-docx: the APA text,
real tables holding the library's numbers, the figures as images (where Chromium can draw them)."""

from __future__ import annotations

import subprocess
import sys

import docx
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.figures.export import static_export_available
from ipt_outcomes.report.docx import write_docx


@pytest.fixture(scope="module")
def built():
    return ipt.build_report(ipt.example_path(), study=ipt.example_study_path(), n_imputations=3, progress=False)


def test_word_document_reads_back(built, tmp_path):
    path = write_docx(built, tmp_path / "report.docx", title="IPT trial report: HAMD17")
    doc = docx.Document(str(path))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading") or p.style.name == "Title"]
    assert headings[:4] == ["IPT trial report: HAMD17", "Methods and results", "Tables", "Figures"]
    text = "\n".join(p.text for p in doc.paragraphs)
    for paragraph in built.results["apa_text"]:
        assert paragraph in text
    assert len(doc.tables) >= 4
    fixed = next(t for t in doc.tables if t.rows[0].cells[0].text == "term")
    fe = built.results["fit"].fixed_effects
    assert [c.text for c in fixed.rows[1].cells[:3]] == [fe["term"][0], f"{fe['estimate'][0]:.3f}",
                                                         f"{fe['std_error'][0]:.3f}"]
    assert fixed.rows[1].cells[5].text == "< .001"  # APA p
    if static_export_available():
        assert len(doc.inline_shapes) == 3  # trajectories, observed means, forest
    else:
        assert "figure not included" in text


def test_cli_writes_the_docx_beside_the_html(tmp_path):
    html, word = tmp_path / "r.html", tmp_path / "r.docx"
    cmd = [sys.executable, "-m", "ipt_outcomes.cli.main", "report", str(ipt.example_path()), "--study",
           str(ipt.example_study_path()), "--out", str(html), "--imputations", "3"]
    bad = subprocess.run([*cmd, "--docx", str(tmp_path / "r.doc")], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "ending in .docx" in bad.stderr and not html.exists()
    result = subprocess.run([*cmd, "--docx", str(word)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert html.exists() and len(docx.Document(str(word)).tables) >= 4
