"""Checking the arguments of public functions, so that a wrong type or an impossible value gets an
:class:`~ipt_outcomes.errors.ArgumentError` (or :class:`ArgumentTypeError`) naming the function, the
argument and what it accepts, instead of an error from deep inside pandas or NumPy.

Each public function states its checks next to its signature::

    @checked(df=frame, outcome=text, seed=seed, n_imputations=whole(2, 10_000))
    def sensitivity_analyses(df, outcome, *, seed=1, n_imputations=50): ...

A check receives the value and the argument's name and returns the value to use (the same object,
or a plain Python number for a NumPy one); it never modifies what the user passed.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import pandas as pd

from .errors import ArgumentError, ArgumentTypeError

__all__ = ["MAX_SEED", "checked", "choice", "each", "either", "frame", "frame_or_path", "function", "instance",
           "level", "mapping", "names", "number", "optional", "path", "seed", "text", "whole"]

F = TypeVar("F", bound=Callable[..., Any])
Check = Callable[[Any, str], Any]

#: the largest seed accepted (NumPy takes larger ones, but other tools and files store 64-bit integers)
MAX_SEED = 2**63 - 1


def checked(**checks: Check) -> Callable[[F], F]:
    """Run ``checks[name](value, where)`` on each named argument the caller gave before ``func`` runs;
    defaults are not checked (they are right by construction)."""

    def wrap(func: F) -> F:
        signature = inspect.signature(func)
        unknown = set(checks) - set(signature.parameters)
        if unknown:  # a programming error in the package, caught at import
            raise RuntimeError(f"{func.__name__}: checks for unknown arguments {sorted(unknown)}")

        @functools.wraps(func)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise ArgumentTypeError(f"{func.__name__}(): {exc}.") from None
            for name, check in checks.items():
                if name in bound.arguments:
                    bound.arguments[name] = check(bound.arguments[name], f"{func.__name__}() argument {name}")
            return func(*bound.args, **bound.kwargs)

        return inner  # type: ignore[return-value]

    return wrap


def _type_name(value: Any) -> str:
    return type(value).__name__


def frame(value: Any, where: str) -> pd.DataFrame:
    """A pandas DataFrame."""
    if not isinstance(value, pd.DataFrame):
        raise ArgumentTypeError(f"{where} must be a pandas DataFrame (the table ipt.load() returns), "
                                f"not {_type_name(value)}.")
    return value


def text(value: Any, where: str) -> str:
    """A non-empty string (a column, instrument or arm name)."""
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{where} must be a name (text), not {_type_name(value)} {_short(value)}.")
    if not value.strip():
        raise ArgumentError(f"{where} is empty; give a name.")
    return value


def path(value: Any, where: str) -> Any:
    """A file path: text or :class:`os.PathLike`."""
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value.strip()):
        raise ArgumentTypeError(f"{where} must be a file path, not {_type_name(value)} {_short(value)}.")
    return value


def names(value: Any, where: str) -> tuple[str, ...]:
    """Names: one text, or a list or tuple of texts."""
    if isinstance(value, str):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, (bytes, bytearray)):
        raise ArgumentTypeError(f"{where} must be a list of names, not {_type_name(value)} {_short(value)}.")
    for item in value:
        text(item, where)
    return tuple(value)


def mapping(value: Any, where: str) -> Mapping[Any, Any]:
    """A mapping (dict)."""
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(f"{where} must be a mapping (dict), not {_type_name(value)} {_short(value)}.")
    return value


def choice(*options: str) -> Check:
    """One of ``options``."""

    def check(value: Any, where: str) -> str:
        if not isinstance(value, str) or value not in options:
            raise ArgumentError(f"{where} must be one of {', '.join(repr(o) for o in options)}, not {_short(value)}.")
        return value

    return check


def whole(minimum: int | None = None, maximum: int | None = None) -> Check:
    """A whole number (not a bool) in ``[minimum, maximum]``."""

    def check(value: Any, where: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            if isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) \
                    and float(value).is_integer():
                value = int(float(value))
            else:
                raise ArgumentTypeError(f"{where} must be a whole number, not {_type_name(value)} {_short(value)}.")
        value = int(value)
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ArgumentError(f"{where} must be {_range(minimum, maximum)}, not {value}.")
        return value

    return check


#: a random seed: a whole number from 0 to 2**63 - 1
seed = whole(0, MAX_SEED)


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False,
           open_high: bool = False) -> Check:
    """A finite real number within the bounds (open or closed)."""

    def check(value: Any, where: str) -> float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ArgumentTypeError(f"{where} must be a number, not {_type_name(value)} {_short(value)}.")
        value = float(value)
        if not math.isfinite(value):
            raise ArgumentError(f"{where} must be a finite number, not {value}.")
        if (low is not None and (value < low or (open_low and value == low))) or \
                (high is not None and (value > high or (open_high and value == high))):
            lo = "" if low is None else f"{'above' if open_low else 'at least'} {low:g}"
            hi = "" if high is None else f"{'below' if open_high else 'at most'} {high:g}"
            raise ArgumentError(f"{where} must be {' and '.join(p for p in (lo, hi) if p)}, not {value:g}.")
        return value

    return check


#: a confidence level, strictly between 0 and 1
level = number(0, 1, open_low=True, open_high=True)


def each(check: Check) -> Check:
    """A list or tuple of values that each pass ``check`` (one value alone is a list of one)."""

    def inner(value: Any, where: str) -> tuple[Any, ...]:
        if isinstance(value, (str, bytes, Mapping)) or (not isinstance(value, (Sequence, pd.Series)) \
                and not hasattr(value, "__array__")):
            return (check(value, where),)
        values = tuple(check(v, where) for v in list(value))
        if not values:
            raise ArgumentError(f"{where} is empty; give at least one value.")
        return values

    return inner


def either(*checks: Check) -> Check:
    """What any of ``checks`` accepts; the error of the last check otherwise."""

    def inner(value: Any, where: str) -> Any:
        for check in checks[:-1]:
            try:
                return check(value, where)
            except (ArgumentError, ArgumentTypeError):
                continue
        return checks[-1](value, where)

    return inner


def instance(cls: type, description: str) -> Check:
    """An instance of ``cls`` (described to the user as ``description``)."""

    def check(value: Any, where: str) -> Any:
        if not isinstance(value, cls):
            raise ArgumentTypeError(f"{where} must be {description}, not {_type_name(value)} {_short(value)}.")
        return value

    return check


def function(value: Any, where: str) -> Callable[..., Any]:
    """A callable."""
    if not callable(value):
        raise ArgumentTypeError(f"{where} must be a function, not {_type_name(value)} {_short(value)}.")
    return value


def frame_or_path(value: Any, where: str) -> Any:
    """A DataFrame or a file path."""
    if isinstance(value, pd.DataFrame):
        return value
    return path(value, where)


def optional(check: Check) -> Check:
    """``None`` or what ``check`` accepts."""

    def inner(value: Any, where: str) -> Any:
        return None if value is None else check(value, where)

    return inner


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"from {minimum:,} to {maximum:,}"
    return f"at least {minimum:,}" if minimum is not None else f"at most {maximum:,}"


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
