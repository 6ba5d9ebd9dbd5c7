"""Numerical derivatives with Richardson extrapolation (as numDeriv, which lmerTest uses)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["hessian", "jacobian"]


def _steps(x: np.ndarray, d: float = 1e-4) -> np.ndarray:
    return d * np.maximum(np.abs(x), 1e-2)


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, levels: int = 4) -> np.ndarray:
    """d f / d x for a vector-valued f; returns an array of shape f(x).shape + (len(x),)."""
    x = np.asarray(x, float)
    f0 = np.asarray(f(x), float)
    out = np.zeros(f0.shape + (len(x),))
    h0 = _steps(x)
    for i in range(len(x)):
        table = []
        h = h0[i] * 4.0
        for _ in range(levels):
            e = np.zeros_like(x)
            e[i] = h
            table.append((np.asarray(f(x + e)) - np.asarray(f(x - e))) / (2 * h))
            h /= 2.0
        for k in range(1, levels):  # Richardson: error of central differences is O(h^2)
            table = [(4 ** k * table[j + 1] - table[j]) / (4 ** k - 1) for j in range(len(table) - 1)]
        out[..., i] = table[0]
    return out


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, levels: int = 4) -> np.ndarray:
    """Hessian of a scalar f, as the Jacobian of its (Richardson) gradient, symmetrised."""
    def grad(z: np.ndarray) -> np.ndarray:
        return jacobian(lambda w: np.array([f(w)]), z, levels=2)[0]

    H = jacobian(grad, np.asarray(x, float), levels=levels)
    return (H + H.T) / 2.0
