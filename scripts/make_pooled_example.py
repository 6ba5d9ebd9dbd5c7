"""Generate the bundled multi-disorder example: ipt_outcomes/examples/pooled/.

Four simulated two-arm IPT trials, each with its own instrument, size, schedule and dropout (from the
domain notes: 12 to 16 weekly sessions, eating-disorder trials 19 to 20; dropout about 20 %):

* DEP: major depression, HAM-D 17 at sessions 0, 4, 8, 12 and the last; 160 participants, 12-16
  sessions, IPT vs TAU, d = 0.6, 20 % dropout.
* PERI: perinatal depression, EPDS at every session; 120 participants, 12 sessions, IPT vs TAU,
  d = 0.5, 20 % dropout.
* BN: bulimia nervosa, EDE-Q global at sessions 0, 5, 10, 15 and the last; 110 participants, 19-20
  sessions, IPT vs waitlist, d = 0.3, 25 % dropout.
* PTSD: PTSD, PCL-5 at sessions 0, 4, 8, 12 and the last; 110 participants, 14-16 sessions, IPT vs
  TAU, d = 0.4, 30 % dropout.

Each trial is a CSV with a study file; pooled.yaml lists them (ipt.load_trials, ipt-outcomes pool).
The true parameters are in the simulator's attrs["truth"] (rerun with the seeds below).

Run from the project root:  python scripts/make_pooled_example.py [OUT_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import ipt_outcomes as ipt

TRIALS = {
    "DEP": dict(n_participants=160, seed=3101, disorders=("depression",), instruments=("HAMD17",),
                schedule={"HAMD17": [0, 4, 8, 12, "end"]}, sessions=(12, 16), effect_sizes={"IPT": 0.6},
                dropout=0.2, arms=("IPT", "TAU")),
    "PERI": dict(n_participants=120, seed=3102, disorders=("perinatal_depression",), instruments=("EPDS",),
                 sessions=(12, 12), effect_sizes={"IPT": 0.5}, dropout=0.2, arms=("IPT", "TAU")),
    "BN": dict(n_participants=110, seed=3103, disorders=("bulimia",), instruments=("EDEQ_GLOBAL",),
               schedule={"EDEQ_GLOBAL": [0, 5, 10, 15, "end"]}, sessions=(19, 20), effect_sizes={"IPT": 0.3},
               dropout=0.25, arms=("IPT", "waitlist")),
    "PTSD": dict(n_participants=110, seed=3104, disorders=("ptsd",), instruments=("PCL5",),
                 schedule={"PCL5": [0, 4, 8, 12, "end"]}, sessions=(14, 16), effect_sizes={"IPT": 0.4},
                 dropout=0.3, arms=("IPT", "TAU")),
}
STUDY = """# Study description of the {tid} trial of the bundled multi-disorder example (simulated;
# see scripts/make_pooled_example.py).
name: {tid} (simulated)
reference_arm: {reference}
primary_instrument: {instrument}
ipt_arms: [IPT]
sessions: {{min: {smin}, max: {smax}}}
time: session
"""
POOLED = """# The bundled multi-disorder example: four simulated IPT trials (scripts/make_pooled_example.py).
name: IPT across disorders (simulated example)
trials:
{entries}"""


def make_trial(tid: str):
    df = ipt.simulate_trial(**TRIALS[tid], trial_id=tid, therapists_per_arm=3, intermittent_missing=0.02)
    df["assessment_date"] = df["assessment_date"].dt.strftime("%Y-%m-%d")
    return df


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for tid, args in TRIALS.items():
        make_trial(tid).to_csv(out / f"{tid.lower()}.csv", index=False, lineterminator="\n")
        (out / f"{tid.lower()}_study.yaml").write_text(STUDY.format(
            tid=tid, reference=args["arms"][1], instrument=args["instruments"][0], smin=args["sessions"][0],
            smax=args["sessions"][1]), encoding="utf-8")
        entries.append(f"  - id: {tid}\n    data: {tid.lower()}.csv\n    study: {tid.lower()}_study.yaml\n")
    (out / "pooled.yaml").write_text(POOLED.format(entries="".join(entries)), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "ipt_outcomes" / "examples" / "pooled"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
