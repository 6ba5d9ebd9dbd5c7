"""What is derived from a fitted growth model: trajectories, arm differences, marginal
means and contrasts, random effects, residuals, R^2, ICC, influence, the classical ANOVA."""
