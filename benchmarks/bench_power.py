"""Time of ipt.power_simulation: 1,000 replicates of a 200-participant trial (target: under a minute),
against the same replicates fitted with statsmodels MixedLM (a sample, scaled up).

    python benchmarks/bench_power.py [--replicates 1000]
"""

from __future__ import annotations

import argparse
import time
import warnings

import ipt_outcomes as ipt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--statsmodels-sample", type=int, default=20)
    args = parser.parse_args()
    start = time.perf_counter()
    result = ipt.power_simulation(200, effect_size=0.4, n_replicates=args.replicates, seed=1, progress=False)
    fast = time.perf_counter() - start
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(args.statsmodels_sample):
            df = ipt.simulate_trial(n_participants=200, seed=r, effect_sizes={"IPT": 0.4}, therapists_per_arm=0,
                                    instruments=["HAMD17"])
            ipt.fit_growth(df, "HAMD17", check=False, reference_arm="TAU", engine="statsmodels")
    slow = (time.perf_counter() - start) / args.statsmodels_sample * args.replicates
    print(result[["n_participants", "replicates", "power", "mc_se"]].to_string(index=False))
    print(f"fast engine, {args.replicates} replicates, all cores: {fast:.1f} s")
    print(f"statsmodels, one core, scaled from {args.statsmodels_sample} replicates: {slow:.0f} s "
          f"(ratio {slow / fast:.1f})")


if __name__ == "__main__":
    main()
