"""How every format writes a number: 3 significant digits, exponents for the very large and
the very small, and '' for a value that was not measured (never 0)."""

from __future__ import annotations

import math

import numpy as np


def num(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return ""
    x = float(x)
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}" if abs(x) < 10**digits else f"{x:.0f}"


def mean_std(mean, std) -> str:
    """'1.00 ± 0.00': the mean to 3 significant digits, the std to the mean's decimals; '' when no mean."""
    if mean is None or not np.isfinite(mean):
        return ""
    mean = float(mean)
    has_std = std is not None and np.isfinite(std)
    if mean == 0 or abs(mean) >= 1e5 or abs(mean) < 1e-3:
        return num(mean) + (f" ± {num(std, 2) if std else '0'}" if has_std else "")
    decimals = max(0, 2 - math.floor(math.log10(abs(mean))))
    out = f"{mean:.{decimals}f}"
    if has_std:
        out += f" ± {abs(float(std)):.{decimals}f}"
    return out
