"""Large synthetic trials for benchmarks: canonical columns, 13 assessments per participant.

Built with numpy directly (``ipt.simulate_trial`` builds rich per-participant metadata and is meant
for trial-sized data); the generating model is the same random-intercept-and-slope growth model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def registry_scale_trial(n_participants: int, n_assessments: int = 13, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_participants
    arm = rng.integers(0, 2, n)
    u0 = rng.normal(0, 3.5, n)
    u1 = rng.normal(0, 0.15, n)
    pid = np.repeat(np.arange(n), n_assessments)
    session = np.tile(np.arange(n_assessments), n).astype(np.int64)
    slope = -0.2 - 0.15 * arm[pid] + u1[pid]
    score = 20 + u0[pid] + slope * session + rng.normal(0, 2.5, n * n_assessments)
    keep = rng.random(n * n_assessments) > 0.1  # 10 % of assessments missing
    keep[session == 0] = True
    return pd.DataFrame({
        "participant_id": pid[keep],
        "arm": pd.Categorical.from_codes(arm[pid][keep], ["TAU", "IPT"]),
        "disorder": "depression",
        "instrument": "PHQ9",
        "session": session[keep],
        "score": np.clip(np.round(score[keep]), 0, 27),
    })
