"""Write the data sets behind the R reference fixtures (run before make_lmer_fixtures.R).

Each data set is a simulated IPT trial in a form ready for lme4: one instrument, the response in
``score``, baseline rows kept unless the case says otherwise. Run from the project root:

    python tests/reference/make_datasets.py
    Rscript tests/reference/make_lmer_fixtures.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import ipt_outcomes as ipt

HERE = Path(__file__).resolve().parent / "data"


def _outcome(df, instrument="HAMD17"):
    return df[(df["instrument"] == instrument) & df["score"].notna()].reset_index(drop=True)


def build() -> dict:
    sets = {}
    two = ipt.simulate_trial(n_participants=120, seed=11, dropout=0.2, therapists_per_arm=0)
    sets["two_arm"] = _outcome(two)
    three = ipt.simulate_trial(n_participants=150, seed=12, arms=("IPT", "CBT", "TAU"),
                               effect_sizes={"IPT": 0.6, "CBT": 0.5}, dropout=0.25, therapists_per_arm=0)
    sets["three_arm"] = _outcome(three)
    cov = ipt.simulate_trial(n_participants=140, seed=13, disorders={"depression": 0.6, "perinatal_depression": 0.4},
                             instruments=["PHQ9"], dropout=0.2, therapists_per_arm=0)
    sets["covariates"] = _outcome(cov, "PHQ9")
    logt = ipt.simulate_trial(n_participants=120, seed=14, time_shape="log", dropout=0.2, therapists_per_arm=0)
    d = _outcome(logt)
    d["log_session"] = np.log(d["session"] + 1.0)
    sets["log_time"] = d
    base = ipt.simulate_trial(n_participants=130, seed=15, dropout=0.2, therapists_per_arm=0)
    d = _outcome(base)
    b = d[d["session"] == 0].set_index("participant_id")["score"]
    d = d[d["session"] > 0].assign(baseline=lambda x: x["participant_id"].map(b)).dropna(subset=["baseline"])
    sets["baseline_covariate"] = d.reset_index(drop=True)
    th = ipt.simulate_trial(n_participants=160, seed=16, dropout=0.2, therapists_per_arm=5, therapist_icc=0.1)
    sets["therapist"] = _outcome(th)
    sets["zero_variance"] = _zero_between_variance()
    sets.update(_boundary_sets())
    return sets


def _growth(rng: np.random.Generator, n: int, times: np.ndarray, u0_sd: float, u1_sd: float, corr: float,
            sigma: float, prefix: str) -> pd.DataFrame:
    """Two-arm growth data with chosen random-effect SDs and correlation (complete, no dropout)."""
    cov = np.array([[u0_sd ** 2, corr * u0_sd * u1_sd], [corr * u0_sd * u1_sd, u1_sd ** 2]])
    u = rng.multivariate_normal([0.0, 0.0], cov, size=n, method="eigh")
    g = np.repeat(np.arange(n), len(times))
    t = np.tile(times, n).astype(float)
    arm = (np.arange(n) % 2)[g]
    y = 20 + u[g, 0] + (-0.15 - 0.1 * arm + u[g, 1]) * t + 0.5 * arm + rng.normal(0, sigma, len(g))
    return pd.DataFrame({"participant_id": [f"{prefix}{i:03d}" for i in g], "arm": np.where(arm == 1, "IPT", "TAU"),
                         "session": t, "score": y})


def _boundary_sets() -> dict[str, pd.DataFrame]:
    """Fits at or near the boundary of the parameter space, where Satterthwaite df are easy to get
    wrong: a correlation at +-1, a slope variance at 0, a covariance near 0, time in days."""
    rng = np.random.default_rng(2024)
    sessions = np.arange(0, 13, 2.0)
    out = {}
    # slope = 0.15 x intercept exactly: lme4 puts the correlation at +1 (singular)
    d = _growth(rng, 80, sessions, 3.0, 0.45, 1.0, 2.5, "C")
    out["corr_one"] = d
    # slopes that vary less than chance: the slope variance is estimated at 0 (singular)
    d = _growth(rng, 80, sessions, 3.0, 0.0, 0.0, 2.5, "S")
    t = d["session"].to_numpy()
    g = d["participant_id"].to_numpy()
    tc = t - t.mean()
    resid = d["score"] - d.groupby("participant_id")["score"].transform("mean")
    slope = (pd.Series(resid.to_numpy() * tc).groupby(g).transform("sum") / pd.Series(tc * tc).groupby(g).transform("sum"))
    d["score"] = d["score"] - 0.8 * slope.to_numpy() * tc
    out["slope_zero"] = d
    # independent intercepts and slopes: the covariance parameter is near 0 (a tiny numerical step)
    out["cov_near_zero"] = _growth(rng, 100, sessions, 3.0, 0.3, 0.0, 2.0, "N")
    # time in days over 16 weeks, with slopes varying by about 0.004 points a day
    days = np.array([0, 14, 28, 42, 56, 84, 112], float)
    out["days"] = _growth(rng, 90, days, 3.0, 0.004, -0.3, 2.0, "D")
    # the same with slopes varying by about 3e-5 points a day: a slope variance of about 1e-9
    out["days_tiny_slope"] = _growth(rng, 90, days, 3.0, 3e-5, -0.3, 2.0, "E")
    return out


def _zero_between_variance() -> pd.DataFrame:
    """Scores whose participant means vary less than chance: the participant variance is estimated
    at zero (a singular fit); statsmodels' lbfgs fails here and issue 10239 zeroes between effects."""
    rng = np.random.default_rng(1)
    n = 60
    g = np.repeat(np.arange(n), 5)
    arm = (np.arange(n) % 2)[g]
    t = np.tile(np.arange(5), n).astype(float)
    e = rng.normal(0, 1, len(g))
    e = e - 0.7 * pd.Series(e).groupby(g).transform("mean").to_numpy()
    return pd.DataFrame({"participant_id": [f"Z{i:03d}" for i in g], "arm": np.where(arm == 1, "IPT", "TAU"),
                         "session": t, "score": 10 + 2 * arm - 0.5 * t + e})


def main() -> None:
    HERE.mkdir(exist_ok=True)
    for name, df in build().items():
        cols = [c for c in ("participant_id", "arm", "disorder", "therapist_id", "age", "session", "log_session",
                            "baseline", "score") if c in df.columns]
        df[cols].to_csv(HERE / f"{name}.csv", index=False, lineterminator="\n")
        print(f"wrote {name}.csv ({len(df)} rows)")


if __name__ == "__main__":
    main()
