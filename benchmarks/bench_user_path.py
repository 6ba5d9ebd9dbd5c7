"""The user's path, end to end: each command run from a file in a fresh process, against pandas and R.

What a user waits for is the command, not the engine: start-up, reading, validation, the model and
the printout. Every number here is the wall time of one fresh process on the same file (so the
start-up of Python or R is in it, as it is for the user) and its peak memory; ratios are printed in
the same run, against

* ``pandas.read_csv(FILE)`` (default options) for ``ipt.load`` and ``ipt-outcomes validate``;
* R: ``data.table::fread`` + ``lme4::lmer`` (the same random intercept and slope model, REML, and
  ``summary`` printed) for ``ipt-outcomes fit``.

    python benchmarks/bench_user_path.py                          # 100,000 participants x 13
    python benchmarks/bench_user_path.py --participants 20000     # quicker
    python benchmarks/bench_user_path.py --report --million       # + report, + 1M from Parquet
    python benchmarks/bench_user_path.py --million-report         # + the report of 1M participants

Run it with the Python of a plain ``pip install .`` (as the README's first line makes it): with the
``test`` extra installed, pandera imports hypothesis at the first validation (about 0.6 s a user does
not pay).

R runs when ``Rscript`` with data.table and lme4 is installed (Debian: r-base-core r-cran-lme4
r-cran-data.table).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

R_FIT = r"""
suppressPackageStartupMessages({library(data.table); library(lme4)})
d <- fread(commandArgs(trailingOnly = TRUE)[1])
d <- d[instrument == "HAMD17" & !is.na(score)]
d[, arm := relevel(factor(arm), ref = "TAU")]
fit <- lmer(score ~ session * arm + (session | participant_id), data = d, REML = TRUE)
print(summary(fit))
"""


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak resident memory (GB) of one fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # 1: validation found problems, still a complete run
        raise RuntimeError(f"{' '.join(cmd)} exited with {code}: {err[-2000:]}")
    return seconds, usage.ru_maxrss / 1e6


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def cli(*args: str) -> list[str]:
    script = Path(sys.executable).with_name("ipt-outcomes")  # the console script a user types
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "ipt_outcomes.cli.main", *args]


def best(cmd: list[str], repeats: int) -> tuple[float, float]:
    runs = [timed(cmd) for _ in range(repeats)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(data.table); library(lme4)"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs per command; the fastest is kept")
    parser.add_argument("--report", action="store_true", help="also time ipt-outcomes report")
    parser.add_argument("--million", action="store_true",
                        help="also load + validate + fit one million participants from Parquet")
    parser.add_argument("--million-report", action="store_true",
                        help="also the report of one million participants from Parquet (about 2.5 minutes)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ipt-bench-"))
    csv = work / "trial.csv"
    # the data are made in a child process: this one stays small, so the children's peak memory
    # (which on Linux counts what a child inherits before it starts its program) is their own
    subprocess.run(python(f"import ipt_outcomes as ipt; ipt.simulate_trial({args.participants}, seed=1)"
                          f".to_csv({str(csv)!r}, index=False)"), check=True)
    with csv.open("rb") as f:
        n_rows = sum(1 for _ in f) - 1
    size_mb = csv.stat().st_size / 1e6
    print(f"{args.participants:,} participants, {n_rows:,} rows, CSV {size_mb:.0f} MB; "
          f"best of {args.repeats} fresh processes; Python {sys.version.split()[0]}\n")

    rows: list[tuple[str, float, float, str]] = []

    def record(label: str, cmd: list[str], against: tuple[str, float] | None = None, repeats: int | None = None) -> float:
        seconds, gb = best(cmd, repeats or args.repeats)
        ratio = f"{seconds / against[1]:.1f}x {against[0]}" if against else ""
        rows.append((label, seconds, gb, ratio))
        print(f"  {label:<58}{seconds:8.2f} s {gb:6.2f} GB  {ratio}", flush=True)
        return seconds

    pandas_read = record("pandas.read_csv(FILE)", python(f"import pandas as pd; pd.read_csv({str(csv)!r})"))
    record("ipt.load(FILE)", python(f"import ipt_outcomes as ipt; ipt.load({str(csv)!r})"), ("pandas", pandas_read))
    record("ipt-outcomes validate FILE", cli("validate", str(csv)), ("pandas", pandas_read))
    fit = record("ipt-outcomes fit FILE", cli("fit", str(csv)))
    if r_available():
        script = work / "fit.R"
        script.write_text(R_FIT)
        r_fit = record("R: fread + lmer + summary", ["Rscript", str(script), str(csv)], repeats=1)
        print(f"  {'':<58}ipt-outcomes fit is {r_fit / fit:.1f}x faster than R")
    else:
        print("  (R with data.table and lme4 not installed: no R comparison)")
    if args.report:
        record("ipt-outcomes report FILE", cli("report", str(csv), "--out", str(work / "r.html"), "--force",
                                               "--imputations", "20"), repeats=1)
        print(f"  {'':<58}HTML {(work / 'r.html').stat().st_size / 1e6:.1f} MB")
    if args.million or args.million_report:
        parquet = work / "million.parquet"
        subprocess.run(python(f"import ipt_outcomes as ipt; ipt.simulate_trial(1_000_000, seed=2).to_parquet({str(parquet)!r})"),
                       check=True)
    if args.million:
        record("1M participants from Parquet: load + validate + fit", python(
            f"import ipt_outcomes as ipt; df = ipt.load({str(parquet)!r}); r = ipt.validate(df); assert r.ok; "
            "ipt.fit_growth(df, 'HAMD17', check=False)"), repeats=1)
    if args.million_report:  # the limits: under 3 minutes and 8 GB, HTML under 15 MB
        record("ipt-outcomes report on 1M participants (Parquet)", cli(
            "report", str(parquet), "--out", str(work / "r1m.html"), "--force", "--imputations", "20"), repeats=1)
        print(f"  {'':<58}HTML {(work / 'r1m.html').stat().st_size / 1e6:.1f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
