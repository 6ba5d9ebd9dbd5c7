# Reference values for ipt_outcomes growth models, from lme4 + lmerTest (Satterthwaite df).
# Run from the project root after tests/reference/make_datasets.py:
#     Rscript tests/reference/make_lmer_fixtures.R
# Writes tests/reference/lmer_fixtures.json; CI reads it and needs no R.
# Debian packages: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite r-cran-emmeans r-cran-performance
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(emmeans)
  library(performance)
})

here <- "tests/reference"
read <- function(name) read.csv(file.path(here, "data", paste0(name, ".csv")), stringsAsFactors = FALSE)

# lme4 names a factor level "armIPT"; ipt_outcomes names it "arm[IPT]".
rename_terms <- function(terms, data, factors) {
  for (f in factors) {
    for (l in levels(data[[f]])) {
      terms <- gsub(paste0("\\b", f, l, "\\b"), paste0(f, "[", l, "]"), terms, perl = TRUE)
    }
  }
  terms <- gsub("(Intercept)", "Intercept", terms, fixed = TRUE)
  terms
}

cases <- list(
  list(id = "two_arm_slope_reml", data = "two_arm", formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "two_arm_slope_ml", data = "two_arm", formula = score ~ session * arm + (session | participant_id),
       reml = FALSE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "two_arm_intercept_reml", data = "two_arm", formula = score ~ session * arm + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept"),
  list(id = "three_arm_slope_reml", data = "three_arm", formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "covariates_intercept_ml", data = "covariates",
       formula = score ~ session * arm + disorder + age + (1 | participant_id),
       reml = FALSE, factors = list(arm = "TAU", disorder = "depression"), time = "session", random = "intercept",
       covariates = c("disorder", "age")),
  list(id = "log_time_slope_reml", data = "log_time", formula = score ~ log_session * arm + (log_session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope", shape = "log"),
  list(id = "baseline_covariate_slope_reml", data = "baseline_covariate",
       formula = score ~ session * arm + baseline + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope", baseline = "covariate"),
  list(id = "quadratic_intercept_reml", data = "two_arm",
       formula = score ~ (session + I(session^2)) * arm + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept", shape = "quadratic"),
  list(id = "piecewise_intercept_reml", data = "two_arm",
       formula = score ~ (s_initial + s_middle + s_termination) * arm + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept", shape = "piecewise"),
  list(id = "moderator_disorder_intercept_reml", data = "covariates",
       formula = score ~ session * arm * disorder + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU", disorder = "depression"), time = "session", random = "intercept",
       moderators = c("disorder")),
  list(id = "moderator_age_intercept_reml", data = "covariates",
       formula = score ~ session * arm * age + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept",
       moderators = c("age")),
  list(id = "zero_variance_intercept_reml", data = "zero_variance",
       formula = score ~ session * arm + (1 | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept"),
  list(id = "therapist_slope_reml", data = "therapist",
       formula = score ~ session * arm + (session | participant_id) + (1 | therapist_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope", therapist = TRUE),
  list(id = "therapist_intercept_reml", data = "therapist",
       formula = score ~ session * arm + (1 | participant_id) + (1 | therapist_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "intercept", therapist = TRUE),
  # fits at or near the boundary, where Satterthwaite df depend on differentiating along lme4's
  # own parameters (theta, sigma) as lmerTest does
  list(id = "corr_one_slope_reml", data = "corr_one", formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "corr_one_slope_ml", data = "corr_one", formula = score ~ session * arm + (session | participant_id),
       reml = FALSE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "slope_zero_slope_reml", data = "slope_zero", formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "cov_near_zero_slope_reml", data = "cov_near_zero",
       formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "days_slope_reml", data = "days", formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope"),
  list(id = "days_tiny_slope_reml", data = "days_tiny_slope",
       formula = score ~ session * arm + (session | participant_id),
       reml = TRUE, factors = list(arm = "TAU"), time = "session", random = "slope")
)

out <- list()
for (case in cases) {
  d <- read(case$data)
  d$s_initial <- pmin(d$session, 3); d$s_middle <- pmin(pmax(d$session - 3, 0), 9); d$s_termination <- pmax(d$session - 12, 0)
  for (f in names(case$factors)) {
    d[[f]] <- relevel(factor(d[[f]]), ref = case$factors[[f]])
  }
  lme4_messages <- character(0)
  fit <- withCallingHandlers(
    lmer(case$formula, data = d, REML = case$reml,
         control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10))),
    warning = function(w) { lme4_messages <<- c(lme4_messages, conditionMessage(w)); invokeRestart("muffleWarning") },
    message = function(m) { lme4_messages <<- c(lme4_messages, conditionMessage(m)); invokeRestart("muffleMessage") })
  co <- summary(fit, ddf = "Satterthwaite")$coefficients
  terms <- rename_terms(rownames(co), d, names(case$factors))
  if (!is.null(case$shape) && case$shape == "log") terms <- gsub("log_session", "log(session + 1)", terms, fixed = TRUE)
  terms <- gsub("I(session^2)", "session^2", terms, fixed = TRUE)
  terms <- gsub("s_initial", "session[initial]", gsub("s_middle", "session[middle]", gsub("s_termination", "session[termination]", terms, fixed = TRUE), fixed = TRUE), fixed = TRUE)
  vc <- as.data.frame(VarCorr(fit))
  vc_terms1 <- rename_terms(ifelse(is.na(vc$var1), NA, vc$var1), d, character(0))
  vc_terms2 <- rename_terms(ifelse(is.na(vc$var2), NA, vc$var2), d, character(0))
  if (!is.null(case$shape) && case$shape == "log") {
    vc_terms1 <- gsub("log_session", "log(session + 1)", vc_terms1, fixed = TRUE)
    vc_terms2 <- gsub("log_session", "log(session + 1)", vc_terms2, fixed = TRUE)
  }
  ct <- contest(fit, diag(nrow(co)), joint = FALSE, confint = TRUE, level = 0.95)
  # model-implied arm difference at the end of treatment (session 16), Satterthwaite df (emmeans)
  shape <- if (is.null(case$shape)) "linear" else case$shape
  if (shape == "piecewise") {
    at <- list(s_initial = 3, s_middle = 9, s_termination = 4)
    emm <- emmeans(fit, ~ arm | s_initial + s_middle + s_termination, at = at, lmer.df = "satterthwaite")
  } else if (shape == "quadratic") {
    emm <- emmeans(fit, ~ arm | session, at = list(session = 16), lmer.df = "satterthwaite")
  } else {
    tvar <- if (shape == "log") "log_session" else "session"
    at <- list(); at[[tvar]] <- if (tvar == "log_session") log(17) else 16
    emm <- emmeans(fit, as.formula(paste("~ arm |", tvar)), at = at, lmer.df = "satterthwaite")
  }
  diffs <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1, by = NULL), infer = TRUE, adjust = "none"))
  if (!is.null(case$moderators)) {
    # averaged over the moderator's levels in proportion to their rows, as ipt_outcomes does
    emm <- emmeans(fit, ~ arm | session, at = list(session = 16), lmer.df = "satterthwaite", weights = "proportional")
    diffs <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1), infer = TRUE, adjust = "none"))
  }
  diffs$arm <- sub(" .*", "", as.character(diffs$contrast))
  re <- ranef(fit)$participant_id
  re_names <- rename_terms(colnames(re), d, character(0))
  if (shape == "log") re_names <- gsub("log_session", "log(session + 1)", re_names, fixed = TRUE)
  colnames(re) <- re_names
  pv <- attr(ranef(fit, condVar = TRUE)$participant_id, "postVar")
  re_se <- t(sapply(1:5, function(i) sqrt(diag(as.matrix(pv[, , i])))))
  if (ncol(re) == 1) re_se <- matrix(re_se, ncol = 1)
  colnames(re_se) <- paste0(re_names, "__se")
  re <- data.frame(participant_id = rownames(re), re, check.names = FALSE, row.names = NULL)[1:5, , drop = FALSE]
  re <- cbind(re, re_se)
  resid_head <- data.frame(fitted = unname(fitted(fit))[1:5], residual = unname(residuals(fit))[1:5])
  r2 <- tryCatch(performance::r2_nakagawa(fit), error = function(e) NULL)
  # ICC by grouping factor (performance::icc, by_group): defined for random intercepts only
  icc_by_group <- NULL
  if (case$random == "intercept") {
    ig <- suppressWarnings(performance::icc(fit, by_group = TRUE))
    if (is.data.frame(ig)) icc_by_group <- data.frame(group = ig$Group, icc = ig$ICC)  # NA at a zero variance
  }
  # Feingold's (2009) growth-model d at session 16: b(session x arm) * 16 / SD of the raw baseline
  # scores (arms pooled), computed here from lme4's coefficient and the data
  feingold <- NULL
  if (shape == "linear" && is.null(case$baseline) && is.null(case$moderators) && is.null(case$covariates)) {
    sd0 <- sd(d$score[d$session == 0])
    b <- fixef(fit)
    arms <- setdiff(levels(d$arm), case$factors$arm)
    feingold <- data.frame(arm = arms, effect_size_d = unname(b[paste0("session:arm", arms)]) * 16 / sd0)
  }
  out[[case$id]] <- list(
    data = case$data,
    formula = paste(deparse(case$formula), collapse = ""),
    method = if (case$reml) "reml" else "ml",
    settings = list(time = case$time, random = case$random,
                    shape = if (is.null(case$shape)) "linear" else case$shape,
                    covariates = if (is.null(case$covariates)) list() else as.list(case$covariates),
                    moderators = if (is.null(case$moderators)) list() else as.list(case$moderators),
                    baseline = if (is.null(case$baseline)) "outcome" else case$baseline,
                    therapist = isTRUE(case$therapist),
                    reference_arm = case$factors$arm),
    fixed_effects = data.frame(term = terms, estimate = unname(co[, "Estimate"]),
                               std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"]),
                               statistic = unname(co[, "t value"]), p_value = unname(co[, "Pr(>|t|)"]),
                               ci_lower = ct$lower, ci_upper = ct$upper),
    variance_components = data.frame(group = vc$grp, term1 = vc_terms1, term2 = vc_terms2, estimate = vc$vcov),
    log_likelihood = as.numeric(logLik(fit)),
    aic = AIC(fit), bic = BIC(fit),
    n_obs = nobs(fit), n_participants = unname(ngrps(fit)["participant_id"]),
    singular = isSingular(fit),
    lme4_messages = as.list(lme4_messages),
    arm_differences = data.frame(arm = diffs$arm, time = 16, difference = diffs$estimate, std_error = diffs$SE,
                                 df = diffs$df, p_value = diffs$p.value, ci_lower = diffs$lower.CL,
                                 ci_upper = diffs$upper.CL),
    random_effects = re,
    residuals_head = resid_head,
    r2 = if (is.null(r2)) NULL else list(marginal = unname(r2$R2_marginal), conditional = unname(r2$R2_conditional)),
    icc_by_group = icc_by_group,
    feingold_d = feingold,
    theta = unname(getME(fit, "theta")), sigma = sigma(fit),
    r_version = R.version.string,
    lme4_version = as.character(packageVersion("lme4")),
    lmerTest_version = as.character(packageVersion("lmerTest"))
  )
}
# likelihood-ratio test of nested models, refitted by ML (anova on lmer fits)
d <- read("two_arm"); d$arm <- relevel(factor(d$arm), ref = "TAU")
m0 <- lmer(score ~ session * arm + (1 | participant_id), data = d, REML = TRUE)
m1 <- lmer(score ~ session * arm + (session | participant_id), data = d, REML = TRUE)
a <- anova(m0, m1)
out[["lrt_two_arm_intercept_vs_slope"]] <- list(
  data = "two_arm", models = c("random intercept", "random intercept and slope"),
  n_parameters = a$npar, aic = a$AIC, bic = a$BIC, log_likelihood = a$logLik,
  chi_square = a$Chisq[2], df = a[["Df"]][2], p_value = a[["Pr(>Chisq)"]][2])

write_json(out, file.path(here, "lmer_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null")
cat("wrote", file.path(here, "lmer_fixtures.json"), "\n")
