"""Random-effect structure of a formula model: grouping factors, their covariance blocks and lme4's
parameters ``theta``.

Each bar of a formula is a block: for every level of its grouping factor, a vector of random
effects ``u ~ N(0, sigma^2 Lambda Lambda')`` with ``Lambda`` lower triangular. ``theta`` holds the
blocks' lower triangles in order, each column by column (lme4's order within a block: a 2 x 2
block is ``(l00, l10, l11)``). Diagonal elements are bounded below by 0, as lme4 does. A factor's
``Lambda`` is the block diagonal of its bars' blocks (``||`` gives one block per term).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Block", "Factor", "RandomStructure"]


@dataclass(frozen=True)
class Block:
    columns: tuple[str, ...]   # names of the random-effect terms (``Intercept``, ``session``)
    start: int                 # first column within its factor's Z

    @property
    def size(self) -> int:
        return len(self.columns)

    @property
    def n_theta(self) -> int:
        return self.size * (self.size + 1) // 2


@dataclass(frozen=True)
class Factor:
    name: str                  # grouping factor (``participant_id``, ``trial_id:therapist_id``)
    blocks: tuple[Block, ...]
    n_levels: int

    @property
    def q(self) -> int:
        return sum(b.size for b in self.blocks)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(c for b in self.blocks for c in b.columns)


def _tril(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a lower triangle, column by column (lme4's order)."""
    rows, cols = [], []
    for j in range(size):
        for i in range(j, size):
            rows.append(i)
            cols.append(j)
    return np.array(rows, int), np.array(cols, int)


@dataclass(frozen=True)
class RandomStructure:
    factors: tuple[Factor, ...]

    @property
    def n_theta(self) -> int:
        return sum(b.n_theta for f in self.factors for b in f.blocks)

    def bounds(self) -> list[tuple[float | None, float | None]]:
        out: list[tuple[float | None, float | None]] = []
        for f in self.factors:
            for b in f.blocks:
                rows, cols = _tril(b.size)
                out += [(0.0, None) if r == c else (None, None) for r, c in zip(rows, cols, strict=True)]
        return out

    def start(self) -> np.ndarray:
        """lme4's start: identity blocks (1 on the diagonal, 0 below)."""
        out = []
        for f in self.factors:
            for b in f.blocks:
                rows, cols = _tril(b.size)
                out += [1.0 if r == c else 0.0 for r, c in zip(rows, cols, strict=True)]
        return np.array(out, float)

    def lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        """Each factor's relative Cholesky factor (q_f x q_f, block diagonal), in theta's dtype."""
        theta = np.asarray(theta)
        out, k = [], 0
        for f in self.factors:
            lam = np.zeros((f.q, f.q), dtype=theta.dtype if theta.dtype != np.int64 else float)
            for b in f.blocks:
                rows, cols = _tril(b.size)
                lam[b.start + rows, b.start + cols] = theta[k:k + b.n_theta]
                k += b.n_theta
            out.append(lam)
        return out

    def covariances(self, theta: np.ndarray, s2: float) -> list[np.ndarray]:
        """Each factor's covariance of its random effects, ``s2 Lambda Lambda'``."""
        return [s2 * lam @ lam.T for lam in self.lambdas(theta)]
