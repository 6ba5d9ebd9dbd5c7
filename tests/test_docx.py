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
    model = next(t for t in doc.tables if t.rows[0].cells[0].text == "Predictor")
    expected = built.results["model_table"]
    assert model.rows[1].cells[0].text == "Fixed effects"  # the block's merged heading row
    first = expected.iloc[0]
    assert [c.text for c in model.rows[2].cells] == [first["Predictor"], first["Estimate"], first["SE"], first["95% CI"],
                                                     first["df"], first["p"]]
    texts = [r.cells[0].text for r in model.rows]
    assert "IPT vs TAU" in texts and "Random effects" in texts and "Residual SD (\u03c3)" in texts
    formula = model.rows[texts.index("Formula")].cells
    assert formula[1].text == built.results["fit"].formula
    clinical = next(t for t in doc.tables if t.rows[0].cells[0].text == "outcome")
    assert [c.text for c in clinical.rows[0].cells] == list(built.results["summary_table"].columns)
    assert clinical.rows[1].cells[2].text == built.results["summary_table"].iloc[0]["n (%)"]
    sens = next(t for t in doc.tables if t.rows[0].cells[0].text == "analysis")
    p_col = [c.text for c in sens.rows[0].cells].index("p value")
    assert all(c.cells[p_col].text in ("", "< .001") or c.cells[p_col].text.startswith(".")
               for c in sens.rows[1:])  # APA p: no leading zero
    if static_export_available():
        assert len(doc.inline_shapes) == 5  # trajectories, observed means, forest, flow, tipping point
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


def test_a_figure_the_browser_fails_to_draw_is_retried_then_stops_the_document(built, tmp_path, monkeypatch):
    """kaleido's page sometimes fails to start on a busy machine: each figure is tried again, and one
    that fails every time stops the Word document with an error naming it (no file, no temporary
    file left), never a document silently without it."""
    import plotly.graph_objects as go

    from ipt_outcomes.figures import export

    monkeypatch.setattr(export.time, "sleep", lambda s: None)
    monkeypatch.setattr("ipt_outcomes.report.docx._can_draw", lambda: True)
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] % export.ATTEMPTS:  # every attempt but the last fails
            raise RuntimeError("ReferenceError: kaleido_scopes is not defined")
        return b"\x89PNG\r\n\x1a\n" + bytes(_tiny_png())

    monkeypatch.setattr(go.Figure, "to_image", flaky)
    path = write_docx(built, tmp_path / "retried.docx", title="t")
    assert len(docx.Document(str(path)).inline_shapes) == len([k for k in ("ls_means", "trajectories", "observed_means",
                                                                            "forest", "flow", "tipping")
                                                               if k in built.figures])

    def broken(self, *args, **kwargs):
        raise RuntimeError("ReferenceError: kaleido_scopes is not defined")

    monkeypatch.setattr(go.Figure, "to_image", broken)
    with pytest.raises(ipt.AnalysisError, match=r"figure 'Individual courses and model-implied means' of the Word "
                                                r"report: the browser could not draw it in 3 attempts"):
        write_docx(built, tmp_path / "broken.docx", title="t")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["retried.docx"]


def _tiny_png() -> bytes:
    """A 1 x 1 PNG without its signature (python-docx reads the image header)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b"")


def test_control_and_bidi_characters_in_arm_names_are_visible_escapes_in_word(tmp_path):
    """python-docx refuses control characters (the HTML was written, then a traceback); they are written
    as the visible escapes the HTML and the terminal show, and bidi overrides never reorder the text."""
    df = ipt.load_example()
    df["arm"] = df["arm"].astype(str).replace({"IPT": "IPT\x1b[2J\x07", "TAU": "TAU\u202etxt.exe"})
    study = tmp_path / "study.yaml"
    study.write_text("reference_arm: \"TAU\\u202etxt.exe\"\nsessions: {min: 12, max: 16}\ntime: session\n",
                     encoding="utf-8")
    path = tmp_path / "hostile.csv"
    df.to_csv(path, index=False)
    built = ipt.build_report(path, study=study, outcome="HAMD17", n_imputations=2, progress=False)
    out = write_docx(built, tmp_path / "hostile.docx", title="IPT\x1b]0;pwned\x07 report")
    document = docx.Document(str(out))
    texts = [p.text for p in document.paragraphs] + [c.text for t in document.tables for r in t.rows for c in r.cells]
    joined = "\n".join(texts)
    assert "\x1b" not in joined and "\u202e" not in joined and "\x07" not in joined
    assert "IPT\\x1b[2J\\x07" in joined and "TAU\\u202etxt.exe" in joined
    assert "IPT\\x1b]0;pwned\\x07 report" in texts[0]
