"""Figures are checked through their data: traces, values, labels and hover text."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
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


def test_observed_means_bin_a_variable_end_of_treatment(example):
    df, _, _ = example
    fig = F.observed_means_figure(df, "HAMD17")
    ipt_trace = next(t for t in fig.data if t.name == "IPT")
    d = df[(df["instrument"] == "HAMD17") & (df["arm"] == "IPT")].dropna(subset=["score"])
    # by hand: sessions before the completer threshold (12 here: 75 % of the upper quartile, 16) as they
    # are; from session 12 on, each participant's last score, plotted at the median last session
    early = d[d["session"] < 12].groupby("session")["score"]
    last = d.sort_values("session").groupby("participant_id").tail(1)
    last = last[last["session"] >= 12]
    all_arms = df[(df["instrument"] == "HAMD17")].dropna(subset=["score"]).groupby("participant_id")["session"].max()
    median_end = float(np.median(all_arms[all_arms >= 12]))
    np.testing.assert_allclose(ipt_trace.y, [*early.mean(), last["score"].mean()])
    np.testing.assert_allclose(ipt_trace.x, [*early.mean().index, median_end])
    assert [int(n) for n in ipt_trace.customdata[:, 0]] == [*early.size(), len(last)]
    assert ipt_trace.customdata[-1, 1] == "end of treatment (session 12\u201316)"
    assert ipt_trace.marker.symbol[-1] == "diamond"
    assert "End of treatment varies (session 12 to 16)" in fig.layout.title.text


def test_observed_means_at_a_fixed_schedule_are_not_binned():
    rows = [{"participant_id": f"P{i}", "arm": "IPT" if i % 2 else "TAU", "disorder": "depression",
             "instrument": "HAMD17", "week": w, "score": 20 - w / 2 + i % 3} for i in range(40) for w in (0, 4, 8, 12, 16)]
    rows.append({**rows[0], "week": 7, "score": 10})  # one off-plan assessment
    df = pd.DataFrame(rows)
    fig = F.observed_means_figure(df, "HAMD17", time="week")
    tau = next(t for t in fig.data if t.name == "TAU")
    assert list(tau.x) == [0, 4, 8, 12, 16]  # week 7 (one person) left out, the fixed end kept
    expected = df[(df["arm"] == "TAU") & (df["week"] != 7)].groupby("week")["score"].mean()
    np.testing.assert_allclose(tau.y, expected.to_numpy())
    assert "1 week(s) held by fewer than 4 participants" in fig.layout.title.text


def test_observed_means_use_the_study_visit_windows():
    rows = [{"participant_id": f"P{i}", "arm": "IPT" if i % 2 else "TAU", "disorder": "depression",
             "instrument": "HAMD17", "week": w + (i % 3 - 1) * (w > 0), "score": float(20 - w / 2)}
            for i in range(30) for w in (0, 4, 8)]
    study = ipt.study.Study.from_mapping({"visits": {4: [3, 5], 8: [7, 9]}})
    fig = F.observed_means_figure(pd.DataFrame(rows), "HAMD17", time="week", study=study)
    ipt_trace = next(t for t in fig.data if t.name == "IPT")
    assert list(ipt_trace.x) == [0, 4, 8] and list(ipt_trace.y) == [20, 18, 16]
    assert "visits: windows" in fig.layout.title.text


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


def test_forest_has_n_and_favours_labels(example):
    _, fit, _ = example
    diffs = fit.arm_differences().assign(label="All participants", n=[160])
    fig = F.forest_figure(diffs, "HAMD17")
    assert fig.data[0].x[0] == pytest.approx(diffs["difference"].iloc[0])
    assert fig.data[0].error_x.array[0] == pytest.approx(diffs["ci_upper"].iloc[0] - diffs["difference"].iloc[0])
    assert list(fig.data[0].y) == ["All participants (n = 160)"]
    texts = [a.text for a in fig.layout.annotations]
    assert "\u2190 favours IPT   |   favours TAU \u2192" in texts  # HAM-D: lower is better
    reg = ipt.default_registry().extended({"QOL": {"min": 0, "max": 100, "higher_is": "better"}})
    flipped = F.forest_figure(diffs, "QOL", registry=reg)
    assert "\u2190 favours TAU   |   favours IPT \u2192" in [a.text for a in flipped.layout.annotations]


def test_retention_agrees_with_the_flow(example):
    df, fit, _ = example
    ret = ipt.retention(df, "HAMD17")
    counts = F.flow_counts(df, "HAMD17", 12, set(fit.design.participant_ids))
    assert counts["randomised"].sum() == 160 and (counts["analysed"] <= counts["randomised"]).all()
    assert (counts["completed"] + counts["not_completed"] == counts["randomised"]).all()
    at12 = ret[ret["time"] == 12].set_index("arm")["n_retained"]
    assert at12.to_dict() == counts.set_index("arm")["completed"].to_dict()
    fig = F.retention_figure(ret, "HAMD17", "session", 12)
    assert fig.data[0].y[0] == 100 and fig.layout.xaxis.title.text == "Session"
    assert fig.layout.shapes[0].x0 == 12


def test_flow_diagram_counts_and_reasons(example):
    df, fit, _ = example
    df = df.copy()
    last = df.dropna(subset=["score"]).groupby("participant_id")["session"].max()
    stopped = last[last < 12].index
    df["dropout_reason"] = None
    df.loc[df["participant_id"].isin(stopped[:3]), "dropout_reason"] = "moved <away>"
    counts = F.flow_counts(df, "HAMD17", 12, set(fit.design.participant_ids))
    texts = " ".join(a.text for a in F.flow_figure(counts).layout.annotations)
    assert "<b>Randomised</b> (n = 160)" in texts
    for r in counts.itertuples():
        assert f"<b>Allocated to {r.arm}</b> (n = {r.randomised})" in texts
        assert f"<b>Did not complete</b>: {r.not_completed}" in texts
    assert counts["reasons"].str.contains("moved <away>: ").sum() >= 1
    assert "moved &lt;away&gt;" in texts and "<away>" not in texts  # data text as text only
    total = sum(int(part.rsplit(": ", 1)[1]) for x in counts["reasons"] for part in x.split("; "))
    assert total == counts["not_completed"].sum()


def test_dose_response_shows_n_and_merges_tiny_bins(example):
    df, _, _ = example
    table = ipt.dose_response(df, "PHQ9")
    dose = F.dose_response_figure(table, "PHQ9", min_n=5)
    assert "not randomised" in dose.layout.title.text
    for trace in dose.data:
        arm = table[table["arm"] == trace.name].sort_values("sessions_attended")
        n = [int(x) for x in trace.customdata[:, 0]]
        assert all(k >= 5 for k in n) and [f"n={k}" for k in n] == list(trace.text)
        assert sum(n) <= arm["n"].sum() and arm["n"].sum() - sum(n) < 5  # at most a short last range left out
        # by hand: the first bin pools doses from the lowest until 5 participants are in it
        cum = arm["n"].cumsum().to_numpy()
        first = arm.iloc[: int(np.argmax(cum >= 5)) + 1]
        expected = (first["n"] * first["percent_reliably_improved"]).sum() / first["n"].sum()
        assert trace.y[0] == pytest.approx(expected)
    tiny = table.assign(n=1)
    assert "merged into ranges" in F.dose_response_figure(tiny, "PHQ9", min_n=5).layout.title.text


def test_tipping_point_figure():
    tipping = pd.DataFrame({"arm": "IPT", "delta": [0.0, 1.0, 2.0], "estimate": [-3.0, -2.0, -1.0],
                            "ci_lower": [-5.0, -4.0, -3.0], "ci_upper": [-1.0, -0.1, 1.0]})
    fig = F.tipping_point_figure(tipping, {"IPT": 1.2}, "HAMD17", "TAU", "session 16")
    line = next(t for t in fig.data if t.mode == "lines+markers")
    assert list(line.y) == [-3.0, -2.0, -1.0] and line.name == "IPT \u2212 TAU"
    assert any(s.x0 == 1.2 for s in fig.layout.shapes)
    assert any("tipping point IPT: 1.20" in a.text for a in fig.layout.annotations)


def test_diagnostics_grid(example):
    df, fit, _ = example
    fig = F.diagnostics_figure(fit)
    titles = [a.text for a in fig.layout.annotations]
    for title in ("Residuals vs fitted", "Scale-location", "QQ of residuals", "QQ of participant effects: Intercept",
                  "QQ of participant effects: session", "Influential participants (Cook's distance)"):
        assert any(t.startswith(title) for t in titles), title
    res = fit.residuals()
    assert len(fig.data[0].x) == len(res)  # every residual (under the sampling limit)
    cooks = next(t for t in fig.data if t.hovertemplate and "Cook" in t.hovertemplate)
    from ipt_outcomes.models.derived.influence import participant_influence

    infl = participant_influence(fit)
    np.testing.assert_allclose(sorted(cooks.y), sorted(infl["cooks_distance"]))
    formula_fit = ipt.fit_growth(df, formula="HAMD17 ~ session * arm + (1 | participant_id)")
    grid = F.diagnostics_figure(formula_fit)
    assert any(a.text.startswith("Not available") for a in grid.layout.annotations)



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


def test_normal_qq_at_r_ppoints_and_at_the_points_shown():
    """R: qqnorm(x) plots qnorm(ppoints(n)), (i - 1/2) / n for n > 10, against sort(x); the
    quantiles here from the standard library's NormalDist, the first by hand: qnorm(0.025) = -1.959964."""
    from statistics import NormalDist

    from ipt_outcomes.figures.diagnostics import normal_qq

    values = np.r_[np.arange(20.0)[::-1], np.nan]  # the missing value is left out
    q, z = normal_qq(values)
    assert len(q) == 20
    np.testing.assert_allclose(q[[0, 9, 19]], [-1.959964, -0.06270678, 1.959964], atol=1e-6)
    np.testing.assert_allclose(z, (np.arange(20.0) - 9.5) / np.arange(20.0).std(ddof=1), rtol=1e-12)
    n = 10_001  # more than a figure shows: evenly spaced order statistics, both ends kept
    shuffled = np.random.default_rng(4).permutation(n).astype(float)
    q, z = normal_qq(shuffled)
    assert len(q) < n
    order = np.round(z * shuffled.std(ddof=1) + shuffled.mean()).astype(int)  # the value is its order here
    assert order[0] == 0 and order[-1] == n - 1 and np.all(np.diff(order) > 0)
    expected = [NormalDist().inv_cdf((i + 0.5) / n) for i in order]
    np.testing.assert_allclose(q, expected, rtol=1e-10, atol=1e-12)


def test_binned_means_of_the_residual_panels_by_hand():
    """x = 0..99 in 20 bins of equal count: bin k holds 5k..5k+4, whose mean is m = 5k + 2, and the
    mean of their squares is m^2 + 2; in any row order."""
    from ipt_outcomes.figures.check_model import _binned_mean

    x = np.random.default_rng(5).permutation(100).astype(float)
    bx, by = _binned_mean(x, x**2)
    m = 5.0 * np.arange(20) + 2
    np.testing.assert_allclose(bx, m, rtol=1e-12)
    np.testing.assert_allclose(by, m**2 + 2, rtol=1e-12)
    assert _binned_mean(x[:39], x[:39])[0].size == 0  # fewer than two rows per bin: no line


def test_flow_counts_the_analysed_participants_of_each_arm(example):
    df, _, _ = example
    arms = df.drop_duplicates("participant_id").set_index("participant_id")["arm"]
    chosen = set(arms[arms == "IPT"].index[:10]) | set(arms[arms == "TAU"].index[:3]) | {"not in the data"}
    counts = F.flow_counts(df, "HAMD17", 12, chosen).set_index("arm")["analysed"]
    assert counts.to_dict() == {"IPT": 10, "TAU": 3}
