# Kenward-Roger fixtures for fit_mmrm(formula=..., df_method="kenward-roger") on real trials, by dense
# matrices subject by subject (Kenward & Roger 1997, as SAS's DDFM=KR: SAS's covariance parameters, W the
# inverse of the observed REML information):
#     Phi_A = Phi + 2 Phi {sum W_hj (Q_hj - P_h Phi P_j - R_hj / 4)} Phi,  df = 2 (l'Phi l)^2 / (g'W g)
# at the REML optimum found by nlminb on the REML criterion written out here (independent of the toolkit):
#   * Beat the Blues (HSAUR3::BtheB), CHANGE ~ BASVAL*VISIT + THERAPY*VISIT with us(VISIT | PATIENT) and one
#     unstructured covariance per arm, us(VISIT | THERAPY / PATIENT);
#   * rat body weights (nlme::BodyWeight), weight ~ Time * Diet with the spatial structures of the distance in
#     days: SP(EXP) sigma2 exp(-d / phi), SP(GAU) sigma2 exp(-d^2 / phi^2), SP(POW) sigma2 rho^d (SAS's
#     parameters; for these no R package offers Kenward-Roger).
# Run from the project root after make_mmrm_formula_fixtures.R (which writes the two data files):
#     Rscript tests/reference/make_mmrm_formula_kr_fixtures.R
# Debian packages: r-base-core r-cran-numderiv r-cran-jsonlite.
suppressPackageStartupMessages({library(numDeriv); library(jsonlite)})
here <- "tests/reference"

dense_kr <- function(X, y, subject, pos, group, m, sas_sigma, psi0, linear, step = 0.01, reparam = NULL,
                     second = NULL) {
  ids <- split(seq_len(nrow(X)), subject)
  gid <- sapply(ids, function(r) group[r[1]])
  G <- max(gid)
  sigmas <- function(psi) lapply(split(psi, rep(1:G, each = length(psi) / G)), sas_sigma)
  reml_dev <- function(Ss) {
    xvx <- 0; xvy <- 0; yvy <- 0; logdet <- 0
    for (S in Ss) chol(S)
    for (i in seq_along(ids)) {
      r <- ids[[i]]; v <- pos[r]; Ci <- chol(Ss[[gid[i]]][v, v, drop = FALSE]); Si <- chol2inv(Ci)
      Xi <- X[r, , drop = FALSE]
      xvx <- xvx + t(Xi) %*% Si %*% Xi; xvy <- xvy + t(Xi) %*% Si %*% y[r]
      yvy <- yvy + drop(t(y[r]) %*% Si %*% y[r]); logdet <- logdet + 2 * sum(log(diag(Ci)))
    }
    beta <- solve(xvx, xvy)
    logdet + as.numeric(determinant(xvx)$modulus) + yvy - drop(t(xvy) %*% beta) + (nrow(X) - ncol(X)) * log(2 * pi)
  }
  crit <- function(x) { v <- tryCatch(reml_dev(sigmas(x)), error = function(e) Inf); if (is.finite(v)) v else 1e10 }
  opt <- nlminb(psi0, crit, control = list(rel.tol = 1e-14, x.tol = 1e-12, eval.max = 10000, iter.max = 5000))
  opt <- nlminb(opt$par, crit, control = list(rel.tol = 1e-15, eval.max = 10000, iter.max = 5000))
  psi <- opt$par
  Ss <- sigmas(psi)
  K <- length(psi); k <- K / G
  # numDeriv's Richardson steps of 1 % of each parameter: accurate to about 1e-8, where its default first step
  # leaves noise of about 1e-4
  if (is.null(reparam)) {
    H <- hessian(function(x) reml_dev(sigmas(x)), psi, method.args = list(d = step))
  } else {  # the Hessian in better-conditioned parameters, carried back by the chain rule (the gradient is 0)
    J <- reparam$jacobian(psi)
    H <- t(J) %*% hessian(function(x) reml_dev(sigmas(reparam$from(x))), reparam$to(psi),
                         method.args = list(d = step)) %*% J
  }
  W <- 2 * solve(H)
  D1 <- list(); D2 <- list()
  for (g in 1:G) {
    pg <- psi[(g - 1) * k + 1:k]
    J <- jacobian(function(x) c(sas_sigma(x)), pg)
    D1[[g]] <- lapply(1:k, function(h) matrix(J[, h], m, m))
    D2[[g]] <- array(0, c(k, k, m, m))
    if (!is.null(second)) D2[[g]] <- second(pg)  # the second derivatives written out
    else if (!linear) for (a in 1:m) for (b in 1:m) D2[[g]][, , a, b] <- hessian(function(x) sas_sigma(x)[a, b], pg)
  }
  pp <- ncol(X)
  xvx <- matrix(0, pp, pp); xvy <- 0
  P <- lapply(1:K, function(h) matrix(0, pp, pp))
  Q <- array(0, c(K, K, pp, pp)); R <- array(0, c(K, K, pp, pp))
  for (i in seq_along(ids)) {
    r <- ids[[i]]; g <- gid[i]; v <- pos[r]
    Si <- solve(Ss[[g]][v, v, drop = FALSE]); Xi <- X[r, , drop = FALSE]
    xvx <- xvx + t(Xi) %*% Si %*% Xi; xvy <- xvy + t(Xi) %*% Si %*% y[r]
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
  list(terms = colnames(X), estimate = drop(solve(xvx, xvy)), log_restricted = -reml_dev(Ss) / 2,
       std_error = sqrt(diag(PhiA)), df = df, std_error_unadjusted = sqrt(diag(Phi)), psi = psi)
}

out <- list()
# --- BtheB, baseline by visit ---------------------------------------------------------------------------
ad <- read.csv(file.path(here, "data", "btheb_mmrm.csv"), stringsAsFactors = FALSE)
ad$VISIT <- factor(ad$VISIT, levels = c(2, 3, 5, 8))
ad$THERAPY <- relevel(factor(ad$THERAPY), ref = "TAU")
X <- model.matrix(CHANGE ~ BASVAL * VISIT + THERAPY * VISIT, ad)
us <- function(psi) { S <- matrix(0, 4, 4); S[upper.tri(S, diag = TRUE)] <- psi; S[lower.tri(S)] <- t(S)[lower.tri(S)]; S }
S0 <- diag(60, 4) + 30  # a positive definite start (compound symmetry)
psi0 <- S0[upper.tri(S0, diag = TRUE)]
out$us <- dense_kr(X, ad$CHANGE, ad$PATIENT, as.integer(ad$VISIT), rep(1L, nrow(ad)), 4, us, psi0, TRUE)
out$us_by_arm <- dense_kr(X, ad$CHANGE, ad$PATIENT, as.integer(ad$VISIT), as.integer(ad$THERAPY), 4, us,
                          rep(out$us$psi, 2), TRUE)

# --- BodyWeight, spatial ----------------------------------------------------------------------------------
bw <- read.csv(file.path(here, "data", "bodyweight.csv"), stringsAsFactors = FALSE)
bw$Diet <- factor(bw$Diet)
X <- model.matrix(weight ~ Time * Diet, bw)
times <- sort(unique(bw$Time)); m <- length(times)
d <- abs(outer(times, times, "-"))
pos <- match(bw$Time, times)
kinds <- list(sp_exp = list(f = function(psi) psi[2] * exp(-d / psi[1]), start = c(50, 800), step = 0.01),
              sp_gau = list(f = function(psi) psi[2] * exp(-(d / psi[1])^2), start = c(10, 800), step = 0.01),
              sp_pow = list(f = function(psi) psi[2] * psi[1]^d, start = c(0.95, 800), step = 0.01,
                            # rho is within 0.003 of 1, where numerical steps in rho fail: the Hessian is taken
                            # in phi = -1 / log(rho) (SP(EXP)'s range) and carried back to rho
                            reparam = list(to = function(p) c(-1 / log(p[1]), p[2]), from = function(q) c(exp(-1 / q[1]), q[2]),
                                           jacobian = function(p) diag(c(1 / (p[1] * log(p[1])^2), 1)))))
# second derivatives of the spatial covariances in (range, sigma2), by hand
second_of <- function(daa, da) function(psi) {
  out <- array(0, c(2, 2, m, m))
  out[1, 1, , ] <- psi[2] * daa(psi[1]); out[1, 2, , ] <- da(psi[1]); out[2, 1, , ] <- da(psi[1])
  out
}
kinds$sp_exp$second <- second_of(function(a) exp(-d / a) * ((d / a^2)^2 - 2 * d / a^3), function(a) exp(-d / a) * d / a^2)
kinds$sp_gau$second <- second_of(function(a) exp(-(d / a)^2) * ((2 * d^2 / a^3)^2 - 6 * d^2 / a^4),
                                 function(a) exp(-(d / a)^2) * 2 * d^2 / a^3)
kinds$sp_pow$second <- second_of(function(r) ifelse(d > 1, d * (d - 1) * r^(d - 2), 0),
                                 function(r) ifelse(d > 0, d * r^(d - 1), 0))
for (name in names(kinds)) {
  out[[name]] <- dense_kr(X, bw$weight, bw$Rat, pos, rep(1L, nrow(bw)), m, kinds[[name]]$f, kinds[[name]]$start,
                          FALSE, step = kinds[[name]]$step, reparam = kinds[[name]]$reparam,
                          second = kinds[[name]]$second)
}
out$versions <- list(R = R.version.string, numDeriv = as.character(packageVersion("numDeriv")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE),
           file.path(here, "mmrm_formula_kr_fixtures.json"))
cat("wrote", file.path(here, "mmrm_formula_kr_fixtures.json"), "\n")
