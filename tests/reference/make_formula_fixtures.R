# Reference values for ipt_outcomes formula models, from lme4 + lmerTest (Satterthwaite df), lm and
# emmeans. Run from the project root after tests/reference/make_formula_data.py:
#     Rscript tests/reference/make_formula_fixtures.R
# Writes tests/reference/formula_fixtures.json; CI reads it and needs no R.
# Debian packages: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite r-cran-emmeans
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(emmeans)
})

here <- "tests/reference"
raw <- read.csv(file.path(here, "data", "formula_trials.csv"), stringsAsFactors = FALSE)

# R's names in ipt_outcomes' words: armIPT -> arm[IPT], (Intercept) -> Intercept, I(session^2) -> I(session ** 2)
rename_terms <- function(terms) {
  terms <- gsub("armIPT", "arm[IPT]", terms, fixed = TRUE)
  terms <- gsub("(Intercept)", "Intercept", terms, fixed = TRUE)
  terms <- gsub("I(session^2)", "I(session ** 2)", terms, fixed = TRUE)
  terms
}

prepare <- function(subset) {
  d <- raw
  if (subset == "ipt_only") d <- d[d$arm == "IPT", ]
  if (subset %in% c("baseline", "ancova")) {
    base <- d[d$session == 0, c("participant_id", "score")]
    names(base)[2] <- "baseline"
    d <- merge(d[d$session > 0, ], base, by = "participant_id")
    if (subset == "ancova") d <- d[d$session == 12, ]
  }
  if (subset != "ipt_only") d$arm <- relevel(factor(d$arm), ref = "TAU")
  d
}

# id, R formula, ipt_outcomes formula (the instrument is X), subset of the data, REML
cases <- list(
  list("main_effects", score ~ session + arm + (1 | participant_id), "X ~ session + arm + (1 | participant_id)", "all", TRUE),
  list("uncorrelated", score ~ session * arm + (session || participant_id),
       "X ~ session * arm + (session || participant_id)", "all", TRUE),
  list("random_quadratic", score ~ session * arm + I(session^2) + (session + I(session^2) | participant_id),
       "X ~ session * arm + I(session ** 2) + (session + I(session ** 2) | participant_id)", "all", TRUE),
  list("piecewise_random", score ~ (early + late) * arm + (early + late | participant_id),
       "X ~ (early + late) * arm + (early + late | participant_id)", "all", TRUE),
  list("moderator_age", score ~ session * arm * age + (session | participant_id),
       "X ~ session * arm * age + (session | participant_id)", "all", TRUE),
  list("covariate_by_time", score ~ session * arm + age + age:session + (session | participant_id),
       "X ~ session * arm + age + age:session + (session | participant_id)", "all", TRUE),
  list("single_arm", score ~ session + (session | participant_id), "X ~ session + (session | participant_id)",
       "ipt_only", TRUE),
  list("three_levels", score ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id),
       "X ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id)", "all", TRUE),
  list("three_levels_ml", score ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id),
       "X ~ session * arm + (1 | trial_id/therapist_id) + (session | participant_id)", "all", FALSE),
  list("crossed_rater", score ~ session * arm + (session | participant_id) + (1 | rater_id),
       "X ~ session * arm + (session | participant_id) + (1 | rater_id)", "all", TRUE),
  list("slope_without_intercept", score ~ session * arm + (0 + session | participant_id),
       "X ~ session * arm + (0 + session | participant_id)", "all", TRUE),
  list("log_time", score ~ log(session + 1) * arm + (log(session + 1) | participant_id),
       "X ~ log(session + 1) * arm + (log(session + 1) | participant_id)", "all", TRUE),
  list("singular_batch", score ~ session * arm + (session | participant_id) + (1 | batch),
       "X ~ session * arm + (session | participant_id) + (1 | batch)", "all", TRUE),
  list("baseline_covariate", score ~ session * arm + baseline + (session | participant_id),
       "X ~ session * arm + baseline + (session | participant_id)", "baseline", TRUE),
  list("uncorrelated_ml", score ~ session * arm + (session || participant_id),
       "X ~ session * arm + (session || participant_id)", "all", FALSE),
  list("therapist_slopes", score ~ session * arm + (session | therapist_id) + (session | participant_id),
       "X ~ session * arm + (session | therapist_id) + (session | participant_id)", "all", TRUE)
)

out <- list()
for (case in cases) {
  id <- case[[1]]; d <- prepare(case[[4]])
  msgs <- character(0)
  fit <- withCallingHandlers(
    lmer(case[[2]], data = d, REML = case[[5]],
         control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10))),
    warning = function(w) { msgs <<- c(msgs, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage") })
  co <- summary(fit, ddf = "Satterthwaite")$coefficients
  vc <- as.data.frame(VarCorr(fit))
  entry <- list(
    r_formula = paste(deparse(case[[2]]), collapse = ""), formula = case[[3]], subset = case[[4]],
    method = if (case[[5]]) "reml" else "ml",
    fixed_effects = data.frame(term = rename_terms(rownames(co)), estimate = unname(co[, "Estimate"]),
                               std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                               statistic = unname(co[, "t value"]), p_value = unname(co[, "Pr(>|t|)"])),
    variance_components = data.frame(group = vc$grp, term1 = rename_terms(vc$var1), term2 = rename_terms(vc$var2),
                                     estimate = vc$vcov),
    log_likelihood = as.numeric(logLik(fit)), aic = AIC(fit), bic = BIC(fit), n_obs = nobs(fit),
    singular = isSingular(fit), theta = unname(getME(fit, "theta")), sigma = sigma(fit),
    lme4_messages = as.list(msgs))
  if ("arm" %in% all.vars(case[[2]])) {
    tvar <- if (grepl("early", id)) NULL else "session"
    emm <- if (id == "piecewise_random") {
      emmeans(fit, ~ arm | early + late, at = list(early = 4, late = 8), lmer.df = "satterthwaite")
    } else {
      emmeans(fit, ~ arm | session, at = list(session = 12), lmer.df = "satterthwaite")
    }
    mm <- as.data.frame(summary(emm, infer = TRUE))
    ct <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1), infer = TRUE, adjust = "none"))
    entry$marginal_means <- data.frame(arm = as.character(mm$arm), estimate = mm$emmean, std_error = mm$SE,
                                       df = mm$df, ci_lower = mm$lower.CL, ci_upper = mm$upper.CL)
    entry$contrast <- data.frame(estimate = ct$estimate, std_error = ct$SE, df = ct$df, p_value = ct$p.value)
  }
  out[[id]] <- entry
}

# the ANCOVA of the post-treatment score: lm, t tests on the residual df
d <- prepare("ancova")
fit <- lm(score ~ arm + baseline, data = d)
co <- summary(fit)$coefficients
ci <- confint(fit)
out[["ancova_lm"]] <- list(
  r_formula = "score ~ arm + baseline", formula = "X ~ arm + baseline", subset = "ancova", method = "reml",
  fixed_effects = data.frame(term = rename_terms(rownames(co)), estimate = unname(co[, 1]), std_error = unname(co[, 2]),
                             df = fit$df.residual, statistic = unname(co[, 3]), p_value = unname(co[, 4]),
                             ci_lower = unname(ci[, 1]), ci_upper = unname(ci[, 2])),
  variance_components = data.frame(group = "Residual", term1 = NA, term2 = NA, estimate = sigma(fit)^2),
  log_likelihood = as.numeric(logLik(fit)), aic = AIC(fit), bic = BIC(fit), n_obs = nobs(fit), singular = FALSE,
  sigma = sigma(fit))

out[["versions"]] <- list(r = R.version.string, lme4 = as.character(packageVersion("lme4")),
                          lmerTest = as.character(packageVersion("lmerTest")),
                          emmeans = as.character(packageVersion("emmeans")))
write_json(out, file.path(here, "formula_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
cat("wrote", file.path(here, "formula_fixtures.json"), "\n")
