# MMRM fixtures from nlme::gls and emmeans (Satterthwaite mode, proportional weights) on the data of
# make_mmrm_data.py. Run from the project root:
#   python tests/reference/make_mmrm_data.py
#   Rscript tests/reference/make_mmrm_fixtures.R
# Debian packages: r-base-core r-cran-nlme r-cran-emmeans r-cran-jsonlite.
#
# The model of every fixture: score ~ baseline + sex + arm * visit, visit categorical (weeks 4, 8, 12, 16),
# baseline = the week-0 score, reference arm TAU, REML unless the case says ML. Structures as nlme writes
# them: us = corSymm + varIdent(visit); cs = corCompSymm; csh = corCompSymm + varIdent; ar1 = corAR1 on the
# visit index; ar1h = corAR1 + varIdent; toeplitz = corARMA(p = 3) (every stationary correlation of four
# visits); toeph = corARMA(p = 3) + varIdent.
suppressPackageStartupMessages({library(nlme); library(emmeans); library(jsonlite)})

d <- read.csv("tests/reference/data/mmrm_trial.csv")
base <- d[d$week == 0, c("participant_id", "score")]
names(base)[2] <- "baseline"
d <- merge(d[d$week > 0, ], base, by = "participant_id")
d <- d[order(d$participant_id, d$week), ]
d$arm <- relevel(factor(d$arm), ref = "TAU")
d$sex <- factor(d$sex)
d$visit <- factor(d$week, levels = c(4, 8, 12, 16))
d$vnum <- as.integer(d$visit)
f <- score ~ baseline + sex + arm * visit

structures <- list(
  us = list(correlation = corSymm(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  cs = list(correlation = corCompSymm(form = ~ vnum | participant_id), weights = NULL),
  csh = list(correlation = corCompSymm(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  ar1 = list(correlation = corAR1(form = ~ vnum | participant_id), weights = NULL),
  ar1h = list(correlation = corAR1(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  toeplitz = list(correlation = corARMA(form = ~ vnum | participant_id, p = 3), weights = NULL),
  toeph = list(correlation = corARMA(form = ~ vnum | participant_id, p = 3), weights = varIdent(form = ~ 1 | visit))
)

one <- function(name, method) {
  s <- structures[[name]]
  # do.call puts the structures themselves in the call: emmeans re-evaluates it for the derivatives
  fit <- do.call(gls, list(model = f, data = d, correlation = s$correlation, weights = s$weights, method = method,
                           control = glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10)))
  full <- names(which(table(d$participant_id) == 4))[1]
  V <- unclass(getVarCov(fit, individual = full))
  co <- summary(fit)$tTable
  out <- list(structure = name, method = method,
              fixed_effects = data.frame(term = rownames(co), estimate = co[, 1], std_error = co[, 2]),
              covariance = V, log_likelihood = as.numeric(logLik(fit)), aic = AIC(fit), bic = BIC(fit),
              n_obs = nobs(fit))
  if (method == "REML") {
    mode <- "satterthwaite"  # emmeans falls back to its refitting approximation for some structures: recorded
    emm <- withCallingHandlers(emmeans(fit, ~ arm | visit, mode = "satterthwaite", weights = "proportional"),
                               message = function(m) { mode <<- "appx-satterthwaite"; invokeRestart("muffleMessage") })
    out$emmeans_mode <- mode
    m <- as.data.frame(summary(emm))
    ctr <- as.data.frame(summary(contrast(emm, method = "revpairwise"), infer = c(TRUE, TRUE)))
    out$marginal_means <- data.frame(arm = as.character(m$arm), visit = as.character(m$visit), estimate = m$emmean,
                                     std_error = m$SE, df = m$df, ci_lower = m$lower.CL, ci_upper = m$upper.CL)
    out$arm_differences <- data.frame(visit = as.character(ctr$visit), contrast = as.character(ctr$contrast),
                                      estimate = ctr$estimate, std_error = ctr$SE, df = ctr$df,
                                      statistic = ctr$t.ratio, p_value = ctr$p.value,
                                      ci_lower = ctr$lower.CL, ci_upper = ctr$upper.CL)
    # equal weights over sex as well: shows the weights matter on these data
    eq <- as.data.frame(summary(suppressMessages(emmeans(fit, ~ arm | visit, mode = "satterthwaite"))))
    out$marginal_means_equal <- data.frame(arm = as.character(eq$arm), visit = as.character(eq$visit),
                                           estimate = eq$emmean)
  }
  out
}

cases <- list()
for (name in names(structures)) cases[[name]] <- one(name, "REML")
cases[["us_ml"]] <- one("us", "ML")
cases[["versions"]] <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                            emmeans = as.character(packageVersion("emmeans")))
writeLines(toJSON(cases, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/mmrm_fixtures.json")
cat("wrote tests/reference/mmrm_fixtures.json\n")
