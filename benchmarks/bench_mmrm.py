"""MMRM speed: ``ipt.fit_mmrm`` against ``nlme::gls`` on the same data, in the same run.

A two-arm trial with a baseline (week 0) and 4 post-baseline visits (so 5 visits in all), an
unstructured covariance with variances rising over the visits, monotone dropout and intermittently
missed visits. Both sides fit ``score ~ baseline + arm * visit`` by REML with an unstructured
covariance (nlme: ``corSymm`` + ``varIdent``) and produce the table of coefficients with their SEs;
ours also computes the Satterthwaite df of every coefficient, nlme reports residual df. Data in
memory on both sides (R reads its CSV before its clock starts); one run each.

    python benchmarks/bench_mmrm.py                       # 1,000 and 10,000 participants; ours also 100,000
    python benchmarks/bench_mmrm.py --sizes 1000 --ours 10000

R runs when ``Rscript`` with nlme is installed (Debian: r-base-core, r-cran-nlme).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

VISITS = np.array([4.0, 8.0, 12.0, 16.0])
SD = np.array([4.0, 4.6, 5.3, 6.0])
CORR = np.array([[1.0, 0.65, 0.5, 0.4], [0.65, 1.0, 0.7, 0.55], [0.5, 0.7, 1.0, 0.72], [0.4, 0.55, 0.72, 1.0]])

R_FIT = r"""
suppressPackageStartupMessages(library(nlme))
d <- read.csv(commandArgs(trailingOnly = TRUE)[1])
base <- d[d$week == 0, c("participant_id", "score")]
names(base)[2] <- "baseline"
d <- merge(d[d$week > 0, ], base, by = "participant_id")
d$arm <- relevel(factor(d$arm), ref = "TAU")
d$visit <- factor(d$week)
d$v <- as.integer(d$visit)
d <- d[order(d$participant_id, d$v), ]
start <- proc.time()[["elapsed"]]
fit <- gls(score ~ baseline + arm * visit, data = d, method = "REML",
           correlation = corSymm(form = ~ v | participant_id), weights = varIdent(form = ~ 1 | visit))
s <- summary(fit)$tTable
cat(sprintf("SECONDS %.4f\nLOGLIK %.8f\n", proc.time()[["elapsed"]] - start, as.numeric(logLik(fit))))
"""


def trial(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cov = CORR * np.outer(SD, SD)
    arm = rng.random(n) < 0.5
    base = np.clip(rng.normal(22, 4, n), 12, 40)
    effect = np.where(arm[:, None], -0.9, -0.5) * VISITS[None, :] / 4 * 1.6
    y = 0.45 * base[:, None] + 6 + effect + rng.multivariate_normal(np.zeros(4), cov, n)
    keep = np.ones((n, 4), bool)
    for j in range(1, 4):  # monotone dropout after a high score, a few missed visits
        keep[:, j] = keep[:, j - 1] & (rng.random(n) > 0.06 + 0.012 * np.maximum(y[:, j - 1] - 14, 0))
    keep &= ~((rng.random((n, 4)) < 0.05) & (np.arange(4) > 0))
    pid = np.array([f"M{i:06d}" for i in range(n)])
    rows_i, rows_j = np.nonzero(keep)
    post = pd.DataFrame({"participant_id": pid[rows_i], "arm": np.where(arm[rows_i], "IPT", "TAU"),
                         "week": VISITS[rows_j], "score": np.round(y[rows_i, rows_j], 2)})
    baseline = pd.DataFrame({"participant_id": pid, "arm": np.where(arm, "IPT", "TAU"), "week": 0.0,
                             "score": np.round(base, 2)})
    out = pd.concat([baseline, post]).sort_values(["participant_id", "week"], kind="stable").reset_index(drop=True)
    out["instrument"] = "HAMD17"
    out["disorder"] = "depression"
    return out


def ours(df: pd.DataFrame) -> tuple[float, float]:
    import ipt_outcomes as ipt

    start = time.perf_counter()
    fit = ipt.fit_mmrm(df, "HAMD17", visit="week", reference_arm="TAU", covariance="us")
    assert fit.converged
    return time.perf_counter() - start, fit.log_likelihood


def r_available() -> bool:
    return shutil.which("Rscript") is not None and subprocess.run(
        ["Rscript", "-e", "library(nlme)"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="participants, compared with nlme::gls")
    parser.add_argument("--ours", default="100000", help="participants, ours only (gls takes too long)")
    args = parser.parse_args()
    import ipt_outcomes as ipt

    ipt.fit_mmrm(trial(200, seed=9), "HAMD17", visit="week", reference_arm="TAU")  # imports, once
    work = Path(tempfile.mkdtemp(prefix="ipt-mmrm-"))
    script = work / "fit.R"
    script.write_text(R_FIT)
    with_r = r_available()
    print(f"{'participants':>12} {'rows':>9} {'ipt s':>8} {'gls s':>8} {'x gls':>7} {'log-lik - gls':>14}")
    for n in [int(s) for s in args.sizes.split(",") if s] + [int(s) for s in args.ours.split(",") if s]:
        df = trial(n)
        seconds, loglik = ours(df)
        line = f"{n:>12,} {len(df):>9,} {seconds:>8.2f}"
        if with_r and str(n) in args.sizes.split(","):
            csv = work / f"t{n}.csv"
            df.to_csv(csv, index=False)
            proc = subprocess.run(["Rscript", str(script), str(csv)], capture_output=True, text=True)
            if proc.returncode:
                print(f"{line}   nlme::gls failed: {proc.stderr.strip()[-300:]}", flush=True)
                continue
            out = proc.stdout
            values = dict(line.split() for line in out.splitlines() if line.startswith(("SECONDS", "LOGLIK")))
            r_seconds, r_loglik = float(values["SECONDS"]), float(values["LOGLIK"])
            line += f" {r_seconds:>8.2f} {r_seconds / seconds:>7.1f} {loglik - r_loglik:>+14.1e}"
        print(line, flush=True)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
