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
    return sets


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
