"""Inference helpers every model uses (growth models, the MMRM, pooling): distributions, numerical
derivatives, the optimiser and linear algebra on stacks of small matrices. A leaf: it imports no
other part of the package."""
