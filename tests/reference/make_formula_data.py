"""Write the data set behind the formula fixtures (run before make_formula_fixtures.R).

Three simulated IPT trials with therapists nested in trials, participants nested in therapists,
assessments rated by raters crossed with participants, a continuous covariate (age) and a grouping
column with no effect (``batch``, for a singular fit). Run from the project root:

    python tests/reference/make_formula_data.py
    Rscript tests/reference/make_formula_fixtures.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent / "data"
SESSIONS = np.array([0, 2, 4, 6, 8, 10, 12], float)


def build(seed: int = 20261122) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    raters = [f"R{k}" for k in range(1, 7)]
    rater_effect = dict(zip(raters, rng.normal(0, 0.9, len(raters)), strict=True))
    pid = 0
    for trial in ("T1", "T2", "T3"):
        u_trial = rng.normal(0, 1.5)
        for th in range(1, 5):
            therapist = f"{trial}-th{th}"
            u_ther = rng.normal(0, 1.0)
            for k in range(12):
                pid += 1
                arm = "IPT" if k % 2 == 0 else "TAU"
                age = float(rng.integers(18, 66))
                u0, u1 = rng.multivariate_normal([0, 0], [[9.0, -0.15], [-0.15, 0.04]])
                u2 = rng.normal(0, 0.01)
                batch = f"B{rng.integers(1, 5)}"
                drop_after = rng.choice([12, 12, 12, 10, 8, 6]) if rng.random() < 0.5 else 12
                for s in SESSIONS:
                    if s > drop_after or (s > 0 and rng.random() < 0.08):
                        continue
                    rater = raters[rng.integers(len(raters))]
                    mean = (21 + u_trial + u_ther + u0 + 0.05 * (age - 40) + (-0.35 + u1) * s + (0.012 + u2) * s * s
                            - 0.25 * s * (arm == "IPT") + 0.01 * s * (age - 40) * (arm == "IPT") + rater_effect[rater])
                    rows.append({"participant_id": f"P{pid:03d}", "trial_id": trial, "therapist_id": therapist,
                                 "rater_id": rater, "batch": batch, "arm": arm, "age": age, "session": s,
                                 "score": round(mean + rng.normal(0, 2.2), 3)})
    d = pd.DataFrame(rows)
    d["early"] = np.minimum(d["session"], 4.0)
    d["late"] = np.maximum(d["session"] - 4.0, 0.0)
    return d


if __name__ == "__main__":
    HERE.mkdir(exist_ok=True)
    build().to_csv(HERE / "formula_trials.csv", index=False)
    print("wrote", HERE / "formula_trials.csv")
