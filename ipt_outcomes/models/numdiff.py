"""Numerical derivatives with Richardson extrapolation (as numDeriv, which lmerTest uses)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["hessian", "jacobian"]


def _steps(x: np.ndarray, d: float = 1e-4) -> np.ndarray:
    return d * np.maximum(np.abs(x), 1e-2)


def jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, levels: int = 2) -> np.ndarray:
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


def hessian(f: Callable[[np.ndarray], float], x: np.ndarray, levels: int = 2) -> np.ndarray:
    """Hessian of a scalar f by central second differences with Richardson extrapolation.

    Each level costs ``1 + 2k + 2k(k-1)`` evaluations for k parameters (diagonal: f(x +- h e_i);
    off-diagonal: f(x +- h e_i +- h e_j)).
    """
    x = np.asarray(x, float)
    k = len(x)
    f0 = f(x)
    h0 = _steps(x, 1e-3)
    tables = []
    scale = 1.0
    for _ in range(levels):
        h = h0 * scale
        H = np.zeros((k, k))
        for i in range(k):
            e = np.zeros(k)
            e[i] = h[i]
            H[i, i] = (f(x + e) - 2 * f0 + f(x - e)) / h[i] ** 2
            for j in range(i):
                d = np.zeros(k)
                d[j] = h[j]
                H[i, j] = H[j, i] = (f(x + e + d) - f(x + e - d) - f(x - e + d) + f(x - e - d)) / (4 * h[i] * h[j])
        tables.append(H)
        scale /= 2.0
    for m in range(1, levels):  # error O(h^2): Richardson with factor 4^m
        tables = [(4 ** m * tables[j + 1] - tables[j]) / (4 ** m - 1) for j in range(len(tables) - 1)]
    H = tables[0]
    return (H + H.T) / 2.0
