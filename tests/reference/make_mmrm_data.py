"""Write the data set behind the MMRM fixtures (run before make_mmrm_fixtures.R).

A simulated two-arm IPT trial in canonical long form: HAMD17 at week 0 (baseline) and at the planned
visits 4, 8, 12 and 16; unbalanced arms (70 IPT, 50 TAU); an unstructured residual covariance with
variances rising over the visits; monotone dropout that depends on the last observed score (missing
at random) plus a few intermittently missed visits; a participant covariate (``sex``, two levels,
unequal in the arms, so that proportional and equal weights differ) and ``age``. Run from the
project root:

    python tests/reference/make_mmrm_data.py
    Rscript tests/reference/make_mmrm_fixtures.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent / "data"
VISITS = np.array([4, 8, 12, 16], float)
SD = np.array([4.0, 4.6, 5.3, 6.0])
CORR = np.array([[1.0, 0.65, 0.5, 0.4],
                 [0.65, 1.0, 0.7, 0.55],
                 [0.5, 0.7, 1.0, 0.72],
                 [0.4, 0.55, 0.72, 1.0]])


def build(seed: int = 20261123) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cov = CORR * np.outer(SD, SD)
    rows = []
    for k in range(120):
        pid = f"M{k + 1:03d}"
        arm = "IPT" if k < 70 else "TAU"
        sex = "female" if rng.random() < (0.7 if arm == "IPT" else 0.5) else "male"
        age = float(rng.integers(18, 70))
        base = float(np.clip(rng.normal(22, 4), 12, 40))
        drop = -0.9 * VISITS / 4 if arm == "IPT" else -0.5 * VISITS / 4
        mean = 0.45 * base + 6 + drop * 1.6 + (1.0 if sex == "male" else 0.0) + 0.02 * (age - 40)
        y = rng.multivariate_normal(mean, cov)
        rows.append((pid, arm, sex, age, 0.0, round(base, 2)))
        for j, week in enumerate(VISITS):
            if j > 0 and rng.random() < 0.06 + 0.012 * max(y[j - 1] - 14, 0):
                break  # dropout after a high last score (missing at random)
            if j > 0 and rng.random() < 0.05:
                continue  # an intermittently missed visit
            rows.append((pid, arm, sex, age, week, round(float(np.clip(y[j], 0, 52)), 2)))
    df = pd.DataFrame(rows, columns=["participant_id", "arm", "sex", "age", "week", "score"])
    df.insert(2, "instrument", "HAMD17")
    df.insert(3, "disorder", "depression")
    return df


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    build().to_csv(HERE / "mmrm_trial.csv", index=False)
