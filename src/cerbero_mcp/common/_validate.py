"""Input checks shared by the quant modules; every failure is an `InvalidInputError`."""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cerbero_mcp.common.errors import InvalidInputError

FloatArray = NDArray[np.float64]


def invalid(message: str, *, fix: str | None = None, **details: Any) -> InvalidInputError:
    """Build an `InvalidInputError` with `details` from keyword arguments."""
    return InvalidInputError(message, suggested_fix=fix, details=details or None)


def fail(message: str, *, fix: str | None = None, **details: Any) -> NoReturn:
    """Raise an `InvalidInputError` with `details` built from keyword arguments."""
    raise invalid(message, fix=fix, **details)


def as_float(x: ArrayLike, name: str) -> FloatArray:
    """Convert `x` to a float64 array, refusing what numpy cannot read as numbers."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        fail(f"{name} must be numeric: {exc}", fix=f"pass {name} as numbers", argument=name)
    return arr


def series(
    x: ArrayLike,
    name: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    leading_nan: bool = True,
    min_len: int = 1,
) -> FloatArray:
    """Return `x` as a contiguous 1-D float64 series after checking length, NaN and sign."""
    arr = np.ascontiguousarray(as_float(x, name))
    if arr.ndim != 1:
        fail(f"{name} must be one-dimensional, got shape {arr.shape}", argument=name)
    if arr.size < min_len:
        fail(
            f"{name} needs at least {min_len} values, got {arr.size}",
            fix=f"send a longer {name} series",
            argument=name,
            length=int(arr.size),
        )
    finite = np.isfinite(arr)
    if finite.all():
        values = arr
    else:
        if np.isinf(arr).any():
            idx = int(np.flatnonzero(np.isinf(arr))[0])
            fail(f"{name} contains an infinite value at index {idx}", argument=name, index=idx)
        start = int(np.argmax(finite)) if finite.any() else arr.size
        if not leading_nan and start > 0:
            fail(f"{name} must not contain NaN (index 0 is NaN)", argument=name, index=0)
        if start == arr.size:
            fail(f"{name} is all NaN", fix=f"send real values for {name}", argument=name)
        tail = ~finite[start:]
        if tail.any():
            idx = start + int(np.argmax(tail))
            fail(
                f"{name} has NaN at index {idx}, after its first value; only leading NaN is allowed",
                fix="drop or fill the missing values before sending",
                argument=name,
                index=idx,
            )
        values = arr[start:]
    if positive and values.min() <= 0:
        idx = int(np.argmax(np.nan_to_num(arr, nan=1.0) <= 0))
        fail(
            f"{name} must be positive, got {arr[idx]} at index {idx}",
            argument=name,
            index=idx,
        )
    if nonnegative and values.min() < 0:
        idx = int(np.argmax(np.nan_to_num(arr, nan=0.0) < 0))
        fail(
            f"{name} must not be negative, got {arr[idx]} at index {idx}",
            argument=name,
            index=idx,
        )
    return arr


def same_length(**arrays: FloatArray) -> int:
    """Return the common length of `arrays`, failing with every length when they differ."""
    lengths = {k: int(v.shape[0]) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        names = ", ".join(f"len({k})={n}" for k, n in lengths.items())
        fail(
            f"series must have the same length: {names}",
            fix="align the series on the same bars",
            lengths=lengths,
        )
    return next(iter(lengths.values()))


def period(value: int, n: int, *, name: str = "period", of: str = "close", minimum: int = 1) -> int:
    """Check that an integer window fits a series of length `n`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        fail(f"{name} must be an integer, got {value!r}", argument=name)
    if not minimum <= value <= n:
        fail(
            f"{name} must be between {minimum} and len({of})={n}, got {value}",
            fix=f"use {minimum} <= {name} <= {n}, or send more data",
            argument=name,
            value=int(value),
            minimum=minimum,
            maximum=n,
        )
    return int(value)


def int_in_range(value: int, name: str, low: int, high: int) -> int:
    """Check that `value` is an integer within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not low <= value <= high:
        fail(f"{name} must be an integer between {low} and {high}, got {value!r}", argument=name)
    return int(value)


def positive_number(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Check that a scalar is a finite positive (or non-negative) number."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        fail(f"{name} must be a number, got {value!r}", argument=name)
    bad = not np.isfinite(v) or (v < 0 if allow_zero else v <= 0)
    if bad:
        sign = "non-negative" if allow_zero else "positive"
        fail(f"{name} must be a finite {sign} number, got {value!r}", argument=name, value=repr(value))
    return v


def positive_array(x: ArrayLike, name: str, *, allow_zero: bool = False) -> FloatArray:
    """Return `x` as a float64 array whose every element is finite and positive."""
    arr = as_float(x, name)
    if arr.size == 0:
        fail(f"{name} is empty", argument=name)
    ok = np.isfinite(arr) & ((arr >= 0) if allow_zero else (arr > 0))
    if not ok.all():
        flat = arr.reshape(-1)
        idx = int(np.argmin(ok.reshape(-1)))
        sign = "non-negative" if allow_zero else "positive"
        fail(
            f"{name} must be finite and {sign}, got {flat[idx]} at flat index {idx}",
            argument=name,
            index=idx,
        )
    return arr


def finite_array(x: ArrayLike, name: str) -> FloatArray:
    """Return `x` as a non-empty float64 array with no NaN or infinity."""
    arr = as_float(x, name)
    if arr.size == 0:
        fail(f"{name} is empty", argument=name)
    ok = np.isfinite(arr)
    if not ok.all():
        idx = int(np.argmin(ok.reshape(-1)))
        fail(f"{name} must be finite, got {arr.reshape(-1)[idx]} at flat index {idx}", argument=name)
    return arr
