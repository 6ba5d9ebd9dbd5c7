# Kenward-Roger fixtures for ipt.fit_mmrm(df_method="kenward-roger"), on the data of make_mmrm_data.py.
# Run from the project root:   Rscript tests/reference/make_mmrm_kr_fixtures.R
# Debian packages: r-base-core r-cran-nlme r-cran-lme4 r-cran-pbkrtest r-cran-numderiv r-cran-jsonlite.
#
# Two references, each independent of the toolkit's code:
# 1. pbkrtest::vcovAdj and get_Lb_ddf on the random-intercept model lmer(score ~ baseline + sex + arm * visit
#    + (1 | participant_id)): marginally compound symmetry with a positive covariance, parameterised by the
#    two variance components (linear, as SAS's CS and Residual), with W from the expected REML information
#    (pbkrtest's choice).
# 2. Kenward & Roger (1997) by dense matrices, participant by participant, at the nlme::gls REML fit (polished
#    by nlminb on the REML criterion where gls stops short), in SAS's
#    covariance parameters, with W the inverse of the observed REML information (SAS's DDFM=KR default) from
#    numDeriv's Hessian (1 % steps) of the REML criterion written out here, and the derivatives of the covariance by
#    numDeriv: Phi_A = Phi + 2 Phi {sum W_hj (Q_hj - P_h Phi P_j - R_hj / 4)} Phi, and for each coefficient
#    df = 2 (l' Phi l)^2 / (g' W g), g_h = -l' Phi P_h Phi l.
#
# 3. adh (no nlme structure) and one covariance per arm (cs, us; nlme has no group-specific correlation):
#    the same criterion optimised by nlminb alone, from the us / cs gls estimates, then as 2.
#
# The SAS outputs that the mmrm package keeps (design/KR/*.txt) are for its fev_data, which is distributed
# only as an R data file of that package (not installable here); they are not reproduced.
suppressPackageStartupMessages({library(nlme); library(lme4); library(pbkrtest); library(numDeriv);
                                library(jsonlite)})

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
m <- 4

# 1. pbkrtest ---------------------------------------------------------------------------------------------
ri <- lmer(score ~ baseline + sex + arm * visit + (1 | participant_id), data = d, REML = TRUE)
phi_a <- as.matrix(vcovAdj(ri))
p <- length(fixef(ri))
ddf <- sapply(seq_len(p), function(i) { L <- matrix(0, 1, p); L[i] <- 1; get_Lb_ddf(ri, L) })
vc <- as.data.frame(VarCorr(ri))
pbkr <- list(terms = names(fixef(ri)), estimate = unname(fixef(ri)), std_error = sqrt(diag(phi_a)), df = ddf,
             std_error_unadjusted = sqrt(diag(as.matrix(vcov(ri)))),
             tau2 = vc$vcov[1], sigma2 = vc$vcov[2])

# 2. dense Kenward-Roger at gls fits -------------------------------------------------------------------------
sas_sigma <- function(structure, psi) {
  lag <- abs(outer(1:m, 1:m, "-"))
  if (structure == "us") { S <- matrix(0, m, m); S[upper.tri(S, diag = TRUE)] <- psi; S[lower.tri(S)] <- t(S)[lower.tri(S)]; return(S) }
  if (structure == "cs") return(psi[1] + psi[2] * diag(m))
  if (structure == "toeplitz") return(matrix(psi[lag + 1], m, m))
  if (structure == "ar1") return(psi[1] * psi[2]^lag)
  v <- psi[1:m]; scale <- sqrt(outer(v, v))
  if (structure == "csh") return(scale * ifelse(lag == 0, 1, psi[m + 1]))
  if (structure == "ar1h") return(scale * psi[m + 1]^lag)
  if (structure == "adh") {
    C <- diag(m)
    for (i in 1:(m - 1)) for (j in (i + 1):m) C[i, j] <- C[j, i] <- prod(psi[m + i:(j - 1)])
    return(scale * C)
  }
  stop(structure)
}
sas_psi <- function(structure, S) {
  R <- cov2cor(S)
  switch(structure,
         us = S[upper.tri(S, diag = TRUE)],
         cs = c(S[1, 2], S[1, 1] - S[1, 2]),
         toeplitz = S[1, ],
         ar1 = c(S[1, 1], R[1, 2]),
         csh = c(diag(S), R[1, 2]),
         ar1h = c(diag(S), R[1, 2]))
}
X <- model.matrix(f, d)
y <- d$score
ids <- split(seq_len(nrow(d)), d$participant_id)
arm_of <- sapply(ids, function(rows) as.integer(d$arm[rows[1]]))  # 1 = TAU (reference), 2 = IPT
# covariances of G groups from the concatenated parameters; participant i has group gid[i]
sigmas <- function(name, psi, G) lapply(split(psi, rep(1:G, each = length(psi) / G)), function(p) sas_sigma(name, p))
reml_dev <- function(Ss, gid) {
  xvx <- 0; xvy <- 0; yvy <- 0; logdet <- 0
  for (S in Ss) chol(S)  # an error unless positive definite
  for (i in seq_along(ids)) {
    rows <- ids[[i]]; S <- Ss[[gid[i]]]
    v <- d$vnum[rows]; Ci <- chol(S[v, v, drop = FALSE]); Si <- chol2inv(Ci); Xi <- X[rows, , drop = FALSE]
    xvx <- xvx + t(Xi) %*% Si %*% Xi; xvy <- xvy + t(Xi) %*% Si %*% y[rows]
    yvy <- yvy + drop(t(y[rows]) %*% Si %*% y[rows])
    logdet <- logdet + 2 * sum(log(diag(Ci)))
  }
  beta <- solve(xvx, xvy)
  logdet + as.numeric(determinant(xvx)$modulus) + yvy - drop(t(xvy) %*% beta) + (nrow(X) - ncol(X)) * log(2 * pi)
}
# Kenward-Roger by dense matrices, from parameters psi0 polished by nlminb on the REML criterion
dense_kr <- function(name, psi0, G) {
  gid <- if (G == 1) rep(1L, length(ids)) else arm_of
  crit <- function(x) { v <- tryCatch(reml_dev(sigmas(name, x, G), gid), error = function(e) Inf)
                        if (is.finite(v)) v else 1e10 }
  polish <- nlminb(psi0, crit, control = list(rel.tol = 1e-14, x.tol = 1e-12, eval.max = 5000, iter.max = 2000))
  psi <- if (polish$objective < crit(psi0)) polish$par else psi0
  Ss <- sigmas(name, psi, G)
  K <- length(psi); k <- K / G
  # numDeriv's default first step (d = 1e-4 of each parameter) leaves rounding noise of about 1e-4 in this
  # Hessian of a criterion near 2000; steps of 1 % with its Richardson extrapolation are accurate to ~1e-8
  H <- hessian(function(x) reml_dev(sigmas(name, x, G), gid), psi, method.args = list(d = 0.01))
  W <- 2 * solve(H)
  D1 <- list(); D2 <- list()
  for (g in 1:G) {
    pg <- psi[(g - 1) * k + 1:k]
    J <- jacobian(function(x) c(sas_sigma(name, x)), pg)
    D1[[g]] <- lapply(1:k, function(h) matrix(J[, h], m, m))
    D2[[g]] <- array(0, c(k, k, m, m))
    if (!(name %in% c("us", "cs", "toeplitz")))
      for (a in 1:m) for (b in 1:m) D2[[g]][, , a, b] <- hessian(function(x) sas_sigma(name, x)[a, b], pg)
  }
  pp <- ncol(X)
  xvx <- matrix(0, pp, pp); xvy <- 0
  P <- lapply(1:K, function(h) matrix(0, pp, pp))
  Q <- array(0, c(K, K, pp, pp)); R <- array(0, c(K, K, pp, pp))
  for (i in seq_along(ids)) {
    rows <- ids[[i]]; g <- gid[i]; S <- Ss[[g]]
    v <- d$vnum[rows]; Si <- solve(S[v, v, drop = FALSE]); Xi <- X[rows, , drop = FALSE]
    xvx <- xvx + t(Xi) %*% Si %*% Xi; xvy <- xvy + t(Xi) %*% Si %*% y[rows]
    for (h in 1:k) {
      Dh <- D1[[g]][[h]][v, v, drop = FALSE]; H_ <- (g - 1) * k + h
      P[[H_]] <- P[[H_]] - t(Xi) %*% Si %*% Dh %*% Si %*% Xi
      for (j in 1:k) {
        Dj <- D1[[g]][[j]][v, v, drop = FALSE]; J_ <- (g - 1) * k + j
        Q[H_, J_, , ] <- Q[H_, J_, , ] + t(Xi) %*% Si %*% Dh %*% Si %*% Dj %*% Si %*% Xi
        R[H_, J_, , ] <- R[H_, J_, , ] + t(Xi) %*% Si %*% matrix(D2[[g]][h, j, v, v], length(v)) %*% Si %*% Xi
      }
    }
  }
  Phi <- solve(xvx)
  U <- matrix(0, pp, pp)
  for (h in 1:K) for (j in 1:K) U <- U + W[h, j] * (Q[h, j, , ] - P[[h]] %*% Phi %*% P[[j]] - R[h, j, , ] / 4)
  PhiA <- Phi + 2 * Phi %*% U %*% Phi
  df <- sapply(1:pp, function(i) {
    l <- numeric(pp); l[i] <- 1
    gr <- sapply(1:K, function(h) -drop(t(l) %*% Phi %*% P[[h]] %*% Phi %*% l))
    2 * drop(t(l) %*% Phi %*% l)^2 / drop(t(gr) %*% W %*% gr)
  })
  list(terms = colnames(X), estimate = drop(solve(xvx, xvy)), log_restricted = -reml_dev(Ss, gid) / 2,
       std_error = sqrt(diag(PhiA)), df = df, std_error_unadjusted = sqrt(diag(Phi)), psi = psi,
       groups = if (G == 1) "none" else levels(d$arm))
}
structures <- list(
  us = list(correlation = corSymm(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  cs = list(correlation = corCompSymm(form = ~ vnum | participant_id), weights = NULL),
  csh = list(correlation = corCompSymm(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  ar1 = list(correlation = corAR1(form = ~ vnum | participant_id), weights = NULL),
  ar1h = list(correlation = corAR1(form = ~ vnum | participant_id), weights = varIdent(form = ~ 1 | visit)),
  toeplitz = list(correlation = corARMA(form = ~ vnum | participant_id, p = 3), weights = NULL)
)
full <- names(which(table(d$participant_id) == 4))[1]
dense <- list(); start <- list()
for (name in names(structures)) {
  s <- structures[[name]]
  fit <- do.call(gls, list(model = f, data = d, correlation = s$correlation, weights = s$weights, method = "REML",
                           control = glsControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-10, msTol = 1e-10)))
  S <- unclass(getVarCov(fit, individual = full))
  start[[name]] <- sas_psi(name, S)
  dense[[name]] <- dense_kr(name, start[[name]], 1)
}
# structures and groupings nlme cannot fit: the REML criterion above optimised by nlminb alone
Sus <- sas_sigma("us", dense$us$psi); Rus <- cov2cor(Sus)
dense[["adh"]] <- dense_kr("adh", c(diag(Sus), Rus[cbind(1:(m - 1), 2:m)]), 1)
dense[["cs_by_arm"]] <- dense_kr("cs", rep(start$cs, 2), 2)
dense[["us_by_arm"]] <- dense_kr("us", rep(dense$us$psi, 2), 2)

out <- list(pbkrtest_random_intercept = pbkr, dense = dense,
            versions = list(R = R.version.string, pbkrtest = as.character(packageVersion("pbkrtest")),
                            lme4 = as.character(packageVersion("lme4")), nlme = as.character(packageVersion("nlme")),
                            numDeriv = as.character(packageVersion("numDeriv"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/mmrm_kr_fixtures.json")
cat("wrote tests/reference/mmrm_kr_fixtures.json\n")
