# Fixtures for ipt.meta_analysis from R's metafor on its public data set dat.bcg (Colditz et al. 1994,
# 13 trials of the BCG vaccine; log risk ratios by escalc), with the allocation method as subgroups.
# Run from the project root:   Rscript tests/reference/make_meta_fixtures.R
# Debian packages: r-base-core r-cran-metafor r-cran-jsonlite.
#
# Convergence is tightened (threshold for REML's Fisher scoring, tol for the root of Paule-Mandel) so
# that the fixtures hold to 1e-6 and more; metafor's defaults stop at about 1e-5 in tau2.
suppressPackageStartupMessages({library(metafor); library(jsonlite)})
dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
ctl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 1000)
one <- function(res) {
  p <- predict(res)
  list(estimate = as.numeric(res$beta), std_error = res$se, ci_lower = res$ci.lb, ci_upper = res$ci.ub,
       p_value = res$pval, statistic = res$zval, tau2 = res$tau2, i2 = res$I2, h2 = res$H2, q = res$QE,
       q_df = res$k - res$p, q_p_value = res$QEp, pi_lower = p$pi.lb, pi_upper = p$pi.ub, k = res$k)
}
cases <- list()
for (method in c("REML", "DL", "PM")) {
  for (knha in c(FALSE, TRUE)) {
    res <- rma(yi, vi, data = dat, method = method, test = if (knha) "knha" else "z", control = ctl)
    key <- paste0(tolower(method), if (knha) "_hksj" else "")
    out <- one(res)
    l1o <- leave1out(res)
    out$leave_one_out <- list(estimate = as.numeric(l1o$estimate), std_error = as.numeric(l1o$se),
                              ci_lower = as.numeric(l1o$ci.lb), ci_upper = as.numeric(l1o$ci.ub),
                              tau2 = as.numeric(l1o$tau2), i2 = as.numeric(l1o$I2), q = as.numeric(l1o$Q))
    groups <- list()
    ests <- c(); ses <- c()
    for (g in sort(unique(dat$alloc))) {
      sub <- rma(yi, vi, data = dat, subset = alloc == g, method = method, test = if (knha) "knha" else "z",
                 control = ctl)
      groups[[g]] <- one(sub)
      ests <- c(ests, as.numeric(sub$beta)); ses <- c(ses, sub$se)
    }
    between <- rma(ests, sei = ses, method = "FE")
    out$subgroups <- list(groups = groups, q_between = between$QE, q_between_df = length(ests) - 1,
                          q_between_p_value = between$QEp)
    cases[[key]] <- out
  }
}
fe <- rma(yi, vi, data = dat, method = "FE")
cases[["fe"]] <- one(fe)

# dat.molloy2014 (Molloy et al. 2014, conscientiousness and medication adherence, 16 studies; Fisher's
# z of the correlations): I2 and H2 of the fixed-effect model come from Q (I2 60.7 %), as metafor and
# RevMan give them; the random-effects models from tau2.
mol <- escalc(measure = "ZCOR", ri = ri, ni = ni, data = dat.molloy2014)
molloy <- list(data = data.frame(label = paste(dat.molloy2014$authors, dat.molloy2014$year),
                                 estimate = as.numeric(mol$yi), std_error = sqrt(as.numeric(mol$vi))))
for (method in c("FE", "DL", "REML", "PM")) {
  molloy[[tolower(method)]] <- one(rma(yi, vi, data = mol, method = method, control = ctl))
}
# homogeneous trials (Q below its df): tau2 truncated at 0 and I2 = 0 for every method, H2 = 1
homo <- data.frame(yi = c(0.10, 0.12, 0.11, 0.09, 0.115), vi = c(0.010, 0.020, 0.015, 0.012, 0.018))
homogeneous <- list(data = data.frame(label = paste0("T", 1:5), estimate = homo$yi, std_error = sqrt(homo$vi)))
for (method in c("FE", "DL", "REML", "PM")) {
  homogeneous[[tolower(method)]] <- one(rma(yi, vi, data = homo, method = method, control = ctl))
}
cases[["molloy2014"]] <- molloy
cases[["homogeneous"]] <- homogeneous
data <- data.frame(label = paste(dat$author, dat$year), estimate = as.numeric(dat$yi),
                   std_error = sqrt(as.numeric(dat$vi)), allocation = dat$alloc)
out <- list(data = data, cases = cases,
            versions = list(R = R.version.string, metafor = as.character(packageVersion("metafor"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = FALSE), "tests/reference/meta_fixtures.json")
cat("wrote tests/reference/meta_fixtures.json\n")
