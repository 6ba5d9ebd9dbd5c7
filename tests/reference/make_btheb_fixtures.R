# Arm differences of growth models on a real trial: Beat the Blues (HSAUR3::BtheB; Proudfoot et al.
# 2003), BDI-II at 2, 3, 5 and 8 months, baseline bdi.pre, treatment BtheB vs TAU, drug and length as
# factors. lme4 + lmerTest (Satterthwaite) and emmeans: the arm difference at month 8 (not the mean
# month), averaged over the other factors with equal and with proportional weights.
# Run from the project root:
#     Rscript tests/reference/make_btheb_fixtures.R
# Writes tests/reference/data/btheb_long.csv and tests/reference/btheb_fixtures.json; CI needs no R.
# Debian packages: r-base-core r-cran-hsaur3 r-cran-lme4 r-cran-lmertest r-cran-emmeans r-cran-jsonlite
suppressPackageStartupMessages({
  library(HSAUR3)
  library(lme4)
  library(lmerTest)
  library(emmeans)
  library(jsonlite)
})
here <- "tests/reference"
data("BtheB", package = "HSAUR3")
BtheB$subject <- sprintf("B%03d", seq_len(nrow(BtheB)))
long <- reshape(BtheB, idvar = "subject", varying = c("bdi.2m", "bdi.3m", "bdi.5m", "bdi.8m"),
                direction = "long", v.names = "bdi", times = c(2, 3, 5, 8))
long <- long[!is.na(long$bdi), ]
long$treatment <- relevel(factor(long$treatment), ref = "TAU")
long$drug <- factor(long$drug)
long$length <- factor(long$length)

# the canonical long table: month 0 holds bdi.pre, so baseline="covariate" can take it
base <- unique(long[, c("subject", "treatment", "drug", "length", "bdi.pre")])
canonical <- rbind(
  data.frame(participant_id = base$subject, arm = base$treatment, drug = base$drug, length = base$length,
             bdi.pre = base$bdi.pre, month = 0, score = base$bdi.pre),
  data.frame(participant_id = long$subject, arm = long$treatment, drug = long$drug, length = long$length,
             bdi.pre = long$bdi.pre, month = long$time, score = long$bdi))
canonical$instrument <- "BDI2"
canonical <- canonical[order(canonical$participant_id, canonical$month), ]
write.csv(canonical, file.path(here, "data", "btheb_long.csv"), row.names = FALSE)

ctrl <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-10))
cases <- list(
  list(id = "covariates", r = bdi ~ bdi.pre + time * treatment + drug + length + (1 | subject),
       formula = "BDI2 ~ bdi.pre + month * arm + drug + length + (1 | participant_id)"),
  list(id = "moderated", r = bdi ~ bdi.pre + time * treatment * drug + (1 | subject),
       formula = "BDI2 ~ month * arm * drug + baseline + (1 | participant_id)")
)
out <- list()
for (case in cases) {
  fit <- lmer(case$r, data = long, REML = TRUE, control = ctrl)
  entry <- list(r_formula = paste(deparse(case$r), collapse = ""), formula = case$formula,
                log_likelihood = as.numeric(logLik(fit)))
  for (w in c("equal", "proportional")) {
    for (at in c(8, 3)) {
      emm <- emmeans(fit, ~ treatment | time, at = list(time = at), weights = w, lmer.df = "satterthwaite")
      ct <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1), infer = TRUE, adjust = "none"))
      entry[[paste0(w, "_", at)]] <- list(difference = ct$estimate, std_error = ct$SE, df = ct$df,
                                         p_value = ct$p.value)
    }
  }
  out[[case$id]] <- entry
}
# the analysis data set's own columns (no canonical column): change from bdi.pre, months as VISIT
tidy <- data.frame(PATIENT = long$subject, VISIT = long$time, THERAPY = long$treatment, BASVAL = long$bdi.pre,
                   CHANGE = long$bdi - long$bdi.pre)
fit <- lmer(CHANGE ~ BASVAL + VISIT * THERAPY + (VISIT | PATIENT), data = tidy, REML = TRUE, control = ctrl)
co <- summary(fit, ddf = "Satterthwaite")$coefficients
emm <- emmeans(fit, ~ THERAPY | VISIT, at = list(VISIT = 8), lmer.df = "satterthwaite")
ct <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1), infer = TRUE, adjust = "none"))
out$tidy <- list(r_formula = "CHANGE ~ BASVAL + VISIT * THERAPY + (VISIT | PATIENT)",
                 formula = "CHANGE ~ BASVAL + VISIT * THERAPY + (VISIT | PATIENT)",
                 log_likelihood = as.numeric(logLik(fit)),
                 fixed_effects = data.frame(term = rownames(co), estimate = unname(co[, "Estimate"]),
                                            std_error = unname(co[, "Std. Error"]), df = unname(co[, "df"])),
                 difference_8 = list(difference = ct$estimate, std_error = ct$SE, df = ct$df, p_value = ct$p.value))
out$versions <- list(r = R.version.string, lme4 = as.character(packageVersion("lme4")),
                     emmeans = as.character(packageVersion("emmeans")), HSAUR3 = as.character(packageVersion("HSAUR3")))
write_json(out, file.path(here, "btheb_fixtures.json"), digits = NA, auto_unbox = TRUE, pretty = TRUE)
cat("wrote", file.path(here, "btheb_fixtures.json"), "\n")
