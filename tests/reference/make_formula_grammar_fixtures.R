# Reference values for the project's formula grammar and its transforms, from R itself:
#   * terms(): the term labels and intercept R's formula algebra gives (*, /, %in%, ^, -, 0/1);
#   * stats::poly() on the analysed values and predict() of it on new values (the recurrence state);
#   * scale(): centre and SD;
#   * lmer fits (lme4 + lmerTest Satterthwaite df) and emmeans of models that use the transforms
#     (poly, scale, log1p, sqrt, exp, abs, arithmetic in I(), a chosen reference level by relevel()).
# Run from the project root after tests/reference/make_formula_data.py:
#     Rscript tests/reference/make_formula_grammar_fixtures.R
# Writes tests/reference/formula_grammar_fixtures.json; CI reads it and needs no R.
# Debian packages: r-base-core r-cran-lme4 r-cran-lmertest r-cran-jsonlite r-cran-emmeans
suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(jsonlite)
  library(emmeans)
})

here <- "tests/reference"
out <- list()

# --- the algebra of terms -------------------------------------------------------------------------
algebra <- c(
  "y ~ a * b * c - a:b:c",
  "y ~ (a + b + c)^2",
  "y ~ a / b",
  "y ~ (a + b) / c",
  "y ~ a %in% b",
  "y ~ a + b - 1",
  "y ~ 0 + a:b + a",
  "y ~ b:a + a + a:b",
  "y ~ a * b + c - b",
  "y ~ -1 + a",
  "y ~ a - 1 + 1",
  "y ~ (a + b + c + d)^3 - a:b:c",
  "y ~ a * (b + c)",
  "y ~ a:b:c + c:a",
  "y ~ (a + b) * (c + d) - b:d",
  "y ~ a / b / c",
  "y ~ a + 0",
  "y ~ 1",
  "y ~ a * b - a"
)
out$terms <- lapply(algebra, function(f) {
  tt <- terms(as.formula(f))
  list(formula = f, labels = attr(tt, "term.labels"), intercept = attr(tt, "intercept"))
})

# --- transforms -----------------------------------------------------------------------------------
x <- c(0, 1, 2, 2, 4, 7, 8, 12, 12, 16)
new <- c(0, 3, 10, 16, 20)
p3 <- poly(x, 3)
out$poly <- list(x = x, degree = 3, values = unname(as.matrix(p3)),
                 new = new, predicted = unname(as.matrix(predict(p3, new))),
                 raw = unname(as.matrix(poly(x, 2, raw = TRUE))))
s <- scale(x)
out$scale <- list(x = x, values = as.numeric(s), center = attr(s, "scaled:center"), sd = attr(s, "scaled:scale"))

# --- mixed models with transforms -----------------------------------------------------------------
raw <- read.csv(file.path(here, "data", "formula_trials.csv"), stringsAsFactors = FALSE)
raw$arm <- factor(raw$arm)
rename <- function(terms) {
  terms <- gsub("(Intercept)", "Intercept", terms, fixed = TRUE)
  terms <- gsub("arm(IPT|TAU)", "arm[\\1]", terms)
  terms <- gsub("poly\\(session, 2\\)([0-9])", "poly(session, 2)[\\1]", terms)
  terms <- gsub("I(age - 40)", "I(age - 40)", terms, fixed = TRUE)
  terms
}
cases <- list(
  list(id = "poly_scale", r = score ~ poly(session, 2) * arm + scale(age) + (session | participant_id),
       formula = "X ~ poly(session, 2) * arm + scale(age) + (session | participant_id)", ref = "TAU",
       at = 12),
  list(id = "elementwise", r = score ~ log1p(session) * arm + sqrt(session) + I(age - 40) + (1 | participant_id),
       formula = "X ~ log1p(session) * arm + sqrt(session) + I(age - 40) + (1 | participant_id)", ref = "TAU",
       at = 12),
  list(id = "reference_level", r = score ~ session * arm + (session | participant_id),
       formula = "X ~ session * C(arm, Treatment(reference = 'IPT')) + (session | participant_id)", ref = "IPT",
       at = 12),
  list(id = "power_arithmetic", r = score ~ session * arm + I((session / 4)^2) + abs(age - 40) + (1 | participant_id),
       formula = "X ~ session * arm + I((session / 4) ^ 2) + abs(age - 40) + (1 | participant_id)", ref = "TAU",
       at = 8)
)
out$fits <- list()
for (case in cases) {
  d <- raw
  d$arm <- relevel(d$arm, ref = case$ref)
  fit <- lmer(case$r, data = d, REML = TRUE,
              control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10)))
  co <- summary(fit, ddf = "Satterthwaite")$coefficients
  emm <- emmeans(fit, ~ arm | session, at = list(session = case$at), lmer.df = "satterthwaite")
  mm <- as.data.frame(summary(emm, infer = TRUE))
  out$fits[[case$id]] <- list(
    r_formula = paste(deparse(case$r), collapse = ""), formula = case$formula, reference = case$ref, at = case$at,
    fixed_effects = data.frame(term = rename(rownames(co)), estimate = unname(co[, "Estimate"]),
                               std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"])),
    log_likelihood = as.numeric(logLik(fit)),
    marginal_means = data.frame(arm = as.character(mm$arm), estimate = mm$emmean, std_error = mm$SE, df = mm$df))
}

out$versions <- list(r = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     lmerTest = as.character(packageVersion("lmerTest")),
                     emmeans = as.character(packageVersion("emmeans")))
write_json(out, file.path(here, "formula_grammar_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE,
           na = "null")
cat("wrote", file.path(here, "formula_grammar_fixtures.json"), "\n")
