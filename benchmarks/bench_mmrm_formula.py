"""The formula MMRM against the keyword template, on the user's path, in fresh processes.

Both fit the same model to the same trial (a baseline and four post-baseline visits, an unstructured
covariance, dropout): the keyword call ``fit_mmrm(df, "HAMD17", visit="week", covariance="us")`` on the
canonical table, and the analysis plan's formula ``score ~ baseline + arm * week + us(week |
participant_id)`` on the same rows as a plain analysis data set. Each run is a fresh Python process that
reads its file (Parquet) and fits; the two alternate (A B A B ...), the same number of runs each, and
the script prints the median and range of wall and CPU time of each side, their ratio and the load
average before and after.

    python benchmarks/bench_mmrm_formula.py                     # 10,000 and 100,000 participants, 3 runs each
    python benchmarks/bench_mmrm_formula.py --sizes 10000 --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_mmrm import trial

CHILD = r"""
import sys
import pandas as pd
import ipt_outcomes as ipt
kind, path = sys.argv[1], sys.argv[2]
df = pd.read_parquet(path)
if kind == "keyword":
    fit = ipt.fit_mmrm(df, "HAMD17", visit="week", reference_arm="TAU", covariance="us")
else:
    fit = ipt.fit_mmrm(df, formula="score ~ baseline + arm * week + us(week | participant_id)", arm="arm",
                       reference_arm="TAU")
print(f"LOGLIK {fit.log_likelihood:.8f}")
"""


def run(kind: str, path: Path) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, str(path)], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    loglik = float(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("LOGLIK")))
    return wall, cpu, loglik


def describe(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} [{min(values):.2f}, {max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--runs", type=int, default=3, help="runs of each side (alternated)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ipt-mmrm-formula-"))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    print(f"{'participants':>12} {'side':>8} {'wall s, median [range]':>26} {'CPU s, median [range]':>26}")
    for n in (int(s) for s in args.sizes.split(",") if s):
        canonical = trial(n)
        base = canonical[canonical["week"] == 0].set_index("participant_id")["score"]
        analysis = canonical[canonical["week"] > 0].assign(baseline=lambda d: d["participant_id"].map(base))
        analysis = analysis[["participant_id", "arm", "week", "baseline", "score"]]
        paths = {"keyword": work / f"canonical_{n}.parquet", "formula": work / f"analysis_{n}.parquet"}
        canonical.to_parquet(paths["keyword"])
        analysis.to_parquet(paths["formula"])
        results: dict[str, list[tuple[float, float, float]]] = {"keyword": [], "formula": []}
        for _ in range(args.runs):
            for kind in ("keyword", "formula"):  # A B A B ...
                results[kind].append(run(kind, paths[kind]))
        for kind, rows in results.items():
            print(f"{n:>12,} {kind:>8} {describe([r[0] for r in rows]):>26} {describe([r[1] for r in rows]):>26}")
        ratio = statistics.median(r[0] for r in results["formula"]) / statistics.median(r[0] for r in results["keyword"])
        gap = abs(results["formula"][0][2] - results["keyword"][0][2])
        print(f"{'':>12} formula / keyword wall time (medians): {ratio:.2f}; log-likelihoods differ by {gap:.1e}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
