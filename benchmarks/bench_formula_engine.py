"""Speed of formula models (fit_growth(formula=...)) against R's lme4 + lmerTest, in the same run.

Simulated trials: participants nested in therapists (20 participants each) nested in trials (4),
13 assessments (10 % missing), two arms. For each size and formula: seconds to fit with inference
(our fit includes the Satterthwaite df of every coefficient; R's clock covers lmer and lmerTest's
summary with Satterthwaite df; data in memory on both sides), the ratio, and the log-likelihood gap.

    python benchmarks/bench_formula_engine.py                    # 160, 1,000 and 5,000 participants
    python benchmarks/bench_formula_engine.py --sizes 160,20000

lme4 runs when Rscript with lme4 and lmerTest is installed (Debian: r-base-core r-cran-lme4 r-cran-lmertest).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

FORMULAS = {
    "participant slope": "PHQ9 ~ session * arm + (session | participant_id)",
    "uncorrelated": "PHQ9 ~ session * arm + (session || participant_id)",
    "therapist intercept": "PHQ9 ~ session * arm + (1 | therapist_id) + (session | participant_id)",
    "trial/therapist": "PHQ9 ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id)",
}

R_CODE = r"""
suppressPackageStartupMessages({library(lme4); library(lmerTest); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$arm <- relevel(factor(d$arm), ref = "TAU")
forms <- fromJSON(args[2])
out <- list()
for (name in names(forms)) {
  f <- as.formula(sub("^PHQ9", "score", forms[[name]]))  # the instrument key is the score column in R
  t <- system.time({fit <- suppressMessages(suppressWarnings(lmer(f, data = d, REML = TRUE)));
                    co <- summary(fit, ddf = "Satterthwaite")$coefficients})
  out[[name]] <- list(seconds = t[["elapsed"]], loglik = as.numeric(logLik(fit)))
}
cat(toJSON(out, auto_unbox = TRUE, digits = NA), "\n")
"""


def nested_trial(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(n), 13)
    session = np.tile(np.arange(13.0), n)
    therapist = pid // 20
    trial = therapist % 4
    arm = np.where(pid % 2 == 1, "IPT", "TAU")
    u0, u1 = rng.normal(0, 3, n), rng.normal(0, 0.3, n)
    th, tr = rng.normal(0, 1, therapist.max() + 1), rng.normal(0, 0.7, 4)
    score = (15 + u0[pid] + th[therapist] + tr[trial] + (-0.3 + u1[pid] - 0.25 * (arm == "IPT")) * session
             + rng.normal(0, 2, len(pid)))
    df = pd.DataFrame({"participant_id": [f"P{i:06d}" for i in pid], "therapist_id": [f"H{t:05d}" for t in therapist],
                       "trial_id": [f"T{t}" for t in trial], "arm": arm, "session": session, "instrument": "PHQ9",
                       "score": score})
    keep = (session == 0) | (rng.random(len(df)) > 0.1)
    return df[keep].reset_index(drop=True)


def run_ours(df: pd.DataFrame, formula: str) -> dict:
    import ipt_outcomes as ipt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        fit = ipt.fit_growth(df, formula=formula, reference_arm="TAU", check=False)
        seconds = time.perf_counter() - t
    return {"seconds": seconds, "loglik": fit.log_likelihood}


def run_lme4(df: pd.DataFrame) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    if subprocess.run(["Rscript", "-e", "library(lme4); library(lmerTest)"], capture_output=True).returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path, script = Path(tmp) / "trial.csv", Path(tmp) / "fit.R"
        df.to_csv(path, index=False)
        script.write_text(R_CODE, encoding="utf-8")
        out = subprocess.run(["Rscript", str(script), str(path), json.dumps(FORMULAS)], capture_output=True, text=True,
                             check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="160,1000,5000")
    args = parser.parse_args()
    print(f"{'participants':>12} {'rows':>8} {'model':>20} {'ipt s':>8} {'lme4 s':>8} {'x lme4':>7} {'loglik - lme4':>14}")
    for n in (int(s) for s in args.sizes.split(",")):
        df = nested_trial(n)
        r = run_lme4(df)
        for name, formula in FORMULAS.items():
            ours = run_ours(df, formula)
            ref = r.get(name) if r else None
            ratio = f"{ref['seconds'] / ours['seconds']:.1f}" if ref else "-"
            gap = f"{ours['loglik'] - ref['loglik']:+.1e}" if ref else "-"
            lme4_s = f"{ref['seconds']:.2f}" if ref else "-"
            print(f"{n:>12} {len(df):>8} {name:>20} {ours['seconds']:>8.2f} {lme4_s:>8} {ratio:>7} {gap:>14}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
