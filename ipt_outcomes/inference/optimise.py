"""The optimiser every model uses: bounded L-BFGS-B with an analytic gradient when there is one,
restarts from inside when a bound point is not a minimum, a Nelder-Mead polish when still not
stationary, and Newton steps on the gradient to reach an interior optimum to about 1e-9."""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize

__all__ = ["central_gradient", "minimise", "stationary"]


def stationary(f: object, theta: np.ndarray, bounds: list[tuple[float | None, float | None]]) -> bool:
    """At a minimum: along each parameter a Newton step would lower the deviance by < 1e-4 in all
    (a scale-free test: the deviance grows with n, and so do its gradients), or the parameter sits
    on its lower bound and the criterion rises away from it."""
    f0 = f(theta)  # type: ignore[operator]
    decrease = 0.0
    for i in range(len(theta)):
        h = 1e-4 * max(1.0, abs(theta[i]))
        lo = bounds[i][0]
        at_bound = lo is not None and theta[i] - h < lo
        up = theta.copy()
        up[i] += h
        fu = f(up)  # type: ignore[operator]
        if at_bound:  # the criterion must not fall into the interior (it is flat there when it
            # depends on the parameter through its square, as a diagonal of Lambda does)
            up2 = theta.copy()
            up2[i] += 2 * h
            slack = 1e-10 * max(1.0, abs(f0))
            if fu >= f0 - slack and f(up2) >= f0 - slack:  # type: ignore[operator]
                continue
            return False
        down = theta.copy()
        down[i] -= h
        fd = f(down)  # type: ignore[operator]
        g = (fu - fd) / (2 * h)
        curvature = (fu - 2 * f0 + fd) / h ** 2
        if curvature <= 0:
            return abs(g) < 1e-6
        decrease += g * g / (2 * curvature)
    return bool(decrease < 1e-4)


def central_gradient(f: object, theta: np.ndarray) -> np.ndarray:
    """Central differences (step 1e-6, relative beyond 1): accurate enough for tight stopping."""
    g = np.zeros(len(theta))
    for i in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[i]))
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        g[i] = (f(up) - f(down)) / (2 * h)  # type: ignore[operator]
    return g


def minimise(criterion: object, x0: np.ndarray, bounds: list[tuple[float | None, float | None]],
             with_gradient: object = None) -> tuple[np.ndarray, bool, int, str]:
    """Minimise a profiled criterion over ``theta`` within ``bounds``: bounded L-BFGS-B twice, restarts
    from inside when a point on a bound is not a minimum, a Nelder-Mead polish when still not
    stationary. ``with_gradient(theta) -> (value, gradient)`` gives L-BFGS-B an analytic gradient
    (central differences of the criterion otherwise). Returns (theta, stationary, evaluations,
    optimizer message)."""
    count = 0

    def objective(theta: np.ndarray) -> float:
        nonlocal count
        count += 1
        return criterion(theta)  # type: ignore[operator]

    def gradient(theta: np.ndarray) -> np.ndarray:
        return central_gradient(objective, theta)

    def both(theta: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal count
        count += 1
        return with_gradient(theta)  # type: ignore[operator]

    fun, jac = (both, True) if with_gradient is not None else (objective, gradient)
    best = optimize.minimize(fun, x0, jac=jac, method="L-BFGS-B", bounds=bounds,
                             options={"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-7})
    again = optimize.minimize(fun, best.x, jac=jac, method="L-BFGS-B", bounds=bounds,
                              options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-8})
    if again.fun <= best.fun:
        best = again
    theta = best.x
    near = 1e-4  # lme4's tolerance of a singular fit: an element below it counts as at its bound
    on_bound = any(lo is not None and v <= lo + near for v, (lo, _) in zip(theta, bounds, strict=True))
    if on_bound or not stationary(objective, theta, bounds):
        # often a false boundary point: the deviance depends on a diagonal element only through its
        # square, so its gradient vanishes at 0 even when the optimum is inside, and with several
        # elements at 0 the point can pass the test of one direction at a time; restart from inside
        for inward in (0.05, 0.3, 1.0):
            start = theta.copy()
            for i, (lo, _) in enumerate(bounds):
                if lo is not None and start[i] <= lo + near:
                    start[i] = inward
            trial = optimize.minimize(fun, start, jac=jac, method="L-BFGS-B", bounds=bounds,
                                      options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-8})
            gain = best.fun - trial.fun
            if gain > 1e-10:
                best = trial
                theta = best.x
            # a gain in the tenth digit is the same boundary point reached again: try the next start
            if (gain > 1e-6 or not on_bound) and stationary(objective, theta, bounds):
                break
    if not stationary(objective, theta, bounds):  # derivative-free polish, then check again
        nm = optimize.minimize(objective, theta, method="Nelder-Mead",
                               options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 3000})
        if nm.fun < best.fun and all(b[0] is None or v >= b[0] for v, b in zip(nm.x, bounds, strict=True)):
            theta = nm.x
    if with_gradient is not None:
        theta = _newton_polish(both, theta, bounds)
    converged = bool(math.isfinite(objective(theta))) and stationary(objective, theta, bounds)
    return theta, converged, count, str(best.message)


def _newton_polish(both: object, theta: np.ndarray, bounds: list[tuple[float | None, float | None]],
                   steps: int = 3) -> np.ndarray:
    """Newton steps on the gradient ``both`` returns (Hessian from its central differences) from an
    interior optimum: L-BFGS-B stops where the criterion's last digits stop falling, up to 1e-5 (relative)
    from the optimum along flat directions; these steps reach it to about 1e-9, so the estimates do not
    depend on where the optimizer happened to stop. A step is kept only while the point stays inside
    the bounds, the Hessian is positive definite and the criterion does not rise."""
    near = 1e-4
    if any(lo is not None and v <= lo + near for v, (lo, _) in zip(theta, bounds, strict=True)):
        return theta
    f0, g = both(theta)  # type: ignore[operator]
    n = len(theta)
    for _ in range(steps):
        H = np.zeros((n, n))
        for k in range(n):
            h = 1e-5 * max(1.0, abs(theta[k]))
            e = np.zeros(n)
            e[k] = h
            H[:, k] = (both(theta + e)[1] - both(theta - e)[1]) / (2 * h)  # type: ignore[operator]
        H = (H + H.T) / 2
        try:
            np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            return theta
        step = np.linalg.solve(H, g)
        new = theta - step
        if any(lo is not None and v <= lo + near for v, (lo, _) in zip(new, bounds, strict=True)):
            return theta
        f1, g1 = both(new)  # type: ignore[operator]
        if not f1 <= f0 + 1e-12 * max(1.0, abs(f0)):  # the rounding noise of the criterion
            return theta
        theta, f0, g = new, f1, g1
        if np.max(np.abs(step)) < 1e-10 * max(1.0, float(np.max(np.abs(theta)))):
            break
    return theta
