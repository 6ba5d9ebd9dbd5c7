"""Figures are checked through their data: traces, values, labels and hover text."""

from __future__ import annotations

import warnings

import numpy as np
import plotly.graph_objects as go
import pytest

import ipt_outcomes as ipt
from ipt_outcomes import figures as F


@pytest.fixture(scope="module")
def example():
    df = ipt.load_example()
    fit = ipt.fit_growth(df, "HAMD17")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ipt.IPTOutcomesWarning)
        cc = ipt.clinical_change(df, "PHQ9")
    return df, fit, cc


def test_arm_colours_are_fixed_and_distinct():
    colors = F.arm_colors(["TAU", "IPT", "CBT"])
    assert colors == F.arm_colors(["IPT", "CBT", "TAU"])
    assert len(set(colors.values())) == 3
    assert colors["IPT"] == "#0072B2"


def test_trajectory_figure(example):
    df, fit, _ = example
    fig = F.trajectory_figure(df, fit)
    assert isinstance(fig, go.Figure)
    names = [t.name for t in fig.data]
    assert {"IPT: model mean", "TAU: model mean", "IPT: participants", "TAU: participants"} <= set(names)
    mean = next(t for t in fig.data if t.name == "TAU: model mean")
    traj = fit.trajectories(times=list(mean.x))
    np.testing.assert_allclose(mean.y, traj[traj["arm"] == "TAU"]["estimate"])
    people = next(t for t in fig.data if t.name == "IPT: participants")
    assert "participant" in people.hovertemplate and any(str(x).startswith("P0") for x in people.text if x)
    assert fig.layout.yaxis.title.text == "HAM-D 17 (points)"
    assert fig.layout.xaxis.title.text == "Session"


def test_observed_means_with_n(example):
    df, _, _ = example
    fig = F.observed_means_figure(df, "HAMD17")
    ipt_trace = next(t for t in fig.data if t.name == "IPT")
    d = df[(df["instrument"] == "HAMD17") & (df["arm"] == "IPT")].dropna(subset=["score"])
    expected = d.groupby("session")["score"].mean()
    np.testing.assert_allclose(ipt_trace.y, expected.to_numpy())
    assert list(ipt_trace.customdata) == list(d.groupby("session")["score"].size())


def test_jacobson_and_waterfall(example):
    _, _, cc = example
    fig = F.jacobson_figure(cc)
    points = {t.name: t for t in fig.data if t.mode == "markers"}
    both = cc.dropna(subset=["baseline", "final"])
    assert sum(len(t.x) for t in points.values()) == len(both)
    band = [t for t in fig.data if "reliable change band" in (t.name or "")]
    assert len(band) == 2
    rc = cc.attrs["settings"]["reliable_change"]
    assert sorted(round(t.y[0] - t.x[0], 6) for t in band) == pytest.approx(sorted([-rc, rc]))
    assert fig.layout.shapes[0].y0 == pytest.approx(cc.attrs["settings"]["cutoff"])
    wf = F.waterfall_figure(cc)
    values = np.concatenate([t.y for t in wf.data])
    assert len(values) == cc["percent_change"].notna().sum()
    assert wf.layout.yaxis.title.text == "Change from baseline (%)"


def test_forest_retention_flow_dose(example):
    df, fit, _ = example
    diffs = fit.arm_differences().assign(label="All participants")
    fig = F.forest_figure(diffs, "HAMD17")
    assert fig.data[0].x[0] == pytest.approx(diffs["difference"].iloc[0])
    assert fig.data[0].error_x.array[0] == pytest.approx(diffs["ci_upper"].iloc[0] - diffs["difference"].iloc[0])
    ret = ipt.retention(df, "HAMD17")
    fig = F.retention_figure(ret, "HAMD17")
    assert fig.data[0].y[0] == 100
    counts = F.flow_counts(df, "HAMD17", 12, set(fit._design.participant_ids))
    assert counts["randomised"].sum() == 160 and (counts["analysed"] <= counts["randomised"]).all()
    flow = F.flow_figure(counts)
    assert list(flow.data[0].x) == list(counts.iloc[0, 1:])
    dose = F.dose_response_figure(ipt.dose_response(df, "PHQ9"), "PHQ9")
    assert "not randomised" in dose.layout.title.text


def test_diagnostics(example):
    _, fit, _ = example
    qq = F.qq_figure(fit)
    assert len(qq.data[0].x) == fit.n_obs
    rf = F.residual_fitted_figure(fit)
    assert sum(len(t.x) for t in rf.data) == fit.n_obs
    cat = F.caterpillar_figure(fit)
    assert len(cat.data[0].y) == fit.n_participants
    assert list(cat.data[0].y) == sorted(cat.data[0].y)


def test_data_text_is_escaped_in_hover():
    df = ipt.simulate_trial(n_participants=20, seed=2, therapists_per_arm=0)
    df["participant_id"] = df["participant_id"].str.replace("P0001", "<b>x</b>", regex=False)
    fit = ipt.fit_growth(df, "HAMD17")
    fig = F.trajectory_figure(df, fit)
    texts = [x for t in fig.data if t.text is not None for x in t.text if x]
    assert "&lt;b&gt;x&lt;/b&gt;" in texts and "<b>x</b>" not in texts


def test_save_figure(tmp_path, example):
    df, _, _ = example
    fig = F.observed_means_figure(df, "HAMD17")
    html = F.save_figure(fig, tmp_path / "f.html")
    assert "plotly" in html.read_text(encoding="utf-8").lower()
    with pytest.raises(ipt.ArgumentError, match="not supported"):
        F.save_figure(fig, tmp_path / "f.gif")
    if not F.export.static_export_available():
        with pytest.raises(ipt.AnalysisError, match="need Chrome or Chromium"):
            F.save_figure(fig, tmp_path / "f.png")
    else:
        png = F.save_figure(fig, tmp_path / "f.png")
        assert png.read_bytes()[:4] == b"\x89PNG"
        svg = F.save_figure(fig, tmp_path / "f.svg")
        assert "<svg" in svg.read_text(encoding="utf-8")[:500]


def test_static_export_message_without_browser(tmp_path, monkeypatch, example):
    df, _, _ = example
    monkeypatch.setattr(F.export, "static_export_available", lambda: False)
    with pytest.raises(ipt.AnalysisError, match="apt-get install chromium"):
        F.save_figure(F.observed_means_figure(df, "HAMD17"), tmp_path / "f.pdf")


def test_data_text_reaches_figures_as_text_only():
    """Arm names, participant ids and instrument names carry no live markup or hover-template fields."""
    from ipt_outcomes.figures import observed_means_figure
    from ipt_outcomes.figures.style import plain

    assert plain('<a href="x">%{y}</a> & b') == '&lt;a href="x"&gt;&#37;{y}&lt;/a&gt; &amp; b'
    df = ipt.simulate_trial(30, seed=4)
    df["arm"] = df["arm"].replace({"IPT": '<a href="https://evil.example">IPT %{x}</a>'})
    fig = observed_means_figure(df, "HAMD17")
    text = fig.to_json()
    assert "<a href" not in text and "evil.example" in text
    names = [t.name for t in fig.data]
    assert '&lt;a href="https://evil.example"&gt;IPT &#37;{x}&lt;/a&gt;' in names
    assert all("%{x}</a>" not in (t.hovertemplate or "") for t in fig.data)


def test_large_trials_draw_a_bounded_number_of_markers_and_say_so(monkeypatch):
    from ipt_outcomes.figures import style

    monkeypatch.setattr(style, "MAX_POINTS", 300)
    df = ipt.simulate_trial(60, seed=5)
    fit = ipt.fit_growth(df, "HAMD17", check=False)
    n_rows = len(fit.residuals())
    scatter = F.residual_fitted_figure(fit)
    assert sum(len(t.x) for t in scatter.data if t.mode == "markers") == 300
    assert f"(300 of {n_rows:,} residuals, random sample)" in scatter.layout.title.text
    qq = F.qq_figure(fit)
    assert len(qq.data[0].x) == 300 and "evenly spaced quantiles" in qq.layout.title.text
    assert qq.data[0].x[0] == pytest.approx(min(qq.data[0].x)) and qq.data[0].x[-1] == pytest.approx(max(qq.data[0].x))
    small = ipt.fit_growth(ipt.simulate_trial(10, seed=5), "HAMD17", check=False)
    assert F.residual_fitted_figure(small).layout.title.text.endswith("residuals against fitted values")


def test_browser_driver_log_stays_off_the_terminal(caplog):
    """choreographer logs a traceback when Chromium writes a line that is not JSON, then carries on;
    while a figure is drawn that log must not reach the user (CI saw it in `report --figures`)."""
    import logging

    from ipt_outcomes.figures.export import _quiet_browser

    pipe = logging.getLogger("choreographer.channels.pipe")
    with _quiet_browser():
        try:
            raise ValueError("not JSON")
        except ValueError:
            pipe.exception("JSONError decoding message. Ignoring")
    assert not caplog.records
    pipe.error("after the figure")
    assert [r.getMessage() for r in caplog.records] == ["after the figure"]
