# Reference values for Rubin's rules (ipt_outcomes.missing.pool_rubin), from mice::pool.scalar.
# Run from the project root:  Rscript tests/reference/make_mice_fixtures.R
# Writes tests/reference/mice_fixtures.json; CI reads it and needs no R.
# Debian packages: r-base-core r-cran-mice r-cran-jsonlite
suppressPackageStartupMessages({ library(mice); library(jsonlite) })
here <- "tests/reference"
set.seed(20261122)
cases <- list(
  list(id = "m5_small_n", Q = c(1.20, 0.85, 1.43, 0.97, 1.11), U = c(0.30, 0.28, 0.33, 0.29, 0.31), n = 40, k = 3),
  list(id = "m20_large_n", Q = rnorm(20, -2.5, 0.4), U = runif(20, 0.20, 0.26), n = 400, k = 4),
  list(id = "m50_mostly_observed", Q = rnorm(50, 3, 0.05), U = runif(50, 0.9, 1.1), n = 160, k = 3),
  list(id = "m2_large_between", Q = c(-1, 4), U = c(0.5, 0.7), n = 60, k = 3)
)
out <- list()
for (case in cases) {
  p <- pool.scalar(case$Q, case$U, n = case$n, k = case$k)
  out[[case$id]] <- list(estimates = case$Q, variances = case$U, df_complete = case$n - case$k,
                         estimate = p$qbar, within = p$ubar, between = p$b, total = p$t, df = p$df,
                         relative_increase = p$r, fraction_missing_info = p$fmi, mice_version = as.character(packageVersion("mice")))
}
write_json(out, file.path(here, "mice_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "mice_fixtures.json"), "\n")
