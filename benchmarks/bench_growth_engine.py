"""Speed and memory of fit_growth's fast engine against statsmodels MixedLM and R's lme4.

Random intercept and slope growth model, 13 assessments per participant (10 % missing), two arms.
For each size: time to fit (data already in memory; R reads its CSV before the clock starts),
log-likelihood reached, and peak memory of the process. Ratios are printed in the same run.

    python benchmarks/bench_growth_engine.py                  # 1k, 10k, 100k (+ 1M fast engine)
    python benchmarks/bench_growth_engine.py --statsmodels-max 100000   # statsmodels at 100k too (minutes)

lme4 runs when ``Rscript`` with lme4 is installed (Debian: r-base-core r-cran-lme4).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic import registry_scale_trial

R_CODE = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$arm <- relevel(factor(d$arm), ref = "TAU")
t <- system.time(fit <- lmer(score ~ session * arm + (session | participant_id), data = d, REML = TRUE))
mem <- sum(gc()[, 6])
cat(sprintf('{"seconds": %.4f, "loglik": %.6f, "gc_max_mb": %.1f}\n', t[["elapsed"]], as.numeric(logLik(fit)), mem))
"""


def run_child(kind: str, n: int) -> dict:
    """Fit in a fresh process so that peak memory is that fit's alone."""
    code = f"""
import json, resource, sys, time
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from synthetic import registry_scale_trial
import ipt_outcomes as ipt
df = registry_scale_trial({n})
t = time.perf_counter()
fit = ipt.fit_growth(df, "PHQ9", check=False, reference_arm="TAU", engine={kind!r})
seconds = time.perf_counter() - t
print(json.dumps({{"seconds": seconds, "loglik": fit.log_likelihood, "rows": len(df),
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_lme4(n: int) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    check = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True)
    if check.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trial.csv"
        registry_scale_trial(n).to_csv(path, index=False)
        script = Path(tmp) / "fit.R"
        script.write_text(R_CODE, encoding="utf-8")
        out = subprocess.run(["Rscript", str(script), str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--statsmodels-max", type=int, default=10000)
    parser.add_argument("--lme4-max", type=int, default=100000)
    args = parser.parse_args()
    print(f"{'participants':>12} {'rows':>10} {'engine':>12} {'seconds':>9} {'peak GB':>8} {'log-lik':>16} "
          f"{'x statsmodels':>14} {'x lme4':>8} {'loglik - lme4':>14}")
    for n in (int(s) for s in args.sizes.split(",")):
        fast = run_child("ipt", n)
        sm = run_child("statsmodels", n) if n <= args.statsmodels_max else None
        r = run_lme4(n) if n <= args.lme4_max else None
        ratio_sm = f"{sm['seconds'] / fast['seconds']:.1f}" if sm else "-"
        ratio_r = f"{r['seconds'] / fast['seconds']:.1f}" if r else "-"
        gap = f"{fast['loglik'] - r['loglik']:+.2e}" if r else "-"
        print(f"{n:>12} {fast['rows']:>10} {'ipt':>12} {fast['seconds']:>9.2f} {fast['peak_gb']:>8.2f} "
              f"{fast['loglik']:>16.4f} {ratio_sm:>14} {ratio_r:>8} {gap:>14}")
        if sm:
            print(f"{'':>12} {'':>10} {'statsmodels':>12} {sm['seconds']:>9.2f} {sm['peak_gb']:>8.2f} {sm['loglik']:>16.4f}")
        if r:
            print(f"{'':>12} {'':>10} {'lme4':>12} {r['seconds']:>9.2f} {'':>8} {r['loglik']:>16.4f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
