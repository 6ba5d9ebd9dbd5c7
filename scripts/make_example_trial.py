"""Generate the bundled example trial: ipt_outcomes/examples/example_trial.csv.

A simulated two-arm trial (IPT vs treatment as usual) in depression and perinatal depression,
160 participants, 12 to 16 planned sessions, HAM-D 17 at sessions 0, 4, 8, 12 and the last one,
PHQ-9 at every session, 4 therapists per arm, about 20 % dropout (missing at random) and 3 % of
single questionnaires missing. Problem areas were rated at intake in both arms; IPT helps more
in grief and less with interpersonal deficits. The true parameters are in the simulator's
``attrs["truth"]``.

Run from the project root:  python scripts/make_example_trial.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import ipt_outcomes as ipt
from ipt_outcomes.examples import EXAMPLE_SEED

EXAMPLE_ARGS = dict(
    n_participants=160,
    seed=EXAMPLE_SEED,
    arms=("IPT", "TAU"),
    effect_sizes={"IPT": 0.6},
    disorders={"depression": 0.6, "perinatal_depression": 0.4},
    instruments=("HAMD17", "PHQ9"),
    schedule={"HAMD17": [0, 4, 8, 12, "end"]},
    sessions=(12, 16),
    therapists_per_arm=4,
    dropout=0.2,
    intermittent_missing=0.03,
    problem_areas_in="all",
    problem_area_effects={"grief": 0.3, "interpersonal_deficits": -0.2},
    trial_id="EXAMPLE",
)


def make_example():
    df = ipt.simulate_trial(**EXAMPLE_ARGS)
    df["assessment_date"] = df["assessment_date"].dt.strftime("%Y-%m-%d")
    return df


def main(out: Path) -> None:
    make_example().to_csv(out, index=False, lineterminator="\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "ipt_outcomes" / "examples" / "example_trial.csv"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
