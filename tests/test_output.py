"""One guarded writer for every output: inputs are never written, nothing is replaced without
--force, folders and missing folders are refused, and an interrupted write leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

import ipt_outcomes as ipt
from ipt_outcomes.io import write_table


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", *args], capture_output=True, text=True)


@pytest.fixture()
def data_csv(tmp_path, example_df):
    path = tmp_path / "data.csv"
    example_df.to_csv(path, index=False)
    return path


def test_report_through_a_hard_link_to_the_input_is_refused(tmp_path, data_csv, sha256):
    link = tmp_path / "link.html"
    os.link(data_csv, link)
    before = sha256(data_csv)
    done = _cli("report", str(data_csv), "--out", str(link), "--force", "--imputations", "2")
    assert done.returncode == 2 and "is an input of this analysis" in done.stderr
    assert sha256(data_csv) == before


def test_build_report_never_writes_over_the_file_a_dataframe_came_from(tmp_path, data_csv, sha256):
    df = ipt.load(data_csv)
    before = sha256(data_csv)
    with pytest.raises(ipt.ArgumentError, match="is an input of this analysis"):
        ipt.build_report(df, out=data_csv, force=True, progress=False, n_imputations=2)
    assert sha256(data_csv) == before


def test_existing_report_and_figures_need_force(tmp_path, data_csv):
    out = tmp_path / "r.html"
    out.write_text("keep me", encoding="utf-8")
    done = _cli("report", str(data_csv), "--out", str(out), "--imputations", "2")
    assert done.returncode == 2 and "already exists" in done.stderr and "--force" in done.stderr
    assert out.read_text(encoding="utf-8") == "keep me"
    figures = tmp_path / "figs"
    figures.mkdir()
    (figures / "forest.html").write_text("keep me too", encoding="utf-8")
    done = _cli("report", str(data_csv), "--outcome", "HAMD17", "--out", str(tmp_path / "new.html"),
                "--imputations", "2", "--figures", str(figures), "--format", "html")
    assert done.returncode == 2 and "forest.html: already exists" in done.stderr
    assert (figures / "forest.html").read_text(encoding="utf-8") == "keep me too"


@pytest.mark.parametrize("target", ["folder", "missing/deeper.csv"])
def test_folders_and_missing_folders_are_refused(tmp_path, target):
    (tmp_path / "folder").mkdir()
    done = _cli("simulate", "--participants", "10", "--out", str(tmp_path / target))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "is a folder" in done.stderr or "does not exist" in done.stderr


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    df = ipt.simulate_trial(n_participants=10, seed=1)

    def broken(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(KeyboardInterrupt):
        write_table(df, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_xlsx_text_is_never_a_live_formula(tmp_path):
    from openpyxl import load_workbook

    df = pd.DataFrame({"participant_id": ["=HYPERLINK(\"http://x\",\"y\")", "+1+1"], "score": [1.0, 2.0]})
    path = write_table(df, tmp_path / "t.xlsx")
    cells = [c for row in load_workbook(path).active.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    assert cells[2].value == "=HYPERLINK(\"http://x\",\"y\")"
    assert pd.read_excel(path)["participant_id"].tolist() == df["participant_id"].tolist()


@pytest.fixture()
def pooled_copy(tmp_path):
    """The bundled pooled example copied into a folder of its own (its files are the inputs)."""
    import shutil

    folder = tmp_path / "pooled"
    shutil.copytree(ipt.pooled_example_path().parent, folder)
    return folder


@pytest.mark.parametrize("victim", ["dep.csv", "dep_study.yaml", "pooled.yaml", "ptsd.csv"])
def test_pool_never_writes_over_a_file_the_pooling_file_names(pooled_copy, sha256, victim):
    target = pooled_copy / victim
    before = sha256(target)
    done = _cli("pool", str(pooled_copy / "pooled.yaml"), "--out", str(target), "--force")
    assert done.returncode == 2 and "is an input of this analysis" in done.stderr, done.stderr
    assert sha256(target) == before
    assert sorted(p.name for p in pooled_copy.iterdir() if p.name.startswith(".")) == []  # no temporary file


def test_force_never_replaces_a_special_file(tmp_path, data_csv):
    fifo = tmp_path / "pipe.html"
    os.mkfifo(fifo)
    done = _cli("report", str(data_csv), "--out", str(fifo), "--force", "--imputations", "2")
    assert done.returncode == 2 and "is a special file" in done.stderr
    assert fifo.is_fifo()
    link = tmp_path / "null.html"
    link.symlink_to("/dev/null")
    with pytest.raises(ipt.ArgumentError, match="is a special file"):
        ipt.build_report(data_csv, outcome="HAMD17", out=link, force=True, progress=False)


def test_figures_never_overwrite_the_report(tmp_path, data_csv, sha256):
    out = tmp_path / "trajectories.html"  # the name an html figure of that name would take
    done = _cli("report", str(data_csv), "--outcome", "HAMD17", "--out", str(out), "--figures", str(tmp_path),
                "--format", "html", "--force", "--imputations", "2")
    assert done.returncode == 2 and "is also this run's report" in done.stderr, done.stderr
    assert "<html" in out.read_text(encoding="utf-8").lower()[:2000]


def test_a_full_disk_on_the_standard_output_is_a_message_not_a_traceback(data_csv):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "ipt_outcomes.cli.main", "validate", str(data_csv)], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    assert done.returncode == 1
    assert "the output could not be written (No space left on device)" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
