# lme4/lmerTest fixtures for ipt.fit_pooled on the bundled four-disorder example
# (ipt_outcomes/examples/pooled, written by scripts/make_pooled_example.py). Run from the project root:
#   Rscript tests/reference/make_pooled_fixtures.R
# Debian packages: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite.
#
# The harmonised outcome is computed here by hand from each instrument's possible range (POMP =
# 100 (score - min) / (max - min); all four instruments are higher-is-worse), and the pooled condition
# from each trial's study (its IPT arm vs its reference arm), independently of ipt.harmonise.
suppressPackageStartupMessages({library(lmerTest); library(jsonlite)})
dir <- "ipt_outcomes/examples/pooled"
ranges <- list(HAMD17 = c(0, 52), EPDS = c(0, 30), EDEQ_GLOBAL = c(0, 6), PCL5 = c(0, 80))
reference <- c(DEP = "TAU", PERI = "TAU", BN = "waitlist", PTSD = "TAU")
d <- do.call(rbind, lapply(names(reference), function(tid) {
  x <- read.csv(file.path(dir, paste0(tolower(tid), ".csv")), stringsAsFactors = FALSE)
  x$trial_id <- tid
  x[, c("trial_id", "participant_id", "arm", "disorder", "instrument", "session", "score")]
}))
r <- do.call(rbind, ranges[d$instrument])
d$POMP <- 100 * (d$score - r[, 1]) / (r[, 2] - r[, 1])
d$arm <- relevel(factor(ifelse(d$arm == reference[d$trial_id], "control", "IPT")), ref = "control")
d$disorder <- factor(d$disorder)
d <- d[!is.na(d$POMP), ]
ctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12))
one <- function(f) {
  fit <- lmer(f, data = d, REML = TRUE, control = ctl)
  co <- summary(fit)$coefficients
  vc <- as.data.frame(VarCorr(fit))
  list(formula = deparse1(f), terms = rownames(co), estimate = unname(co[, 1]), std_error = unname(co[, 2]),
       df = unname(co[, 3]), log_likelihood = as.numeric(logLik(fit)), n_obs = nobs(fit),
       varcorr = data.frame(grp = vc$grp, var1 = vc$var1, var2 = vc$var2, vcov = vc$vcov))
}
cases <- list(
  trial_intercept = one(POMP ~ session * arm + (session | trial_id:participant_id) + (1 | trial_id)),
  by_disorder = one(POMP ~ session * arm * disorder + (session | trial_id:participant_id))
)
cases$versions <- list(R = R.version.string, lme4 = as.character(packageVersion("lme4")),
                       lmerTest = as.character(packageVersion("lmerTest")))
writeLines(toJSON(cases, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/pooled_fixtures.json")
cat("wrote tests/reference/pooled_fixtures.json\n")
