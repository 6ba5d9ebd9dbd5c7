# Fixtures for fit_mmrm(formula=...) on real longitudinal trials from Debian's R packages, on the
# analysis data set's own column names:
#   * Beat the Blues (HSAUR3::BtheB; Proudfoot et al. 2003): the pre-registered kind of model,
#     CHANGE ~ BASVAL*VISIT + THERAPY*VISIT (change in BDI from bdi.pre at months 2, 3, 5, 8), fitted
#     by nlme::gls with the structures nlme can write (us = corSymm + varIdent, cs, csh, ar1, ar1h,
#     toep = corARMA(p = 3), toeph) and emmeans (Satterthwaite mode) for the least-squares means;
#   * the same model with the structures nlme cannot write (ad, adh, and one unstructured covariance
#     per arm, us(VISIT | THERAPY / PATIENT)), by a dense REML likelihood written here from the
#     definitions and maximised by nlminb: an independent implementation, not ours;
#   * rat body weights (nlme::BodyWeight; Crowder & Hand 1990), weighed on days 1 to 64 at irregular
#     intervals: weight ~ Time * Diet with spatial exponential (corExp) and Gaussian (corGaus)
#     correlations of the distance in days, as SAS's SP(EXP) and SP(GAU).
# Run from the project root:   Rscript tests/reference/make_mmrm_formula_fixtures.R
# Writes tests/reference/data/btheb_mmrm.csv, tests/reference/data/bodyweight.csv and
# tests/reference/mmrm_formula_fixtures.json; CI reads them and needs no R.
# Debian packages: r-base-core r-cran-nlme r-cran-hsaur3 r-cran-emmeans r-cran-jsonlite.
suppressPackageStartupMessages({library(nlme); library(HSAUR3); library(emmeans); library(jsonlite)})
here <- "tests/reference"
ctl <- glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10)

data("BtheB", package = "HSAUR3")
BtheB$PATIENT <- sprintf("B%03d", seq_len(nrow(BtheB)))
long <- reshape(BtheB, idvar = "PATIENT", varying = c("bdi.2m", "bdi.3m", "bdi.5m", "bdi.8m"),
                direction = "long", v.names = "bdi", times = c(2, 3, 5, 8))
long <- long[!is.na(long$bdi), ]
ad <- data.frame(PATIENT = long$PATIENT, VISIT = long$time, THERAPY = long$treatment, BASVAL = long$bdi.pre,
                 CHANGE = long$bdi - long$bdi.pre, DRUG = long$drug)
ad <- ad[order(ad$PATIENT, ad$VISIT), ]
write.csv(ad, file.path(here, "data", "btheb_mmrm.csv"), row.names = FALSE)
ad$VISIT <- factor(ad$VISIT, levels = c(2, 3, 5, 8))
ad$VNUM <- as.integer(ad$VISIT)
ad$THERAPY <- relevel(factor(ad$THERAPY), ref = "TAU")
f <- CHANGE ~ BASVAL * VISIT + THERAPY * VISIT

structures <- list(
  us = list(correlation = corSymm(form = ~ VNUM | PATIENT), weights = varIdent(form = ~ 1 | VISIT)),
  cs = list(correlation = corCompSymm(form = ~ VNUM | PATIENT), weights = NULL),
  csh = list(correlation = corCompSymm(form = ~ VNUM | PATIENT), weights = varIdent(form = ~ 1 | VISIT)),
  ar1 = list(correlation = corAR1(form = ~ VNUM | PATIENT), weights = NULL),
  ar1h = list(correlation = corAR1(form = ~ VNUM | PATIENT), weights = varIdent(form = ~ 1 | VISIT)),
  toep = list(correlation = corARMA(form = ~ VNUM | PATIENT, p = 3), weights = NULL),
  toeph = list(correlation = corARMA(form = ~ VNUM | PATIENT, p = 3), weights = varIdent(form = ~ 1 | VISIT))
)
full <- names(which(table(ad$PATIENT) == 4))[1]
out <- list(btheb = list(), bodyweight = list())
for (name in names(structures)) {
  s <- structures[[name]]
  fit <- do.call(gls, list(model = f, data = ad, correlation = s$correlation, weights = s$weights, method = "REML",
                           control = ctl))
  co <- summary(fit)$tTable
  entry <- list(formula = sprintf("CHANGE ~ BASVAL*VISIT + THERAPY*VISIT + %s(VISIT | PATIENT)", name),
                fixed_effects = data.frame(term = rownames(co), estimate = co[, 1], std_error = co[, 2]),
                covariance = unclass(getVarCov(fit, individual = full)), log_likelihood = as.numeric(logLik(fit)),
                n_obs = nobs(fit))
  if (name %in% c("us", "cs", "ar1")) {
    emm <- emmeans(fit, ~ THERAPY | VISIT, mode = "satterthwaite", weights = "proportional")
    m <- as.data.frame(summary(emm))
    ctr <- as.data.frame(summary(contrast(emm, method = "trt.vs.ctrl", ref = 1), infer = c(TRUE, TRUE)))
    entry$marginal_means <- data.frame(arm = as.character(m$THERAPY), visit = as.character(m$VISIT),
                                       estimate = m$emmean, std_error = m$SE, df = m$df)
    entry$arm_differences <- data.frame(visit = as.character(ctr$VISIT), estimate = ctr$estimate,
                                        std_error = ctr$SE, df = ctr$df, p_value = ctr$p.value)
  }
  out$btheb[[name]] <- entry
}

# --- a dense REML likelihood from the definitions, for the structures nlme cannot write -------------
X <- model.matrix(f, ad)
y <- ad$CHANGE
ids <- split(seq_len(nrow(ad)), ad$PATIENT)
arm_of <- tapply(as.character(ad$THERAPY), ad$PATIENT, function(v) v[1])
m <- 4
ante <- function(rho) {  # corr(i, j) = prod of the consecutive correlations between them
  C <- diag(m)
  for (i in 1:(m - 1)) for (j in (i + 1):m) C[i, j] <- C[j, i] <- prod(rho[i:(j - 1)])
  C
}
covariance <- function(structure, par) {
  if (structure == "ad") return(exp(2 * par[1]) * ante(tanh(par[2:m])))
  if (structure == "adh") { sd <- exp(par[1:m]); return(outer(sd, sd) * ante(tanh(par[(m + 1):(2 * m - 1)]))) }
  L <- matrix(0, m, m); L[lower.tri(L, diag = TRUE)] <- par; diag(L) <- exp(diag(L)); L %*% t(L)  # us
}
reml <- function(par, structure, by_arm) {
  k <- length(par) / (if (by_arm) 2 else 1)
  S <- if (by_arm) list(TAU = covariance(structure, par[1:k]), BtheB = covariance(structure, par[(k + 1):(2 * k)]))
       else list(all = covariance(structure, par))
  XVX <- matrix(0, ncol(X), ncol(X)); XVy <- numeric(ncol(X)); yVy <- 0; logdet <- 0
  for (p in names(ids)) {
    r <- ids[[p]]; v <- ad$VNUM[r]
    Sp <- (if (by_arm) S[[arm_of[[p]]]] else S$all)[v, v, drop = FALSE]
    ch <- tryCatch(chol(Sp), error = function(e) NULL)
    if (is.null(ch)) return(1e10)
    Si <- chol2inv(ch)
    logdet <- logdet + 2 * sum(log(diag(ch)))
    Xp <- X[r, , drop = FALSE]
    XVX <- XVX + t(Xp) %*% Si %*% Xp; XVy <- XVy + t(Xp) %*% Si %*% y[r]; yVy <- yVy + t(y[r]) %*% Si %*% y[r]
  }
  cx <- chol(XVX)
  beta <- backsolve(cx, forwardsolve(t(cx), XVy))
  as.numeric(logdet + 2 * sum(log(diag(cx))) + yVy - t(XVy) %*% beta + (nrow(X) - ncol(X)) * log(2 * pi))
}
dense <- list(ad = list(structure = "ad", by_arm = FALSE, start = c(log(7), rep(0.5, m - 1))),
              adh = list(structure = "adh", by_arm = FALSE, start = c(rep(log(7), m), rep(0.5, m - 1))),
              us_by_arm = list(structure = "us", by_arm = TRUE,
                               start = rep({L <- diag(log(7), m); L[lower.tri(L)] <- 2; L[lower.tri(L, TRUE)]}, 2)))
for (name in names(dense)) {
  d <- dense[[name]]
  opt <- nlminb(d$start, reml, structure = d$structure, by_arm = d$by_arm,
                control = list(eval.max = 10000, iter.max = 5000, rel.tol = 1e-14, x.tol = 1e-12))
  opt <- nlminb(opt$par, reml, structure = d$structure, by_arm = d$by_arm,
                control = list(eval.max = 10000, iter.max = 5000, rel.tol = 1e-15))
  k <- length(opt$par) / (if (d$by_arm) 2 else 1)
  covs <- if (d$by_arm) list(TAU = covariance(d$structure, opt$par[1:k]),
                             BtheB = covariance(d$structure, opt$par[(k + 1):(2 * k)]))
          else list(all = covariance(d$structure, opt$par))
  # beta and Var(beta) at the optimum
  XVX <- matrix(0, ncol(X), ncol(X)); XVy <- numeric(ncol(X))
  for (p in names(ids)) {
    r <- ids[[p]]; v <- ad$VNUM[r]
    Si <- solve((if (d$by_arm) covs[[arm_of[[p]]]] else covs$all)[v, v, drop = FALSE])
    XVX <- XVX + t(X[r, , drop = FALSE]) %*% Si %*% X[r, , drop = FALSE]
    XVy <- XVy + t(X[r, , drop = FALSE]) %*% Si %*% y[r]
  }
  vb <- solve(XVX)
  term <- if (d$by_arm) "us(VISIT | THERAPY / PATIENT)" else sprintf("%s(VISIT | PATIENT)", name)
  out$btheb[[name]] <- list(formula = paste("CHANGE ~ BASVAL*VISIT + THERAPY*VISIT +", term),
                            fixed_effects = data.frame(term = colnames(X), estimate = as.numeric(vb %*% XVy),
                                                       std_error = sqrt(diag(vb))),
                            covariance = if (d$by_arm) lapply(covs, unclass) else unclass(covs$all),
                            log_likelihood = -opt$objective / 2, n_obs = nrow(X), converged = opt$convergence == 0)
}

# --- irregular times: spatial structures ------------------------------------------------------------
bw <- as.data.frame(BodyWeight)
bw$Rat <- paste0("R", as.character(bw$Rat))
bw$Diet <- paste0("D", as.character(bw$Diet))
write.csv(bw[, c("Rat", "Diet", "Time", "weight")], file.path(here, "data", "bodyweight.csv"), row.names = FALSE)
bw$Diet <- factor(bw$Diet)
spatial <- list(sp_exp = corExp(form = ~ Time | Rat), sp_gau = corGaus(form = ~ Time | Rat))
for (name in names(spatial)) {
  fit <- gls(weight ~ Time * Diet, data = bw, correlation = spatial[[name]], method = "REML", control = ctl)
  co <- summary(fit)$tTable
  range <- as.numeric(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
  out$bodyweight[[name]] <- list(formula = sprintf("weight ~ Time * Diet + %s(Time | Rat)", name),
                                 fixed_effects = data.frame(term = rownames(co), estimate = co[, 1], std_error = co[, 2]),
                                 log_likelihood = as.numeric(logLik(fit)), sigma2 = sigma(fit)^2, range = range,
                                 n_obs = nobs(fit))
}
out$versions <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                     emmeans = as.character(packageVersion("emmeans")), HSAUR3 = as.character(packageVersion("HSAUR3")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), file.path(here, "mmrm_formula_fixtures.json"))
cat("wrote", file.path(here, "mmrm_formula_fixtures.json"), "\n")
