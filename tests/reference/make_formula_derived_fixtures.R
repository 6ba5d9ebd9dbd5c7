# Reference values for what ipt_outcomes derives from a formula model: emmeans marginal means and
# contrasts (equal and proportional weights, covariates at their mean, two-valued covariates kept as
# emmeans' cov.keep = "2" does), performance's R^2 (Nakagawa) and ICC (adjusted, unadjusted, by
# group), and lme4's conditional modes (ranef) with their conditional variances (condVar) at every level.
# Run from the project root after tests/reference/make_formula_data.py:
#     Rscript tests/reference/make_formula_derived_fixtures.R
# Writes tests/reference/formula_derived_fixtures.json; CI reads it and needs no R.
# Debian packages: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite r-cran-emmeans r-cran-performance
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(emmeans)
  library(performance)
})

here <- "tests/reference"
raw <- read.csv(file.path(here, "data", "formula_trials.csv"), stringsAsFactors = FALSE)
# a two-valued numeric covariate: 1 for participants whose number has an odd tens digit (P010-P019, ...)
raw$odd <- (as.integer(substr(raw$participant_id, 2, 10)) %/% 10) %% 2

prepare <- function(subset) {
  d <- raw
  if (subset == "baseline") {
    base <- d[d$session == 0, c("participant_id", "score")]
    names(base)[2] <- "baseline"
    d <- merge(d[d$session > 0, ], base, by = "participant_id")
  }
  d$arm <- relevel(factor(d$arm), ref = "TAU")
  d
}

ctl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
quiet <- function(expr) suppressWarnings(suppressMessages(expr))

emm_frame <- function(emm) {
  s <- as.data.frame(summary(emm, infer = TRUE))
  names(s)[names(s) == "emmean"] <- "estimate"
  names(s)[names(s) == "SE"] <- "std_error"
  names(s)[names(s) == "lower.CL"] <- "ci_lower"
  names(s)[names(s) == "upper.CL"] <- "ci_upper"
  s$t.ratio <- NULL; s$p.value <- NULL
  for (v in names(s)) if (is.factor(s[[v]])) s[[v]] <- as.character(s[[v]])
  s
}
contrast_frame <- function(emm, method) {
  s <- as.data.frame(summary(contrast(emm, method = method, ref = 1), infer = TRUE, adjust = "none"))
  out <- data.frame(contrast = as.character(s$contrast), estimate = s$estimate, std_error = s$SE, df = s$df,
                    statistic = s$t.ratio, p_value = s$p.value, ci_lower = s$lower.CL, ci_upper = s$upper.CL)
  for (v in setdiff(names(s), c("contrast", "estimate", "SE", "df", "t.ratio", "p.value", "lower.CL", "upper.CL")))
    out[[v]] <- if (is.factor(s[[v]])) as.character(s[[v]]) else s[[v]]
  out
}

# emmeans cases: formula, specs, at, weights
emm_cases <- list(
  list(id = "factor_and_binary", r = score ~ session * arm + trial_id + odd + age + (session | participant_id),
       formula = "X ~ session * arm + trial_id + odd + age + (session | participant_id)",
       specs = ~ arm | session, at = list(session = c(0, 12))),
  list(id = "three_way_factor", r = score ~ session * arm * trial_id + (session | participant_id),
       formula = "X ~ session * arm * trial_id + (session | participant_id)",
       specs = ~ arm | session, at = list(session = c(4, 12))),
  list(id = "arm_by_trial", r = score ~ session * arm * trial_id + (session | participant_id),
       formula = "X ~ session * arm * trial_id + (session | participant_id)",
       specs = ~ arm | trial_id, at = list(session = 12)),
  list(id = "quadratic_time", r = score ~ session * arm + I(session^2) + (session | participant_id),
       formula = "X ~ session * arm + I(session ** 2) + (session | participant_id)",
       specs = ~ arm | session, at = list(session = c(6, 12)))
)
emm_out <- list()
for (case in emm_cases) {
  fit <- quiet(lmer(case$r, data = prepare("all"), REML = TRUE, control = ctl))
  entry <- list(formula = case$formula, at = case$at)
  for (w in c("equal", "proportional")) {
    emm <- emmeans(fit, case$specs, at = case$at, weights = w, lmer.df = "satterthwaite")
    entry[[w]] <- list(means = emm_frame(emm), trt_vs_ctrl = contrast_frame(emm, "trt.vs.ctrl"),
                       pairwise = contrast_frame(emm, "pairwise"))
  }
  emm_out[[case$id]] <- entry
}

# R^2, ICC and conditional modes
fit_cases <- list(
  list(id = "random_intercept", r = score ~ session * arm + (1 | participant_id),
       formula = "X ~ session * arm + (1 | participant_id)", subset = "all"),
  list(id = "random_slope", r = score ~ session * arm + (session | participant_id),
       formula = "X ~ session * arm + (session | participant_id)", subset = "all"),
  list(id = "uncorrelated", r = score ~ session * arm + (session || participant_id),
       formula = "X ~ session * arm + (session || participant_id)", subset = "all"),
  list(id = "three_levels", r = score ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id),
       formula = "X ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id)", subset = "all"),
  list(id = "intercepts_nested", r = score ~ session * arm + (1 | therapist_id) + (1 | participant_id),
       formula = "X ~ session * arm + (1 | therapist_id) + (1 | participant_id)", subset = "all"),
  list(id = "crossed_rater", r = score ~ session * arm + (session | participant_id) + (1 | rater_id),
       formula = "X ~ session * arm + (session | participant_id) + (1 | rater_id)", subset = "all"),
  list(id = "therapist_slopes", r = score ~ session * arm + (session | therapist_id) + (session | participant_id),
       formula = "X ~ session * arm + (session | therapist_id) + (session | participant_id)", subset = "all"),
  list(id = "baseline_covariate", r = score ~ session * arm + baseline + (session | participant_id),
       formula = "X ~ session * arm + baseline + (session | participant_id)", subset = "baseline")
)
fit_out <- list()
for (case in fit_cases) {
  fit <- quiet(lmer(case$r, data = prepare(case$subset), REML = TRUE, control = ctl))
  r2 <- quiet(r2_nakagawa(fit))
  ic <- quiet(icc(fit))
  by <- quiet(icc(fit, by_group = TRUE))
  re <- as.data.frame(ranef(fit, condVar = TRUE))  # grpvar, term, grp, condval, condsd
  modes <- data.frame(group = as.character(re$grpvar), term = gsub("(Intercept)", "Intercept", as.character(re$term),
                      fixed = TRUE), level = as.character(re$grp), estimate = re$condval, std_error = re$condsd)
  fitted_values <- unname(fitted(fit))
  fit_out[[case$id]] <- list(
    formula = case$formula, subset = case$subset,
    singular = isSingular(fit),
    # performance gives no random-effect variances for a singular fit (NA here: not compared)
    r2_marginal = if (is.list(ic)) r2$R2_marginal[[1]] else NA,
    r2_conditional = if (is.list(ic)) r2$R2_conditional[[1]] else NA,
    icc_adjusted = if (is.list(ic)) ic$ICC_adjusted else NA, icc_unadjusted = if (is.list(ic)) ic$ICC_unadjusted else NA,
    icc_by_group = if (is.list(by)) data.frame(group = as.character(by$Group), icc = by$ICC) else NA,
    random_effects = modes,
    residual_sum_of_squares = sum(residuals(fit)^2), first_fitted = fitted_values[1:5])
}

out <- list(emmeans = emm_out, fits = fit_out,
            versions = list(r = R.version.string, lme4 = as.character(packageVersion("lme4")),
                            emmeans = as.character(packageVersion("emmeans")),
                            performance = as.character(packageVersion("performance"))))
write_json(out, file.path(here, "formula_derived_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null", matrix = "rowmajor")
cat("wrote", file.path(here, "formula_derived_fixtures.json"), "\n")
